"""`python -m api [--host H] [--port P] [--data DIR] [--api-key K] [--read-only-api-key K]`.

Prefer the environment variables HYBRID_API_KEY / HYBRID_READ_ONLY_API_KEY for keys: command
line arguments are visible to other users in the process list.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="hybrid serve", description="Qdrant-compatible REST server")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, help="TCP port (default 6333)")
    parser.add_argument("--data", type=Path, help="data folder (default: in memory)")
    parser.add_argument("--api-key", help="full-access key (or HYBRID_API_KEY)")
    parser.add_argument("--read-only-api-key", help="read-only key (or HYBRID_READ_ONLY_API_KEY)")
    parser.add_argument("--threads", type=int, help="worker threads for engine calls")
    parser.add_argument("--log-level", help="uvicorn log level (default info)")
    args = parser.parse_args(argv)
    from api.app import serve

    serve(args.host, args.port, args.data, args.api_key, args.read_only_api_key,
          threads=args.threads, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
