"""The sensors alone: cron plans with catch-up and pending ticks, the Delta-log version
test against the Delta library, and on_upstream reasons."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from assay.catalog.schedule_state import TickRecord
from assay.orchestration.sensors import Versions, cron_plan, delta_version, upstream_changes
from assay.pipelines.automation import Schedule
from assay.tables import Warehouse

HOURLY = Schedule.parse("@hourly")
T0 = datetime(2026, 1, 2)


def at(hour: int, minute: int = 0) -> datetime:
    return T0.replace(hour=hour, minute=minute)


def test_first_start_is_a_baseline_on_the_newest_tick() -> None:
    assert cron_plan(HOURLY, None, [], at(5, 10), 3).baseline == at(5)
    assert cron_plan(HOURLY, None, [], at(5), 3).baseline == at(5)  # exactly on a tick
    daily = Schedule.parse("0 6 * * *")
    assert cron_plan(daily, None, [], at(5), 3).baseline == datetime(2026, 1, 1, 6)


def test_each_tick_covers_the_interval_since_the_previous_tick() -> None:
    plan = cron_plan(HOURLY, at(1), [], at(3, 30), 24)
    assert plan.runs == [(at(2), at(1)), (at(3), at(2))] and plan.skipped == []
    assert cron_plan(HOURLY, at(3), [], at(3, 59), 24).runs == []


def test_catch_up_keeps_the_newest_and_skips_the_older() -> None:
    plan = cron_plan(HOURLY, at(0), [], at(5, 1), 3)
    assert [t for t, _ in plan.runs] == [at(3), at(4), at(5)]
    assert plan.runs[0] == (at(3), at(2))  # still the interval right before the tick
    assert plan.skipped == [at(1), at(2)]
    zero = cron_plan(HOURLY, at(0), [], at(5, 1), 0)  # catchup=0: only the current tick
    assert [t for t, _ in zero.runs] == [at(5)] and len(zero.skipped) == 4


def test_pending_ticks_run_again_first() -> None:
    pending = [TickRecord("silver.x", at(2), at(1), at(2), "claimed", None)]
    plan = cron_plan(HOURLY, at(2), pending, at(3, 5), 24)
    assert plan.runs == [(at(2), at(1)), (at(3), at(2))]


def test_the_log_listing_agrees_with_the_delta_library(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from deltalake import write_deltalake

    warehouse = Warehouse(str(tmp_path))
    assert delta_version(warehouse, "bronze.a") is None
    for _ in range(12):
        write_deltalake(warehouse.uri("bronze.a"), pa.table({"x": [1]}), mode="append")
    assert delta_version(warehouse, "bronze.a") == warehouse.version("bronze.a") == 11


def test_upstream_reasons(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from deltalake import write_deltalake

    warehouse = Warehouse(str(tmp_path))
    for _ in range(3):
        write_deltalake(warehouse.uri("bronze.a"), pa.table({"x": [1]}), mode="append")
    versions = Versions(warehouse)
    inputs = ("bronze.a", "bronze.missing")
    assert upstream_changes(inputs, versions, {"bronze.a": 2}) == []
    assert upstream_changes(inputs, versions, {"bronze.a": 1}) == [
        "new data in bronze.a (v1 -> v2)"
    ]
    assert upstream_changes(inputs, versions, None) == [
        "bronze.a v2 (not run by the scheduler yet)"
    ]
