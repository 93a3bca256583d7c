"""`python -m api ...` is `hybrid serve ...` (one command line: `hybrid serve --help`).

Prefer the environment variables HYBRID_API_KEY / HYBRID_READ_ONLY_API_KEY for keys: command
line arguments are visible to other users in the process list.
"""

from __future__ import annotations

import sys

from hybrid.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
