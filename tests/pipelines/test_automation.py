"""Schedules, SLAs and run limits as declared: parsed at load, errors name the dataset."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import assay
from assay.errors import DefinitionError
from assay.pipelines.automation import Schedule, Sla, Trigger, parse_duration, parse_ratio
from assay.pipelines.sqlfile import load_sql_file


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@quarterly", "0 0 1 */3 *"),
        ("15 6 * * 1-5", "15 6 * * 1-5"),
    ],
)
def test_cron_schedules_and_presets(text: str, cron: str) -> None:
    schedule = Schedule.parse(text)
    assert schedule.trigger is Trigger.CRON and schedule.cron == cron


def test_ticks_between_are_the_cron_ticks_in_the_half_open_range() -> None:
    daily = Schedule.parse("@daily")
    ticks = daily.ticks_between(datetime(2026, 1, 1), datetime(2026, 1, 4))
    assert ticks == [datetime(2026, 1, 2), datetime(2026, 1, 3), datetime(2026, 1, 4)]
    quarterly = Schedule.parse("@quarterly")
    assert quarterly.ticks_between(datetime(2026, 1, 1), datetime(2027, 1, 1)) == [
        datetime(2026, 4, 1),
        datetime(2026, 7, 1),
        datetime(2026, 10, 1),
        datetime(2027, 1, 1),
    ]


@pytest.mark.parametrize("text", ["every day", "0 6 * *", "@fortnightly", "61 * * * *"])
def test_bad_schedule_is_refused_with_the_forms_to_use(text: str) -> None:
    with pytest.raises(DefinitionError) as err:
        Schedule.parse(text, "silver.x (p.py:3)")
    assert "silver.x" in str(err.value) and "on_upstream" in str(err.value)


def test_sla_forms() -> None:
    assert Sla.parse("interval done by 06:00 UTC").done_by == timedelta(hours=6)
    assert Sla.parse("done by 23:30").done_by == timedelta(hours=23, minutes=30)
    assert Sla.parse("within 90m").within == timedelta(minutes=90)
    with pytest.raises(DefinitionError, match="invalid sla"):
        Sla.parse("done by 25:00 UTC")


def test_durations_and_ratios() -> None:
    assert parse_duration("2h", "x") == 7200.0
    assert parse_duration(45, "x") == 45.0
    assert parse_ratio("1%", "x") == pytest.approx(0.01)
    assert parse_ratio(0.2, "x") == pytest.approx(0.2)
    for bad in ("150%", "-1", "lots"):
        with pytest.raises(DefinitionError):
            parse_ratio(bad, "max_quarantined")
    with pytest.raises(DefinitionError):
        parse_duration("soon", "max_duration")


def test_declarations_carry_automation() -> None:
    spec = assay.files(
        "bronze.tx",
        "data/*.csv",
        "csv",
        schedule="on_arrival",
        sla="within 1h",
        max_quarantined="2%",
    )
    assert spec.automation.schedule is not None
    assert spec.automation.schedule.trigger is Trigger.ON_ARRIVAL
    assert spec.automation.max_quarantined == pytest.approx(0.02)

    @assay.transform("silver.tx", inputs=["bronze.tx"], schedule="on_upstream", max_duration="5m")
    def silver(ctx, tx):  # type: ignore[no-untyped-def]
        return tx

    assert silver.dataset.automation.max_duration == 300.0


def test_on_arrival_is_only_for_file_sources() -> None:
    with pytest.raises(DefinitionError, match="file sources"):

        @assay.transform("silver.tx", inputs=["bronze.tx"], schedule="on_arrival")
        def silver(ctx, tx):  # type: ignore[no-untyped-def]
            return tx


def test_sql_header_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "gold.sql"
    path.write_text(
        "-- name: gold.daily\n-- schedule: 0 6 * * *\n-- catchup: 3\n"
        "-- sla: interval done by 07:00 UTC\n-- max_quarantined: 0.5%\n"
        "SELECT * FROM {{ ref('silver.tx') }}\n"
    )
    spec = load_sql_file(path)
    assert spec.automation.schedule is not None and spec.automation.schedule.cron == "0 6 * * *"
    assert spec.automation.catchup == 3
    assert spec.automation.sla is not None and spec.automation.sla.done_by == timedelta(hours=7)
    assert spec.automation.max_quarantined == pytest.approx(0.005)


def test_sql_header_with_bad_schedule_names_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "gold.sql"
    path.write_text("-- name: gold.daily\n-- schedule: hourly-ish\nSELECT 1 AS a\n")
    with pytest.raises(DefinitionError) as err:
        load_sql_file(path)
    assert "gold.daily" in str(err.value) or "gold.sql" in str(err.value)


def test_streams_take_max_lag() -> None:
    spec = assay.folder_stream(
        "bronze.clicks", path="in/*.jsonl", timestamp="at", max_lag="500", columns={}
    )
    assert spec.automation.max_lag == 500
    with pytest.raises(DefinitionError, match="max_lag must be a whole number >= 1"):
        assay.folder_stream("bronze.c2", path="in/*.jsonl", timestamp="at", max_lag=0)
