"""A small scheduled project for the scheduler tests: file source -> hourly incremental
silver -> full gold, each with a schedule the test chooses."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

import assay
from assay.catalog.schedule_state import ScheduleState, schedule_ticks

INGEST = """
import assay

events = assay.files(
    "bronze.events",
    path="data/events/*.jsonl",
    format="jsonl",
    columns={{"event_id": "BIGINT", "user_id": "BIGINT", "amount": "DOUBLE",
              "event_time": "TIMESTAMP"}},
    time_column="event_time",
    schedule={bronze!r},
)
"""

SILVER = """
-- name: silver.events
-- kind: incremental
-- time_column: event_time
-- grain: hour
-- schedule: {silver}
{catchup}SELECT event_id, user_id, amount, event_time FROM {{{{ ref('bronze.events') }}}}
"""

GOLD = """
-- name: gold.user_totals
-- schedule: {gold}
SELECT user_id, count(*) AS events, sum(amount) AS amount
FROM {{{{ ref('silver.events') }}}} GROUP BY user_id
"""


def scheduled_files(
    bronze: str = "on_arrival",
    silver: str = "on_upstream",
    gold: str = "on_upstream",
    catchup: int | None = None,
) -> dict[str, str]:
    """The project's pipeline files with these schedules."""
    return {
        "pipelines/ingest.py": INGEST.format(bronze=bronze),
        "pipelines/silver.sql": SILVER.format(
            silver=silver, catchup="" if catchup is None else f"-- catchup: {catchup}\n"
        ),
        "pipelines/gold.sql": GOLD.format(gold=gold),
    }


def events(start: datetime, hours: int, per_hour: int = 3, first_id: int = 0) -> list[dict]:
    """`per_hour` events in each of `hours` hours from `start` (minutes 5, 25, 45...)."""
    rows = []
    for h in range(hours):
        for k in range(per_hour):
            when = start + timedelta(hours=h, minutes=5 + 20 * k)
            event_id = first_id + h * per_hour + k
            rows.append(
                {
                    "event_id": event_id,
                    "user_id": event_id % 4,
                    "amount": float(event_id % 7 + 1),
                    "event_time": when.strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
    return rows


def write_events(root: Path, name: str, rows: list[dict]) -> None:
    folder = root / "data" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def set_baseline(project: assay.Project, dataset: str, tick: datetime) -> None:
    """Back-date a dataset's schedule: its last recorded tick is `tick` (status baseline)."""
    state = ScheduleState(project.catalog)
    state.forget(dataset)
    state.claim(dataset, [(tick, None, None)], "baseline")


def tick_rows(root: Path, dataset: str) -> list[tuple[datetime, str]]:
    """(tick, status) rows of a dataset, oldest first, read straight from the catalog."""
    engine = sa.create_engine(f"sqlite:///{root / '.assay' / 'catalog.db'}")
    query = (
        sa.select(schedule_ticks.c.tick, schedule_ticks.c.status)
        .where(schedule_ticks.c.dataset == dataset)
        .order_by(schedule_ticks.c.tick)
    )
    with engine.connect() as con:
        return [(r[0], r[1]) for r in con.execute(query)]


def catalog_path(root: Path) -> Path:
    return root / ".assay" / "catalog.db"


def interval_rows(root: Path, dataset: str) -> list[tuple[str, str]]:
    """(start, end) of done intervals in the ledger (any code version)."""
    with sqlite3.connect(catalog_path(root)) as con:
        return con.execute(
            'SELECT start, "end" FROM assay_intervals WHERE dataset = ? ORDER BY start',
            (dataset,),
        ).fetchall()
