"""Benchmark: how fast the web UI's pages load for the demo's project, in Debian's chromium.

The project is the fraud example (examples/fraud: its pipelines, contracts and features),
generated through day 60 and then day 90 with --transactions card transactions, run
twice, so the catalog has runs, checks, metrics and intervals. The UI is served by
uvicorn in this process; the browser signs in once.

Per page, median of --repeat loads (after one warm-up load, so the browser has the
static files in its cache, as on any visit after the first):
- server: time to the full response of a GET with the key (httpx, no browser);
- browser: navigation start to the load event, or to the charts drawn when later
  (`window.assayChartsRenderedAt`), whichever is last: when the page is readable.
The first, cold load of the overview (nothing cached) is reported too.

Baselines in the same run: the UI's /health over HTTP (the floor of any request), the
same data from the CLI (`assay status` and `assay describe silver.transactions` wall
time, each a new process) and in process (`Project.status()`).

Usage: python benchmarks/ui_page_load.py [--transactions 30000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "examples" / "fraud"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(EXAMPLE))
from machine import wait_for_idle  # noqa: E402
from results_file import replace_block  # noqa: E402

import assay  # noqa: E402
from assay.server.auth import hash_key  # noqa: E402

START, END = "<!-- ui-page-load:start -->", "<!-- ui-page-load:end -->"
KEY = "benchmark-ui-key-0123456789"
CORE_PAGES = [
    "/",
    "/datasets/silver.transactions",
    "/datasets/gold.card_daily",
    "/lineage",
    "/lineage?dataset=gold.card_daily",
    "/search?q=merchant",
]
#: Other engineers' pages, measured when the UI has them.
OTHER_PAGES = ["/runs", "/quality", "/features", "/streams", "/cost"]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
AIM_MS = 300


def build(root: Path, transactions: int) -> assay.Project:
    """The fraud example with an API key, run for days 1-60 and then 61-90."""
    import generate

    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    with (root / "assay.yaml").open("a") as config:
        config.write(f'\nserver:\n  api_keys:\n    bench: "{hash_key(KEY)}"\n')
    for day in (60, 90):
        generate.generate(root, through_day=day, n_transactions=transactions)
        result = assay.Project(root).run()
        assert result.ok, [r.error for r in result.failed]
    return assay.Project(root)


def serve(app: Any) -> tuple[str, Callable[[], None]]:
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{port}", stop


def median_ms(measure: Callable[[], float], repeat: int) -> float:
    measure()  # warm-up
    return statistics.median(measure() for _ in range(repeat)) * 1000


def server_time(base: str, path: str) -> Callable[[], float]:
    import httpx

    client = httpx.Client(headers={"X-API-Key": KEY}, timeout=60)

    def once() -> float:
        began = time.perf_counter()
        response = client.get(base + path)
        elapsed = time.perf_counter() - began
        assert response.status_code == 200, (path, response.status_code)
        return elapsed

    return once


LOAD_MS = """() => {
    const nav = performance.getEntriesByType('navigation')[0];
    return Math.max(nav.loadEventEnd, window.assayChartsRenderedAt || 0);
}"""


def browser_time(page: Any, base: str, path: str) -> Callable[[], float]:
    def once() -> float:
        page.goto(base + path, wait_until="load")
        page.wait_for_function("window.assayChartsRendered === true", timeout=30000)
        return float(page.evaluate(LOAD_MS)) / 1000

    return once


def cli_time(args: list[str], root: Path) -> Callable[[], float]:
    command = [sys.executable, "-m", "assay.cli.main", *args, "--project", str(root)]

    def once() -> float:
        began = time.perf_counter()
        subprocess.run(
            command, check=True, capture_output=True, env={**os.environ, "COLUMNS": "200"}
        )
        return time.perf_counter() - began

    return once


def measure(project: assay.Project, repeat: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from assay.server.ui.app import create_ui_app

    base, stop = serve(create_ui_app(project))
    results: dict[str, Any] = {"pages": [], "load": os.getloadavg()[0]}
    try:
        import httpx

        pages = CORE_PAGES + [
            p
            for p in OTHER_PAGES
            if httpx.get(base + p, headers={"X-API-Key": KEY}, timeout=60).status_code == 200
        ]
        results["health_ms"] = median_ms(server_time(base, "/health"), repeat)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium"),
                args=CHROMIUM_ARGS,
            )
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.goto(f"{base}/login", wait_until="load")
            page.fill("input[name=key]", KEY)
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            cold = browser.new_context().new_page()
            cold.set_extra_http_headers({"X-API-Key": KEY})
            results["cold_ms"] = browser_time(cold, base, "/")() * 1000
            for path in pages:
                wait_for_idle(30)  # not in the middle of someone else's test run
                results["pages"].append(
                    (
                        path,
                        median_ms(server_time(base, path), repeat),
                        median_ms(browser_time(page, base, path), repeat),
                    )
                )
            browser.close()
    finally:
        stop()
    results["status_cli_ms"] = median_ms(cli_time(["status"], project.root), repeat)
    results["describe_cli_ms"] = median_ms(
        cli_time(["describe", "silver.transactions"], project.root), repeat
    )

    def in_process() -> float:
        began = time.perf_counter()
        project.status()
        return time.perf_counter() - began

    results["status_call_ms"] = median_ms(in_process, repeat)
    return results


def report(results: dict[str, Any], transactions: int, repeat: int) -> str:
    rows = "\n".join(
        f"| `{path}` | {server:.0f} | {browser:.0f} | {'yes' if browser < AIM_MS else 'no'} |"
        for path, server, browser in results["pages"]
    )
    worst = max(browser for _, _, browser in results["pages"])
    machine = (
        f"Machine: {os.cpu_count()} cores, shared (load average {results['load']:.1f} at the "
        f"start); Python {sys.version.split()[0]}; recorded {time.strftime('%Y-%m-%d')}."
    )
    return f"""{START}
