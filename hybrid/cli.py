"""Command line: `hybrid demo` (index the bundled dataset, answer hybrid queries, serve it),
`hybrid serve` (the Qdrant-compatible REST and gRPC server on a data folder), `hybrid check` (verify a
data folder offline) and `hybrid eval` (offline evaluation, `python -m evals`).

A user's mistake (a data folder in use, a port in use or out of range, a missing dataset, a bad
setting) or damaged data (the file named) prints one line `hybrid: error: ...` and exits with
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path
from typing import Optional

DATASET = Path(__file__).resolve().parent.parent / "datasets" / "msmarco-5k"


class UsageError(Exception):
    """A mistake in how the command was called or set up, told in one line."""


def tcp_port(text: str) -> int:
    """argparse type: an integer port number, 0-65535 (0 picks a free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (0-65535)")
    return port


def check_port_free(host: str, port: int, option: str = "--port") -> None:
    """Fail before the slow start (collections, models) when the address cannot be bound."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is in use (another server?)" if exc.errno == errno.EADDRINUSE else f"cannot be bound: {exc.strerror}"
            raise UsageError(f"port {port} on {host} {reason}; choose another with {option}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybrid", description="A Qdrant-compatible hybrid search engine.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,serve,check,eval}")
    d = sub.add_parser("demo", help="index the bundled msmarco-5k, answer hybrid queries, serve it",
                       description="Index a BEIR corpus into a data folder (resuming an interrupted build, "
                       "rebuilding an incompatible one), print hybrid answers, then serve the folder.")
    d.add_argument("--data", type=Path, default=Path("data"), help="data folder (default: ./data)")
    d.add_argument("--dataset", type=Path, default=DATASET, help="BEIR folder (default: the bundled msmarco-5k)")
    d.add_argument("--rebuild", action="store_true", help="index from scratch even if the collection is complete")
    d.add_argument("--batch-size", type=int, default=128, help="documents embedded per batch (default: 128)")
    d.add_argument("--no-serve", action="store_true", help="stop after the sample queries")
    d.add_argument("--port", type=tcp_port, default=6333, help="port to serve on (default: 6333)")
    s = sub.add_parser("serve", help="serve a data folder over Qdrant's REST and gRPC APIs",
                       description="Serve a data folder over Qdrant's REST API (docs at /docs) and gRPC API.")
    s.add_argument("--data", type=Path, default=None, help="data folder (default: in memory; HYBRID_DATA)")
    s.add_argument("--host", default=None, help="address to listen on (default: 127.0.0.1; HYBRID_HOST)")
    s.add_argument("--port", type=tcp_port, default=None, help="port (default: 6333; HYBRID_PORT)")
    s.add_argument("--grpc-port", type=tcp_port, default=None,
                   help="gRPC port (default: 6334; 0: no gRPC; HYBRID_GRPC_PORT)")
    s.add_argument("--api-key", default=None, help="full-access key (or HYBRID_API_KEY)")
    s.add_argument("--read-only-api-key", default=None, help="read-only key (or HYBRID_READ_ONLY_API_KEY)")
    s.add_argument("--threads", type=int, default=None, help="worker threads for engine calls (HYBRID_THREADS)")
    s.add_argument("--log-level", default=None, choices=["critical", "error", "warning", "info", "debug", "trace"],
                   help="log level (default: info; HYBRID_LOG_LEVEL)")
    s.add_argument("--cluster", action="store_true",
                   help="serve as a coordinator of a Ray cluster: collections sharded and replicated over its "
                   "nodes (replica data under --data on each node; needs the `cluster` extra)")
    s.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="with --cluster: the Ray cluster to join (default: RAY_ADDRESS, else start a local one)")
    s.add_argument("--no-warm-up", action="store_true",
                   help="do not load the text models at start-up (the first text query then loads them)")
    c = sub.add_parser("check", help="verify a data folder offline (checksums and references); exit 1 on damage",
                       description="Verify every checksum and reference of a data folder without writing to it. "
                       "Exit status: 0 no damage, 1 damage found, 2 cannot check.")
    c.add_argument("--data", type=Path, required=True, help="the data folder to verify")
    c.add_argument("--upgrade", action="store_true", help="first add checksums to a folder written before they existed")
    sub.add_parser("eval", help="offline evaluation, e.g. `hybrid eval beir --dataset DIR` (see `hybrid eval --help`)",
                   add_help=False)
    return parser


def _run(argv: list[str]) -> int:
    if argv[:1] == ["eval"]:  # everything after `eval` belongs to the evals parser, --help included
        from evals.__main__ import main as eval_main

        return eval_main(argv[1:], prog="hybrid eval")
    args = _parser().parse_args(argv)
    if args.command == "check":
        from hybrid.storage.check import run

        return run(args.data, args.upgrade)
    if args.command == "demo":
        from hybrid import demo

        if args.batch_size < 1:
            raise UsageError(f"--batch-size: {args.batch_size} must be at least 1")
        if not args.no_serve:
            check_port_free("127.0.0.1", args.port)
        demo.run(args.data, args.dataset, not args.no_serve, args.port, rebuild=args.rebuild, batch=args.batch_size)
    else:
        from api.app import serve
        from api.settings import Settings

        settings = Settings.from_env(data=args.data, host=args.host, port=args.port, grpc_port=args.grpc_port,
                                     api_key=args.api_key,
                                     read_only_api_key=args.read_only_api_key, threads=args.threads,
                                     log_level=args.log_level, warm_up=False if args.no_warm_up else None)
        check_port_free(settings.host, settings.port)
        check_port_free(settings.host, settings.grpc_port, "--grpc-port")
        if args.ray_address and not args.cluster:
            raise UsageError("--ray-address needs --cluster")
        serve(settings=settings, client=_coordinator(settings, args.ray_address) if args.cluster else None)
    return 0


def _coordinator(settings: object, address: Optional[str]) -> object:
    """A cluster coordinator (Ray is imported only here, in cluster mode)."""
    try:
        from hybrid.cluster.coordinator import ClusterClient
        from hybrid.embed import open_default_cache
        from hybrid.inference import Inference

        return ClusterClient(address=address or os.environ.get("RAY_ADDRESS"),
                             data_root=str(Path(getattr(settings, "data", None) or "cluster_data").resolve()),
                             inference=Inference(open_default_cache()))
    except ImportError as exc:
        raise UsageError(f"--cluster needs Ray (pip install 'hybrid-vecsearch[cluster]'): {exc}") from None


def main(argv: Optional[list[str]] = None) -> int:
    from evals.beir import DatasetError
    from hybrid.errors import CollectionDamaged, DataDamaged, HybridError

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return _run(sys.argv[1:] if argv is None else list(argv))
    except (UsageError, DatasetError) as exc:
        message = str(exc)
    except (CollectionDamaged, DataDamaged) as exc:  # damaged files on disk: named, nothing to trace
        message = exc.message
    except HybridError as exc:
        if exc.status_code >= 500:
            raise
        message = exc.message
    except KeyboardInterrupt:
        print("hybrid: interrupted", file=sys.stderr)
        return 130
    print(f"hybrid: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
