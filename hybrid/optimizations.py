"""What the optimizer should do next: Qdrant's merge, indexing and vacuum planners.

Pure functions over a snapshot of the segments (`SegmentStat`), so the policy is testable
without an engine. `plan` runs the three planners in Qdrant's order over the segments no running
optimization holds; each planned optimization turns its segments into one new segment (the
appendable one, when taken, is frozen and replaced by a fresh empty one). The optimizer loops
until `plan` returns nothing: that, and no optimization running, is "green".

Sizes are bytes of live vectors (Qdrant's `available_vectors_size_in_bytes`), thresholds come
from the collection's optimizer config in Qdrant's units (KB):
  * indexing: a segment of at least `indexing_threshold` KB that is not indexed gets indexed,
    alone while there are fewer segments than the target number, else together with the
    smallest unindexed (or indexed) segment that keeps the result under `max_segment_size`;
  * merge: the smallest segments are merged in batches under `max_segment_size` until at most
    `default_segment_number` remain (0: Qdrant's automatic value, one per two CPUs in [2, 8]);
    a batch of two is held back until a second batch guarantees the count really drops;
  * vacuum: a segment of at least `vacuum_min_vector_number` points whose deleted share passes
    `deleted_threshold` is rebuilt without its dead points.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from hybrid.models import Model

#: Qdrant's default max segment size per indexing thread (KB).
MAX_SEGMENT_PER_THREAD_KB = 256_000


@dataclass(frozen=True)
class SegmentStat:
    """What the planners need to know about one segment."""

    key: Any  # the segment itself (the planners only compare and return it)
    name: str
    points: int  # live points
    total: int  # points including deleted ones
    nbytes: int  # bytes of live vectors
    indexed: bool  # built by the optimizer with its ANN indexes
    appendable: bool = False


@dataclass(frozen=True)
class Thresholds:
    indexing_bytes: int
    max_segment_bytes: int
    segments_target: int
    deleted_threshold: float
    vacuum_min: int


@dataclass(frozen=True)
class Planned:
    optimizer: str  # "merge", "indexing" or "vacuum"
    segments: tuple[SegmentStat, ...]


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def indexing_threads(max_indexing_threads: int) -> int:
    """Qdrant's `max_indexing_threads`: 0 means one per CPU."""
    return max_indexing_threads if max_indexing_threads > 0 else cpu_count()


