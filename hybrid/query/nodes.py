"""The plan as a value (built by hybrid.query.plan, run by hybrid.query.execute): frozen nodes
that print as a tree. Frozen msgspec Structs: built on every query, they must cost little.

- `Leaf`: one search of the (filtered) collection, run per segment (and per shard);
- `Merge`: combines its sources' lists once, over their gathered candidates;
- `Plan`: the tree, its leaves in order, paging, hydration, groups.
"""

from __future__ import annotations

from typing import Any, Optional

import msgspec
import numpy as np

from hybrid import models as m
from hybrid.query.parse import Fusion, OrderBy


class Leaf(msgspec.Struct, frozen=True, eq=False):
    """A search of the collection (per segment, per shard). `query` by `op`: nearest: the
    prepared vector (dense / multivector float32; sparse `(indices, values)`, raw values when
    `idf`, weighted at execution with local or summed statistics); scored: a Scorer; bm25: Bm25;
    order_by: OrderBy; sample / scan: None."""

    index: int  # position in Plan.leaves
    op: str
    using: Optional[str]
    query: Any
    filter: Any  # parsed filter (None: every live point)
    params: Optional[m.SearchParams]
    limit: int
    threshold: Optional[float]  # internal units, applied by the search
    distance: Optional[str] = None
    idf: bool = False
    path: str = ""  # where in the request (errors, printing)

    @property
    def sources(self) -> tuple:
        return ()

    @property
    def stats_key(self) -> int:
        return self.index

    def describe(self) -> str:
        what = {"nearest": _vector_text, "scored": lambda leaf: f"{leaf.query.method} {leaf.using!r} exact",
                "bm25": lambda leaf: f"bm25 {leaf.query.field!r} {leaf.query.text!r}",
                "order_by": lambda leaf: f"order_by {leaf.query.key!r} {'desc' if leaf.query.descending else 'asc'}",
                }.get(self.op, lambda leaf: leaf.op)(self)
        extra = [f"limit={self.limit}"]
        if self.filter is not None:
            extra.append("filtered")
        if self.threshold is not None:
            extra.append(f"threshold={self.threshold:g}")
        if self.params is not None:
            extra.append("params=" + ",".join(f"{k}={v}" for k, v in m.to_builtins(self.params).items()))
        return f"leaf#{self.index} {what} {' '.join(extra)}"


def _vector_text(leaf: Leaf) -> str:
    q = leaf.query
    if isinstance(q, tuple):
        return f"nearest sparse {leaf.using!r} nnz={q[0].size}{' idf' if leaf.idf else ''}"
    shape = "x".join(str(n) for n in np.shape(q))
    return f"nearest {'multivector' if np.ndim(q) == 2 else 'dense'} {leaf.using!r} [{shape}]"


class Merge(msgspec.Struct, frozen=True, eq=False):
    """Combines `sources` once over their gathered candidates. `query` by `op`: rrf / dbsf /
    linear: Fusion; formula: FormulaQuery; rescore: Scorer; mmr: (Mmr, using, kind);
    order_by: OrderBy; bm25: Bm25; sample: None. `needs` names what a coordinator must fetch
    for the candidates before running it ("payload", "vector:<name>"); `coordinator` is False
    when the node needs a shard's index (bm25 over the pool)."""

    op: str
    query: Any
    sources: tuple
    limit: int
    threshold: Optional[float] = None  # internal units, applied after the merge
    distance: Optional[str] = None
    needs: tuple = ()
    coordinator: bool = True
    path: str = ""
    branches: Optional[tuple] = None  # the request's prefetch results explain reports (mmr: its input's)
    idf: bool = False  # rescore: a sparse query with raw values, weighted by IDF statistics at `finish`

    @property
    def stats_key(self) -> str:
        return f"rescore@{self.path or 'root'}"

    def describe(self) -> str:
        q = self.query
        text = self.op
        if isinstance(q, Fusion) and q.method == "rrf" and q.k is not None:
            text += f"(k={q.k})"
        if isinstance(q, Fusion) and q.weights is not None:
            text += f" weights={list(q.weights)}"
        if self.op in ("rescore", "mmr"):
            text += f" {q.using!r}" if self.op == "rescore" else f" {q[1]!r} diversity={q[0].diversity}"
        if isinstance(q, OrderBy):
            text += f" {q.key!r} {'desc' if q.descending else 'asc'}"
        extra = [f"limit={self.limit}"]
        if self.threshold is not None:
            extra.append(f"threshold={self.threshold:g}")
        if self.idf:
            extra.append("idf")
        if self.needs:
            extra.append("needs=" + ",".join(self.needs))
        if not self.coordinator:
            extra.append("shard-only")
        return f"{text} {' '.join(extra)}"


Node = Leaf | Merge


class Groups(msgspec.Struct, frozen=True):
    """query_points_groups: group the ranked list by payload `key`."""

    key: str
    size: int
    limit: int  # groups returned
    lookup: Any = None  # with_lookup as given


class Plan(msgspec.Struct, frozen=True, eq=False):
    """A validated request: the node tree, its leaves (in `Leaf.index` order), paging and what to
    hydrate. `root.limit` is offset + limit (groups: the ranked entries to group)."""

    root: Node
    leaves: tuple
    limit: int
    offset: int = 0
    with_payload: Any = True
    with_vector: Any = None
    explain: bool = False
    groups: Optional[Groups] = None

    def nodes(self) -> list:
        """Every node, root first (depth first, in request order)."""
        return _nodes(self.root)

    def weighted(self) -> list:
        """Every node whose scores take IDF from statistics: IDF-weighted sparse queries
        (`idf`) and BM25 (leaves and merges)."""
        return [node for node in self.nodes() if node.idf or node.op == "bm25"]

    def needs(self) -> tuple:
        """What the merges need fetched for gathered candidates ("payload", "vector:<name>")."""
        return tuple(sorted({need for node in self.nodes() if isinstance(node, Merge) for need in node.needs}))

    def __str__(self) -> str:
        head = f"plan limit={self.limit} offset={self.offset}"
        if self.groups is not None:
            head += f" group_by={self.groups.key!r} group_size={self.groups.size}"
        lines = [head]
        _draw(self.root, "", True, lines)
        return "\n".join(lines)


def _nodes(node: Any) -> list:
    return [node] + [inner for child in node.sources for inner in _nodes(child)]


def _draw(node: Node, prefix: str, last: bool, lines: list) -> None:
    lines.append(f"{prefix}{'└─ ' if last else '├─ '}{node.describe()}")
    inner = prefix + ("   " if last else "│  ")
    for i, child in enumerate(node.sources):
        _draw(child, inner, i == len(node.sources) - 1, lines)
