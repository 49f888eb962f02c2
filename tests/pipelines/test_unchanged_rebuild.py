"""A full table rebuilt from newer inputs that comes out the same commits nothing, and is
not rebuilt again on every later run: the catalog notes the input versions it was checked
against (the trial's silver.chargebacks, planned "new data" forever)."""

from __future__ import annotations

from pathlib import Path

import assay
from tests.conftest import MakeProject

BRONZE = """
import assay
assay.files("bronze.payments", path="data/*.csv", format="csv",
            columns={"id": "INTEGER", "amount": "DOUBLE"})
"""
#: Only large payments: a new file of small ones changes bronze, not this table.
LARGE = """
-- name: silver.large_payments
-- kind: full
SELECT id, amount FROM {{ ref('bronze.payments') }} WHERE amount >= 100
"""
DOWNSTREAM = """
-- name: gold.large_total
-- kind: full
SELECT count(*) AS n, sum(amount) AS amount FROM {{ ref('silver.large_payments') }}
"""


def _status(project: assay.Project) -> dict[str, str]:
    return {r.dataset: r.status for r in project.run().results}


def test_an_unchanged_rebuild_is_not_planned_again(make_project: MakeProject) -> None:
    root: Path = make_project(
        {
            "data/a.csv": "id,amount\n1,150\n2,20\n",
            "pipelines/bronze.py": BRONZE,
            "pipelines/large.sql": LARGE,
            "pipelines/gold.sql": DOWNSTREAM,
        }
    )
    project = assay.Project(root)
    assert set(_status(project).values()) == {"success"}
    silver_version = project.warehouse.version("silver.large_payments")

    (root / "data" / "b.csv").write_text("id,amount\n3,5\n4,7\n")
    project = assay.Project(root)
    ran = _status(project)
    assert ran["bronze.payments"] == "success"
    # Rebuilt from the new bronze version, same rows: no commit, and nothing downstream.
    assert ran["silver.large_payments"] == "up_to_date"
    assert project.warehouse.version("silver.large_payments") == silver_version
    assert ran["gold.large_total"] == "up_to_date"

    # The next plan knows the check was done: nothing to do, with nothing new.
    project = assay.Project(root)
    assert [w.dataset for w in project.plan() if w.needed] == []
    # ...until bronze changes what silver holds.
    (root / "data" / "c.csv").write_text("id,amount\n5,500\n")
    project = assay.Project(root)
    ran = _status(project)
    assert ran["silver.large_payments"] == "success" and ran["gold.large_total"] == "success"
    total = project.sql("SELECT n, amount FROM gold.large_total").to_pylist()
    assert total == [{"n": 2, "amount": 650.0}]
