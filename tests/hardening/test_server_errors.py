"""Bad entity keys and an unreachable online store get clear 4xx/503 answers, not 500:
`{"user_id": 10**30}` is a 422 (no 64-bit key can hold it), `{"user_id": true}` is a 422
(not user 1), and a Redis store that cannot be reached is a 503 saying so."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

import assay
from assay.features.online import OnlineStoreUnavailableError
from assay.server.app import create_app, hash_key
from tests.server.project import HEADERS, KEY, build

FEATURES = ["user_daily:amount"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    root = tmp_path_factory.mktemp("errors") / "project"
    project = build(root, {"server": {"api_keys": [hash_key(KEY)]}})
    return TestClient(create_app(project))


def ask(client: TestClient, user: Any) -> Any:
    body = {"entities": [{"user_id": user}], "features": FEATURES}
    return client.post("/features", json=body, headers=HEADERS)


def amount(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()["results"][0]["amount"]


def test_an_integer_past_64_bits_is_a_422(client: TestClient) -> None:
    for user in (10**30, 2**63, -(2**63) - 1):
        refused = ask(client, user)
        assert refused.status_code == 422, user
        assert "outside the 64-bit integer range" in refused.text
    assert amount(ask(client, 2**63 - 1))["status"] == "missing"
    assert amount(ask(client, -(2**63)))["status"] == "missing"


def test_true_is_not_user_1(client: TestClient) -> None:
    assert amount(ask(client, 1))["value"] == 4.0  # user 1, day 3: 3 + 1
    for flag in (True, False):
        refused = ask(client, flag)
        assert refused.status_code == 422, refused.text
        assert "not true or false" in refused.text
    assert amount(ask(client, "1"))["status"] == "missing"  # a string is a different key


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_redis_that_cannot_be_reached_is_a_503(tmp_path: Path, redis_url: str) -> None:
    config: dict[str, Any] = {
        "server": {"api_keys": [hash_key(KEY)]},
        "online_store": {"type": "redis", "url": redis_url},
    }
    root = tmp_path / "project"
    project = build(root, config)
    served = TestClient(create_app(project))
    assert amount(ask(served, 3))["value"] == 6.0  # a real Redis serves
    assert ask(served, True).status_code == 422

    port = closed_port()
    config["online_store"]["url"] = f"redis://127.0.0.1:{port}/0"
    (root / "assay.yaml").write_text(yaml.safe_dump({"name": "project", **config}))
    unreachable = assay.Project(root)
    began = time.perf_counter()
    answer = ask(TestClient(create_app(unreachable)), 3)
    seconds = time.perf_counter() - began
    assert answer.status_code == 503, answer.text
    detail = answer.json()["detail"]
    assert f"Redis online store at 127.0.0.1:{port} cannot be reached" in detail
    assert "online_store.url" in detail and answer.headers["Retry-After"] == "5"
    print(f"\n503 after {seconds:.2f} s")
    with pytest.raises(OnlineStoreUnavailableError) as raised:
        unreachable.features.online([{"user_id": 3}], FEATURES)
    assert raised.value.transient
