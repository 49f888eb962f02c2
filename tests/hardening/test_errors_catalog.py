"""A damaged catalog database (garbage, or truncated) is one error that says to delete it
(before: a 105-line sqlite3.DatabaseError traceback from every command); deleting it and
re-running rebuilds what matters from the Delta logs and commits nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import assay
from tests.hardening.cli_errors import assert_one_error, hint_of, invoke, scaffold


def snapshot(root: Path) -> dict[str, Any]:
    """What the catalog knows that the logs also hold, and every table's version."""
    project = assay.Project(root)
    intervals = [
        (r.interval, r.version)
        for r in project.catalog.done_intervals(
            "silver.orders", project.dag["silver.orders"].fingerprint
        )
    ]
    return {
        "intervals": intervals,
        "files": project.catalog.ingested_files("bronze.orders"),
        "versions": {name: project.warehouse.version(name) for name in project.dag.specs},
    }


@pytest.fixture
def built(tmp_path: Path) -> Path:
    root = scaffold(tmp_path / "shop")
    (root / "data" / "orders" / "2026-01-05.csv").write_text(
        "order_id,customer_id,amount,ordered_at\n"
        + "".join(f"{100 + i},1,{i}.5,2026-01-{5 + i % 20:02d} 10:00:00\n" for i in range(400))
    )
    outcome = invoke("run", "--project", str(root))
    assert outcome.exit_code == 0, outcome.output
    return root


def damage(db: Path, how: str) -> None:
    data = db.read_bytes()
    if how == "garbage":
        db.write_bytes(os.urandom(len(data)))
    elif how == "header only":
        db.write_bytes(data[:3000])  # part of the first page
    else:  # "half": the schema page is whole, the rows' pages are gone
        db.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("how", ["garbage", "header only", "half"])
@pytest.mark.parametrize("command", ["status", "plan", "run"])
def test_a_damaged_catalog_says_delete_it(built: Path, how: str, command: str) -> None:
    db = built / ".assay" / "catalog.db"
    damage(db, how)
    outcome = invoke(command, "--project", str(built))
    assert_one_error(outcome, 2, f"catalog database {db} is damaged")
    assert "delete it and re-run; assay rebuilds it from the Delta logs" in hint_of(outcome)


def test_deleting_a_damaged_catalog_and_rerunning_rebuilds_it_from_the_logs(built: Path) -> None:
    before = snapshot(built)
    assert len(before["intervals"]) >= 20 and before["files"]
    db = built / ".assay" / "catalog.db"
    damage(db, "half")
    db.unlink()
    outcome = invoke("run", "--project", str(built))
    assert outcome.exit_code == 0, outcome.output
    assert "0 commit(s)" in outcome.output, outcome.output
    assert snapshot(built) == before
