"""The runner's one hook: measure a dataset's build and store what it used.

`BuildMeter.begin` before the build (it notes the versions of the tables the build may
write), `read(...)` when the inputs are pinned, `finish(...)` after the build; what the
commits wrote comes from their add actions in the Delta log. A measurement that fails is
logged and never fails the run.

Example:
    >>> import tempfile
    >>> from assay.catalog import Catalog
    >>> from assay.catalog.run_costs import usage_between
    >>> from assay.tables.delta import Warehouse
    >>> cat, wh = Catalog("sqlite://"), Warehouse(tempfile.mkdtemp())
    >>> meter = BuildMeter.begin(wh, ["silver.x"])
    >>> meter.finish(cat, "r1", "silver.x", "up_to_date", rows=(0, 0, 0))
    >>> [(u.dataset, u.bytes_written) for u in usage_between(cat)]
    [('silver.x', 0)]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from assay.catalog.run_costs import RunUsage, record_usage
from assay.catalog.store import Catalog
from assay.cost.measure import Meter, bytes_at, commits_written, latest_version
from assay.intervals import utcnow
from assay.tables.delta import Warehouse

log = logging.getLogger(__name__)


@dataclass
class BuildMeter:
    """Measures one dataset's build (see the module docstring)."""

    warehouse: Warehouse
    meter: Meter
    #: Tables the build may commit to -> their version before it (None: did not exist).
    before: dict[str, int | None]
    #: Input tables -> the versions the build read (empty until `read` is called).
    inputs: dict[str, int | None] = field(default_factory=dict)
    #: Bytes read from outside the warehouse (a stream's records as Arrow holds them).
    outside_bytes: int = 0

    @classmethod
    def begin(
        cls, warehouse: Warehouse, written: Sequence[str], on_spark: bool = False
    ) -> BuildMeter:
        """Start measuring a build that may commit to the tables `written` (`on_spark`:
        it runs on the Spark engine, whose JVM's CPU counts too)."""
        try:
            before = {name: latest_version(warehouse, name) for name in written}
        except Exception:  # an unreadable log is the build's to report, not the meter's
            log.exception("versions of %s before the build not read", ", ".join(written))
            before = {}
        return cls(warehouse, Meter.start(on_spark), before)

    def read(self, versions: Mapping[str, int | None]) -> None:
        """The build reads these input tables at these versions."""
        self.inputs = dict(versions)

    def read_bytes(self, size: int) -> None:
        """The build read `size` bytes from outside the warehouse (a stream's micro-batch)."""
        self.outside_bytes += size

    def finish(
        self,
        catalog: Catalog,
        run_id: str,
        dataset: str,
        status: str,
        rows: tuple[int, int, int],
    ) -> None:
        """Store what the build used; `rows` is (in, written, quarantined)."""
        usage = self.measure(run_id, dataset, status, rows)
        if usage is None:
            return
        try:
            record_usage(catalog, usage)
        except Exception:  # cost accounting must never fail a run whose data is committed
            log.exception("resource use of %s in run %s not recorded", dataset, run_id)

    def measure(
        self, run_id: str, dataset: str, status: str, rows: tuple[int, int, int]
    ) -> RunUsage | None:
        """What the build used since `begin` (None, logged, when the log cannot tell)."""
        took = self.meter.stop()
        try:
            written = [commits_written(self.warehouse, t, v) for t, v in self.before.items()]
            read = bytes_at(self.warehouse, self.inputs.items())
            return RunUsage(
                run_id=run_id,
                dataset=dataset,
                finished_at=utcnow(),
                status=status,
                cpu_seconds=took.cpu_seconds,
                engine_cpu_seconds=took.engine_cpu_seconds,
                wall_seconds=took.wall_seconds,
                peak_memory_bytes=took.peak_memory_bytes,
                memory_method=took.memory_method,
                # A source reads files, not tables: what its commits say they ingested.
                bytes_read=read + self.outside_bytes + sum(w.ingested_bytes for w in written),
                bytes_written=sum(w.bytes for w in written),
                files_written=sum(w.files for w in written),
                rows_in=rows[0],
                rows_written=rows[1],
                rows_quarantined=rows[2],
            )
        except Exception:  # cost accounting must never fail a run whose data is committed
            log.exception("resource use of %s in run %s not measured", dataset, run_id)
            return None


def add_usage(total: RunUsage | None, more: RunUsage) -> RunUsage:
    """Two stretches of one dataset's work as one (a stream's micro-batches): sums, the
    higher peak, and the later finish.

    Example:
        >>> from datetime import datetime
        >>> a = RunUsage("s", "bronze.e", datetime(2026, 1, 1, 9), "success", cpu_seconds=1.0,
        ...              peak_memory_bytes=5, rows_written=10)
        >>> b = RunUsage("s", "bronze.e", datetime(2026, 1, 1, 9, 5), "success",
        ...              cpu_seconds=0.5, peak_memory_bytes=7, rows_written=3)
        >>> both = add_usage(add_usage(None, a), b)
        >>> both.cpu_seconds, both.peak_memory_bytes, both.rows_written, both.finished_at.minute
        (1.5, 7, 13, 5)
    """
    if total is None:
        return more
    peaks = [p for p in (total.peak_memory_bytes, more.peak_memory_bytes) if p is not None]
    engine = [e for e in (total.engine_cpu_seconds, more.engine_cpu_seconds) if e is not None]
    return replace(
        more,
        cpu_seconds=total.cpu_seconds + more.cpu_seconds,
        engine_cpu_seconds=sum(engine) if engine else None,
        wall_seconds=total.wall_seconds + more.wall_seconds,
        peak_memory_bytes=max(peaks) if peaks else None,
        bytes_read=total.bytes_read + more.bytes_read,
        bytes_written=total.bytes_written + more.bytes_written,
        files_written=total.files_written + more.files_written,
        rows_in=total.rows_in + more.rows_in,
        rows_written=total.rows_written + more.rows_written,
        rows_quarantined=total.rows_quarantined + more.rows_quarantined,
    )
