"""The check results a run recorded, for `assay check` and `assay status`: a dataset whose
table was never built (its first batch was blocked by a contract or a dbt test) has no table
to check now, so what blocked it is what its last run measured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from assay.catalog import Catalog
    from assay.catalog.quality import StoredResult
    from assay.project import DatasetStatus

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "not_run": "dim"}
_ORDER = {"fail": 0, "warn": 1, "not_run": 2, "pass": 3}
#: Rule names up to this wide stay on one line; dbt's long test names fold beyond it.
RULE_WIDTH = 48


@dataclass(frozen=True)
class RecordedCheck:
    """One rule's outcome as the dataset's newest checked run stored it."""

    dataset: str
    result: StoredResult


def recorded_checks(
    catalog: Catalog, datasets: Iterable[str], statuses: Sequence[str] = ()
) -> list[RecordedCheck]:
    """The newest checked run's results of each of `datasets` (only `statuses`, if given),
    failures first.

    Example:
        >>> from assay.catalog import Catalog
        >>> from assay.catalog.store import record_checks
        >>> from assay.contracts.results import CheckResult
        >>> cat = Catalog("sqlite://")
        >>> bad = CheckResult("staging.x", "dbt:unique_x_id", "batch", "error", "fail", 2.0)
        >>> record_checks(cat, "r1", [bad], {})
        >>> [(c.dataset, c.result.rule) for c in recorded_checks(cat, ["staging.x"])]
        [('staging.x', 'dbt:unique_x_id')]
    """
    from assay.catalog.quality import last_results

    found = [
        RecordedCheck(name, stored)
        for name in dict.fromkeys(datasets)
        for stored in last_results(catalog, name)
        if not statuses or stored.status in statuses
    ]
    return sorted(found, key=lambda c: (_ORDER.get(c.result.status, 9), c.dataset))


def recorded_table(checks: Sequence[RecordedCheck], title: str) -> Table:
    """The recorded results with the run that measured them; rule names fold, never cut."""
    table = Table(title=title)
    for column in ("dataset", "rule", "severity", "status", "observed", "expected", "run"):
        width = (
            min(RULE_WIDTH, max(len(c.result.rule) for c in checks)) if column == "rule" else None
        )
        table.add_column(column, overflow="fold", min_width=width)
    for check in checks:
        stored = check.result
        observed = "" if stored.observed is None else f"{stored.observed:.6g}"
        table.add_row(
            escape(check.dataset),
            escape(stored.rule),
            stored.severity,
            f"[{_STYLE.get(stored.status, 'dim')}]{stored.status}[/]",
            observed,
            escape(stored.expected or ""),
            f"{stored.run_id} {stored.measured_at:%Y-%m-%d %H:%M}",
        )
    return table


def blocked_checks_table(catalog: Catalog, statuses: Sequence[DatasetStatus]) -> Table | None:
    """For `assay status`: the rules that failed or warned in the last run of each dataset
    whose table is not built or whose last run failed (dbt tests included); None if none."""
    datasets = [s.name for s in statuses if s.version is None or s.last_status == "failed"]
    failed = recorded_checks(catalog, datasets, ("fail", "warn"))
    if not failed:
        return None
    title = "checks that failed or warned in the last run (tables not built, or runs failed)"
    return recorded_table(failed, title)
