"""API keys are salted scrypt hashes, verified once per key and process; the unsalted
SHA-256 digests of earlier versions keep working until rotated; `assay serve --hash-key`
reads the key from standard input, not the command line (shell history)."""

from __future__ import annotations

import hashlib
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import assay
from assay.cli.main import app as cli
from assay.errors import ProjectError
from assay.server.app import create_app, hash_key
from assay.server.auth import StoredKey
from tests.helpers import write_project
from tests.server.project import HEADERS, KEY, build

OLD_KEY = "an-old-key-from-before"
OLD_HASH = hashlib.sha256(OLD_KEY.encode()).hexdigest()  # the format of earlier versions
BODY = {"entities": [{"user_id": 3}], "features": ["user_daily:amount"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    root = tmp_path_factory.mktemp("keys") / "project"
    return build(root, {"server": {"api_keys": [hash_key(KEY), OLD_HASH]}})


def amount(client: TestClient, headers: dict[str, str]) -> Any:
    answer = client.post("/features", json=BODY, headers=headers)
    return answer.json()["results"][0]["amount"]["value"] if answer.status_code == 200 else answer


def test_stored_keys_are_salted_scrypt_hashes() -> None:
    first, second = hash_key(KEY), hash_key(KEY)
    assert first.startswith("$scrypt$ln=14,r=8,p=1$") and second.startswith("$scrypt$")
    assert first != second  # salted: the same key never gives the same line twice
    assert hashlib.sha256(KEY.encode()).hexdigest() not in first
    for stored in (first, second):
        assert StoredKey.parse(stored).matches(KEY)
        assert not StoredKey.parse(stored).matches(KEY + "x")


def test_new_and_old_hashes_both_verify_over_http(project: assay.Project) -> None:
    client = TestClient(create_app(project))
    assert amount(client, HEADERS) == 6.0  # user 3, day 3: 3 + 3
    assert amount(client, {"X-API-Key": OLD_KEY}) == 6.0
    assert amount(client, {"Authorization": f"Bearer {KEY}"}) == 6.0
    for wrong in ({"X-API-Key": OLD_HASH}, {"X-API-Key": KEY[:-1]}, {}):
        refused = amount(client, wrong)
        assert refused.status_code == 401, wrong
    assert "invalid API key" in amount(client, {"X-API-Key": "nope"}).json()["detail"]
    assert "missing API key" in amount(client, {}).json()["detail"]


def test_old_hashes_are_named_at_startup(
    project: assay.Project, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="assay.server"):
        create_app(project)
    assert "1 key(s) stored as unsalted SHA-256" in caplog.text and "rotate" in caplog.text


def test_each_key_is_hashed_once_per_process(
    project: assay.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slow hash runs once per distinct presented key (right or wrong), not per
    request; the printed timings show what that saves."""
    calls: list[bytes] = []
    real = hashlib.scrypt

    def counting(password: bytes, **kwargs: Any) -> bytes:
        calls.append(password)
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    client = TestClient(create_app(project))
    began = time.perf_counter()
    assert amount(client, HEADERS) == 6.0
    first_ms = (time.perf_counter() - began) * 1000
    times = []
    for _ in range(300):
        began = time.perf_counter()
        assert amount(client, HEADERS) == 6.0
        times.append((time.perf_counter() - began) * 1000)
    for _ in range(20):
        assert amount(client, {"X-API-Key": "wrong-key"}).status_code == 401
    # One scrypt hash is configured (the other is SHA-256): one check per distinct key.
    assert calls == [KEY.encode(), b"wrong-key"]
    times.sort()
    print(
        f"\nPOST /features in-process: first request (scrypt) {first_ms:.1f} ms; then "
        f"p50 {statistics.median(times):.2f} ms, p99 {times[int(len(times) * 0.99)]:.2f} ms"
    )


def test_a_mistyped_stored_hash_is_refused_at_startup(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {}, {"server": {"api_keys": [hash_key(KEY), KEY]}})
    with pytest.raises(ProjectError) as refused:
        create_app(assay.Project(root))
    assert refused.value.where == "server.api_keys[1]"
    assert "--hash-key" in (refused.value.hint or "")


def run_cli(*args: str, stdin: str = "") -> Any:
    return CliRunner().invoke(cli, ["serve", *args], input=stdin, env={"NO_COLOR": "1"})


def test_hash_key_reads_the_key_from_standard_input() -> None:
    done = run_cli("--hash-key", stdin=f"{KEY}\n")
    assert done.exit_code == 0, done.output
    printed = done.stdout.strip()
    assert StoredKey.parse(printed).matches(KEY) and printed.startswith("$scrypt$")


def test_hash_key_on_the_command_line_is_refused() -> None:
    done = run_cli("--hash-key", KEY)
    assert done.exit_code == 2
    assert "standard input" in done.output and "shell history" in done.output
    assert "$scrypt$" not in done.stdout


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("", "no API key"), ("\n  \n", "no API key"), ("a\nb\n", "more than one line")],
)
def test_hash_key_without_one_key_on_standard_input_is_refused(stdin: str, message: str) -> None:
    done = run_cli("--hash-key", stdin=stdin)
    assert done.exit_code == 2 and message in done.output
