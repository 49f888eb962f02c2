"""The feature server: authentication, 4xx for bad input, correct answers to concurrent
clients, and schemathesis against its own OpenAPI schema."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

import assay
from assay.server.app import create_app, hash_key
from tests.features.test_training_sets import FEATURES, GOLD
from tests.helpers import EVENTS_INGEST, event, jsonl

KEY = "s3cret-key"
HEADERS = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[assay.Project, TestClient]:
    from tests.helpers import write_project

    data = jsonl(
        event(d * 100 + u, u, float(d + u), f"2026-01-{d:02d} 12:00:00")
        for d in range(1, 4)
        for u in range(50)
    )
    root = write_project(
        tmp_path_factory.mktemp("srv") / "project",
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/gold.sql": GOLD,
            "features/users.py": FEATURES.replace("{ttl}", "3650d"),
            "data/events/a.jsonl": data,
        },
        {"server": {"api_keys": [hash_key(KEY)], "max_entities": 100}},
    )
    project = assay.Project(root)
    assert project.run().ok
    project.features.materialize(end=datetime(2026, 1, 5))
    return project, TestClient(create_app(project))


def ask(client: TestClient, body: Any, headers: dict[str, str] | None = HEADERS) -> Any:
    return client.post("/features", json=body, headers=headers or {})


def test_authentication_is_required(served: tuple[assay.Project, TestClient]) -> None:
    _, client = served
    body = {"entities": [{"user_id": 1}], "service": "model"}
    assert ask(client, body, headers=None).status_code == 401
    assert ask(client, body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert ask(client, body).status_code == 200
    assert client.get("/health").json() == {"status": "ok"}


def test_values_match_the_online_store(served: tuple[assay.Project, TestClient]) -> None:
    _, client = served
    out = ask(
        client,
        {
            "entities": [{"user_id": 3}, {"user_id": 999}],
            "features": ["user_daily:events", "user_daily:amount"],
        },
    ).json()
    first, missing = out["results"]
    assert first["events"] == {
        "value": 1,
        "event_timestamp": "2026-01-04T00:00:00",
        "status": "present",
    }
    assert first["amount"]["value"] == 6.0  # day 3, user 3: 3 + 3
    assert missing["events"]["status"] == "missing" and missing["events"]["value"] is None


def test_bad_requests_get_clear_4xx(served: tuple[assay.Project, TestClient]) -> None:
    _, client = served
    unknown = ask(client, {"entities": [{"user_id": 1}], "features": ["user_daily:nope"]})
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    assert ask(client, {"entities": [{"user_id": 1}], "service": "nope"}).status_code == 404
    assert ask(client, {"entities": [{"user_id": 1}]}).status_code == 422
    assert ask(client, {"entities": []}).status_code == 422
    assert ask(client, {"entities": "x", "service": "model"}).status_code == 422
    too_many = ask(client, {"entities": [{"user_id": i} for i in range(101)], "service": "model"})
    assert too_many.status_code == 422 and "100" in too_many.text
    huge = client.post("/features", content=b"x" * 2_000_000, headers=HEADERS)
    assert huge.status_code == 413


def test_concurrent_clients_get_their_own_answers(served: tuple[assay.Project, TestClient]) -> None:
    _, client = served

    def one(user: int) -> tuple[int, Any]:
        body = {"entities": [{"user_id": user}], "features": ["user_daily:amount"]}
        return user, ask(client, body).json()["results"][0]["amount"]["value"]

    before = served_count(client)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, [u % 50 for u in range(400)]))
    assert all(value == float(3 + user) for user, value in answers)
    assert served_count(client) == before + 400


def served_count(client: TestClient) -> float:
    """`POST /features` answered 200, from /metrics (Prometheus text format)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = client.get("/metrics", headers=HEADERS).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "assay_requests_total" and sample.labels == {
                "route": "/features",
                "method": "POST",
                "status": "200",
            }:
                return sample.value
    return 0.0


def test_openapi_schema_with_schemathesis(served: tuple[assay.Project, TestClient]) -> None:
    """Every generated request (valid or not) gets a documented status code and a body that
    matches the schema, on every operation."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", served[1].app, headers=HEADERS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/health", "/metrics", "/features"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=HEADERS)

        check()
