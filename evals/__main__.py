"""``python -m evals beir``: evaluate retrieval plans on a BEIR-format folder.

    python -m evals beir --dataset datasets/msmarco-5k [--plans bm25,dense,rrf] [--plan-file F.json]
        [--out results.json] [--out-dir out/eval-msmarco-5k] [--compare rrf,bm25] [--tune]

Indexes the corpus (MiniLM dense + token vectors through the on-disk embedding cache,
``qdrant/bm25`` sparse vectors, a tantivy BM25 text field), runs every plan on the judged
queries, prints a table (metrics with bootstrap CIs and the paired test against the baseline,
latency p50/p99) and writes into ``--out-dir``: ``results.json`` (or ``--out``; per-plan metrics,
latency and per-query scores), ``report.json``/``report.txt`` (:mod:`evals.report`), PNG plots,
and with ``--tune`` ``tuning.json``. The lead's ``hybrid eval`` calls :func:`main` with its argv.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import msgspec

from evals.beir import BeirDataset, load_beir
from hybrid.embed.cache import default_cache_path
from evals.plans import DEFAULT_PLANS, PREFETCH_DEPTH, Plan, load_plans, placeholders, select_plans, vector_names
from evals.report import DEFAULT_METRICS, build_report, print_table, write_report
from evals.results import comparison, parity_checks, results_document
from evals.runner import (
    DEFAULT_EMBEDDER,
    Embedders,
    IndexedCollection,
    PlanRun,
    Progress,
    index_dataset,
    no_progress,
    open_embedders,
    query_inputs,
    run_plan,
    tqdm_progress,
)
from evals.tuning import TuningResult, format_tuning, select, split_queries, tuning_grid


def _parser(prog: str = "python -m evals") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Evaluation commands.")
    sub = parser.add_subparsers(dest="command", required=True)
    beir = sub.add_parser("beir", help="evaluate retrieval plans on a BEIR-format dataset folder")
    beir.add_argument("--dataset", type=Path, required=True, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    beir.add_argument("--split", default="test", help="qrels split (default: test)")
    beir.add_argument("--plans", default=",".join(DEFAULT_PLANS), help="comma-separated plan names or groups")
    beir.add_argument("--plan-file", type=Path, action="append", default=[], help="JSON plans (repeatable); "
                      "their plans are added to --plans")
    beir.add_argument("--out", type=Path, help="results JSON (default: <out-dir>/results.json)")
    beir.add_argument("--out-dir", type=Path, help="default: out/eval-<dataset>/")
    beir.add_argument("--embedder", default=DEFAULT_EMBEDDER, help="dense/token embedder name (hybrid.embed)")
    beir.add_argument("--cache", type=Path, default=default_cache_path(),
                      help="sqlite embedding cache (default: the shared one, %(default)s)")
    beir.add_argument("--no-cache", action="store_true", help="embed without the on-disk cache")
    beir.add_argument("--metrics", default=",".join(DEFAULT_METRICS))
    beir.add_argument("--limit", type=int, default=100, help="results per query (evaluation depth)")
    beir.add_argument("--depth", type=int, default=PREFETCH_DEPTH, help="prefetch limit of built-in fusion plans")
    beir.add_argument("--warmup", type=int, default=3, help="untimed queries per plan")
    beir.add_argument("--max-queries", type=int, help="evaluate only the first N judged queries")
    beir.add_argument("--baseline", help="plan every other plan is tested against (default: first plan)")
    beir.add_argument("--compare", help="A,B: paired randomization test of plan A against plan B")
    beir.add_argument("--resamples", type=int, default=2000, help="bootstrap / randomization resamples")
    beir.add_argument("--seed", type=int, default=0)
    beir.add_argument("--tune", action="store_true", help="tune fusion parameters on a seeded query split")
    beir.add_argument("--tune-fraction", type=float, default=0.5, help="share of queries used for tuning")
    beir.add_argument("--tune-metric", default="ndcg@10", help="metric the tuning maximises")
    beir.add_argument("--sparse-avg-len", type=float, help="qdrant/bm25 avg_len (default: corpus mean)")
    beir.add_argument("--no-parity", action="store_true", help="skip the BM25-vs-plain-tantivy check")
    beir.add_argument("--no-plots", action="store_true")
    beir.add_argument("--no-progress", action="store_true")
    return parser


def _names(text: str | None, field: str) -> list[str]:
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    if not names:
        raise ValueError(f"{field}: expected comma-separated names")
    return names


def _plans(args: argparse.Namespace) -> list[Plan]:
    extra = [plan for path in args.plan_file for plan in load_plans(path)]
    names = _names(args.plans, "--plans") if args.plans else []
    return select_plans([*names, *(plan.name for plan in extra)], extra, depth=args.depth)


def _limited(dataset: BeirDataset, max_queries: int | None) -> list[str]:
    query_ids = dataset.judged_query_ids()
    if not query_ids:
        raise ValueError(f"{dataset.name}: no query has a relevant document in qrels/{dataset.split}.tsv")
    return query_ids if max_queries is None else query_ids[: max(1, max_queries)]


def run_beir(args: argparse.Namespace) -> dict[str, Any]:
    """The ``beir`` command; returns the results document it writes."""
    plans = _plans(args)
    dataset = load_beir(args.dataset, args.split)
    pair = _pair(args.compare, plans) if args.compare else None  # checked before the slow part
    embedders = open_embedders(args.embedder, None if args.no_cache or args.cache is None else args.cache)
    cache = getattr(embedders.dense, "cache", None)
    try:
        if cache is not None:
            print(cache.describe(), file=sys.stderr)
        return _evaluate(args, dataset, plans, pair, embedders)
    finally:
        if cache is not None:
            print(cache.describe(), file=sys.stderr)
        embedders.close()


def _evaluate(
    args: argparse.Namespace, dataset: BeirDataset, plans: list[Plan], pair: tuple[str, str] | None, embedders: Embedders
) -> dict[str, Any]:
    query_ids = _limited(dataset, args.max_queries)
    out_dir = args.out_dir or Path("out") / f"eval-{dataset.name}"
    progress = no_progress if args.no_progress else tqdm_progress
    grid = tuning_grid(args.depth) if args.tune else []
    every_plan = plans + [plan for _, plan in grid]
    indexed = index_dataset(
        dataset, embedders, set().union(*(vector_names(p.request) for p in every_plan)),
        sparse_avg_len=args.sparse_avg_len, progress=progress,
    )
    needed = set().union(*(placeholders(plan.request) for plan in every_plan))
    inputs = query_inputs(dataset, query_ids, embedders, needed, indexed.sparse_vocabulary)
    runs = {
        plan.name: run_plan(indexed, plan, inputs, limit=args.limit, warmup=args.warmup)
        for plan in progress(plans, "plans", len(plans))
    }
    report = build_report(
        dataset.qrels, {name: r.run for name, r in runs.items()},
        latencies_ms={name: r.latencies_ms for name, r in runs.items()}, metrics=_names(args.metrics, "--metrics"),
        dataset=dataset.name, baseline=args.baseline, query_ids=query_ids, n_resamples=args.resamples, seed=args.seed,
    )
    print_table(report)
    written = write_report(report, out_dir, plots=not args.no_plots)
    checks = {} if args.no_parity else parity_checks(dataset, runs, query_ids, args.limit)
    compared = None if pair is None else comparison(report, *pair, n_resamples=args.resamples, seed=args.seed)
    tuning = _tune(args, dataset, indexed, inputs, grid, runs, out_dir, progress) if grid else None
    document = results_document(report, runs, dataset, indexed, embedders, checks, compared, tuning)
    out = args.out or out_dir / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(msgspec.json.format(msgspec.json.encode(document), indent=2))
    _print_extras(document, written + [out])
    return document


def _pair(text: str, plans: list[Plan]) -> tuple[str, str]:
    names = _names(text, "--compare")
    if len(names) != 2:
        raise ValueError(f"--compare: expected two plan names A,B, got {text!r}")
    unknown = [name for name in names if name not in {plan.name for plan in plans}]
    if unknown:
        raise ValueError(f"--compare: {unknown[0]!r} is not one of the evaluated plans")
    return names[0], names[1]


def _tune(
    args: argparse.Namespace,
    dataset: BeirDataset,
    indexed: IndexedCollection,
    inputs: dict[str, dict[str, Any]],
    grid: list[tuple[str, Plan]],
    baselines: dict[str, PlanRun],
    out_dir: Path,
    progress: Progress,
) -> TuningResult:
    """Run the grid, choose on the tune split, print and write ``tuning.json``."""
    split = split_queries(list(inputs), args.tune_fraction, args.seed)
    grid_runs = {
        plan.name: run_plan(indexed, plan, inputs, limit=args.limit, warmup=0).run
        for _, plan in progress(grid, "tuning grid", len(grid))
    }
    result = select(
        dataset.qrels, grid_runs, grid, split, metric=args.tune_metric, seed=args.seed,
        baselines={name: r.run for name, r in baselines.items()},
    )
    print(format_tuning(result))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tuning.json").write_bytes(msgspec.json.format(msgspec.json.encode(result), indent=2))
    return result


def _print_extras(document: dict[str, Any], written: Sequence[Path]) -> None:
    for name, check in document.get("checks", {}).items():
        print(f"check {name}: {check['summary']}")
    compared = document.get("comparison")
    if compared:
        print(f"paired test {compared['a']} vs {compared['b']}: " + ", ".join(
            f"{metric} {row['mean_difference']:+.4f} (p={row['p_value']:.3g})" for metric, row in compared["metrics"].items()))
    best = document.get("best")
    if best:
        print(best["summary"])
    print("wrote " + ", ".join(str(path) for path in written))


def main(argv: Sequence[str] | None = None, prog: str = "python -m evals") -> int:
    """Entry point (``python -m evals``, ``hybrid eval``); returns the exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the default MiniLM ships in a package
    args = _parser(prog).parse_args(None if argv is None else list(argv))
    try:
        if args.command == "beir":
            run_beir(args)
    except (ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
