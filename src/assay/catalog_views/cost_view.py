"""What `assay cost`, the budget alerts and the UI's cost page show, from a project's
runtime: the stored per-run usage, the tables' storage now, the datasets' owners and teams,
and `cost:` prices.

Example:
    >>> import assay, tempfile
    >>> from datetime import datetime, timedelta
    >>> project = assay.Project(assay.init_project(tempfile.mkdtemp()))
    >>> _ = project.run()
    >>> from assay.intervals import utcnow
    >>> now = utcnow() + timedelta(seconds=1)
    >>> report = cost_of(project.runtime, "layer", now - timedelta(days=7), now)
    >>> sorted(line.key for line in report.lines)
    ['bronze', 'gold', 'silver']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from assay.catalog.run_costs import usage_between
from assay.cost.budgets import BudgetStatus, budget_status, month_window
from assay.cost.model import Attribution, CostReport, cost_report, daily_costs
from assay.intervals import utcnow
from assay.naming import split_name
from assay.pipelines.quarantine import quarantine_name
from assay.tables.storage import TableStorage, warehouse_storage

if TYPE_CHECKING:
    from assay.runtime import Runtime


def attribution_of(rt: Runtime) -> dict[str, Attribution]:
    """Owner, team (`team=` tag) and layer of every declared dataset."""
    return {
        name: Attribution(spec.owner, team_of(spec.tags), split_name(name)[0])
        for name, spec in rt.dag.specs.items()
    }


def team_of(tags: Mapping[str, str]) -> str | None:
    """The team a dataset's tags name: `tags={"team": "risk"}` or `tags=["team=risk"]`.

    Example:
        >>> team_of({"team=risk": "true", "pii": "true"}), team_of({"team": "crm"})
        ('risk', 'crm')
    """
    if tags.get("team"):
        return tags["team"]
    for key in sorted(tags):
        if key.startswith("team=") and key[5:]:
            return key[5:]
    return None


def storage_of(rt: Runtime) -> list[TableStorage]:
    """Storage of every table in the warehouse, as `assay optimize` would judge it."""
    return warehouse_storage(rt.warehouse, rt.warehouse.list_tables(), rt.config.storage)


def stored_by_dataset(rt: Runtime, tables: list[TableStorage]) -> dict[str, int]:
    """Bytes on disk per dataset: its table plus its quarantine table; a table no dataset
    declares counts under its own name."""
    owner_of = {quarantine_name(name): name for name in rt.dag.specs}
    stored: dict[str, int] = {}
    for table in tables:
        dataset = owner_of.get(table.name, table.name)
        stored[dataset] = stored.get(dataset, 0) + table.total_bytes
    return stored


def cost_of(
    rt: Runtime,
    by: str,
    since: datetime,
    until: datetime | None = None,
    tables: list[TableStorage] | None = None,
) -> CostReport:
    """Cost by `by` over [since, until) (until: now), with the previous window of the same
    length for the trend; `tables` saves measuring storage again."""
    until = until or utcnow()
    length = until - since
    tables = storage_of(rt) if tables is None else tables
    return cost_report(
        usage_between(rt.catalog, since, until),
        usage_between(rt.catalog, since - length, since),
        stored_by_dataset(rt, tables),
        attribution_of(rt),
        rt.config.cost,
        by,
        since,
        until,
    )


def budgets_of(
    rt: Runtime, now: datetime | None = None, tables: list[TableStorage] | None = None
) -> list[BudgetStatus]:
    """Each budgeted owner's month so far (see `assay.cost.budgets`)."""
    if not rt.config.cost.budgets:
        return []
    now = now or utcnow()
    start, _ = month_window(now)
    month = cost_of(rt, "owner", start, now, tables)
    return budget_status(month, rt.config.cost.budgets)


@dataclass(frozen=True)
class CostPage:
    """Everything the UI's cost page shows."""

    currency: str
    since: datetime
    until: datetime
    reports: dict[str, CostReport]
    daily: list[dict[str, Any]]
    budgets: list[BudgetStatus]
    tables: list[TableStorage] = field(default_factory=list)


def cost_page(rt: Runtime, days: int = 30, now: datetime | None = None) -> CostPage:
    """The cost of the last `days` days by owner, team and dataset; daily cost by owner;
    budgets; and storage per table with its health flags."""
    until = now or utcnow()
    since = until - timedelta(days=days)
    tables = storage_of(rt)
    reports = {by: cost_of(rt, by, since, until, tables) for by in ("owner", "tag", "dataset")}
    daily = daily_costs(
        usage_between(rt.catalog, since, until), attribution_of(rt), rt.config.cost, "owner"
    )
    return CostPage(
        rt.config.cost.currency,
        since,
        until,
        reports,
        daily,
        budgets_of(rt, until, tables),
        sorted(tables, key=lambda t: -t.total_bytes),
    )