def default_segment_number() -> int:
    return min(max(cpu_count() // 2, 2), 8)


def thresholds(config: Any, threads: int) -> Thresholds:
    """Resolve an `OptimizersConfig` as Qdrant does (0 / None mean automatic or disabled)."""
    kb = config.indexing_threshold
    return Thresholds(
        indexing_bytes=kb * 1024 if kb and kb > 0 else 1 << 62,  # 0 disables indexing
        max_segment_bytes=(config.max_segment_size or threads * MAX_SEGMENT_PER_THREAD_KB) * 1024,
        segments_target=config.default_segment_number or default_segment_number(),
        deleted_threshold=config.deleted_threshold,
        vacuum_min=config.vacuum_min_vector_number,
    )


class _Planner:
    def __init__(self, segments: list[SegmentStat], running: int) -> None:
        self.remaining = {s.name: s for s in segments}
        self.scheduled: list[Planned] = []
        self.running = running

    def expected_segments(self) -> int:
        return len(self.remaining) + len(self.scheduled) + self.running

    def take(self, optimizer: str, batch: list[SegmentStat]) -> None:
        for s in batch:
            del self.remaining[s.name]
        self.scheduled.append(Planned(optimizer, tuple(batch)))


def plan(segments: list[SegmentStat], running: int, th: Thresholds) -> list[Planned]:
    """Optimizations to run now over `segments` (those no running optimization holds)."""
    planner = _Planner(segments, running)
    _plan_merge(planner, th)
    _plan_indexing(planner, th)
    _plan_vacuum(planner, th)
    return planner.scheduled


def needs_index(s: SegmentStat, th: Thresholds) -> bool:
    return not s.indexed and s.nbytes >= th.indexing_bytes


def _plan_merge(planner: _Planner, th: Thresholds) -> None:
    candidates = sorted(planner.remaining.values(), key=lambda s: s.nbytes)
    taken = 0
    last = max(planner.expected_segments() + 2 - th.segments_target, 0)
    held: Optional[list[SegmentStat]] = None
    while taken < min(last, len(candidates)):
        batch, total = [], 0
        for s in candidates[taken:min(last, len(candidates))]:
            total += s.nbytes
            if total >= th.max_segment_bytes:
                break
            batch.append(s)
        if len(batch) < 2:
            return
        first = taken == 0
        taken += len(batch)
        last += 1
        if first and len(batch) < 3:  # merging two would not lower the count: wait for a second batch
            held = batch
            continue
        if held is not None:
            planner.take("merge", held)
            held = None
        planner.take("merge", batch)


def _plan_indexing(planner: _Planner, th: Thresholds) -> None:
    remaining = planner.remaining
    unindexed = sorted((s for s in remaining.values() if needs_index(s, th)), key=lambda s: s.nbytes)
    indexed = sorted((s for s in remaining.values() if s.indexed), key=lambda s: s.nbytes)
    while unindexed:
        largest = unindexed.pop()
        if largest.name not in remaining:
            continue
        if planner.expected_segments() < th.segments_target:
            planner.take("indexing", [largest])
            continue
        partner = None
        for pool in (unindexed, indexed):  # the smallest one that keeps the result under the cap
            if pool and pool[0].name in remaining and pool[0].name != largest.name \
                    and largest.nbytes + pool[0].nbytes < th.max_segment_bytes:
                partner = pool.pop(0)
                break
        planner.take("indexing", [largest] if partner is None else [largest, partner])


def _plan_vacuum(planner: _Planner, th: Thresholds) -> None:
    littered = []
    for s in planner.remaining.values():
        ratio = (s.total - s.points) / s.total if s.total else 0.0
        if s.total >= th.vacuum_min and ratio > th.deleted_threshold:
            littered.append((ratio, s))
    for _, s in sorted(littered, key=lambda pair: -pair[0]):
        planner.take("vacuum", [s])


# ---------------------------------------------------------------- GET /collections/{name}/optimizations
class OptimizationSegmentInfo(Model):
    uuid: str
    points_count: int


class ProgressTree(Model):
    name: str
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    duration_sec: Optional[float] = None
    done: Optional[int] = None
    total: Optional[int] = None


class Optimization(Model):
    uuid: str
    optimizer: str
    status: Any  # "optimizing" | "done" | {"error": reason}
    segments: list[OptimizationSegmentInfo]
    progress: ProgressTree


class PendingOptimization(Model):
    optimizer: str
    segments: list[OptimizationSegmentInfo]


class OptimizationsSummary(Model, omit_defaults=False):
    queued_optimizations: int
    queued_segments: int
    queued_points: int
    idle_segments: int


class OptimizationsResponse(Model):
    summary: OptimizationsSummary
    running: list[Optimization]  # always present, even empty (required in Qdrant's schema)
    queued: Optional[list[PendingOptimization]] = None
    completed: Optional[list[Optimization]] = None
    idle_segments: Optional[list[OptimizationSegmentInfo]] = None


def _uuid(name: str) -> str:
    try:
        return str(uuid.UUID(hex=name))
    except ValueError:
        return name


def _stamp(t: Optional[float]) -> Optional[str]:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def _job(job: Any) -> Optimization:
    status: Any = {"error": job.error} if job.error else "done" if job.finished is not None else "optimizing"
    points = [int(live.size) for live in job.lives]
    return Optimization(
        uuid=_uuid(job.uuid), optimizer=job.optimizer, status=status,
        segments=[OptimizationSegmentInfo(_uuid(s.name), n) for s, n in zip(job.sources, points)],
        progress=ProgressTree(name=job.optimizer, started_at=_stamp(job.started), finished_at=_stamp(job.finished),
                              duration_sec=None if job.finished is None else round(job.finished - job.started, 6),
                              total=sum(points), done=sum(points) if job.finished is not None else None))


def report(optimizer: Any, include: set[str], completed_limit: int) -> OptimizationsResponse:
    """Running, queued, completed optimizations and idle segments of one collection's optimizer."""
    c = optimizer.c
    with c.lock:
        queued = optimizer.pending()
        running = list(optimizer.running)
        completed = list(optimizer.completed)
        busy = {id(s) for job in running for s in job.sources}
        planned = {s.name for p in queued for s in p.segments}
        idle = [OptimizationSegmentInfo(_uuid(s.name), s.live_count) for s in c.segments
                if id(s) not in busy and s.name not in planned]
    summary = OptimizationsSummary(
        queued_optimizations=len(queued), queued_segments=sum(len(p.segments) for p in queued),
        queued_points=sum(s.points for p in queued for s in p.segments), idle_segments=len(idle))
    return OptimizationsResponse(
        summary=summary,
        running=[_job(job) for job in running],
        queued=[PendingOptimization(p.optimizer, [OptimizationSegmentInfo(_uuid(s.name), s.points) for s in p.segments])
                for p in queued] if "queued" in include else None,
        completed=[_job(job) for job in reversed(completed)][:completed_limit] if "completed" in include else None,
        idle_segments=idle if "idle_segments" in include else None,
    )
