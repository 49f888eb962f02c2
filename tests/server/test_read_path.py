"""One read path: every surface a user reads through (Python API, CLI, training sets and
their exported files, online reads, the feature server, contract inference) announces its
reads through the project's one reader, the place governance and read lineage hook in."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.reader import Read, Reader
from assay.server.app import create_app, hash_key
from tests.server.project import HEADERS, KEY, build


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    root = tmp_path_factory.mktemp("reads") / "project"
    return build(root, {"server": {"api_keys": [hash_key(KEY)]}})


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Read]:
    """Every Read any Reader announces (the CLI opens a project of its own)."""
    seen: list[Read] = []
    announce = Reader.announce

    def record(self: Reader, read: Read) -> None:
        seen.append(read)
        announce(self, read)

    monkeypatch.setattr(Reader, "announce", record)
    return seen


def surfaces(reads: list[Read]) -> list[tuple[str, str]]:
    return [(r.table, r.purpose) for r in reads]


def test_python_reads_go_through_the_reader(project: assay.Project, reads: list[Read]) -> None:
    version = project.warehouse.version("gold.user_daily")
    project.table("gold.user_daily")
    project.sql("SELECT count(*) FROM bronze.events JOIN gold.user_daily USING (user_id)")
    project.infer_contract("gold.user_daily")  # its observed values go into a file
    assert [(r.table, r.version, r.purpose) for r in reads] == [
        ("gold.user_daily", version, "table"),
        ("bronze.events", project.warehouse.version("bronze.events"), "sql"),
        ("gold.user_daily", version, "sql"),
        ("gold.user_daily", version, "profile"),
    ]


def test_training_sets_and_online_reads_go_through_the_reader(
    project: assay.Project, reads: list[Read]
) -> None:
    labels = pa.table({"user_id": [1, 2], "event_timestamp": [datetime(2026, 1, 4)] * 2})
    project.features.training_set(labels, "model")
    project.features.online([{"user_id": 1}], "model", as_of=datetime(2026, 1, 5))
    assert surfaces(reads) == [("gold.user_daily", "training"), ("gold.user_daily", "online")]
    assert reads[-1].columns == ("events", "amount")


def test_the_feature_server_reads_through_the_reader(
    project: assay.Project, reads: list[Read]
) -> None:
    client = TestClient(create_app(project))
    body = {"entities": [{"user_id": 1}], "service": "model", "as_of": "2026-01-05T00:00:00"}
    assert client.post("/features", json=body, headers=HEADERS).status_code == 200
    assert surfaces(reads) == [("gold.user_daily", "online")]


def test_cli_reads_and_exports_go_through_the_reader(
    project: assay.Project, reads: list[Read], tmp_path: Path
) -> None:
    def invoke(*args: str) -> None:
        result = CliRunner().invoke(app, [*args, "--project", str(project.root)])
        assert result.exit_code == 0, result.output

    invoke("show", "gold.user_daily@0")
    invoke("sql", "SELECT count(*) FROM bronze.events")
    labels = tmp_path / "labels.parquet"
    pq.write_table(pa.table({"user_id": [1], "event_timestamp": [datetime(2026, 1, 4)]}), labels)
    out = tmp_path / "train.parquet"
    invoke("features", "training-set", "--entities", str(labels), "-f", "model", "--out", str(out))
    invoke("features", "online", "-k", "user_id=1", "-f", "model", "--as-of", "2026-01-05")
    assert surfaces(reads) == [
        ("gold.user_daily", "table"),
        ("bronze.events", "sql"),
        ("gold.user_daily", "training"),
        ("gold.user_daily", "online"),
    ]
    assert reads[0].version == 0
