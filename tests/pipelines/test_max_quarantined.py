"""`max_quarantined`: a batch that quarantines a larger share of its rows than the dataset
allows is blocked like a failed blocking check, on palmerpenguins' real NA values."""

from __future__ import annotations

import shutil
from pathlib import Path

import palmerpenguins
import pandas as pd

import assay
from assay.pipelines.quarantine import quarantine_name
from tests.conftest import MakeProject

PENGUINS_CSV = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"

CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: penguins-sex
name: penguins with a recorded sex
version: 1.0.0
status: active
schema:
  - name: penguins
    physicalName: bronze.penguins
    properties:
      - {name: sex, logicalType: string, required: true}
"""


def pipeline(limit: str) -> str:
    return f"""
import assay

assay.files(
    "bronze.penguins",
    path="data/penguins.csv",
    format="csv",
    columns={{"body_mass_g": "INTEGER", "year": "INTEGER"}},
    owner="field-team",
    max_quarantined="{limit}",
)
"""


def penguins_project(make_project: MakeProject, limit: str, name: str = "project") -> Path:
    root = make_project(
        {"pipelines/bronze.py": pipeline(limit), "contracts/penguins.yaml": CONTRACT}, name=name
    )
    (root / "data").mkdir()
    shutil.copy(PENGUINS_CSV, root / "data" / "penguins.csv")
    return root


def expected_share() -> tuple[int, int]:
    """(rows, rows without a sex) from pandas, the oracle."""
    frame = pd.read_csv(PENGUINS_CSV)
    return len(frame), int(frame["sex"].isna().sum())


def test_over_the_limit_blocks_the_batch_and_keeps_its_quarantine(
    make_project: MakeProject,
) -> None:
    rows, missing = expected_share()
    assert missing > 0 and missing / rows > 0.01  # the data really breaks a 1% limit
    project = assay.Project(penguins_project(make_project, "1%"))

    result = project.run()

    outcome = result.result("bronze.penguins")
    assert outcome.status == "failed" and outcome.cause == "quarantine"
    share = f"{missing / rows:.2%}"
    assert share in outcome.error and "max_quarantined 1.00%" in outcome.error
    assert f"not_null(sex) {missing}" in outcome.error or f"sex) {missing}" in outcome.error
    assert f"{rows:,} rows" in outcome.error
    # Nothing published; the rejects kept for inspection and replay.
    assert not project.warehouse.exists("bronze.penguins")
    quarantined = project.table(quarantine_name("bronze.penguins"))
    assert quarantined.num_rows == missing


def test_under_the_limit_commits_and_counts_every_row(make_project: MakeProject) -> None:
    rows, missing = expected_share()
    project = assay.Project(penguins_project(make_project, "5%"))

    result = project.run()

    outcome = result.result("bronze.penguins")
    assert outcome.status == "success", outcome.error
    written = project.table("bronze.penguins").num_rows
    quarantined = project.table(quarantine_name("bronze.penguins")).num_rows
    assert (written, quarantined) == (rows - missing, missing)
    assert outcome.rows_in == rows == written + quarantined


def test_a_fraction_limit_is_inclusive(make_project: MakeProject) -> None:
    rows, missing = expected_share()
    one_short = assay.Project(penguins_project(make_project, repr((missing - 1) / rows)))
    exact = assay.Project(penguins_project(make_project, repr(missing / rows), "exact"))

    assert one_short.run().result("bronze.penguins").cause == "quarantine"
    assert not one_short.warehouse.exists("bronze.penguins")
    assert exact.run().result("bronze.penguins").status == "success"
    assert exact.row_count("bronze.penguins") == rows - missing


def test_a_blocked_batch_rerun_then_allowed_keeps_each_reject_once(
    make_project: MakeProject,
) -> None:
    rows, missing = expected_share()
    root = penguins_project(make_project, "1%")
    for _ in range(2):  # blocked twice: its rejects replaced, not added again
        assert assay.Project(root).run().result("bronze.penguins").cause == "quarantine"
        assert assay.Project(root).table(quarantine_name("bronze.penguins")).num_rows == missing

    (root / "pipelines" / "bronze.py").write_text(pipeline("5%"))  # the limit raised
    project = assay.Project(root)
    outcome = project.run().result("bronze.penguins")

    assert outcome.status == "success", outcome.error
    written = project.table("bronze.penguins").num_rows
    quarantined = project.table(quarantine_name("bronze.penguins")).num_rows
    assert (written, quarantined) == (rows - missing, missing)
