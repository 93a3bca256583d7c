"""``python -m evals.dashboard_load``: how long each /dashboard page takes to load in a real browser.

    python -m evals.dashboard_load [--data data] [--repeat 5] [--out .artifacts/dashboard-demo]

Serves the data folder (by default the demo's, which ``python -m hybrid demo`` builds) on a free
loopback port, opens every page in headless Chromium (the system's, never downloaded) and times
from navigation until the page shows its data (the same markers the browser tests wait for).
The first load is the browser's cold one (the server loads the text models before it listens, as
`hybrid serve` does, unless ``--cold``); the median is over the following loads. It then runs
the Evaluations page's "Run evaluation" on the collection with the dataset's judged queries, and
writes a screenshot of every page into ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import threading
import time
from pathlib import Path

#: What each page shows once its data is there.
READY = {"collections": "#collections tr.selected", "points": "#points td.point-id", "console": "#examples li",
         "playground": "#fused li", "evaluations": "body[data-ready=true]"}


def _serve(data: Path, warm: bool):
    import uvicorn

    from api.app import create_app, warm_up
    from api.settings import Settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(settings=Settings(port=port, data=data))
    if warm:  # as `hybrid serve` does before it listens
        warm_up(app.state.runtime.client.infer)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def _load(page, url: str, name: str) -> float:
    began = time.perf_counter()
    page.goto(f"{url}/dashboard/{name}")
    page.wait_for_selector("body[data-ready=true]", timeout=120_000)
    page.wait_for_selector(READY[name], timeout=120_000)
    return (time.perf_counter() - began) * 1000.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.dashboard_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data"), help="data folder to serve (default: ./data)")
    parser.add_argument("--collection", default="msmarco")
    parser.add_argument("--dataset", default="msmarco-5k", help="judged queries (a folder under datasets/)")
    parser.add_argument("--id-field", default="doc_id", help="payload field holding the judged doc id")
    parser.add_argument("--queries", type=int, default=20, help="judged queries of the evaluation run")
    parser.add_argument("--repeat", type=int, default=5, help="loads per page")
    parser.add_argument("--cold", action="store_true", help="do not load the text models before serving")
    parser.add_argument("--out", type=Path, default=Path(".artifacts/dashboard-demo"), help="screenshots folder")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"{args.data} is not a data folder: build the demo first (python -m hybrid demo --no-serve)")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    url, server, thread = _serve(args.data, not args.cold)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", headless=True)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(f"localStorage.setItem('hybrid.collection', {args.collection!r})")
            page = context.new_page()
            print(f"{'page':<12} {'first ms':>9} {'median ms':>10}   (n={args.repeat}, {url}, {args.data})")
            for name in READY:
                times = [_load(page, url, name) for _ in range(args.repeat)]
                print(f"{name:<12} {times[0]:>9.0f} {statistics.median(times[1:] or times):>10.0f}")
                page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
            _evaluation_run(page, url, args)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    print(f"screenshots in {args.out}")


def _evaluation_run(page, url: str, args: argparse.Namespace) -> None:
    _load(page, url, "evaluations")
    page.select_option("#collection", args.collection)
    page.wait_for_function("document.querySelector('#plans').value.includes('$text')")
    if args.dataset:
        page.select_option("#dataset", args.dataset)
    page.fill("#id-field", args.id_field)
    page.fill("#max-queries", str(args.queries))
    began = time.perf_counter()
    page.click("#run")
    page.wait_for_selector(f"#report-title:has-text('run on {args.collection}')", timeout=600_000)
    plans = page.eval_on_selector_all("#metrics-table tr[data-plan]", "els => els.length")
    print(f"evaluation run: {plans} plans x {args.queries} queries in {(time.perf_counter() - began) * 1000:.0f} ms")
    page.screenshot(path=str(args.out / "evaluations-run.png"), full_page=True)


if __name__ == "__main__":
    main()
