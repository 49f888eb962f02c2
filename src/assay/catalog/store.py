"""The catalog's tables and queries, over SQLite (default) or PostgreSQL by URL.

The catalog is a fast index of what the Delta logs already say (intervals done, files
ingested, cursors) plus the run records only it keeps (durations, errors, row counts).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from assay.errors import ProjectError
from assay.intervals import Interval, utcnow
from assay.tables.commitmeta import DatasetState, FileStamp
from assay.tables.errors import DiskFullError

metadata = sa.MetaData()

runs = sa.Table(
    "assay_runs",
    metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("command", sa.String(200), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.String(20), nullable=False),
)

dataset_runs = sa.Table(
    "assay_dataset_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(40), nullable=False, index=True),
    sa.Column("dataset", sa.String(200), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("rows_in", sa.BigInteger),
    sa.Column("rows_written", sa.BigInteger),
    sa.Column("rows_quarantined", sa.BigInteger),
    sa.Column("version", sa.Integer),
    sa.Column("fingerprint", sa.String(40)),
    sa.Column("error", sa.Text),
)

intervals = sa.Table(
    "assay_intervals",
    metadata,
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(40), primary_key=True),
    sa.Column("start", sa.DateTime, primary_key=True),
    sa.Column("end", sa.DateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(40)),
)

ingested_files = sa.Table(
    "assay_ingested_files",
    metadata,
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("path", sa.String(1000), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

sync_state = sa.Table(
    "assay_sync_state",
    metadata,
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
)

#: Input versions a full rebuild read without changing its table (`catalog/verified.py`).
verified_inputs = sa.Table(
    "assay_verified_inputs",
    metadata,
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(40), nullable=False),
    sa.Column("content_hash", sa.Text, nullable=False),
    #: The table's version when the rebuild found its content unchanged.
    sa.Column("version", sa.Integer, nullable=False),
    #: JSON: input name -> the Delta version the rebuild read.
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("checked_at", sa.DateTime, nullable=False),
)


@dataclass(frozen=True)
class IntervalRecord:
    """One done interval: written at `version` from these input versions."""

    interval: Interval
    fingerprint: str
    version: int
    inputs: Mapping[str, int]


@dataclass(frozen=True)
class DatasetRun:
    """The outcome of one dataset within one run, as `assay status` shows it."""

    run_id: str
    dataset: str
    status: str
    reason: str | None
    started_at: datetime
    finished_at: datetime | None
    rows_in: int | None
    rows_written: int | None
    rows_quarantined: int | None
    version: int | None
    error: str | None


#: SQLite result codes (sqlite3 exceptions carry them as `sqlite_errorcode`).
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 11, 13, 26
#: A write the OS refused (a file-size limit, or a full disk the OS reports that way).
_SQLITE_IOERR_WRITE = 778


class Catalog:
    """Reads and writes assay's metadata through one SQLAlchemy engine.

    Example:
        >>> cat = Catalog("sqlite://")
        >>> cat.done_intervals("silver.x", "abc")
        []
    """

    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = sa.create_engine(url, future=True)
            sa.event.listen(self.engine, "handle_error", self._explain_sqlite_error)
            create_tables(self.engine, metadata)
        except ModuleNotFoundError as exc:
            raise ProjectError(
                f"the catalog driver is missing: {exc.name}",
                hint="pip install 'assay[postgres]' for PostgreSQL URLs",
            ) from exc
        except sa.exc.OperationalError as exc:
            raise ProjectError(
                f"cannot open the catalog at {sa.make_url(url).render_as_string()}: {exc.orig}",
                hint="check the `catalog:` URL in assay.yaml and that the database is up",
            ) from exc

    def _explain_sqlite_error(self, context: sa.engine.ExceptionContext) -> None:
        """A damaged SQLite file or a full disk, on any statement: one error that says what
        to do, not a driver traceback (other errors pass through unchanged)."""
        code = getattr(context.original_exception, "sqlite_errorcode", None)
        if code is None:
            return
        path = sa.make_url(self.url).database or self.url
        if code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            raise ProjectError(
                f"catalog database {path} is damaged ({context.original_exception})",
                hint="delete it and re-run; assay rebuilds it from the Delta logs "
                "(intervals done, files ingested; the run history is lost)",
            )
        if code & 0xFF == _SQLITE_FULL or code == _SQLITE_IOERR_WRITE:
            raise DiskFullError(
                f"catalog database {path}",
                str(context.original_exception),
                "its transaction was rolled back (the next run catches up from the Delta logs)",
            )

    # -- runs ---------------------------------------------------------------------------

    def start_run(self, run_id: str, command: str) -> None:
        with self.engine.begin() as con:
            con.execute(
                runs.insert().values(
                    run_id=run_id, command=command[:200], started_at=utcnow(), status="running"
                )
            )

    def finish_run(self, run_id: str, status: str) -> None:
        with self.engine.begin() as con:
            con.execute(
                runs.update()
                .where(runs.c.run_id == run_id)
                .values(finished_at=utcnow(), status=status)
            )

    def record_dataset_run(self, **values: Any) -> None:
        with self.engine.begin() as con:
            con.execute(dataset_runs.insert().values(**values))

    def last_dataset_runs(self) -> dict[str, DatasetRun]:
        """The latest run record of each dataset that did work or failed."""
        query = (
            sa.select(dataset_runs)
            .where(dataset_runs.c.status.in_(["success", "failed"]))
            .order_by(dataset_runs.c.id)
        )
        latest: dict[str, DatasetRun] = {}
        with self.engine.connect() as con:
            for row in con.execute(query).mappings():
                latest[row["dataset"]] = DatasetRun(
                    **{k: row[k] for k in DatasetRun.__dataclass_fields__}
                )
        return latest

    def recent_failures(self, limit_per_dataset: int = 3) -> list[DatasetRun]:
        """The newest failed dataset runs, at most `limit_per_dataset` each, newest first."""
        query = (
            sa.select(dataset_runs)
            .where(dataset_runs.c.status == "failed")
            .order_by(dataset_runs.c.id.desc())
        )
        kept: dict[str, int] = {}
        found: list[DatasetRun] = []
        with self.engine.connect() as con:
            for row in con.execute(query).mappings():
                if kept.get(row["dataset"], 0) < limit_per_dataset:
                    kept[row["dataset"]] = kept.get(row["dataset"], 0) + 1
                    found.append(DatasetRun(**{k: row[k] for k in DatasetRun.__dataclass_fields__}))
        return found

    def run_records(self, run_id: str) -> list[DatasetRun]:
        query = (
            sa.select(dataset_runs)
            .where(dataset_runs.c.run_id == run_id)
            .order_by(dataset_runs.c.id)
        )
        with self.engine.connect() as con:
            return [
                DatasetRun(**{k: row[k] for k in DatasetRun.__dataclass_fields__})
                for row in con.execute(query).mappings()
            ]

    # -- intervals ----------------------------------------------------------------------

    def done_intervals(self, dataset: str, fingerprint: str) -> list[IntervalRecord]:
        query = (
            sa.select(intervals)
            .where(intervals.c.dataset == dataset, intervals.c.fingerprint == fingerprint)
            .order_by(intervals.c.start)
        )
        with self.engine.connect() as con:
            return [
                IntervalRecord(
                    Interval(r["start"], r["end"]),
                    r["fingerprint"],
                    r["version"],
                    json.loads(r["inputs"]),
                )
                for r in con.execute(query).mappings()
            ]

    def intervals_of_other_code(self, dataset: str, fingerprint: str) -> set[Interval]:
        """Intervals done by code other than `fingerprint` (what changed code rebuilds)."""
        query = sa.select(intervals.c.start, intervals.c.end).where(
            intervals.c.dataset == dataset, intervals.c.fingerprint != fingerprint
        )
        with self.engine.connect() as con:
            return {Interval(r.start, r.end) for r in con.execute(query)}

    def upsert_intervals(
        self,
        con: sa.Connection,
        dataset: str,
        records: Iterable[IntervalRecord],
        run_id: str | None,
    ) -> None:
        # In bulk: a backfill marks thousands of intervals at once (one statement per
        # interval took ~2 ms each).
        by_fingerprint: dict[str, list[IntervalRecord]] = {}
        for rec in records:
            by_fingerprint.setdefault(rec.fingerprint, []).append(rec)
        for fingerprint, recs in by_fingerprint.items():
            starts = [rec.interval.start for rec in recs]
            for chunk in range(0, len(starts), 500):
                con.execute(
                    intervals.delete().where(
                        intervals.c.dataset == dataset,
                        intervals.c.fingerprint == fingerprint,
                        intervals.c.start.in_(starts[chunk : chunk + 500]),
                    )
                )
            con.execute(
                intervals.insert(),
                [
                    {
                        "dataset": dataset,
                        "fingerprint": fingerprint,
                        "start": rec.interval.start,
                        "end": rec.interval.end,
                        "version": rec.version,
                        "inputs": json.dumps(dict(rec.inputs)),
                        "run_id": run_id,
                    }
                    for rec in recs
                ],
            )

    # -- ingested files -----------------------------------------------------------------

    def ingested_files(self, dataset: str) -> dict[str, tuple[int, int]]:
        """Files already ingested into `dataset`: path -> (size, mtime_ns)."""
        query = sa.select(ingested_files).where(ingested_files.c.dataset == dataset)
        with self.engine.connect() as con:
            return {r["path"]: (r["size"], r["mtime_ns"]) for r in con.execute(query).mappings()}

    def add_ingested_files(
        self, con: sa.Connection, dataset: str, files: Iterable[FileStamp], version: int
    ) -> None:
        for f in files:
            con.execute(
                ingested_files.delete().where(
                    ingested_files.c.dataset == dataset, ingested_files.c.path == f.path
                )
            )
            con.execute(
                ingested_files.insert().values(
                    dataset=dataset, path=f.path, size=f.size, mtime_ns=f.mtime_ns, version=version
                )
            )

    # -- sync state ---------------------------------------------------------------------

    def sync_point(self, dataset: str) -> tuple[int, DatasetState]:
        """The last Delta version folded into the catalog (-1: none) and its state."""
        query = sa.select(sync_state).where(sync_state.c.dataset == dataset)
        with self.engine.connect() as con:
            row = con.execute(query).mappings().first()
        if not row:
            return -1, DatasetState()
        return row["version"], DatasetState.from_json(json.loads(row["state"]))

    def set_sync_point(
        self, con: sa.Connection, dataset: str, version: int, state: DatasetState
    ) -> None:
        con.execute(sync_state.delete().where(sync_state.c.dataset == dataset))
        con.execute(
            sync_state.insert().values(
                dataset=dataset, version=version, state=json.dumps(state.to_json(), default=str)
            )
        )

    def reset_dataset(self, con: sa.Connection, dataset: str, before: int | None = None) -> None:
        """Forget everything derived from `dataset`'s Delta log (before a resync).

        With `before` (the version of a commit that replaced the table), intervals marked
        done at that version or later are kept: an empty batch of the same run marks its
        intervals done in the ledger only, after the replacing commit.
        """
        for table in (intervals, ingested_files, sync_state, verified_inputs):
            where = table.c.dataset == dataset
            if before is not None and table is intervals:
                where = sa.and_(where, table.c.version < before)
            con.execute(table.delete().where(where))


check_results = sa.Table(
    "assay_check_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(40), nullable=False, index=True),
    sa.Column("dataset", sa.String(200), nullable=False, index=True),
    sa.Column("rule", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("observed", sa.Float),
    sa.Column("expected", sa.String(300)),
    sa.Column("detail", sa.Text),
    sa.Column("measured_at", sa.DateTime, nullable=False),
)

metrics = sa.Table(
    "assay_metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(40), nullable=False, index=True),
    sa.Column("dataset", sa.String(200), nullable=False, index=True),
    sa.Column("metric", sa.String(300), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("measured_at", sa.DateTime, nullable=False, index=True),
)


def create_tables(engine: sa.Engine, *tables: sa.Table | sa.MetaData, attempts: int = 3) -> None:
    """Create `tables` (or every table of a MetaData) in the catalog's database when
    missing. Two processes opening a fresh catalog at once both see a table missing and
    one CREATE fails ("already exists"): look again rather than fail.

    Example:
        >>> engine = sa.create_engine("sqlite://")
        >>> create_tables(engine, metadata)
        >>> "assay_runs" in sa.inspect(engine).get_table_names()
        True
    """
    for attempt in range(attempts):
        try:
            for table in tables:
                if isinstance(table, sa.MetaData):
                    table.create_all(engine, checkfirst=True)
                else:
                    table.create(engine, checkfirst=True)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def record_checks(
    catalog: Catalog,
    run_id: str,
    results: Iterable[Any],
    measured: Mapping[str, float | None],
    at: datetime | None = None,
) -> None:
    """Store rule results and batch metrics of one dataset's batch."""
    at = at or utcnow()
    rows = [
        {
            "run_id": run_id,
            "dataset": r.dataset,
            "rule": r.rule[:300],
            "kind": r.kind,
            "severity": r.severity,
            "status": r.status,
            "observed": r.observed,
            "expected": (r.expected or "")[:300],
            "detail": r.detail,
            "measured_at": at,
        }
        for r in results
    ]
    with catalog.engine.begin() as con:
        if rows:
            con.execute(check_results.insert(), rows)
        dataset = rows[0]["dataset"] if rows else None
        values = [
            {
                "run_id": run_id,
                "dataset": dataset,
                "metric": name,
                "value": value,
                "measured_at": at,
            }
            for name, value in measured.items()
        ]
        if values and dataset:
            con.execute(metrics.insert(), values)


def metric_history(
    catalog: Catalog, dataset: str, metric: str, limit: int = 60
) -> list[tuple[datetime, float]]:
    """The newest `limit` values of one metric, oldest first."""
    query = (
        sa.select(metrics.c.measured_at, metrics.c.value)
        .where(
            metrics.c.dataset == dataset, metrics.c.metric == metric, metrics.c.value.is_not(None)
        )
        .order_by(metrics.c.measured_at.desc(), metrics.c.id.desc())
        .limit(limit)
    )
    with catalog.engine.connect() as con:
        return [(r[0], float(r[1])) for r in con.execute(query)][::-1]
