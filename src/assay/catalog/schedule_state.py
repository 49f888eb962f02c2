"""The scheduler's state in the catalog: which cron ticks of each dataset were claimed,
done or skipped, and which input versions each `on_upstream` dataset last consumed.

A cron tick's row is written `claimed` before its run starts and `done` after it finished,
each in its own transaction, so a process killed at any point leaves either no row (the
tick is still due), a `claimed` row (re-run on restart: runs are idempotent, done intervals
are not recomputed) or a `done` row (never run again). `baseline` marks where a dataset's
schedule started (the first start of the scheduler runs no history); `skipped` marks missed
ticks older than the catch-up limit.

Example:
    >>> from datetime import datetime
    >>> from assay.catalog import Catalog
    >>> state = ScheduleState(Catalog("sqlite://"))
    >>> state.claim("silver.x", [(datetime(2026, 1, 1, 1), datetime(2026, 1, 1), None)])
    >>> [t.status for t in state.ticks("silver.x")]
    ['claimed']
    >>> state.finish("silver.x", [datetime(2026, 1, 1, 1)], "done")
    >>> state.last_tick("silver.x")
    datetime.datetime(2026, 1, 1, 1, 0)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from assay.catalog.store import Catalog, create_tables
from assay.intervals import utcnow

_metadata = sa.MetaData()

schedule_ticks = sa.Table(
    "assay_schedule_ticks",
    _metadata,
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("tick", sa.DateTime, primary_key=True),
    #: The data interval the tick covers, [start, end) (start None: no previous tick).
    sa.Column("start", sa.DateTime),
    sa.Column("end", sa.DateTime, nullable=False),
    #: baseline | claimed | done | failed | skipped
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("run_id", sa.String(40)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

consumed_inputs = sa.Table(
    "assay_schedule_consumed",
    _metadata,
    sa.Column("dataset", sa.String(200), primary_key=True),
    #: JSON: input name -> the Delta version it had when the dataset's last run started.
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

#: Tick statuses that still have to run (a crash, a lock held too long, a failed run).
PENDING = ("claimed", "failed")


@dataclass(frozen=True)
class TickRecord:
    """One cron tick of one dataset as the catalog holds it."""

    dataset: str
    tick: datetime
    start: datetime | None
    end: datetime
    status: str
    run_id: str | None


class ScheduleState:
    """Reads and writes the scheduler's tables (created on first use, beside the catalog's)."""

    def __init__(self, catalog: Catalog):
        self.engine = catalog.engine
        create_tables(self.engine, schedule_ticks, consumed_inputs)

    # -- cron ticks ----------------------------------------------------------------------

    def ticks(self, dataset: str, statuses: Iterable[str] | None = None) -> list[TickRecord]:
        """The dataset's tick rows, oldest first (only `statuses`, if given)."""
        query = sa.select(schedule_ticks).where(schedule_ticks.c.dataset == dataset)
        if statuses is not None:
            query = query.where(schedule_ticks.c.status.in_(list(statuses)))
        with self.engine.connect() as con:
            rows = con.execute(query.order_by(schedule_ticks.c.tick)).mappings().all()
        return [
            TickRecord(r["dataset"], r["tick"], r["start"], r["end"], r["status"], r["run_id"])
            for r in rows
        ]

    def last_tick(self, dataset: str) -> datetime | None:
        """The newest tick with any row (baseline, claimed, done, failed or skipped)."""
        query = sa.select(sa.func.max(schedule_ticks.c.tick)).where(
            schedule_ticks.c.dataset == dataset
        )
        with self.engine.connect() as con:
            return con.execute(query).scalar()

    def pending(self) -> dict[str, list[TickRecord]]:
        """Every dataset's ticks still to run (claimed or failed), oldest first: one query."""
        query = sa.select(schedule_ticks).where(schedule_ticks.c.status.in_(PENDING))
        out: dict[str, list[TickRecord]] = {}
        with self.engine.connect() as con:
            for r in con.execute(query.order_by(schedule_ticks.c.tick)).mappings():
                out.setdefault(r["dataset"], []).append(
                    TickRecord(
                        r["dataset"], r["tick"], r["start"], r["end"], r["status"], r["run_id"]
                    )
                )
        return out

    def last_ticks(self) -> dict[str, tuple[datetime, str]]:
        """Every dataset's newest tick and its status (for `assay schedule --list`)."""
        newest = (
            sa.select(schedule_ticks.c.dataset, sa.func.max(schedule_ticks.c.tick).label("tick"))
            .group_by(schedule_ticks.c.dataset)
            .subquery()
        )
        query = sa.select(schedule_ticks.c.dataset, schedule_ticks.c.tick, schedule_ticks.c.status)
        query = query.join(
            newest,
            (newest.c.dataset == schedule_ticks.c.dataset)
            & (newest.c.tick == schedule_ticks.c.tick),
        )
        with self.engine.connect() as con:
            return {r[0]: (r[1], r[2]) for r in con.execute(query)}

    def claim(
        self,
        dataset: str,
        ticks: Iterable[tuple[datetime, datetime | None, str | None]],
        status: str = "claimed",
    ) -> None:
        """Write (tick, interval start, run id) rows with `status` in one transaction;
        a row that exists already is overwritten (a pending tick claimed again)."""
        rows = list(ticks)
        if not rows:
            return
        now = utcnow()
        values: list[dict[str, object]] = [
            {
                "dataset": dataset,
                "tick": tick,
                "start": start,
                "end": tick,
                "status": status,
                "run_id": run_id,
                "updated_at": now,
            }
            for tick, start, run_id in rows
        ]
        with self.engine.begin() as con:  # bulk: after long downtime, thousands are skipped
            for chunk in range(0, len(values), 500):
                some = [tick for tick, _, _ in rows[chunk : chunk + 500]]
                con.execute(
                    schedule_ticks.delete().where(
                        schedule_ticks.c.dataset == dataset, schedule_ticks.c.tick.in_(some)
                    )
                )
            con.execute(schedule_ticks.insert(), values)

    def finish(
        self, dataset: str, ticks: Iterable[datetime], status: str, run_id: str | None = None
    ) -> None:
        """Set the status (`done` or `failed`) of claimed ticks, in one transaction."""
        values: dict[str, object] = {"status": status, "updated_at": utcnow()}
        if run_id is not None:
            values["run_id"] = run_id
        with self.engine.begin() as con:
            con.execute(
                schedule_ticks.update()
                .where(schedule_ticks.c.dataset == dataset, schedule_ticks.c.tick.in_(list(ticks)))
                .values(**values)
            )

    def forget(self, dataset: str) -> None:
        """Drop a dataset's schedule history (its next start is a first start)."""
        with self.engine.begin() as con:
            con.execute(schedule_ticks.delete().where(schedule_ticks.c.dataset == dataset))
            con.execute(consumed_inputs.delete().where(consumed_inputs.c.dataset == dataset))

    # -- on_upstream ---------------------------------------------------------------------

    def consumed(self) -> dict[str, dict[str, int]]:
        """Every on_upstream dataset's input versions at the start of its last run."""
        with self.engine.connect() as con:
            rows = con.execute(sa.select(consumed_inputs)).mappings().all()
        return {r["dataset"]: json.loads(r["inputs"]) for r in rows}

    def set_consumed(self, dataset: str, inputs: Mapping[str, int]) -> None:
        with self.engine.begin() as con:
            con.execute(consumed_inputs.delete().where(consumed_inputs.c.dataset == dataset))
            con.execute(
                consumed_inputs.insert().values(
                    dataset=dataset, inputs=json.dumps(dict(inputs)), updated_at=utcnow()
                )
            )
