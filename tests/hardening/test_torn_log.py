"""A torn newest Delta commit (empty, or half a JSON line) is found, named and repaired.

Before: an empty commit file made `assay status` report the table complete while the rows
that commit added were gone; half a JSON line stopped every command with a Rust backtrace.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from tests.helpers import (
    EVENTS_PIPELINES,
    copy_project,
    event,
    jsonl,
    warehouse_checksums,
    write_files,
)

FIRST = jsonl(event(i, i % 3, i * 1.5, f"2026-01-0{1 + i % 4} 10:00:00") for i in range(12))
SECOND = jsonl(event(100 + i, i % 3, i * 2.0, f"2026-01-0{5 + i % 2} 10:00:00") for i in range(6))


def tear(path: Path, how: str) -> None:
    text = path.read_bytes()
    path.write_bytes(b"" if how == "empty" else text[: len(text) // 2])


@pytest.mark.parametrize("how", ["empty", "half"])
def test_a_torn_newest_commit_stops_with_its_file_and_repair_rebuilds_downstream(
    make_project, tmp_path: Path, how: str
) -> None:
    root = make_project({**EVENTS_PIPELINES, "data/events/a.jsonl": FIRST})
    project = assay.Project(root)
    assert project.run().ok
    write_files(root, {"data/events/b.jsonl": SECOND})
    assert project.run().ok
    log = root / "warehouse/bronze/events/_delta_log"
    newest = max(log.glob("*.json"))
    tear(newest, how)

    runner = CliRunner()
    for args in (["status"], ["run"], ["plan"]):
        result = runner.invoke(app, [*args, "-p", str(root)])
        assert result.exit_code != 0, (args, result.output)
        text = " ".join(result.output.split())
        assert newest.name in text and "torn" in text and "assay repair bronze.events" in text
        assert "Traceback" not in result.output and "<unknown>" not in result.output

    result = runner.invoke(app, ["repair", "bronze.events", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert (log / "torn" / newest.name).exists()

    clean = copy_project(root, tmp_path / "clean")
    assert assay.Project(clean).run().ok
    assert warehouse_checksums(assay.Project(root)) == warehouse_checksums(assay.Project(clean))
    assert not any(w.needed for w in assay.Project(root).plan())


def test_repair_of_a_whole_log_changes_nothing(make_project) -> None:
    root = make_project({**EVENTS_PIPELINES, "data/events/a.jsonl": FIRST})
    assert assay.Project(root).run().ok
    result = CliRunner().invoke(app, ["repair", "bronze.events", "-p", str(root)])
    assert result.exit_code == 2
    assert "is whole: nothing to repair" in result.output
