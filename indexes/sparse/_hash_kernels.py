"""numba kernel of BM25 inference: murmur3 token ids (compiled lazily, see `indexes._lazy_kernels`)."""

from __future__ import annotations

import numpy as np

from indexes._lazy_kernels import lazy_kernel


@lazy_kernel("int64[::1](uint8[::1], int64[::1], int64[::1])")
def murmur3_abs(data, starts, stops):
    """|murmur3_x86_32(data[starts[i]:stops[i]], seed=0)| read as a signed int32, per segment.

    The same id as `abs(mmh3.hash(token))` in fastembed's Bm25 and Qdrant's server-side BM25.
    """
    mask = np.uint64(0xFFFFFFFF)
    c1 = np.uint64(0xCC9E2D51)
    c2 = np.uint64(0x1B873593)
    out = np.empty(starts.shape[0], dtype=np.int64)
    for i in range(starts.shape[0]):
        start = starts[i]
        length = stops[i] - start
        h = np.uint64(0)
        n_blocks = length // 4
        for block in range(n_blocks):
            j = start + 4 * block
            k = (np.uint64(data[j]) | (np.uint64(data[j + 1]) << np.uint64(8))
                 | (np.uint64(data[j + 2]) << np.uint64(16)) | (np.uint64(data[j + 3]) << np.uint64(24)))
            k = (k * c1) & mask
            k = ((k << np.uint64(15)) | (k >> np.uint64(17))) & mask
            k = (k * c2) & mask
            h ^= k
            h = ((h << np.uint64(13)) | (h >> np.uint64(19))) & mask
            h = (h * np.uint64(5) + np.uint64(0xE6546B64)) & mask
        tail = start + 4 * n_blocks
        remainder = length & 3
        k = np.uint64(0)
        if remainder >= 3:
            k ^= np.uint64(data[tail + 2]) << np.uint64(16)
        if remainder >= 2:
            k ^= np.uint64(data[tail + 1]) << np.uint64(8)
        if remainder >= 1:
            k ^= np.uint64(data[tail])
            k = (k * c1) & mask
            k = ((k << np.uint64(15)) | (k >> np.uint64(17))) & mask
            k = (k * c2) & mask
            h ^= k
        h ^= np.uint64(length)
        h ^= h >> np.uint64(16)
        h = (h * np.uint64(0x85EBCA6B)) & mask
        h ^= h >> np.uint64(13)
        h = (h * np.uint64(0xC2B2AE35)) & mask
        h ^= h >> np.uint64(16)
        signed = np.int64(h)
        if signed >= 2**31:
            signed -= 2**32
        out[i] = abs(signed)
    return out
