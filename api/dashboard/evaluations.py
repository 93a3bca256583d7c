"""The Evaluations page's routes: reports `python -m evals beir` wrote, and running plans on a collection.

`evals beir` writes `<out-dir>/report.json` (evals.report.EvalReport) and PNG plots, by default
under `out/eval-<dataset>/`; the dashboard lists every folder under `HYBRID_REPORTS_DIR` (default
`out`) holding a `report.json`. A run on a collection takes judged queries (inline, or a BEIR folder
under `HYBRID_DATASETS_DIR`, default `datasets`) and plans in evals.plans' form (a Query API request
where the string "$text" stands for the query text), and answers an EvalReport; nothing is saved.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Optional

import msgspec
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody
from litestar.response import File

from api.auth import READ, access
from api.routes.params import PathName, Rt
from hybrid.errors import ValidationError

REPORTS_ENV, DATASETS_ENV = "HYBRID_REPORTS_DIR", "HYBRID_DATASETS_DIR"
REPORT_FILES = (".json", ".txt", ".png")
MAX_QUERIES, MAX_PLANS = 500, 20


def reports_root() -> Path:
    return Path(os.environ.get(REPORTS_ENV) or "out")


def datasets_root() -> Path:
    return Path(os.environ.get(DATASETS_ENV) or "datasets")


def _report_dirs() -> dict[str, Path]:
    root = reports_root()
    found = sorted(root.glob("*/report.json")) + sorted(root.glob("report.json"))
    return {str(p.parent.relative_to(root)).replace(os.sep, "/") or ".": p.parent for p in found}


@get("/api/reports", opt=access(READ), include_in_schema=False, sync_to_thread=True)
def list_reports() -> list[dict]:
    """Every report folder: name, dataset, plans, metrics and the files next to the report."""
    out = []
    for name, folder in _report_dirs().items():
        try:
            head = msgspec.json.decode((folder / "report.json").read_bytes())
        except (OSError, msgspec.DecodeError):
            continue  # a report being written or not ours: not listed
        out.append({"name": name, "dataset": head.get("dataset", ""), "metrics": head.get("metrics", []),
                    "plans": [p.get("name") for p in head.get("plans", [])],
                    "modified": (folder / "report.json").stat().st_mtime,
                    "files": sorted(f.name for f in folder.iterdir() if f.suffix in REPORT_FILES)})
    return out


@get("/api/reports/{name:str}/{file:str}", opt=access(READ), include_in_schema=False, sync_to_thread=False)
def report_file(name: PathName, file: PathName) -> File:
    """One file of a report folder (names are looked up, never joined blindly onto a path)."""
    folder = _report_dirs().get(name)
    if folder is None or Path(file).name != file or Path(file).suffix not in REPORT_FILES \
            or not (folder / file).is_file():
        raise NotFoundException(f"no report file {name}/{file}")
    return File(folder / file, content_disposition_type="inline")


@get("/api/datasets", opt=access(READ), include_in_schema=False, sync_to_thread=True)
def list_datasets() -> list[str]:
    return beir_folders()


def beir_folders() -> list[str]:
    """BEIR folders (with queries and test qrels) the server can evaluate on."""
    root = datasets_root()
    return sorted(p.parent.parent.name for p in root.glob("*/qrels/test.tsv")
                  if (p.parent.parent / "queries.jsonl").is_file())


class PlanSpec(msgspec.Struct):
    name: str
    request: dict[str, Any]


class EvaluationRequest(msgspec.Struct):
    """Judged queries come inline (`queries` + `qrels`) or from a BEIR folder (`dataset`)."""

    collection: str
    plans: list[PlanSpec]
    queries: Optional[dict[str, str]] = None
    qrels: Optional[dict[str, dict[str, int]]] = None
    dataset: Optional[str] = None
    max_queries: int = 50
    id_field: Optional[str] = None  # payload field holding the judged doc id (default: the point id)
    limit: int = 100


def _judged(req: EvaluationRequest) -> tuple[str, dict[str, str], dict[str, dict[str, int]]]:
    if req.dataset is not None:
        from evals.beir import load_qrels, load_queries

        if req.dataset not in beir_folders():
            raise ValidationError("dataset", f"no BEIR folder {req.dataset!r} under {datasets_root()}")
        folder = datasets_root() / req.dataset
        qrels = load_qrels(folder / "qrels" / "test.tsv")
        queries = {q.id: q.text for q in load_queries(folder / "queries.jsonl").values()}
        return req.dataset, queries, qrels
    if not req.queries or not req.qrels:
        raise ValidationError("queries", "give judged queries (`queries` and `qrels`) or a `dataset`")
    return req.collection, req.queries, req.qrels


def evaluate(rt: Any, req: EvaluationRequest) -> dict:
    """Run every plan once per judged query through the engine; the report as JSON builtins."""
    from evals.plans import fill, placeholders
    from evals.report import build_report

    if not 1 <= len(req.plans) <= MAX_PLANS or len({p.name for p in req.plans}) != len(req.plans):
        raise ValidationError("plans", f"give 1..{MAX_PLANS} plans, with distinct names")
    for plan in req.plans:  # vectors of the evaluation runner ($dense, ...) are not computed here
        if placeholders(plan.request) - {"$text"}:
            raise ValidationError("plans", f"plan {plan.name!r}: only \"$text\" is replaced here; embed it "
                                  "server-side with a document {\"text\": \"$text\", \"model\": ...}")
    if not 1 <= req.max_queries <= MAX_QUERIES:
        raise ValidationError("max_queries", f"expected 1..{MAX_QUERIES}")
    dataset, queries, qrels = _judged(req)
    ids = [q for q in queries if any(g > 0 for g in qrels.get(q, {}).values())][:req.max_queries]
    if not ids:
        raise ValidationError("qrels", "no query has a relevant document")
    name = rt.resolve(req.collection)
    runs, latencies = {}, {}
    for plan in req.plans:
        run, times = {}, []
        for qid in ids:
            request = {**fill(plan.request, {"$text": queries[qid]}), "limit": req.limit,
                       "with_payload": [req.id_field] if req.id_field else False, "with_vector": False}
            began = time.perf_counter()
            (response,) = rt.client.query_batch_points(name, [request])
            times.append((time.perf_counter() - began) * 1000.0)
            run[qid] = {_doc_id(p, req.id_field): float(p.score) for p in response.points}
        runs[plan.name], latencies[plan.name] = run, times
    report = build_report({q: qrels[q] for q in ids}, runs, latencies_ms=latencies, dataset=dataset,
                          query_ids=ids, n_resamples=500)
    return msgspec.to_builtins(report)


def _doc_id(point: Any, field: Optional[str]) -> str:
    value = (point.payload or {}).get(field) if field else point.id
    return str(value if value is not None else point.id)


@post("/api/evaluate", opt=access(READ), include_in_schema=False, status_code=200)
async def run_evaluation(rt: Rt, data: JSONBody[EvaluationRequest]) -> dict:
    return await rt.call(evaluate, rt, data)


ROUTES = [list_reports, report_file, list_datasets, run_evaluation]
