"""Tenant-ordered segments: a merge puts each tenant's points next to each other, so a tenant
filter allows one run of offsets (Qdrant's `is_tenant` payload index)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np

from hybrid.segment import Segment
from indexes.payload.jsonpath import parse_path, values_at

if TYPE_CHECKING:
    from hybrid.collection import Collection


def tenant_field(c: "Collection") -> Optional[str]:
    """The first keyword/uuid field indexed with `is_tenant` (Qdrant's tenant-optimised storage)."""
    for field, schema in c.field_indexes.items():
        if schema.get("is_tenant") and schema.get("type") in ("keyword", "uuid"):
            return field
    return None


def tenant_ordered(parts: list[tuple[Segment, np.ndarray]], field: Optional[str]) -> list[tuple[Segment, np.ndarray]]:
    """`parts` reordered so that each tenant's points are contiguous in the merged segment
    (a tenant filter then allows one run of offsets: a cheap exact scan over local memory).
    Offsets are internal and ties go by point id, so results do not change."""
    if field is None or not parts:
        return parts
    path = parse_path(field)
    source = np.concatenate([np.full(live.size, i) for i, (_, live) in enumerate(parts)])
    offsets = np.concatenate([live for _, live in parts])
    tenants = [str(found[0]) if (found := values_at(seg.payloads[off] or {}, path)) else ""
               for (seg, live) in parts for off in live.tolist()]  # at seal time, once per point
    order = np.argsort(np.array(tenants, dtype=object), kind="stable")
    source, offsets = source[order], offsets[order]
    cuts = np.flatnonzero(np.diff(source)) + 1  # runs of one source segment
    return [(parts[int(run_source[0])][0], run) for run_source, run in
            zip(np.split(source, cuts), np.split(offsets, cuts))]
