"""Slice membership of point ids: SipHash-2-4 (zero key) of the id's canonical bytes, mod total.

Numeric ids hash their 8 little-endian bytes, UUIDs their 16 RFC 4122 bytes (Qdrant's
`SliceCondition`). The hash runs vectorised over uint64 arrays: one lane per id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np

_INIT = (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)


def _rotl(x: np.ndarray, bits: int) -> np.ndarray:
    return (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))


def _sip_round(v0: np.ndarray, v1: np.ndarray, v2: np.ndarray, v3: np.ndarray) -> tuple[np.ndarray, ...]:
    v0 = v0 + v1
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = v2 + v3
    v3 = _rotl(v3, 16) ^ v2
    v0 = v0 + v3
    v3 = _rotl(v3, 21) ^ v0
    v2 = v2 + v1
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash24_words(words: Sequence[np.ndarray]) -> np.ndarray:
    """SipHash-2-4 with a zero key of messages made of `len(words)` little-endian 64-bit words."""
    n = words[0].shape[0] if words else 0
    v0, v1, v2, v3 = (np.full(n, c, dtype=np.uint64) for c in _INIT)
    final = np.full(n, (8 * len(words) & 0xFF) << 56, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for block in [*words, final]:
            v3 = v3 ^ block
            v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
            v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
            v0 = v0 ^ block
        v2 = v2 ^ np.uint64(0xFF)
        for _ in range(4):
            v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def id_hashes(ids: Sequence[int | str | None]) -> np.ndarray:
    """uint64 slice hash per id (0 for None; callers mask empty slots themselves)."""
    ints = np.array([i if type(i) is int else 0 for i in ids], dtype=np.uint64)
    out = siphash24_words([ints])
    uuids = [k for k, i in enumerate(ids) if type(i) is str]
    if uuids:
        raw = np.frombuffer(b"".join(uuid.UUID(ids[k]).bytes for k in uuids), dtype="<u8").reshape(-1, 2)
        out[uuids] = siphash24_words([raw[:, 0].copy(), raw[:, 1].copy()])
    out[np.array([i is None for i in ids], dtype=bool)] = 0
    return out
