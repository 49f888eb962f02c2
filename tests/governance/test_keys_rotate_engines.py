"""Masks at ingest and key rotation on every engine: sources mask in-process whatever
the engine, the transform downstream is written by the engine's own Delta writer (Spark's
on Spark), and rotation rewrites both tables so the engine still reads them, with every
token equal to a fresh token of the original value (Python's hmac)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay
from assay.cli.keys import keys_app
from tests.conftest import MakeProject
from tests.governance.test_keys_rotate import PIPELINES, csv_text, oracle, planes, ring_keys

runner = CliRunner()


def test_rotation_of_tables_each_engine_wrote(
    make_project: MakeProject, engine_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "secrets" / "ring.key"
    rows = planes()[:300]
    root = make_project(
        {**PIPELINES, "data/planes/a.csv": csv_text(rows)},
        config={"governance": {"token_key_file": str(key_file)}},
    )
    assert runner.invoke(keys_app, ["new", "--project", str(root)]).exit_code == 0
    project = assay.Project(root)
    assert project.run().ok
    keys = ring_keys(key_file)
    query = "SELECT tailnum FROM silver.planes"
    assert set(project.sql(query)["tailnum"].to_pylist()) <= {
        oracle(r["tailnum"], keys) for r in rows
    }
    rotated = runner.invoke(keys_app, ["rotate", "--project", str(root)])
    assert rotated.exit_code == 0, rotated.output
    keys = ring_keys(key_file)
    assert sorted(keys) == [1, 2]
    project = assay.Project(root)
    fresh = {oracle(r["tailnum"], keys) for r in rows if r["year"] != "NA"}
    assert set(project.sql(query)["tailnum"].to_pylist()) == fresh  # read by the engine
    assert set(project.table("bronze.planes")["tailnum"].to_pylist()) == {
        oracle(r["tailnum"], keys) for r in rows
    }
