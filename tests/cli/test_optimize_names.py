"""`assay optimize` on a name that is no table says so and lists the tables; a compaction
whose vacuum a legal hold stopped says so in its audit event."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.governance.audit import AuditLog
from assay.governance.holds import Holds
from assay.tables.delta import WriteMode


def _cli(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--project", str(root)], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_an_unknown_table_is_named_with_the_tables_there_are() -> None:
    root = assay.init_project(tempfile.mkdtemp())
    assert assay.Project(root).run().ok
    code, out = _cli(root, "optimize", "silver.order")
    assert code != 0
    assert "silver.order" in out and "no such table" in out and "silver.orders" in out
    code, out = _cli(root, "optimize", "gold.nothing", "--dry-run")
    assert code != 0 and "no such table" in out


def test_a_held_tables_compaction_records_the_vacuum_it_skipped() -> None:
    root = assay.init_project(tempfile.mkdtemp())
    project = assay.Project(root)
    assert project.run().ok
    for day in range(3):  # three small files to compact
        project.warehouse.write(
            "bronze.extra", pa.table({"day": [day]}), mode=WriteMode.APPEND, metadata={}
        )
    Holds(project.catalog).add("bronze.extra", "case 9: audit", "dpo")
    code, out = _cli(root, "optimize")
    assert code == 0, out
    events = [e for e in AuditLog(project.catalog).events(action="optimize")]
    held = [e.detail for e in events if e.dataset == "bronze.extra"]
    assert len(held) == 1 and held[0]["files_before"] == 3 and held[0]["files_after"] == 1
    assert held[0]["vacuum_skipped"] == "legal hold bronze.extra: case 9: audit"
    assert not [
        e for e in AuditLog(project.catalog).events(action="vacuum") if e.dataset == "bronze.extra"
    ]
