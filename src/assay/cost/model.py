"""The cost model: measured work and stored bytes, at `cost:` prices, attributed to groups.

Money per dataset build = CPU seconds / 3600 * `cpu_hour` + bytes read / 1e9 *
`gb_scanned` (CPU counts the engine's JVM too when it was measured). Storage = bytes on disk
/ 1e9 * `gb_month`, prorated over the part of the window the table existed (a month is
365.25 / 12 days): a table created inside the window (its Delta version 0, per the log) is
charged from its creation, and a window that ended before it was created is charged
nothing for it, so a new table's trend is "new". Storage history is not kept beyond that:
the bytes charged are today's bytes, over every day the table existed in either window, so
a table that grew or shrank since is charged its current size throughout (a storage trend
shows creation and the windows' lengths, not growth). A table whose version 0 is no longer
in its log (older than the log's retention) is charged as existing before both windows.

Groups: `dataset`, `owner` (the dataset's `owner=`), `tag` (the team of a `team=` tag,
`tags={"team": "risk"}`) and `layer` (bronze, silver, gold, quarantine...). Every dataset
belongs to exactly one group of each kind, so the groups of any kind sum to the same total.

Example:
    >>> from datetime import datetime
    >>> from assay.catalog.run_costs import RunUsage
    >>> from assay.config import CostSettings
    >>> prices = CostSettings(cpu_hour=3.6, gb_scanned=1.0, gb_month=0.0)
    >>> use = RunUsage("r1", "silver.x", datetime(2026, 1, 5), "success", cpu_seconds=10.0,
    ...                bytes_read=2 * 10**9)
    >>> owners = {"silver.x": Attribution("ana", "risk", "silver")}
    >>> report = cost_report([use], [], [], owners, prices, "owner",
    ...                      datetime(2026, 1, 1), datetime(2026, 1, 8))
    >>> [(line.key, line.compute, line.scan, line.total) for line in report.lines]
    [('ana', 0.01, 2.0, 2.01)]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from assay.catalog.run_costs import RunUsage
from assay.config import CostSettings
from assay.errors import UsageError

#: Days in an average month: storage is priced per GB-month.
MONTH_DAYS = 365.25 / 12
#: The groups `assay cost --by` knows.
GROUPINGS = ("dataset", "owner", "tag", "layer")
#: The group of datasets that do not say (no owner, no team tag).
NO_OWNER, NO_TEAM = "(no owner)", "(no team)"


@dataclass(frozen=True)
class Attribution:
    """Who a dataset's cost belongs to."""

    owner: str | None
    team: str | None
    layer: str

    def group(self, by: str, dataset: str) -> str:
        """The group of `dataset` when grouping `by` (one of GROUPINGS)."""
        if by == "dataset":
            return dataset
        if by == "owner":
            return self.owner or NO_OWNER
        if by == "tag":
            return self.team or NO_TEAM
        return self.layer


#: Decimals of an amount under 1 (cost of a small project's build is fractions of a cent).
SMALL_DECIMALS = 6


def money(amount: float) -> str:
    """An amount as every table (CLI and UI) shows it: 2 decimals at or above 1, else 6;
    an amount that is 0 at 6 decimals (zero, or under half a millionth) is "0.00".

    Example:
        >>> money(1234.5), money(0.00042), money(0.0), money(4e-8), money(-0.0)
        ('1,234.50', '0.000420', '0.00', '0.00', '0.00')
    """
    if abs(amount) >= 1:
        return f"{amount:,.2f}"
    if round(amount, SMALL_DECIMALS) == 0:
        return "0.00"
    return f"{amount:.{SMALL_DECIMALS}f}"


def compute_cost(usage: RunUsage, prices: CostSettings) -> float:
    """Money of the CPU one build used.

    Example:
        >>> from datetime import datetime
        >>> u = RunUsage("r", "a.b", datetime(2026, 1, 1), "success", cpu_seconds=1800)
        >>> compute_cost(u, CostSettings(cpu_hour=0.1))
        0.05
    """
    return usage.total_cpu_seconds / 3600 * prices.cpu_hour


