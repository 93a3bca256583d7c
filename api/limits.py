"""Input limits the REST layer enforces before anything decodes a body.

Nesting depth: Qdrant's JSON parser (serde_json) stops at 128 levels of arrays and objects. We
check the same bound on the raw bytes, before msgspec builds anything, so a filter, payload,
prefetch or formula nested thousands deep is a 400 naming the problem, never a RecursionError
somewhere in the engine. The scan is vectorised (numpy over the bytes that matter); a body with
fewer brackets than the limit, the common case, costs two `bytes.count` calls.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from litestar import Request

from hybrid.errors import BadRequest

#: serde_json's recursion limit: the 128th nested array or object is refused.
MAX_DEPTH = 127
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN, _CLOSE = (ord("["), ord("{")), (ord("]"), ord("}"))
_INTERESTING = np.zeros(256, dtype=bool)
_INTERESTING[[_QUOTE, _BACKSLASH, *_OPEN, *_CLOSE]] = True


class TooDeep(BadRequest):
    label = "Format error in JSON body"


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays and objects in the JSON text `body`, brackets inside strings
    not counted (escaped quotes do not end a string). Malformed JSON gets some number; the
    decoder rejects it anyway."""
    raw = np.frombuffer(body, dtype=np.uint8)
    pos = np.flatnonzero(_INTERESTING[raw])
    ch = raw[pos]
    # A quote is escaped when an odd run of backslashes ends right before it. `chained[k]`: entry
    # k directly follows a backslash; the run before k is k minus the start of its chain.
    chained = np.zeros(len(pos), dtype=bool)
    chained[1:] = (ch[:-1] == _BACKSLASH) & (np.diff(pos) == 1)
    starts = np.flatnonzero(~chained)
    run = np.arange(len(pos)) - starts[np.cumsum(~chained) - 1]
    real_quote = (ch == _QUOTE) & (run % 2 == 0)
    outside = np.cumsum(real_quote) % 2 == 0  # an even number of quotes so far: not in a string
    step = np.where(np.isin(ch, _OPEN), 1, np.where(np.isin(ch, _CLOSE), -1, 0))
    depth = np.cumsum(np.where(outside, step, 0))
    return int(depth.max(initial=0))


def check_depth(body: bytes) -> None:
    """TooDeep (400) when `body` nests deeper than Qdrant's parser allows."""
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and json_depth(body) > MAX_DEPTH:
        raise TooDeep(f"nested more than {MAX_DEPTH} levels deep (arrays and objects): recursion limit exceeded")


async def check_json_body(request: Request) -> Optional[object]:
    """Litestar `before_request` hook: the depth check on every JSON body (uploads are not JSON)."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and "multipart" not in request.headers.get(
            "content-type", ""):
        check_depth(await request.body())
    return None
