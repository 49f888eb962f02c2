"""What `assay run` records per dataset (CPU, wall, peak memory, bytes, files, rows),
checked against the files on disk, the tables' row counts, and an array the transform
allocates; and that the money `assay cost` shows is the prices times the stored numbers."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

import assay
from assay import intervals
from assay.catalog.run_costs import RunUsage, usage_between
from assay.cli.main import app
from tests.conftest import MakeProject

MiB = 2**20
ALLOCATED = 200 * MiB
EPSILON = 0.05  # seconds: process_time and monotonic tick apart

PIPELINES = {
    "data/events/a.csv": "id,amount\n" + "".join(f"{i},{i * 1.5}\n" for i in range(300)),
    "data/events/b.csv": "id,amount\n1,2.0\n2,oops\n",
    "pipelines/bronze.py": """
        import assay

        events = assay.files("bronze.events", path="data/events/*.csv", format="csv",
                             columns={"id": "INTEGER", "amount": "DOUBLE"}, owner="ingest",
                             tags=["team=platform"])
    """,
    "pipelines/silver.py": f"""
        import assay
        import numpy as np
        import pyarrow as pa

        @assay.transform("silver.events", inputs=["bronze.events"], owner="analytics",
                         tags={{"team": "risk"}})
        def events(ctx, bronze):
            table = bronze.select("id, amount").to_arrow_table()
            # Touch every page, so the whole array is resident at once.
            block = np.ones({ALLOCATED} // 8, dtype=np.float64)
            total = float(block.sum())
            return table.append_column("seen", pa.array([total] * table.num_rows))
    """,
    "pipelines/gold_totals.sql": """
        -- name: gold.totals
        -- owner: analytics
        SELECT count(*) AS n, sum(amount) AS amount FROM {{ ref('silver.events') }}
    """,
}


@pytest.fixture
def built(make_project: MakeProject) -> tuple[assay.Project, str]:
    project = assay.Project(make_project(PIPELINES, name="metered"))
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    return project, result.run_id


def stored(project: assay.Project, run_id: str) -> dict[str, RunUsage]:
    return {u.dataset: u for u in usage_between(project.runtime.catalog, run_id=run_id)}


def files_on_disk(table_dir: Path, paths: list[str]) -> int:
    return sum(os.path.getsize(table_dir / p) for p in paths)


def test_bytes_and_files_written_are_the_new_files_on_disk(
    built: tuple[assay.Project, str],
) -> None:
    project, run_id = built
    usage = stored(project, run_id)
    wh = project.runtime.warehouse
    for name in ("silver.events", "gold.totals"):
        table_dir = Path(wh.uri(name))
        # First build of the table: every data file it references is new; listed by
        # delta-rs's own reader, sized by the OS.
        paths = DeltaTable(str(table_dir)).file_uris()
        assert usage[name].files_written == len(paths)
        assert usage[name].bytes_written == sum(os.path.getsize(p) for p in paths)
    # bronze also wrote its quarantine table: both tables' files count.
    bronze_files = [
        p
        for table in ("bronze/events", "quarantine/bronze_events")
        for p in DeltaTable(str(Path(wh.root) / table)).file_uris()
    ]
    assert usage["bronze.events"].files_written == len(bronze_files) == 2
    assert usage["bronze.events"].bytes_written == sum(os.path.getsize(p) for p in bronze_files)


def test_bytes_read_are_the_inputs_at_the_versions_read(built: tuple[assay.Project, str]) -> None:
    project, run_id = built
    usage = stored(project, run_id)
    root = Path(project.runtime.root)
    sources = sum(os.path.getsize(p) for p in (root / "data" / "events").glob("*.csv"))
    assert usage["bronze.events"].bytes_read == sources
    bronze = pads.dataset(DeltaTable(project.runtime.warehouse.uri("bronze.events")).file_uris())
    assert usage["silver.events"].bytes_read == sum(os.path.getsize(f) for f in bronze.files)


def test_rows_match_the_tables_and_nothing_is_lost(built: tuple[assay.Project, str]) -> None:
    project, run_id = built
    usage = stored(project, run_id)
    bronze = usage["bronze.events"]
    assert bronze.rows_written == project.table("bronze.events").num_rows == 301
    assert bronze.rows_quarantined == project.table("quarantine.bronze_events").num_rows == 1
    assert bronze.rows_in == 302 == bronze.rows_written + bronze.rows_quarantined
    assert usage["silver.events"].rows_written == project.table("silver.events").num_rows


def test_cpu_wall_and_peak_memory_are_plausible(built: tuple[assay.Project, str]) -> None:
    project, run_id = built
    usage = stored(project, run_id)
    cores = os.cpu_count() or 1
    for use in usage.values():
        assert use.status == "success"
        assert use.wall_seconds > 0
        assert 0 < use.cpu_seconds <= use.wall_seconds * cores + EPSILON
        assert use.engine_cpu_seconds is None  # DuckDB runs in this process
    silver = usage["silver.events"]
    assert silver.memory_method == "vmhwm"  # Linux: the high-water mark reset per dataset
    assert silver.peak_memory_bytes is not None and silver.peak_memory_bytes >= ALLOCATED
    # Filling 200 MB of pages takes CPU this process is charged for.
    assert silver.cpu_seconds > usage["gold.totals"].cpu_seconds


def test_an_up_to_date_run_reads_and_writes_nothing(built: tuple[assay.Project, str]) -> None:
    project, _ = built
    again = project.run()
    for use in usage_between(project.runtime.catalog, run_id=again.run_id):
        assert use.status == "up_to_date"
        assert (use.bytes_read, use.bytes_written, use.files_written) == (0, 0, 0)


def cost_json(project: assay.Project, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(
        app, ["cost", "-p", str(project.runtime.root), "--format", "json", *args]
    )
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.stdout)
    return body


def _days_since_created(table_dir: Path, until: datetime) -> float:
    """Days from version 0's commit, as delta-rs's history gives it, to `until`."""
    (first,) = [h for h in DeltaTable(str(table_dir)).history() if h["version"] == 0]
    created = datetime.fromtimestamp(first["timestamp"] / 1000, UTC).replace(tzinfo=None)
    return (until - created) / timedelta(days=1)


def test_assay_cost_shows_what_was_measured_unpriced_too(built: tuple[assay.Project, str]) -> None:
    project, run_id = built
    usage = stored(project, run_id)
    lines = {line["key"]: line for line in cost_json(project, "--by", "dataset")["lines"]}  # type: ignore[attr-defined]
    for name, use in usage.items():
        line = lines[name]
        assert line["wall_seconds"] == pytest.approx(use.wall_seconds)
        assert (line["bytes_written"], line["files_written"]) == (
            use.bytes_written,
            use.files_written,
        )
        assert line["peak_memory_bytes"] == use.peak_memory_bytes
    assert lines["silver.events"]["peak_memory_bytes"] >= ALLOCATED


def test_money_is_the_prices_times_the_stored_numbers(make_project: MakeProject) -> None:
    prices = {"cpu_hour": 36.0, "gb_scanned": 5000.0, "gb_month": 300.0, "currency": "EUR"}
    project = assay.Project(make_project(PIPELINES, config={"cost": prices}, name="priced"))
    assert project.run().ok
    body = cost_json(project, "--by", "dataset", "--since", "1d")
    assert body["currency"] == "EUR"
    until = datetime.fromisoformat(str(body["until"]))
    lines = {line["key"]: line for line in body["lines"]}  # type: ignore[attr-defined]
    wh = project.runtime.warehouse
    for use in usage_between(project.runtime.catalog):
        line = lines[use.dataset]
        assert line["compute"] == pytest.approx(use.cpu_seconds / 3600 * 36.0, rel=1e-12)
        assert line["scan"] == pytest.approx(use.bytes_read / 1e9 * 5000.0, rel=1e-12)
        # Storage: every byte under the table's folders (its quarantine table too), for the
        # days of a 365.25/12-day month since delta-rs says each table was created.
        folders = [Path(wh.uri(use.dataset))]
        if use.dataset == "bronze.events":
            folders.append(Path(wh.root) / "quarantine" / "bronze_events")
        sizes = {d: sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) for d in folders}
        assert line["stored_bytes"] == sum(sizes.values())
        gb_days = sum(size / 1e9 * _days_since_created(d, until) for d, size in sizes.items())
        assert line["storage"] == pytest.approx(gb_days * 300.0 / (365.25 / 12), rel=1e-9)
    total = sum(line["total"] for line in lines.values())
    assert body["total"] == pytest.approx(total)
    assert sum(line["share"] for line in lines.values()) == pytest.approx(1.0)


def test_groups_sum_to_the_same_total(
    built: tuple[assay.Project, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, _ = built
    # One "now" for the four commands: storage accrues by the second since the tables' creation.
    now = intervals.utcnow()
    monkeypatch.setattr(intervals, "utcnow", lambda: now)
    by_dataset = cost_json(project, "--by", "dataset")
    totals = {"dataset": by_dataset["total"]}
    for by in ("owner", "tag", "layer"):
        body = cost_json(project, "--by", by)
        lines = body["lines"]
        assert sum(line["total"] for line in lines) == pytest.approx(by_dataset["total"])  # type: ignore[attr-defined]
        totals[by] = body["total"]
        keys = {line["key"] for line in lines}  # type: ignore[attr-defined]
        expected = {
            "owner": {"ingest", "analytics"},
            "tag": {"platform", "risk", "(no team)"},
            "layer": {"bronze", "silver", "gold"},
        }[by]
        assert keys == expected
    assert len({round(float(t), 15) for t in totals.values()}) == 1  # type: ignore[arg-type]
