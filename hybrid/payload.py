"""Payload updates (set / overwrite / delete keys / clear), as pure functions on one payload.

Keys may be dotted JSON paths (`a.b`): set_payload with `key` merges into the object at that
path (creating it), delete_payload removes the value at each path.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

from hybrid import operations as ops
from hybrid.errors import ValidationError


def _split(path: str) -> list[str]:
    return [p for p in path.replace("[]", "").split(".") if p]


def _delete_path(obj: Any, parts: list[str]) -> None:
    if not isinstance(obj, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    if not rest:
        obj.pop(head, None)
        return
    child = obj.get(head)
    if isinstance(child, list):
        for item in child:
            _delete_path(item, rest)
    else:
        _delete_path(child, rest)


def apply_payload_op(payload: Optional[dict], op: Any) -> Optional[dict]:
    """The payload after `op`; the input is not modified."""
    if isinstance(op, ops.ClearPayload):
        return None
    if isinstance(op, ops.OverwritePayload):
        return copy.deepcopy(op.payload) or None
    current = copy.deepcopy(payload) if payload else {}
    if isinstance(op, ops.SetPayload):
        target = current
        for part in _split(op.key or ""):
            nxt = target.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                target[part] = nxt
            target = nxt
        target.update(copy.deepcopy(op.payload))
    elif isinstance(op, ops.DeletePayload):
        for key in op.keys:
            _delete_path(current, _split(key))
    return current or None


def select_payload(payload: Optional[dict], selector: Any) -> Optional[dict]:
    """Apply a with_payload selector: bool, list of keys, {"include": [...]} or {"exclude": [...]}."""
    if selector is None or selector is False:
        return None
    if payload is None:
        return {}
    if selector is True:
        return payload
    if isinstance(selector, (list, tuple)):
        return _include(payload, _keys(selector, "with_payload"))
    if isinstance(selector, dict):
        if "include" in selector:
            return _include(payload, _keys(selector["include"], "with_payload.include"))
        if "exclude" in selector:
            out = copy.deepcopy(payload)
            for key in _keys(selector["exclude"], "with_payload.exclude"):
                _delete_path(out, _split(key))
            return out
        if "enable" in selector:
            return payload if selector["enable"] else None
    return payload


def _keys(keys: Any, field: str) -> list[str]:
    if not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys):
        raise ValidationError(field, f"expected a list of payload keys, got {type(keys).__name__}")
    return list(keys)


def _include(payload: dict, keys: list[str]) -> dict:
    out: dict = {}
    for key in keys:
        parts = _split(key)
        if not parts:  # an empty key selects nothing
            continue
        src: Any = payload
        for part in parts:
            if not isinstance(src, dict) or part not in src:
                src = _MISSING
                break
            src = src[part]
        if src is _MISSING:
            continue
        dst = out
        for part in parts[:-1]:
            dst = dst.setdefault(part, {})
        dst[parts[-1]] = src
    return out


_MISSING = object()
