"""What each run's build of each dataset used: CPU, wall time, peak memory, bytes read and
written, files written and rows (table `assay_run_costs`, one row per run and dataset).

The runner measures (see `assay.cost.measure`); `assay cost` and the UI's cost page turn the
rows into money (see `assay.cost.model`). The table lives in the catalog's database but is
created here, on first use, like the alert tables.

Example:
    >>> from datetime import datetime
    >>> from assay.catalog import Catalog
    >>> cat = Catalog("sqlite://")
    >>> usage = RunUsage("r1", "silver.x", datetime(2026, 1, 1), "success", cpu_seconds=1.5,
    ...                  wall_seconds=2.0, bytes_written=4096, files_written=1, rows_written=10)
    >>> record_usage(cat, usage)
    >>> [(u.dataset, u.cpu_seconds, u.bytes_written) for u in usage_between(cat)]
    [('silver.x', 1.5, 4096)]
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass, fields
from datetime import datetime

import sqlalchemy as sa

from assay.catalog.store import Catalog, create_tables

_meta = sa.MetaData()

run_costs = sa.Table(
    "assay_run_costs",
    _meta,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("finished_at", sa.DateTime, nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("cpu_seconds", sa.Float, nullable=False),
    sa.Column("engine_cpu_seconds", sa.Float),
    sa.Column("wall_seconds", sa.Float, nullable=False),
    sa.Column("peak_memory_bytes", sa.BigInteger),
    sa.Column("memory_method", sa.String(20)),
    sa.Column("bytes_read", sa.BigInteger, nullable=False),
    sa.Column("bytes_written", sa.BigInteger, nullable=False),
    sa.Column("files_written", sa.Integer, nullable=False),
    sa.Column("rows_in", sa.BigInteger, nullable=False),
    sa.Column("rows_written", sa.BigInteger, nullable=False),
    sa.Column("rows_quarantined", sa.BigInteger, nullable=False),
)

#: Engines whose database already has the table (one CREATE check per process, not per run).
_created: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


@dataclass(frozen=True)
class RunUsage:
    """The resources one run used to build one dataset.

    Attributes:
        finished_at: when the build ended (naive UTC): the time the cost is counted at.
        cpu_seconds: CPU time of this process (all its threads) during the build.
        engine_cpu_seconds: CPU time of a separate engine process (Spark's local JVM)
            during the build; None when there is none or it cannot be read.
        wall_seconds: elapsed time of the build.
        peak_memory_bytes: this process's resident-memory high-water mark during the build
            (`memory_method` says how it was measured: `vmhwm` reset per dataset on Linux,
            `ru_maxrss` the process's peak so far elsewhere).
        bytes_read: sizes of the input tables' data files at the versions read (what a
            query engine bills as scanned; an upper bound when the engine prunes files by
            partition or statistics), or of the source files ingested.
        bytes_written, files_written: data files the build's commits added (the dataset's
            table and its quarantine table).
    """

    run_id: str
    dataset: str
    finished_at: datetime
    status: str
    cpu_seconds: float = 0.0
    engine_cpu_seconds: float | None = None
    wall_seconds: float = 0.0
    peak_memory_bytes: int | None = None
    memory_method: str | None = None
    bytes_read: int = 0
    bytes_written: int = 0
    files_written: int = 0
    rows_in: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0

    @property
    def total_cpu_seconds(self) -> float:
        """CPU seconds of this process plus the engine's."""
        return self.cpu_seconds + (self.engine_cpu_seconds or 0.0)


def _ready(catalog: Catalog) -> sa.Engine:
    engine = catalog.engine
    if engine not in _created:
        create_tables(engine, run_costs)
        _created.add(engine)
    return engine


def record_usage(catalog: Catalog, usage: RunUsage) -> None:
    """Store `usage` (a dataset built twice under one run id keeps the last build)."""
    engine = _ready(catalog)
    key = (run_costs.c.run_id == usage.run_id) & (run_costs.c.dataset == usage.dataset)
    with engine.begin() as con:
        con.execute(sa.delete(run_costs).where(key))
        con.execute(sa.insert(run_costs).values(**asdict(usage)))


def usage_between(
    catalog: Catalog,
    since: datetime | None = None,
    until: datetime | None = None,
    run_id: str | None = None,
) -> list[RunUsage]:
    """Stored usage finished in [since, until) (either end open when None), oldest first."""
    engine = _ready(catalog)
    c = run_costs.c
    query = sa.select(run_costs).order_by(c.finished_at, c.dataset)
    if since is not None:
        query = query.where(c.finished_at >= since)
    if until is not None:
        query = query.where(c.finished_at < until)
    if run_id is not None:
        query = query.where(c.run_id == run_id)
    names = [f.name for f in fields(RunUsage)]
    with engine.connect() as con:
        return [RunUsage(**{n: row[n] for n in names}) for row in con.execute(query).mappings()]
