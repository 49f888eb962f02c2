"""Decide what a dataset needs: which intervals are missing or stale, and why.

Staleness is read from the Delta logs, not guessed: the files an input added or removed
since the version an interval was built from carry min/max statistics of the time column,
which say exactly which time ranges changed (plus `lookback` intervals after them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.catalog import Catalog, IntervalRecord
from assay.catalog.sync import sync
from assay.catalog.verified import verified_inputs
from assay.errors import DefinitionError
from assay.intervals import Interval, describe, to_naive_utc, utcnow
from assay.pipelines.producers import Pending
from assay.pipelines.spec import DatasetSpec, Kind, time_column_hint
from assay.tables import Warehouse
from assay.tables.commitmeta import DatasetState

if TYPE_CHECKING:
    from assay.runtime import Runtime

#: A changed time range, or None meaning "unknown: treat everything as changed".
ChangedRanges = list[tuple[datetime, datetime]] | None


#: More missing intervals than this and `plan` says how wide the data's range is.
MANY_INTERVALS = 5_000


@dataclass
class Work:
    """What running a dataset would do, and the reasons, for `assay plan` and the runner."""

    dataset: str
    needed: bool
    reasons: list[str] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)
    missing: list[Interval] = field(default_factory=list)
    stale: list[Interval] = field(default_factory=list)
    #: The table is rewritten whole (a source's declaration changed).
    replace_table: bool = False


class Planner:
    """Computes `Work` for datasets from the warehouse and the (synced) catalog.

    Example:
        >>> import tempfile
        >>> planner = Planner(Warehouse(tempfile.mkdtemp()), Catalog("sqlite://"))
        >>> planner.plan_all([])
        []
    """

    def __init__(
        self,
        warehouse: Warehouse,
        catalog: Catalog,
        time_columns: Mapping[str, str | None] | None = None,
        root: str = ".",
    ):
        self.warehouse = warehouse
        self.catalog = catalog
        #: Each dataset's declared time column: an input's changes are located on its own
        #: time column (falling back to a column named like the consumer's).
        self.time_columns = dict(time_columns or {})
        #: The project folder, where file sources' globs are resolved.
        self.root = root
        self._changed_cache: dict[tuple[str, str, int], ChangedRanges] = {}
        self._maintenance_cache: dict[tuple[str, int, int], bool] = {}

    @classmethod
    def for_runtime(cls, rt: Runtime) -> Planner:
        """The planner of a project's runtime (its warehouse, catalog and folder)."""
        return cls(rt.warehouse, rt.catalog, rt.dag.time_columns(), str(rt.root))

    def state(self, spec: DatasetSpec) -> DatasetState:
        """The dataset's state from its Delta log (synced into the catalog first), with the
        files it has ingested (producers that track files), read once for both planning
        and producing."""
        state = sync(self.catalog, self.warehouse, spec.name)
        if not spec.producer.tracks_files:
            return state
        return state.with_ingested(self.catalog.ingested_files(spec.name))

    def work(
        self,
        spec: DatasetSpec,
        state: DatasetState,
        full_refresh: bool = False,
        window: tuple[datetime, datetime] | None = None,
        force: bool = False,
    ) -> Work:
        """What `spec` needs now, and why: what its producer has pending (sources), else
        its missing and stale intervals (incremental) or whether its code or inputs
        changed. `force`: every interval in the window is rebuilt (a restatement)."""
        return self._work(spec, state, full_refresh, window, force)[0]

    def _work(
        self,
        spec: DatasetSpec,
        state: DatasetState,
        full_refresh: bool,
        window: tuple[datetime, datetime] | None = None,
        force: bool = False,
    ) -> tuple[Work, Pending | None]:
        pending = spec.producer.pending(state, spec, self.root, full_refresh)
        if pending is not None:
            work = Work(spec.name, pending.needed, list(pending.reasons))
            work.replace_table = pending.replace_table
            return work, pending
        if spec.kind is Kind.INCREMENTAL:
            return self.interval_work(spec, full_refresh, window, force), None
        return self.table_work(spec, state, full_refresh), None

    def plan_all(self, specs: Iterable[DatasetSpec], full_refresh: bool = False) -> list[Work]:
        """What a run of `specs` (in dependency order) would do, and why, nothing written.

        A dataset whose input will change in the run is needed too ("upstream will
        change"): a full or merge table is rebuilt, an incremental one re-checks its
        intervals once that input has run. Sources that only know whether their data
        changed once they run (Python, database, streams) say so and change nothing below.
        """
        out: list[Work] = []
        changing: set[str] = set()
        for spec in specs:
            work, pending = self._work(spec, self.state(spec), full_refresh)
            if pending is not None and pending.unforeseen:
                work.reasons = [pending.unforeseen]
                out.append(work)
                continue
            upstream = [i for i in spec.inputs if i in changing]
            if upstream and (not work.needed or spec.kind is not Kind.INCREMENTAL):
                work.reasons = [r for r in work.reasons if not r.startswith("new data")]
                work.reasons.append(f"upstream will change: {', '.join(upstream)}")
                work.needed = True
            elif upstream:
                work.reasons.append(
                    f"upstream will change: {', '.join(upstream)} "
                    "(its changed intervals are re-checked after it runs)"
                )
            if work.needed:
                changing.add(spec.name)
            out.append(work)
        return out

    def input_versions(self, spec: DatasetSpec) -> dict[str, int]:
        return {name: v for name in spec.inputs if (v := self.warehouse.version(name)) is not None}

    def table_work(self, spec: DatasetSpec, state: DatasetState, full_refresh: bool) -> Work:
        """Work for full and merge transforms: rebuild when code or inputs changed."""
        work = Work(spec.name, needed=False)
        if full_refresh:
            work.reasons.append("full refresh requested")
        elif not self.warehouse.exists(spec.name):
            work.reasons.append("never built")
        elif state.fingerprint != spec.fingerprint:
            work.reasons.append("code changed")
        else:
            recorded = self._checked_inputs(spec, state)
            for name, version in self.input_versions(spec).items():
                if recorded.get(name) != version and not self._maintenance(
                    name, recorded.get(name), version
                ):
                    work.reasons.append(f"new data in {name} (v{recorded.get(name)} -> v{version})")
            missing_inputs = [n for n in spec.inputs if not self.warehouse.exists(n)]
            if missing_inputs:
                work.reasons.append(f"inputs not built yet: {', '.join(missing_inputs)}")
        work.needed = bool(work.reasons)
        return work

    def _checked_inputs(self, spec: DatasetSpec, state: DatasetState) -> Mapping[str, int]:
        """The input versions the table is known to reflect: its last commit's, or newer
        ones a later rebuild read and found the content unchanged (`catalog/verified.py`)."""
        version = self.warehouse.version(spec.name)
        if version is None:
            return state.inputs
        checked = verified_inputs(
            self.catalog, spec.name, spec.fingerprint, state.content_hash, version
        )
        return state.inputs if checked is None else checked

    def interval_work(
        self,
        spec: DatasetSpec,
        full_refresh: bool,
        window: tuple[datetime, datetime] | None = None,
        force: bool = False,
    ) -> Work:
        """Work for an incremental dataset: missing and stale intervals within `window`
        (default: the range of its driving input's data); all of them when `force`."""
        work = Work(spec.name, needed=False)
        wanted = spec.grain.span(*window) if window else self.universe(spec)
        done = self.catalog.done_intervals(spec.name, spec.fingerprint)
        if full_refresh or force:
            done = []
        done_by_interval = {rec.interval: rec for rec in done}
        work.missing = [i for i in wanted if i not in done_by_interval]
        wanted_set, versions = set(wanted), self.input_versions(spec)
        work.stale = sorted(
            rec.interval
            for rec in done
            if rec.interval in wanted_set and self._is_stale(spec, rec, versions)
        )
        work.intervals = sorted(set(work.missing) | set(work.stale))
        rebuilt = [] if full_refresh or force else self._built_by_other_code(spec, work.missing)
        if full_refresh or force:
            what = "full refresh requested" if full_refresh else "restated"
            work.reasons.append(f"{what}: {len(work.intervals)} interval(s) rebuilt")
        if rebuilt:
            work.reasons.append(
                f"changed code: {len(rebuilt)} interval(s) built by earlier code will be "
                f"rebuilt ({describe(rebuilt)})"
            )
        if len(work.missing) > len(rebuilt) and not (full_refresh or force):
            work.reasons.append(f"{len(work.missing) - len(rebuilt)} missing interval(s)")
        if len(work.missing) > MANY_INTERVALS:
            work.reasons.append(
                f"the data spans {describe(work.missing)} ({len(work.missing)} "
                f"{spec.grain.value} intervals): if an outlier time made the range this wide, "
                "fix that row, or bound the dataset with `start:` or a coarser grain"
            )
        if work.stale:
            work.reasons.append(f"{len(work.stale)} stale interval(s): upstream changed")
        work.needed = bool(work.intervals)
        return work

    def _built_by_other_code(self, spec: DatasetSpec, wanted: list[Interval]) -> list[Interval]:
        """The wanted intervals that are done under another fingerprint (changed code)."""
        if not wanted:
            return []
        earlier = self.catalog.intervals_of_other_code(spec.name, spec.fingerprint)
        return [i for i in wanted if i in earlier]

    def universe(self, spec: DatasetSpec) -> list[Interval]:
        """All intervals from `start` (or the driving input's first event) to its last event.

        When every input is built and none carries a time column (a dimension table, a
        full dbt model), the inputs give no range: the intervals run from the dataset's
        `start` through the current one (`no_time_bounds`); without `start`, it is refused.
        """
        bounds = self.data_bounds(spec)
        if bounds is None:
            # An input not built yet is built first in the run; its data decides then.
            built = all(self.warehouse.exists(name) for name in spec.inputs)
            return self._from_start(spec) if built and self._no_time_bounds(spec) else []
        low, high = bounds
        # Both bounds are rows' times: the interval holding the newest row is included
        # (a DATE column's newest day is a midnight, the start of its own interval).
        return spec.grain.covering(spec.start or low, high)

    def _no_time_bounds(self, spec: DatasetSpec) -> bool:
        """Whether no input places its rows in time: none has a time column with file
        statistics (an input that has one but holds no rows gives an empty range)."""
        for name in spec.inputs:
            column = self._time_column_of(name, spec.time_column or "")
            if column is not None and self._file_stats(name, column, None) is not None:
                return False
        return True

    def _from_start(self, spec: DatasetSpec) -> list[Interval]:
        """Intervals from `start` through the one holding the current time.

        The current, still open interval is included, as for an input's newest row:
        the output is a function of inputs without time, every interval of which is
        rebuilt whenever such an input changes (`_is_stale`), so a partial interval
        never stays stale.
        """
        if spec.start is None:
            raise DefinitionError(
                f"incremental dataset {spec.name} has no range to build: none of its "
                f"inputs ({', '.join(spec.inputs) or 'none'}) has a time column",
                where=spec.where,
                hint="declare `start:` on the dataset (its intervals then run from there "
                "to now), or give an input a time column",
            )
        return spec.grain.covering(spec.start, utcnow())

    def data_bounds(self, spec: DatasetSpec) -> tuple[datetime, datetime] | None:
        """Min and max event time of the first input that has the time column."""
        for name in spec.inputs:
            if not self.warehouse.exists(name):
                continue
            column = self._time_column_of(name, spec.time_column or "")
            if column is None:
                continue
            self._check_time_type(spec, name, column)
            stats = self._file_stats(name, column, None)
            if stats is None:
                return None
            lows = [lo for lo, _ in stats.values() if lo is not None]
            highs = [hi for _, hi in stats.values() if hi is not None]
            return (min(lows), max(highs)) if lows else None
        return None

    def _check_time_type(self, spec: DatasetSpec, name: str, column: str) -> None:
        """Intervals are calendar time: refuse a year held as a number, naming what to do."""
        kind = self.warehouse.schema(name).field(column).type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            return
        raise DefinitionError(
            f"time column {column!r} of {name} is {kind}, not a DATE or TIMESTAMP",
            where=spec.where,
            hint=time_column_hint(column),
        )

    def _time_column_of(self, name: str, consumer_column: str) -> str | None:
        """The column of input `name` that places its rows in the consumer's intervals:
        the consumer's own time column when the input has it (the rows it filters on),
        else the input's declared time column."""
        schema = self.warehouse.schema(name)
        for column in (consumer_column, self.time_columns.get(name)):
            if column and column in schema.names:
                return column
        return None

    def _is_stale(
        self, spec: DatasetSpec, record: IntervalRecord, versions: Mapping[str, int]
    ) -> bool:
        reach = spec.grain.shift(record.interval.start, -spec.lookback)
        for name, version in versions.items():
            recorded = record.inputs.get(name)
            if recorded == version:
                continue
            if recorded is None:
                return True
            if self._maintenance(name, recorded, version):
                continue
            changed = self.changed_ranges(name, spec.time_column or "", recorded)
            if changed is None:
                return True
            if any(Interval(reach, record.interval.end).overlaps(lo, hi) for lo, hi in changed):
                return True
        return False

    def _maintenance(self, name: str, since: int | None, until: int) -> bool:
        """Whether `name` only lost rows to retention or erasure between the two versions:
        no new data to read, so what was built from it stays (it has its own retention)."""
        if since is None:
            return False
        key = (name, since, until)
        if key not in self._maintenance_cache:
            self._maintenance_cache[key] = self.warehouse.maintenance_only(name, since, until)
        return self._maintenance_cache[key]

    def changed_ranges(self, name: str, column: str, since: int) -> ChangedRanges:
        """Time ranges of rows `name` added or removed after version `since`."""
        key = (name, column, since)
        if key not in self._changed_cache:
            self._changed_cache[key] = self._compute_changed(name, column, since)
        return self._changed_cache[key]

    def _compute_changed(self, name: str, fallback: str, since: int) -> ChangedRanges:
        column = self._time_column_of(name, fallback)
        if column is None:
            return None
        ranges: list[tuple[datetime, datetime]] = []
        runs = self._data_commit_runs(name, since)
        if runs is None:
            return None
        # Maintenance commits (retention, erasure, optimize's compaction) rewrite files
        # without new data: only the files the runs of data commits between them added or
        # removed tell which time ranges changed.
        for first, last in runs:
            try:
                before = self._file_stats(name, column, first - 1)
            except Exception:  # an old version that cannot be loaded any more
                return None
            now = self._file_stats(name, column, last)
            if before is None or now is None:
                return None
            for path in set(before) ^ set(now):
                lo, hi = before.get(path) or now[path]
                if lo is None and hi is None:
                    continue  # a file with no rows in the column: nothing changed there
                if lo is None or hi is None:
                    return None
                ranges.append((lo, hi))
        return ranges

    def _data_commit_runs(self, name: str, since: int) -> list[tuple[int, int]] | None:
        """The commits of `name` after version `since` that are not maintenance, as runs
        of consecutive versions (first, last); None when the log cannot tell: the table
        is gone or was recreated (its newest version is below `since`), or commits after
        `since` were cleaned from the log (a data commit among them would be missed)."""
        latest = self.warehouse.version(name)
        if latest is None or latest < since:
            return None
        if latest == since:
            return []
        commits = self.warehouse.history(name, limit=latest - since)
        if {c.version for c in commits} != set(range(since + 1, latest + 1)):
            return None
        data = sorted(c.version for c in commits if c.version > since and not c.meta.maintenance)
        runs: list[tuple[int, int]] = []
        for version in data:
            if runs and runs[-1][1] == version - 1:
                runs[-1] = (runs[-1][0], version)
            else:
                runs.append((version, version))
        return runs

    def _file_stats(
        self, name: str, column: str, version: int | None
    ) -> dict[str, tuple[datetime | None, datetime | None]] | None:
        actions = self.warehouse.file_actions(name, version)
        cols = set(actions.column_names)
        for lo_col, hi_col in (
            (f"min.{column}", f"max.{column}"),
            (f"partition.{column}", f"partition.{column}"),
        ):
            if lo_col in cols and hi_col in cols:
                return {
                    path: (_as_dt(lo), _as_dt(hi))
                    for path, lo, hi in zip(
                        actions["path"].to_pylist(),
                        actions[lo_col].to_pylist(),
                        actions[hi_col].to_pylist(),
                        strict=True,
                    )
                }
        return None if actions.num_rows else {}


def _as_dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        raise DefinitionError(
            f"time value {value!r} is a number, not a date or timestamp",
            hint=time_column_hint("year"),
        )
    if isinstance(value, str):
        try:
            return to_naive_utc(datetime.fromisoformat(value))
        except ValueError:
            raise DefinitionError(
                f"time value {value!r} is text, not a timestamp",
                hint="give the input's time column a TIMESTAMP type, e.g. "
                "columns={'event_time': 'TIMESTAMP'} on an assay.files source",
            ) from None
    return to_naive_utc(value)
