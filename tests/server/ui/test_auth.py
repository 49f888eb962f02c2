"""The UI's front door: no key, a wrong key or a forged session is refused; the right key
works by header or by signing in; the session cookie never holds the key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import assay
from assay.errors import ProjectError
from assay.server.ui.app import create_ui_app
from assay.server.ui.session import COOKIE
from tests.server.ui.conftest import KEYS, UiPage, UiServer


@pytest.fixture(scope="module")
def client(ui_project: assay.Project) -> Iterator[TestClient]:
    with TestClient(create_ui_app(ui_project), follow_redirects=False) as test_client:
        yield test_client


PAGE = {"Accept": "text/html,application/xhtml+xml"}


def test_no_key_sends_a_browser_to_login_and_a_script_gets_401(client: TestClient) -> None:
    page = client.get("/datasets/silver.transactions?x=1", headers=PAGE)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fdatasets%2Fsilver.transactions%3Fx%3D1"
    script = client.get("/")
    assert script.status_code == 401 and "X-API-Key" in script.json()["detail"]
    assert client.get("/static/vendor/cytoscape/cytoscape.min.js").status_code == 401
    assert client.get("/static/vendor/vega/vega.min.js", headers=PAGE).status_code == 401


def test_public_paths_need_no_key(client: TestClient) -> None:
    assert client.get("/static/assay.css").status_code == 200  # the login page's style
    assert client.get("/health").json() == {"status": "ok"}
    login = client.get("/login", headers=PAGE)
    assert login.status_code == 200 and 'name="key"' in login.text


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
def test_a_wrong_key_is_refused_and_the_right_one_works(client: TestClient, header: str) -> None:
    def send(key: str) -> Any:
        value = key if header == "X-API-Key" else f"Bearer {key}"
        return client.get("/static/vendor/vega/vega.min.js", headers={header: value, **PAGE})

    assert send("not-a-key").status_code == 401
    ok = send(KEYS["admin"])
    assert ok.status_code == 200 and "vega" in ok.text
    assert "max-age" in ok.headers["cache-control"]


def test_sign_in_sets_an_opaque_session_cookie(client: TestClient) -> None:
    wrong = client.post("/login", data={"key": "nope", "next": "/lineage"})
    assert wrong.status_code == 401 and COOKIE not in wrong.cookies
    assert "not one of this project" in wrong.text
    right = client.post("/login", data={"key": KEYS["analyst"], "next": "//evil.example/x"})
    assert right.status_code == 303 and right.headers["location"] == "/"
    set_cookie = right.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie
    token = right.cookies[COOKIE]
    assert KEYS["analyst"] not in set_cookie and len(token) >= 40
    client.cookies.set(COOKIE, token)
    try:
        assert client.get("/static/vendor/vega/LICENSE").status_code == 200
        client.post("/logout")
        assert (
            client.get("/static/vendor/vega/LICENSE").status_code == 401
        )  # signed out server-side
    finally:
        client.cookies.clear()


def test_a_forged_session_is_refused(client: TestClient) -> None:
    client.cookies.set(COOKIE, "forged-token-value")
    try:
        assert client.get("/lineage", headers=PAGE).headers["location"].startswith("/login")
        assert client.get("/static/vendor/vega/LICENSE").status_code == 401
    finally:
        client.cookies.clear()


def test_no_keys_configured_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "assay.yaml").write_text("name: bare\n")
    with pytest.raises(ProjectError, match=r"server\.api_keys is empty") as raised:
        create_ui_app(assay.Project(tmp_path))
    assert "assay serve --hash-key" in str(raised.value.hint)


def test_the_browser_signs_in_and_lands_where_it_asked(
    browser: Any, ui_server: UiServer, screenshot: Any
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{ui_server.url}/search?q=card", wait_until="load")
        assert page.url.startswith(f"{ui_server.url}/login?next=")
        screenshot(page, "login")
        page.fill("input[name=key]", KEYS["admin"])
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
        assert page.url == f"{ui_server.url}/search?q=card"
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies[COOKIE]["httpOnly"] and cookies[COOKIE]["sameSite"] == "Strict"
        assert KEYS["admin"] not in cookies[COOKIE]["value"]
        assert page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it
    finally:
        context.close()


def test_signed_in_page_has_nav_search_and_theme_toggle(ui: UiPage) -> None:
    ui.allow(r"HTTP 404: .*/nowhere|status of 404")
    ui.goto("/nowhere")
    links = ui.page.eval_on_selector_all("nav.nav a", "els => els.map(e => e.getAttribute('href'))")
    assert links == ["/", "/lineage", "/runs", "/quality", "/features", "/streams", "/cost"]
    assert ui.page.is_visible("form.search input[name=q]")
    before = ui.page.evaluate("document.documentElement.dataset.theme")
    ui.page.click("#theme-toggle")
    after = ui.page.evaluate("document.documentElement.dataset.theme")
    assert {before, after} == {"light", "dark"}
    ui.page.reload(wait_until="load")  # the choice is remembered
    assert ui.page.evaluate("document.documentElement.dataset.theme") == after


def test_an_assay_error_is_a_page_that_says_what_to_do(ui_project: assay.Project) -> None:
    from fastapi import APIRouter

    from assay.errors import AccessDeniedError

    app = create_ui_app(ui_project)
    router = APIRouter()

    @router.get("/denied")
    def denied() -> None:
        raise AccessDeniedError("role 'x' may not read gold.y", hint="ask for a grant")

    app.include_router(router)
    with TestClient(app) as test_client:
        headers = {"X-API-Key": KEYS["admin"]}
        page = test_client.get("/denied", headers={**headers, **PAGE})
        assert page.status_code == 403
        assert "may not read gold.y (ask for a grant)" in page.text and "<nav" in page.text
        script = test_client.post("/denied", headers=headers)
        assert script.status_code == 405  # only GET exists: not a page, JSON
        assert script.json()["detail"] == "Method Not Allowed"
