"""Storage is charged for the time the tables' bytes existed: from each table's creation
(version 0 in its Delta log, checked against delta-rs's own history), so a new project's
previous window costs nothing and a longer window does not charge minutes-old tables more;
and a stream's dead letters, late rows and window tables are its owner's and team's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

import assay
from assay.catalog_views.cost_view import cost_of
from assay.cli.main import app
from assay.cost.created import table_created
from assay.intervals import utcnow
from assay.streaming.validate import dead_letter_name
from assay.streaming.windowing import late_name
from tests.conftest import MakeProject
from tests.cost.test_run_usage import PIPELINES
from tests.streaming.test_folder_stream import PIPELINE, event, write

MONTH_DAYS = 365.25 / 12
GB_MONTH = 300.0


def version_zero_time(table_dir: Path) -> datetime:
    """When delta-rs says version 0 was committed (naive UTC)."""
    (first,) = [h for h in DeltaTable(str(table_dir)).history() if h["version"] == 0]
    return datetime.fromtimestamp(first["timestamp"] / 1000, UTC).replace(tzinfo=None)


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_new_tables_are_charged_from_their_creation(make_project: MakeProject) -> None:
    config = {"cost": {"gb_month": GB_MONTH, "cpu_hour": 0.0, "gb_scanned": 0.0}}
    project = assay.Project(make_project(PIPELINES, config=config, name="fresh"))
    assert project.run().ok
    rt, wh = project.runtime, project.runtime.warehouse
    tables = wh.list_tables()
    assert "quarantine.bronze_events" in tables  # b.csv has a bad row
    for name in tables:
        assert table_created(wh, name) == version_zero_time(Path(wh.uri(name))), name

    until = utcnow() + timedelta(seconds=1)
    week = cost_of(rt, "dataset", until - timedelta(days=7), until)
    month = cost_of(rt, "dataset", until - timedelta(days=30), until)
    for line in week.lines:
        # The tables are seconds old: the window before held nothing, so the trend is new.
        assert (line.previous, line.trend) == (0.0, None), line.key
    assert week.previous == 0.0 and week.trend is None
    # A longer window does not charge a seconds-old table more.
    assert {line.key: line.storage for line in week.lines} == {
        line.key: line.storage for line in month.lines
    }
    # Each table's bytes on disk for the seconds since delta-rs says it was created.
    lines = {line.key: line for line in week.lines}
    folders = {name: [Path(wh.uri(name))] for name in ("bronze.events", "silver.events")}
    folders["bronze.events"].append(Path(wh.uri("quarantine.bronze_events")))
    for dataset, dirs in folders.items():
        gb_days = sum(
            folder_bytes(d) / 1e9 * ((until - version_zero_time(d)) / timedelta(days=1))
            for d in dirs
        )
        assert lines[dataset].storage == pytest.approx(gb_days * GB_MONTH / MONTH_DAYS, rel=1e-9)
        assert lines[dataset].stored_bytes == sum(folder_bytes(d) for d in dirs)

    # A window that ended before the tables existed charges them nothing.
    past = cost_of(rt, "dataset", until - timedelta(days=14), until - timedelta(days=7))
    assert past.total == 0.0


OWNED_STREAM = PIPELINE.replace("MAX_ROWS", "1000").replace(
    "max_batch_seconds=0.2,",
    'max_batch_seconds=0.2, owner="risk-team", tags={"team": "risk"},',
)


def test_a_streams_dead_letters_late_rows_and_windows_are_its_owners(
    make_project: MakeProject,
) -> None:
    root = make_project({"pipelines/events.py": OWNED_STREAM}, name="stream")
    project = assay.Project(root)
    write(root, "1.jsonl", [event(1, 1), event(2, 5), event(3, 12, card=2), "{not json"])
    project.stream("bronze.events", until_idle=True)
    write(root, "2.jsonl", [event(4, 3, amount=5.0), event(5, 31, card=2)])  # 4 is late
    project.stream("bronze.events", until_idle=True)
    wh = project.runtime.warehouse
    dead, late = dead_letter_name("bronze.events"), late_name("silver.card_10m")
    assert wh.exists(dead) and wh.exists(late)

    until = utcnow() + timedelta(seconds=1)
    since = until - timedelta(days=1)
    by_owner = cost_of(project.runtime, "owner", since, until)
    assert [line.key for line in by_owner.lines] == ["risk-team"]  # no "(no owner)"
    assert [line.key for line in cost_of(project.runtime, "tag", since, until).lines] == ["risk"]
    by_dataset = {
        line.key: line for line in cost_of(project.runtime, "dataset", since, until).lines
    }
    # Dead letters are the stream's storage, late rows their window table's (like quarantine).
    assert set(by_dataset) == {"bronze.events", "silver.card_10m"}
    on_disk = {name: folder_bytes(Path(wh.uri(name))) for name in wh.list_tables()}
    assert by_dataset["bronze.events"].stored_bytes == on_disk["bronze.events"] + on_disk[dead]
    assert by_dataset["silver.card_10m"].stored_bytes == (
        on_disk["silver.card_10m"] + on_disk[late]
    )
    assert by_owner.lines[0].stored_bytes == sum(on_disk.values())
    for line in by_dataset.values():  # new tables: "new", not "+0%"
        assert line.trend is None, line.key


def test_cost_tables_show_one_money_format(make_project: MakeProject) -> None:
    project = assay.Project(make_project(PIPELINES, name="formats"))
    assert project.run().ok
    result = CliRunner().invoke(
        app, ["cost", "-p", str(project.runtime.root), "--since", "7d"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    # Seconds-old storage at 0.023 per GB-month is far below a millionth: 0.00, like zero.
    assert "0.000000" not in result.output, result.output
    # The money columns: compute, scan, storage, total (then share, trend and measurements).
    rows = [line.split("│")[2:6] for line in result.output.splitlines() if line.count("│") > 6]
    amounts = [cell.strip() for row in rows for cell in row if cell.strip()[:1].isdigit()]
    assert amounts and all(
        cell == "0.00" or len(cell.split(".")[1]) in (2, 6) for cell in amounts
    ), amounts


@pytest.mark.parametrize("since", ["banana", "-5d", "7 days"])
def test_every_since_option_names_both_forms(make_project: MakeProject, since: str) -> None:
    root = make_project({})
    for command in ("cost", "audit"):
        args = [command, "--project", str(root), "--since", since]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code != 0, (command, result.output)
        assert f"invalid time {since!r}" in result.output, result.output
        assert "7d" in result.output and "24h" in result.output, result.output
        assert "2026-01-31" in result.output, result.output
