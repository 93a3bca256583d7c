"""The optimizer of a collection: Qdrant's optimizers run until nothing is pending.

After every write (and after every finished optimization) a driver thread asks
`hybrid.optimizations.plan` what to do and runs up to `threads()` optimizations at once, each
in its own thread (the numba graph build releases the GIL). An optimization freezes the
appendable segment if it takes it (a new one takes the writes), builds one compacted segment
with its indexes outside the lock, writes it to disk (persistent collections), and only then
swaps it in under the lock: readers hold their own list of segments, so they never see a half
state. A failure leaves the sources serving; it is reported (status red, with the reason) and
retried with backoff until a retry succeeds.

After each swap of a persistent collection, a checkpoint (hybrid.checkpoint) makes the folder
hold the collection as of now; a failed one is retried like a failed optimization. With
`background` False (fault-injection tests) all of it runs inside the write that triggered it.
"""

from __future__ import annotations

import logging
import atexit
import threading
import weakref
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from hybrid.checkpoint import write_checkpoint
from hybrid.optimizations import Planned, SegmentStat, Thresholds, indexing_threads, plan, thresholds
from hybrid.segment import Segment
from hybrid.storage.files import remove_tree, write_dir_atomically
from hybrid.tenants import tenant_field, tenant_ordered

if TYPE_CHECKING:
    from hybrid.collection import Collection

_log = logging.getLogger("hybrid.optimizer")

#: Builds the ANN indexes of a freshly built segment (set by the dense index integration); the
#: second argument is None or a source segment whose points come first and whose graphs may grow.
IndexBuilder = Callable[[Segment, Optional[Segment]], None]

#: Seconds before the first retry of a failed optimization; doubled per failure up to the cap.
RETRY_FIRST, RETRY_CAP = 0.05, 30.0
#: Finished optimizations kept for GET /collections/{name}/optimizations?with=completed.
COMPLETED_KEPT = 64


@dataclass(eq=False)
class Job:
    """One optimization: `sources` (their live offsets at the start) become segment `uuid`."""

    optimizer: str
    sources: list[Segment]
    lives: list[np.ndarray]
    uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.time)
    finished: Optional[float] = None
    error: Optional[str] = None


_LIVE: "weakref.WeakSet[Optimizer]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """Stop every driver before the interpreter finalizes: a daemon driver frozen while it holds
    its condition would otherwise hang a Client's close() from `__del__` at exit forever."""
    for optimizer in list(_LIVE):
        optimizer.stop()