def scan_cost(usage: RunUsage, prices: CostSettings) -> float:
    """Money of the bytes one build read."""
    return usage.bytes_read / 1e9 * prices.gb_scanned


def stored_days(created: datetime | None, since: datetime, until: datetime) -> float:
    """Days of [since, until) a table created at `created` existed (None: all of them).

    Example:
        >>> stored_days(datetime(2026, 1, 6), datetime(2026, 1, 1), datetime(2026, 1, 8))
        2.0
        >>> stored_days(datetime(2026, 1, 9), datetime(2026, 1, 1), datetime(2026, 1, 8))
        0.0
    """
    start = since if created is None else max(since, created)
    return max(0.0, (until - start) / timedelta(days=1))


def storage_cost(stored_bytes: int, days: float, prices: CostSettings) -> float:
    """Money of keeping `stored_bytes` for `days`.

    Example:
        >>> round(storage_cost(10**9, MONTH_DAYS, CostSettings(gb_month=0.02)), 6)
        0.02
    """
    return stored_bytes / 1e9 * prices.gb_month * days / MONTH_DAYS


@dataclass(frozen=True)
class StoredTable:
    """The bytes one table holds now, the dataset they are charged to, and when the table
    was created (its Delta version 0; None: before any window, its version 0 is gone)."""

    dataset: str
    num_bytes: int
    created: datetime | None = None


@dataclass(frozen=True)
class CostLine:
    """One group's cost in the window (money in the report's currency)."""

    key: str
    compute: float = 0.0
    scan: float = 0.0
    storage: float = 0.0
    cpu_seconds: float = 0.0
    bytes_read: int = 0
    stored_bytes: int = 0
    builds: int = 0
    #: What the builds also used (recorded, not priced): elapsed time, bytes and files
    #: written, and the highest process peak memory during one of them (None: unknown).
    wall_seconds: float = 0.0
    bytes_written: int = 0
    files_written: int = 0
    peak_memory_bytes: int | None = None
    #: Total of the previous window of the same length, and the builds it counts.
    previous: float = 0.0
    previous_builds: int = 0
    #: This group's part of the report's total (0..1).
    share: float = 0.0

    @property
    def total(self) -> float:
        return self.compute + self.scan + self.storage

    @property
    def trend(self) -> float | None:
        """Change against the previous window (0.5 = +50%); None when that window cost
        nothing or ran nothing while this one did (new work, not growth)."""
        return _trend(self.total, self.previous, self.builds, self.previous_builds)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "compute": self.compute,
            "scan": self.scan,
            "storage": self.storage,
            "total": self.total,
            "share": self.share,
            "previous": self.previous,
            "previous_builds": self.previous_builds,
            "trend": self.trend,
            "cpu_seconds": self.cpu_seconds,
            "bytes_read": self.bytes_read,
            "stored_bytes": self.stored_bytes,
            "builds": self.builds,
            "wall_seconds": self.wall_seconds,
            "bytes_written": self.bytes_written,
            "files_written": self.files_written,
            "peak_memory_bytes": self.peak_memory_bytes,
        }


@dataclass(frozen=True)
class CostReport:
    """Cost per group over [since, until), most expensive first."""

    by: str
    since: datetime
    until: datetime
    currency: str
    lines: list[CostLine] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.total for line in self.lines)

    @property
    def previous(self) -> float:
        return sum(line.previous for line in self.lines)

    @property
    def trend(self) -> float | None:
        """The total's change against the previous window (see `CostLine.trend`)."""
        builds = sum(line.builds for line in self.lines)
        before = sum(line.previous_builds for line in self.lines)
        return _trend(self.total, self.previous, builds, before)

    def to_json(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "currency": self.currency,
            "total": self.total,
            "previous": self.previous,
            "trend": self.trend,
            "lines": [line.to_json() for line in self.lines],
        }


