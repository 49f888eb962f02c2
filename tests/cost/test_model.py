"""The cost model against hand computations: prices times usage, storage prorated per day
of a 365.25/12-day month, groups that always sum to the same total, the previous window's
trend read from the catalog, and budgets that fire on month-to-date spending only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

import assay
from assay.catalog.run_costs import RunUsage, record_usage
from assay.catalog_views.cost_view import budgets_of, cost_of
from assay.cli.main import app
from assay.config import CostSettings
from assay.cost.budgets import budget_status, month_window
from assay.cost.model import NO_OWNER, NO_TEAM, Attribution, StoredTable, cost_report, money
from assay.errors import UsageError
from tests.conftest import MakeProject

PRICES = CostSettings(cpu_hour=0.5, gb_scanned=2.0, gb_month=3.0, currency="EUR")
T0 = datetime(2026, 3, 11)
WEEK = timedelta(days=7)
OWNERS = {
    "bronze.a": Attribution("ana", "risk", "bronze"),
    "silver.b": Attribution("ana", None, "silver"),
    "gold.c": Attribution(None, "risk", "gold"),
}


def use(dataset: str, at: datetime, cpu: float, read: int, jvm: float | None = None) -> RunUsage:
    return RunUsage(
        "r" + at.isoformat(), dataset, at, "success", cpu, jvm, bytes_read=read, wall_seconds=cpu
    )


USAGE = [
    use("bronze.a", T0 - timedelta(days=1), cpu=720.0, read=3 * 10**9),
    use("silver.b", T0 - timedelta(days=2), cpu=36.0, read=10**8, jvm=324.0),
    use("gold.c", T0 - timedelta(days=3), cpu=7.2, read=0),
]
#: Tables created long before both windows (one of them the quarantine of gold.c).
LONG_AGO = T0 - timedelta(days=400)
STORED = [
    StoredTable("bronze.a", 5 * 10**9, LONG_AGO),
    StoredTable("gold.c", 6 * 10**8, LONG_AGO),
    StoredTable("gold.c", 4 * 10**8, None),  # version 0 cleaned from its log: old too
    StoredTable("bronze.gone", 2 * 10**9, LONG_AGO),
]


def by(group: str, previous: list[RunUsage] | None = None) -> dict[str, dict[str, float]]:
    report = cost_report(USAGE, previous or [], STORED, OWNERS, PRICES, group, T0 - WEEK, T0)
    return {line.key: line.to_json() for line in report.lines}


def test_money_by_dataset_is_worked_out_by_hand() -> None:
    lines = by("dataset")
    week_of_month = 7 / (365.25 / 12)
    # bronze.a: 720 s = 0.2 h at 0.5; 3 GB read at 2.0; 5 GB stored a week at 3.0/month.
    assert lines["bronze.a"]["compute"] == pytest.approx(0.1)
    assert lines["bronze.a"]["scan"] == pytest.approx(6.0)
    assert lines["bronze.a"]["storage"] == pytest.approx(15.0 * week_of_month)
    # silver.b: its JVM's CPU counts too: (36 + 324) s = 0.1 h.
    assert lines["silver.b"]["compute"] == pytest.approx(0.05)
    assert lines["silver.b"]["scan"] == pytest.approx(0.2)
    assert lines["silver.b"]["storage"] == 0
    # A table no dataset declares any more still costs its storage, under its own name.
    assert lines["bronze.gone"]["storage"] == pytest.approx(6.0 * week_of_month)
    assert lines["bronze.gone"]["builds"] == 0
    total = sum(line["total"] for line in lines.values())
    assert sum(line["share"] for line in lines.values()) == pytest.approx(1.0)
    assert lines["bronze.a"]["share"] == pytest.approx(lines["bronze.a"]["total"] / total)
    assert next(iter(lines)) == "bronze.a"  # most expensive first


def test_every_grouping_sums_to_the_same_total() -> None:
    per_dataset = by("dataset")
    total = sum(line["total"] for line in per_dataset.values())
    owners, teams, layers = by("owner"), by("tag"), by("layer")
    assert set(owners) == {"ana", NO_OWNER}
    assert set(teams) == {"risk", NO_TEAM}
    assert set(layers) == {"bronze", "silver", "gold"}
    for grouped in (owners, teams, layers):
        assert sum(line["total"] for line in grouped.values()) == pytest.approx(total)
    ana = per_dataset["bronze.a"]["total"] + per_dataset["silver.b"]["total"]
    assert owners["ana"]["total"] == pytest.approx(ana)
    risk = per_dataset["bronze.a"]["total"] + per_dataset["gold.c"]["total"]
    assert teams["risk"]["total"] == pytest.approx(risk)


def test_the_trend_compares_with_the_previous_window() -> None:
    before = [use("bronze.a", T0 - WEEK - timedelta(days=1), cpu=360.0, read=10**9)]
    lines = by("dataset", before)
    week_of_month = 7 / (365.25 / 12)
    storage = 15.0 * week_of_month
    previous = 360 / 3600 * 0.5 + 2.0 + storage
    assert lines["bronze.a"]["previous"] == pytest.approx(previous)
    assert lines["bronze.a"]["trend"] == pytest.approx(
        (lines["bronze.a"]["total"] - previous) / previous
    )
    # silver.b ran only in this window: new work, no percentage.
    assert lines["silver.b"]["trend"] is None
    # Storage only, in both windows: flat.
    assert lines["bronze.gone"]["trend"] == 0


def test_storage_is_charged_from_the_tables_creation() -> None:
    week_of_month = 7 / (365.25 / 12)
    stored = [
        StoredTable("bronze.a", 5 * 10**9, LONG_AGO),
        # Created 2 days before the window ends: 2 of its 7 days, none of the week before.
        StoredTable("silver.new", 10**9, T0 - timedelta(days=2)),
        # Its quarantine table appeared later still: half a day.
        StoredTable("silver.new", 10**9, T0 - timedelta(hours=12)),
        # Created 10 days ago: the whole window, and 3 days of the one before.
        StoredTable("gold.c", 10**9, T0 - timedelta(days=10)),
        # Created after the window (a report of a past week): nothing.
        StoredTable("gold.later", 10**9, T0 + timedelta(days=1)),
    ]
    report = cost_report([], [], stored, OWNERS, PRICES, "dataset", T0 - WEEK, T0)
    lines = {line.key: line for line in report.lines}
    gb_day = 3.0 / (365.25 / 12)  # one GB for one day at 3.0 per GB-month
    assert lines["bronze.a"].storage == pytest.approx(15.0 * week_of_month)
    assert lines["bronze.a"].previous == pytest.approx(15.0 * week_of_month)
    assert lines["bronze.a"].trend == 0
    assert lines["silver.new"].storage == pytest.approx(2.5 * gb_day)
    assert lines["silver.new"].stored_bytes == 2 * 10**9
    assert (lines["silver.new"].previous, lines["silver.new"].trend) == (0.0, None)  # "new"
    assert lines["gold.c"].storage == pytest.approx(7 * gb_day)
    assert lines["gold.c"].previous == pytest.approx(3 * gb_day)
    assert lines["gold.later"].total == 0 and lines["gold.later"].previous == 0
    # A longer window does not charge a 2-day-old table more.
    month = cost_report([], [], stored, OWNERS, PRICES, "dataset", T0 - 4 * WEEK, T0)
    assert {line.key: line for line in month.lines}["silver.new"].storage == pytest.approx(
        lines["silver.new"].storage
    )
    assert report.previous == pytest.approx(15.0 * week_of_month + 3 * gb_day)


def test_money_has_one_rule_for_every_table() -> None:
    assert [money(x) for x in (0.0, -0.0, 4e-7, 6e-7, 0.000042, 0.5, 1.0, 1234.567)] == [
        "0.00",
        "0.00",
        "0.00",
        "0.000001",
        "0.000042",
        "0.500000",
        "1.00",
        "1,234.57",
    ]


def test_an_unknown_grouping_is_refused() -> None:
    with pytest.raises(UsageError, match="cannot group cost by 'team'"):
        cost_report(USAGE, [], [], OWNERS, PRICES, "team", T0 - WEEK, T0)


def test_budgets_fire_on_spending_not_on_the_projection() -> None:
    start, _ = month_window(T0)
    report = cost_report(USAGE, [], [], OWNERS, PRICES, "owner", start, T0)
    spent = report.lines[0].total  # ana: 0.1 + 6.0 + 0.05 + 0.2
    assert report.lines[0].key == "ana" and spent == pytest.approx(6.35)
    # 10 of March's 31 days gone: the projection is 3.1 times the spending.
    statuses = {b.owner: b for b in budget_status(report, {"ana": 10.0, NO_OWNER: 0.0005})}
    under, over = statuses["ana"], statuses[NO_OWNER]
    assert under.projected == pytest.approx(6.35 * 3.1) and under.projected > under.budget
    assert not under.over  # projected over, not over: no alert
    assert over.over and over.owner == NO_OWNER


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_cost_of_reads_the_windows_from_the_catalog(
    make_project: MakeProject, request: pytest.FixtureRequest, database: str
) -> None:
    settings: dict[str, object] = {
        "cost": {"cpu_hour": 3600.0, "gb_month": 0.0, "budgets": {NO_OWNER: 5.5}}
    }
    if database == "postgresql":
        settings["catalog"] = request.getfixturevalue("pg_url")
    project = assay.Project(make_project({}, settings))
    catalog = project.runtime.catalog
    now = datetime(2026, 3, 20, 12)
    for days_ago, cpu in ((1, 2.0), (6, 3.0), (8, 1.0), (20, 7.0)):
        record_usage(catalog, use("bronze.x", now - timedelta(days=days_ago), cpu, 0))
    report = cost_of(project.runtime, "dataset", now - WEEK, now, tables=[])
    (line,) = report.lines
    assert (line.compute, line.builds) == (5.0, 2)  # $1 per CPU-second, days 1 and 6
    assert (line.previous, line.previous_builds) == (1.0, 1)  # day 8; day 20 is older
    assert line.trend == 4.0
    # Month to date (March 1 to the 20th): days 1, 6 and 8 ago, not 20.
    (status,) = budgets_of(project.runtime, now, tables=[])
    assert (status.owner, status.spent, status.over) == (NO_OWNER, 6.0, True)


def test_since_must_be_in_the_past(make_project: MakeProject) -> None:
    root = make_project({})
    for since, said in (
        ("2999-01-01", "is not in the past"),
        ("0d", "is not in the past"),
        ("yesterday", "invalid time"),
        ("banana", "invalid time"),
        ("-5d", "invalid time"),
    ):
        result = CliRunner().invoke(app, ["cost", "-p", str(root), "--since", since])
        assert result.exit_code != 0
        assert said in result.output
        # The hint names both forms --since takes: an age and a date.
        assert "7d" in result.output and "2026-01-31" in result.output, result.output
