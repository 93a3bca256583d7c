"""Reads under concurrent writes: no errors, and every read equals the collection after some
prefix of the acknowledged writes (snapshot isolation, hybrid.view).

One writer applies a fixed script (insert-only phase, then upserts of new versions, deletes,
set_payload, update_vectors) and records the expected state after each operation; readers of
every kind run meanwhile. Vectors and payloads are small integers, so scores are exact and a
read is checked by recomputing it on the recorded states: it must equal the answer of one
state k between the writes acknowledged before it began and those acknowledged after it ended
(plus the one in flight). A low indexing threshold makes the optimizer seal and merge segments
during the run. The same scenario runs on the embedded Client and over REST (qdrant-client
against the real threaded server).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest

from hybrid import Client

N_OPS = 160  # writer operations (a few seconds in all)
READERS = 4
FILTER = {"must": [{"key": "n", "range": {"lt": 3}}]}


# ---------------------------------------------------------------- the model of the data
def make_point(pid: int, version: int, update: int = 0) -> dict:
    """A point whose every vector encodes its version (so torn reads show)."""
    return {
        "id": pid,
        "vector": {
            "d": [float(version), float(pid % 7), float(update), 1.0],
            "m": [[float(version), 1.0], [float(pid % 5), 0.0]],
            "s": {"indices": [pid % 13, 100], "values": [float(version), 1.0]},
        },
        "payload": {"v": version, "n": pid % 6, "g": f"g{pid % 3}", "t": f"w{version % 4} common"},
    }


@dataclass
class History:
    """states[k]: id -> point after the first k operations; `acked` operations returned."""

    states: list[dict[int, dict]] = field(default_factory=lambda: [{}])
    acked: int = 0

    def plan(self, change: Callable[[dict[int, dict]], None]) -> None:
        state = {pid: p for pid, p in self.states[-1].items()}
        change(state)
        self.states.append(state)


def script(rng: np.random.Generator) -> list[tuple[str, Any, Callable[[dict], None]]]:
    """(kind, argument, effect on the state) for every writer operation, decided up front."""
    ops: list[tuple[str, Any, Callable[[dict], None]]] = []
    live: dict[int, int] = {}  # id -> version
    next_id, version = 0, 0
    for step in range(N_OPS):
        version += 1
        kind = "insert" if step < N_OPS // 3 or len(live) < 20 else \
            rng.choice(["insert", "upsert", "delete", "set_payload", "update_vectors"])
        if kind == "insert":
            points = [make_point(next_id + j, version) for j in range(10)]
            next_id += 10
        elif kind == "upsert":
            points = [make_point(int(pid), version) for pid in rng.choice(list(live), 5, replace=False)]
        else:
            pid = int(rng.choice(list(live)))
        if kind in ("insert", "upsert"):
            for p in points:
                live[p["id"]] = version

            def effect(state: dict, points: list = points) -> None:
                for p in points:
                    state[p["id"]] = p
            ops.append(("upsert", points, effect))
        elif kind == "delete":
            del live[pid]
            ops.append(("delete", pid, lambda state, pid=pid: state.pop(pid)))
        elif kind == "set_payload":
            def effect(state: dict, pid: int = pid, tag: int = version) -> None:
                state[pid] = {**state[pid], "payload": {**state[pid]["payload"], "tag": tag}}
            ops.append(("set_payload", (pid, version), effect))
        else:
            def effect(state: dict, pid: int = pid, update: int = version) -> None:
                old = state[pid]
                fresh = make_point(pid, old["payload"]["v"], update)["vector"]["d"]
                state[pid] = {**old, "vector": {**old["vector"], "d": fresh}}
            ops.append(("update_vectors", (pid, version), effect))
    return ops


def write(client: Any, kind: str, arg: Any, state: dict) -> None:
    from qdrant_client import models as qm

    if kind == "upsert":
        client.upsert("c", [qm.PointStruct(**p) for p in arg])
    elif kind == "delete":
        client.delete("c", qm.PointIdsList(points=[arg]))
    elif kind == "set_payload":
        client.set_payload("c", {"tag": arg[1]}, points=[arg[0]])
    else:
        vector = state[arg[0]]["vector"]["d"]
        client.update_vectors("c", [qm.PointVectors(id=arg[0], vector={"d": vector})])


# ---------------------------------------------------------------- reads and their oracles
def _vectors(point: Any) -> dict:
    vec = point.vector
    sparse = vec["s"] if isinstance(vec["s"], dict) else {"indices": vec["s"].indices, "values": vec["s"].values}
    return {"d": [float(x) for x in vec["d"]], "m": [[float(x) for x in row] for row in vec["m"]],
            "s": {"indices": list(sparse["indices"]), "values": [float(x) for x in sparse["values"]]}}


def _seen(points: list) -> list[tuple]:
    """(id, payload, vectors) of returned points, as comparable values."""
    return [(p.id, p.payload, _vectors(p)) for p in points]


def _expected(state: dict, ids: list) -> list[tuple]:
    out = []
    for pid in ids:
        p = state.get(pid)
        if p is None:
            return []
        vec = p["vector"]
        sparse = sorted(zip(vec["s"]["indices"], vec["s"]["values"]))
        out.append((pid, p["payload"], {"d": vec["d"], "m": vec["m"],
                                        "s": {"indices": [i for i, _ in sparse], "values": [v for _, v in sparse]}}))
    return out


def _matches(p: dict) -> bool:
    return p["payload"]["n"] < 3


def _top(state: dict, score: Callable[[dict], float], limit: int, flt: bool = False) -> list[tuple[int, float]]:
    """Exact ranking of a state: score descending, ties by id."""
    scored = [(-score(p), pid) for pid, p in state.items() if not flt or _matches(p)]
    return [(pid, -s) for s, pid in sorted(scored)[:limit]]


DENSE_Q = [1.0, 2.0, 0.0, 0.0]  # version + 2 * (id % 7): integer scores, many ties


def read_kinds(client: Any) -> dict[str, tuple[Callable[[], Any], Callable[[Any, dict], bool]]]:
    """kind -> (run the read, does its answer equal the read on this state)."""
    from qdrant_client import models as qm

    def ranked(points: list, state: dict, want: list[tuple[int, float]]) -> bool:
        got = [(p.id, float(p.score)) for p in points]
        return got == want and _seen(points) == _expected(state, [pid for pid, _ in got])

    def dense(state: dict, flt: bool = False) -> list:
        return _top(state, lambda p: p["vector"]["d"][0] + 2 * p["vector"]["d"][1], 7, flt)

    return {
        "dense": (lambda: client.query_points("c", query=DENSE_Q, using="d", limit=7, with_vectors=True).points,
                  lambda got, state: ranked(got, state, dense(state))),
        "dense_filtered": (lambda: client.query_points("c", query=DENSE_Q, using="d", limit=7, with_vectors=True,
                                                       query_filter=qm.Filter(**FILTER)).points,
                           lambda got, state: ranked(got, state, dense(state, True))),
        "sparse": (lambda: client.query_points("c", query=qm.SparseVector(indices=[100, 4], values=[1.0, 3.0]),
                                               using="s", limit=6, with_vectors=True).points,
                   lambda got, state: ranked(got, state, _top(state, lambda p: 1.0 + (
                       3.0 * p["vector"]["s"]["values"][0] if p["vector"]["s"]["indices"][0] == 4 else 0.0), 6))),
        "multivector": (lambda: client.query_points("c", query=[[1.0, 0.0], [0.0, 1.0]], using="m", limit=5,
                                                    with_vectors=True).points,
                        lambda got, state: ranked(got, state, _top(state, lambda p: max(
                            p["vector"]["m"][0][0], p["vector"]["m"][1][0]) + 1.0, 5))),
        "bm25": (lambda: client.query_points("c", query={"bm25": {"field": "t", "text": "w1"}}, limit=1000,
                                             with_vectors=True).points
                 if isinstance(client, Client) else None,
                 lambda got, state: got is None or (
                     sorted(p.id for p in got) == sorted(pid for pid, p in state.items() if "w1" in p["payload"]["t"])
                     and sorted(_seen(got)) == sorted(_expected(state, [p.id for p in got])))),
        "fusion": (lambda: client.query_points("c", prefetch=[
            qm.Prefetch(query=DENSE_Q, using="d", limit=8),
            qm.Prefetch(query=qm.SparseVector(indices=[100, 4], values=[1.0, 3.0]), using="s", limit=8)],
            query=qm.FusionQuery(fusion=qm.Fusion.RRF), limit=8, with_vectors=True).points,
            lambda got, state: sorted(_seen(got)) == sorted(_expected(state, [p.id for p in got]))
            and {p.id for p in got} <= {pid for pid, _ in dense(state, False)[:8]} | set(state)),
        "count": (lambda: client.count("c", count_filter=qm.Filter(**FILTER)).count,
                  lambda got, state: got == sum(_matches(p) for p in state.values())),
        "scroll": (lambda: client.scroll("c", scroll_filter=qm.Filter(**FILTER), limit=10_000,
                                         with_vectors=True)[0],
                   lambda got, state: _seen(got) == _expected(state, sorted(
                       pid for pid, p in state.items() if _matches(p)))),
        "facet": (lambda: client.facet("c", "g", limit=10).hits,
                  lambda got, state: sorted((h.value, h.count) for h in got) == sorted(
                      (g, sum(p["payload"]["g"] == g for p in state.values()))
                      for g in {p["payload"]["g"] for p in state.values()})),
        "groups": (lambda: client.query_points_groups("c", group_by="g", query=DENSE_Q, using="d", limit=3,
                                                      group_size=2, with_vectors=True).groups,
                   lambda got, state: all(sorted(_seen(g.hits)) == sorted(_expected(state, [h.id for h in g.hits]))
                                          for g in got)),
    }


def create(client: Any) -> None:
    from qdrant_client import models as qm

    client.create_collection(
        "c", vectors_config={"d": qm.VectorParams(size=4, distance=qm.Distance.DOT),
                             "m": qm.VectorParams(size=2, distance=qm.Distance.DOT,
                                                  multivector_config=qm.MultiVectorConfig(
                                                      comparator=qm.MultiVectorComparator.MAX_SIM))},
        sparse_vectors_config={"s": qm.SparseVectorParams()},
        optimizers_config=qm.OptimizersConfigDiff(indexing_threshold=1))  # seal every ~60 points
    client.create_payload_index("c", "n", qm.PayloadSchemaType.INTEGER)
    client.create_payload_index("c", "g", qm.PayloadSchemaType.KEYWORD)
    client.create_payload_index("c", "t", qm.TextIndexParams(type=qm.TextIndexType.TEXT))


def run_scenario(client: Any) -> None:
    create(client)
    history = History()
    ops = script(np.random.default_rng(7))
    for _, _, effect in ops:
        history.plan(effect)
    done = threading.Event()
    errors: list[BaseException] = []
    reads: list[tuple[str, int, int, Any]] = []

    def writer() -> None:
        try:
            for k, (kind, arg, _) in enumerate(ops, start=1):
                write(client, kind, arg, history.states[k])
                history.acked = k
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            done.set()

    kinds = read_kinds(client)
    names = sorted(kinds)

    def reader(seed: int) -> None:
        i = seed
        while not done.is_set() or i < seed + len(names):  # every kind at least once
            name = names[i % len(names)]
            i += 1
            before = history.acked
            try:
                got = kinds[name][0]()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return
            reads.append((name, before, history.acked, got))

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(r,)) for r in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    assert history.acked == len(ops)
    bad = []
    for name, before, after, got in reads:
        window = history.states[before: min(after + 1, len(ops)) + 1]
        if not any(kinds[name][1](got, state) for state in window):
            bad.append((name, before, after))
    assert not bad, f"{len(bad)} of {len(reads)} reads match no state of their window: {bad[:5]}"
    assert {name for name, *_ in reads} == set(names)


def test_embedded_reads_see_a_prefix_of_the_writes() -> None:
    with Client() as client:
        run_scenario(client)


def test_rest_reads_see_a_prefix_of_the_writes(start, connect) -> None:
    with Client() as engine:
        running = start(engine)
        run_scenario(connect(running.url))


pytestmark = pytest.mark.timeout(300)