def cost_report(
    usage: Iterable[RunUsage],
    previous_usage: Iterable[RunUsage],
    stored: Iterable[StoredTable],
    attribution: Mapping[str, Attribution],
    prices: CostSettings,
    by: str,
    since: datetime,
    until: datetime,
) -> CostReport:
    """Group the builds of the window (`usage`) and of the window before it
    (`previous_usage`) and the bytes each table stores (`stored`: a dataset's table, its
    quarantine, dead-letter and late tables, each charged to its dataset) by `by`; each
    table's storage is prorated over the days it existed in each window."""
    if by not in GROUPINGS:
        raise UsageError(f"cannot group cost by {by!r}", hint=f"use one of {', '.join(GROUPINGS)}")
    length = until - since
    lines: dict[str, CostLine] = defaultdict(lambda: CostLine(""))

    def group(dataset: str) -> str:
        return _attribution(attribution, dataset).group(by, dataset)

    for use in usage:
        line = lines[group(use.dataset)]
        lines[group(use.dataset)] = replace(
            line,
            compute=line.compute + compute_cost(use, prices),
            scan=line.scan + scan_cost(use, prices),
            cpu_seconds=line.cpu_seconds + use.total_cpu_seconds,
            bytes_read=line.bytes_read + use.bytes_read,
            builds=line.builds + 1,
            wall_seconds=line.wall_seconds + use.wall_seconds,
            bytes_written=line.bytes_written + use.bytes_written,
            files_written=line.files_written + use.files_written,
            peak_memory_bytes=_higher(line.peak_memory_bytes, use.peak_memory_bytes),
        )
    for table in stored:
        line = lines[group(table.dataset)]
        now = stored_days(table.created, since, until)
        before = stored_days(table.created, since - length, since)
        lines[group(table.dataset)] = replace(
            line,
            storage=line.storage + storage_cost(table.num_bytes, now, prices),
            stored_bytes=line.stored_bytes + table.num_bytes,
            # Today's bytes, for the days the table existed then: history is not kept.
            previous=line.previous + storage_cost(table.num_bytes, before, prices),
        )
    for use in previous_usage:
        line = lines[group(use.dataset)]
        amount = compute_cost(use, prices) + scan_cost(use, prices)
        lines[group(use.dataset)] = replace(
            line, previous=line.previous + amount, previous_builds=line.previous_builds + 1
        )
    total = sum(line.total for line in lines.values())
    ordered = [
        replace(line, key=key, share=line.total / total if total else 0.0)
        for key, line in lines.items()
    ]
    ordered.sort(key=lambda line: (-line.total, line.key))
    return CostReport(by, since, until, prices.currency, ordered)


def _higher(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _trend(total: float, previous: float, builds: int, previous_builds: int) -> float | None:
    if not previous or (builds and not previous_builds):
        return None
    return (total - previous) / previous


def _attribution(attribution: Mapping[str, Attribution], dataset: str) -> Attribution:
    """A dataset's attribution; one no longer declared still has its layer."""
    known = attribution.get(dataset)
    return known or Attribution(None, None, dataset.split(".", 1)[0])


def daily_costs(
    usage: Iterable[RunUsage],
    attribution: Mapping[str, Attribution],
    prices: CostSettings,
    by: str = "owner",
) -> list[dict[str, Any]]:
    """Compute and scan cost per UTC day and group (storage is not dated): rows of
    `{"day": "2026-01-05", "group": ..., "cost": ...}`, by day then group, for charts.

    Example:
        >>> from datetime import datetime
        >>> u = RunUsage("r", "a.b", datetime(2026, 1, 5, 9), "success", cpu_seconds=3600)
        >>> daily_costs([u], {}, CostSettings(cpu_hour=2.0), by="layer")
        [{'day': '2026-01-05', 'group': 'a', 'cost': 2.0}]
    """
    cost: dict[tuple[str, str], float] = defaultdict(float)
    for use in usage:
        key = (use.finished_at.date().isoformat(), _attribution(attribution, use.dataset))
        group = key[1].group(by, use.dataset)
        cost[(key[0], group)] += compute_cost(use, prices) + scan_cost(use, prices)
    return [{"day": d, "group": g, "cost": c} for (d, g), c in sorted(cost.items())]
