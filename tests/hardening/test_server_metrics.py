"""/metrics: one series per route template (not per raw path), label values escaped by
prometheus_client (a crafted path cannot add a line), and which of /metrics, /docs and
/openapi.json need a key is set by server.public_endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import assay
from assay.server.app import create_app, hash_key
from tests.helpers import write_project

KEY = "metrics-key-0123456789"
HEADERS = {"X-API-Key": KEY}
INJECTED = 'assay_requests_total{route="/forged",method="GET",status="200"} 1e9'


def served(root: Path, **server: Any) -> TestClient:
    """A project with no datasets: the metrics and the key checks need none."""
    write_project(root, {}, {"server": {"api_keys": [hash_key(KEY)], **server}})
    return TestClient(create_app(assay.Project(root)))


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return served(tmp_path / "project")


def samples(client: TestClient) -> list[tuple[str, dict[str, str], float]]:
    text = client.get("/metrics", headers=HEADERS).text
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def series(client: TestClient) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {(name, tuple(sorted(labels.items()))) for name, labels, _ in samples(client)}


def test_distinct_unknown_paths_add_no_series(client: TestClient) -> None:
    assert client.get("/no/such/path/0").status_code == 404
    series(client)  # the /metrics request itself is counted from then on
    before = series(client)
    for i in range(1, 1001):
        assert client.get(f"/no/such/path/{i}?q={i}").status_code == 404
    after = series(client)
    assert after == before  # 1,000 more 404s: no new series
    counted = [
        value
        for name, labels, value in samples(client)
        if name == "assay_requests_total" and labels["route"] == "unmatched"
    ]
    assert counted == [1001.0]
    assert not any("/no/such" in str(labels) for _, labels, _ in samples(client))
    assert len(client.get("/metrics", headers=HEADERS).content) < 20_000


def test_a_path_with_a_newline_cannot_inject_a_line(client: TestClient) -> None:
    """Before, the raw path was pasted into the page: a %0A in it started a new line."""
    client.app.get("/echo/{word}")(lambda word: {"word": word})  # a route with a parameter
    for path in ("/x%0A" + INJECTED, "/echo/y%0A" + INJECTED, '/z"}%0A# TYPE x counter'):
        assert client.get(path).status_code in (200, 404)
    text = client.get("/metrics", headers=HEADERS).text
    assert "/forged" not in text and "1e9" not in text and "TYPE x counter" not in text
    names = {name for name, _, _ in samples(client)}
    assert names <= {
        "assay_requests_total",
        "assay_requests_created",
        *(f"assay_request_seconds_{s}" for s in ("bucket", "count", "sum", "created")),
    }


def test_routes_are_labelled_by_template(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    for i in range(50):
        assert client.get(f"/items/{i}").json() == {"item_id": i}
    assert client.post("/items/1").status_code == 405  # known template, wrong method
    assert client.request("BREW", "/health").status_code == 405
    counts = {
        (labels["route"], labels["method"], labels["status"]): value
        for name, labels, value in samples(client)
        if name == "assay_requests_total"
    }
    assert counts[("/items/{item_id}", "GET", "200")] == 50.0
    assert counts[("/items/{item_id}", "POST", "405")] == 1.0
    assert counts[("/health", "other", "405")] == 1.0  # methods are not labels of their own
    assert not any(route.startswith("/items/") and route[7:].isdigit() for route, *_ in counts)
    durations = [
        labels
        for name, labels, _ in samples(client)
        if name == "assay_request_seconds_count" and labels["route"] == "/items/{item_id}"
    ]
    assert durations == [
        {"route": "/items/{item_id}", "method": "GET"},
        {"route": "/items/{item_id}", "method": "POST"},
    ]


@pytest.mark.parametrize(
    ("public", "open_paths"),
    [
        ([], set()),
        (["metrics"], {"/metrics"}),
        (["docs"], {"/docs", "/redoc", "/openapi.json"}),
        (["metrics", "docs"], {"/metrics", "/docs", "/redoc", "/openapi.json"}),
    ],
)
def test_public_endpoints_decide_which_pages_need_a_key(
    tmp_path: Path, public: list[str], open_paths: set[str]
) -> None:
    client = served(tmp_path / "p", public_endpoints=public)
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
        anonymous = client.get(path)
        assert anonymous.status_code == (200 if path in open_paths else 401), path
        assert client.get(path, headers=HEADERS).status_code == 200, path
        bearer = client.get(path, headers={"Authorization": f"Bearer {KEY}"})
        assert bearer.status_code == 200, path
    assert client.get("/health").status_code == 200
    assert client.post("/features", json={}).status_code == 401  # never public


def test_an_unknown_public_endpoint_is_a_config_error(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {}, {"server": {"public_endpoints": ["features"]}})
    with pytest.raises(assay.AssayError, match="public_endpoints"):
        assay.Project(root)