## Web UI: page load in the browser (`assay ui`, demo project)

`python benchmarks/ui_page_load.py --transactions {transactions} --repeat {repeat}`. The fraud
example generated through day 90 ({transactions:,} card transactions, two runs), served by
uvicorn in the benchmark's process, loaded in Debian's chromium (headless, Playwright) signed
in with a key. Medians of {repeat} loads after a warm-up (static files cached, as on every
visit but the first). Server: the full response of a GET with the key (httpx). Browser:
navigation start to the load event or to the charts drawn, whichever is later.

{machine}

| page | server ms | browser ms (load + charts) | under {AIM_MS} ms |
|---|---|---|---|
{rows}

Baselines, same run: `/health` over HTTP {results["health_ms"]:.1f} ms (the floor of a
request); the same data from the CLI, `assay status` {results["status_cli_ms"]:.0f} ms and
`assay describe silver.transactions` {results["describe_cli_ms"]:.0f} ms (new process each,
mostly start-up); `Project.status()` in process {results["status_call_ms"]:.0f} ms. First,
cold load of the overview (empty browser cache: the vendored Vega libraries, 850 KB, are
fetched and parsed): {results["cold_ms"]:.0f} ms. Slowest warm page: {worst:.0f} ms against
the aim of {AIM_MS} ms.

Where the time goes: the server answers from the catalog and the Delta logs (each table's log
opened once per request); in the browser every chart is a Vega-Lite compile plus a Vega parse
and SVG render, so pages cost about their number of charts (the overview has one, a dataset
page up to four). The load average says how much of the 2 cores the run had.
{END}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="assay-ui-bench-") as folder:
        project = build(Path(folder), args.transactions)
        results = measure(project, args.repeat)
    block = report(results, args.transactions, args.repeat)
    print(block)
    if not args.no_write:
        replace_block(HERE / "RESULTS.md", block, START, END)


if __name__ == "__main__":
    main()