class Optimizer:
    """Runs Qdrant's optimizers in the background until nothing is pending (module docstring)."""

    def __init__(self, collection: "Collection", background: bool = True) -> None:
        self.c = collection
        self.background = background  # False: optimizations run inside the write (deterministic)
        self.build_indexes: Optional[IndexBuilder] = None
        self.indexed: set[str] = set()  # segments built with their indexes (Qdrant's "indexed")
        self.saved: set[str] = set()  # sealed segments whose folder is on disk
        self.error: Optional[str] = None  # last failure until a retry succeeds: status red
        self.running: list[Job] = []
        self.completed: deque[Job] = deque(maxlen=COMPLETED_KEPT)
        self.triggered = False  # Qdrant: grey, not yellow, until the first write after opening
        self._state = threading.Condition()
        self._driver: Optional[threading.Thread] = None
        self._dirty = self._stopped = False
        self._paused = 0
        self._checkpoint_due = False
        self._retry_at = 0.0
        self._backoff = RETRY_FIRST
        self._writing: set[str] = set()  # segment folders being written (not swept)
        _LIVE.add(self)

    # ------------------------------------------------------------------ policy
    def bytes_per_point(self) -> int:
        sizes = [4 * s.size for s in self.c.schema.dense.values() if not s.multivector]
        return max(sizes) if sizes else 1024

    def threads(self) -> int:
        """Optimizations run at once (Qdrant's max_optimization_threads; 0 disables them). None:
        one at a time, as each graph build already uses max_indexing_threads threads (measured
        on a bulk load: two at once on two cores only split the cores and insert more points
        again when their results merge)."""
        limit = self.c.schema.config.optimizer_config.max_optimization_threads
        return 1 if limit is None else limit

    def thresholds(self) -> Thresholds:
        cfg = self.c.schema.config
        return thresholds(cfg.optimizer_config, indexing_threads(cfg.hnsw_config.max_indexing_threads))

    def _stat(self, seg: Segment) -> SegmentStat:
        points = seg.live_count
        return SegmentStat(seg, seg.name, points, seg.size, points * self.bytes_per_point(),
                           seg.name in self.indexed, seg.appendable)

    def pending(self) -> list[Planned]:
        """What would start now if every thread were free (call with or without the lock)."""
        with self.c.lock:
            with self._state:
                running = list(self.running)
            busy = {id(s) for job in running for s in job.sources}
            stats = [self._stat(s) for s in self.c.segments if id(s) not in busy]
            return plan(stats, len(running), self.thresholds())

    def status(self) -> tuple[str, Any]:
        """(collection status, optimizer_status) as Qdrant reports them."""
        with self.c.lock:  # an optimization starts under the lock: running and pending agree
            if self.error:
                return "red", {"error": self.error}
            if self.running:
                return "yellow", "ok"
            if self.pending():
                return ("yellow" if self.triggered and self.threads() > 0 else "grey"), "ok"
            return "green", "ok"

    def indexed_vectors_count(self) -> int:
        total = 0
        with self.c.lock:
            for seg in self.c.segments:
                if seg.name in self.indexed:
                    live = seg.live
                    total += sum(int(np.count_nonzero(st.present[: seg.size] & live)) for st in seg.vectors.values())
        return total

    # ------------------------------------------------------------------ the loop
    def after_write(self) -> None:
        self.trigger()

    def trigger(self) -> None:
        """Something changed: make sure a driver thread will plan again (or, without
        background, run every pending optimization now in the caller's thread)."""
        with self._state:
            self.triggered = True
            if self._stopped or self.threads() == 0 or (self._paused and not self.background):
                return
            if self.c.problem() is not None:  # red (damaged data, failed WAL): read-only until reopened
                return
            if self.background:
                self._dirty = True
                self._state.notify_all()
                if self._driver is None:
                    self._driver = threading.Thread(target=self._drive, name=f"optimize-{self.c.name}",
                                                    daemon=True)
                    self._driver.start()
                return
        self._run_inline()

    def _run_inline(self) -> None:
        """Without background (fault-injection tests): the checkpoint a failed round owes, then
        each optimization the planners ask for, until none is pending. A failure is reported
        (red) and raised to the writer; the next write retries at once."""
        if self._checkpoint_due and self.c.path is not None:
            self._guarded(self._checkpoint_now, reraise=True)
        while jobs := self._start(1):
            try:
                self._guarded(lambda: self._rebuild(jobs[0]), jobs[0], reraise=True)
            finally:
                self._finished(jobs[0])

    def _drive(self) -> None:
        """Start what the planners ask for whenever a write or a finished optimization wakes
        it; leave when nothing runs and nothing is pending (or on stop/pause)."""
        with ThreadPoolExecutor(max_workers=max(self.threads(), 1), thread_name_prefix=f"build-{self.c.name}") as pool:
            while True:
                with self._state:
                    self._dirty = False
                    idle = self._stopped or self._paused > 0 or not self.background or self.c.problem() is not None
                    waiting = time.monotonic() < self._retry_at
                if not idle and not waiting:
                    for job in self._start(self.threads() - len(self.running)):
                        pool.submit(self._execute, job)
                    if not self.running and self._checkpoint_due and self.c.path is not None:
                        self._guarded(self._checkpoint_now)
                retry = bool(self.error) and not idle and bool(self.pending())
                with self._state:
                    if self._dirty and not idle:
                        continue
                    if self.running or (not idle and (self._checkpoint_due or retry)):
                        left = self._retry_at - time.monotonic()
                        self._state.wait(left if left > 0 else None)  # a write, a job's end or the retry time
                        continue
                    self._driver = None
                    self._state.notify_all()
                    return

    def _start(self, slots: int) -> list[Job]:
        if slots <= 0:
            return []
        with self.c.lock:
            jobs = [self._begin(p.optimizer, [s.key for s in p.segments]) for p in self.pending()[:slots]]
        return jobs

    def _begin(self, optimizer: str, sources: list[Segment]) -> Job:
        """Under the lock: freeze the appendable segment if taken, note what each source holds."""
        c = self.c
        if any(s.appendable for s in sources):
            c.appendable.appendable = False
            c._new_appendable()
        job = Job(optimizer, sources, [np.flatnonzero(s.live) for s in sources])
        with self._state:
            self.running.append(job)
        return job

    def _guarded(self, step: Callable[[], None], job: Optional[Job] = None, reraise: bool = False) -> bool:
        """Run one step; a failure is logged, reported (red) and retried with backoff (raised
        too with `reraise`)."""
        try:
            step()
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            _log.exception("optimization of collection %r failed; retrying in %.2f s", self.c.name, self._backoff)
            with self._state:
                self.error = reason
                if job is not None:
                    job.error = reason
                self._retry_at = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, RETRY_CAP)
                self._state.notify_all()
            if reraise:
                raise
            return False
        with self._state:
            self.error = None
            self._backoff = RETRY_FIRST
        return True

    def _execute(self, job: Job) -> None:
        try:
            self._guarded(lambda: self._rebuild(job), job)
        finally:
            self._finished(job)

    def _finished(self, job: Job) -> None:
        with self._state:
            job.finished = time.time()
            self.running.remove(job)
            self.completed.append(job)
            self._dirty = True
            self._state.notify_all()

    # ------------------------------------------------------------------ explicit control
    def optimize(self, segments: Optional[list[Segment]] = None) -> None:
        """Merge `segments` (default: every sealed one) and the appendable one into one sealed
        segment with fresh indexes, now (blocking; errors are raised)."""
        with self._state:
            self._paused += 1
        try:
            with self._state:
                while self._driver is not None:  # paused: it finishes what runs, then leaves
                    self._state.wait()
            with self.c.lock:
                chosen = [s for s in self.c.segments if not s.appendable] if segments is None else segments
                job = self._begin("merge", [s for s in chosen if s in self.c.segments and not s.appendable]
                                  + [self.c.appendable])
            try:
                self._rebuild(job)
            finally:
                self._finished(job)
        finally:
            with self._state:
                self._paused -= 1
            self.trigger()

    def run_inline(self) -> None:
        """From now on optimizations run inside the writes (deterministic fault-injection tests):
        a background driver still running leaves first, so no round overlaps an inline one."""
        with self._state:
            self.background = False
            self._state.notify_all()
        self.wait()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until nothing runs or is pending (True), or a failure is being retried (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._state:
            while self._driver is not None and not self.error:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._state.wait(left)
            return self._driver is None and not self.error

    def stop(self) -> None:
        with self._state:
            self._stopped = True
            self._state.notify_all()
            driver = self._driver
        if driver is not None:
            driver.join()

    # ------------------------------------------------------------------ one optimization
    def _rebuild(self, job: Job) -> None:
        """Build the job's segment outside the lock (written to disk first when persistent),
        then swap it in atomically and checkpoint. Nothing is swapped before it is complete, so
        a failure leaves the sources serving and is simply retried."""
        c = self.c
        with c.lock:
            tenant = tenant_field(c)
        parts = tenant_ordered([(s, live) for s, live in zip(job.sources, job.lives) if live.size], tenant)
        grown = self._growable(parts) if tenant is None else None
        if grown is not None:  # its points first: its graphs are kept, the others inserted
            parts = [p for p in parts if p[0] is grown] + [p for p in parts if p[0] is not grown]
        new = Segment.merged(c.schema, parts)
        new.name = job.uuid
        c._attach(new)  # payload indexes, built outside the lock
        if self.build_indexes is not None and new.size:
            self.build_indexes(new, grown)
        if c.path is not None and new.size:
            self._save_segment(new)  # stays in _writing (never swept) until swapped in
        try:
            self._swap(job, new, parts)
        finally:
            with self._state:
                self._writing.discard(new.name)

    def _swap(self, job: Job, new: Segment, parts: list[tuple[Segment, np.ndarray]]) -> None:
        """Under the lock: the new segment replaces the sources (with the deletions made while
        it was built), then a checkpoint when persistent."""
        c = self.c
        with c.lock:
            new.deleted = np.concatenate([s.deleted[live] for s, live in parts]) if parts else new.deleted
            c._attach(new)  # an index created while we were building
            new.conform(c.schema)  # and the vector names made or deleted meanwhile
            c.where.sealed_segment(new, job.sources)
            position = min(c.segments.index(s) for s in job.sources)
            kept = [s for s in c.segments if s not in job.sources]
            if new.size:
                kept.insert(position, new)
                if new.size * self.bytes_per_point() >= self.thresholds().indexing_bytes:
                    self.indexed.add(new.name)
            c.segments = kept
            if c.path is not None:
                self._checkpoint_due = True
                self._checkpoint_now()

    def _growable(self, parts: list[tuple[Segment, np.ndarray]]) -> Optional[Segment]:
        """The biggest indexed source taken whole (no deleted point): its graphs can be grown."""
        whole = [s for s, live in parts if s.name in self.indexed and live.size == s.size]
        return max(whole, key=lambda s: s.size, default=None)

    def _save_segment(self, new: Segment) -> None:
        folder = self.c.path / "segments" / new.name
        folder.parent.mkdir(exist_ok=True)
        with self._state:
            self._writing.add(new.name)
        try:
            write_dir_atomically(folder, new.save)  # fsynced, with its checksums.json
            new.move_to_disk(folder)
            self.saved.add(new.name)
        except Exception:  # (not on a crash: a dead process removes nothing)
            remove_tree(folder)
            with self._state:
                self._writing.discard(new.name)
            raise

    # ------------------------------------------------------------------ checkpoint
    def _checkpoint_now(self) -> None:
        """Make the folder hold the collection as of now (hybrid.checkpoint.write_checkpoint);
        folders of segments being written are not swept."""
        with self.c.lock:
            write_checkpoint(self.c, self.saved, self._being_written)
            self._checkpoint_due = False

    def _being_written(self) -> set[str]:
        with self._state:
            return set(self._writing)
