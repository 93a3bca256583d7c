"""Read `consistency`: how many replicas of a shard a read asks, and how their answers become
one, by Qdrant's rule (lib/collection/src/shards/replica_set/execute_read_operation.rs and
shards/resolve.rs):

- none: one replica; a number n: n replicas (at most all), answers resolved with ALL;
- "quorum": more than half of the replicas, resolved with ALL;
- "all": every replica, resolved with ALL; "majority": every replica, resolved with MAJORITY.
A read that cannot reach that many active replicas is refused (503).

Resolving with ALL keeps what every answer agrees on, with MAJORITY what more than half agree
on: a listed item (a scored point, a record) is kept when that many answers hold it equal (id,
score, order value, payload, vector), a count is the minimum (ALL) or the median (MAJORITY) of
the answers', a facet value is kept when that many answers list it, with its count resolved the
same way. The coordinator orders every merged list itself, so the answers' order is not kept.
Statistics (summable counts behind IDF and BM25) resolve as counts, element by element.
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec
import numpy as np

from hybrid import models as m

ALL, MAJORITY = "all", "majority"

Resolver = Callable[[list, str], Any]  # (answers of one shard's replicas, condition) -> one answer


def read_rule(consistency: Any, replicas: int) -> tuple[int, str]:
    """(replicas to ask, condition) of a read `consistency` on a shard of `replicas` replicas."""
    value = m.read_consistency(consistency)
    if value is None:
        return 1, ALL
    if value == "all":
        return replicas, ALL
    if value == "majority":
        return replicas, MAJORITY
    if value == "quorum":
        return replicas // 2 + 1, ALL
    return min(value, replicas), ALL


def needed(condition: str, answers: int) -> int:
    """How many answers must agree on an item for it to be kept."""
    return answers if condition == ALL else answers // 2 + 1


def count_of(values: Any, condition: str) -> Any:
    """A count from several answers' (element-wise for arrays): the minimum, or the median."""
    stacked = np.asarray(values)
    if condition == ALL:
        return stacked.min(axis=0)
    return np.sort(stacked, axis=0)[len(stacked) // 2]


def first(answers: list, condition: str) -> Any:
    return answers[0]


def resolve_count(answers: list, condition: str) -> dict:
    return {"count": int(count_of([a["count"] for a in answers], condition))}


def resolve_facet(answers: list, condition: str) -> dict:
    seen: dict[str, tuple[Any, list]] = {}
    for answer in answers:
        for hit in answer["hits"]:
            seen.setdefault(_key(hit["value"]), (hit["value"], []))[1].append(hit["count"])
    want = needed(condition, len(answers))
    return {"hits": [{"value": value, "count": int(count_of(counts, condition))}
                     for value, counts in seen.values() if len(counts) >= want]}


def resolve_records(answers: list, condition: str) -> list:
    """Records (retrieve) held equal by enough answers."""
    seen: dict[str, tuple[dict, int]] = {}
    for answer in answers:
        for record in answer:
            key = _key({k: v for k, v in record.items() if k not in ("version", "shard_key")})
            found = seen.get(key)
            seen[key] = (record, 1 if found is None else found[1] + 1)
    want = needed(condition, len(answers))
    return [record for record, n in seen.values() if n >= want]


def resolve_scroll(answers: list, condition: str) -> list:
    """A scroll page: its records resolved; the coordinator computes the next offset itself."""
    return [resolve_records([records for records, _ in answers], condition), None]


def resolve_leaves(answers: list, condition: str) -> list:
    """Per leaf, the scored points (id key, score, order value) held equal by enough answers."""
    want = needed(condition, len(answers))
    out = []
    for parts in zip(*answers):
        keys = np.concatenate([np.asarray(k) for k, _, _ in parts])
        scores = np.concatenate([np.asarray(s, np.float32) for _, s, _ in parts])
        has_values = parts[0][2] is not None
        values = np.concatenate([np.asarray(v, np.float64) for _, _, v in parts]) if has_values \
            else np.zeros(len(keys))
        items = np.empty(len(keys), dtype=[("key", keys.dtype), ("score", np.float32), ("value", np.float64)])
        items["key"], items["score"], items["value"] = keys, scores, values
        unique, first_at, counts = np.unique(items, return_index=True, return_counts=True)
        keep = np.sort(first_at[counts >= want])
        out.append((keys[keep], scores[keep], values[keep] if has_values else None))
    return out


def resolve_statistics(answers: list, condition: str) -> dict:
    """Summable statistics (hybrid.query.execute.TermStats per node), resolved as counts."""
    out = {}
    for key, stats in answers[0].items():
        every = [answer[key] for answer in answers]
        out[key] = type(stats)(int(count_of([s.docs for s in every], condition)),
                               count_of([s.df for s in every], condition),
                               int(count_of([s.tokens for s in every], condition)),
                               int(count_of([s.length_docs for s in every], condition)))
    return out


def _key(value: Any) -> str:
    return msgspec.json.encode(value, order="sorted").decode()
