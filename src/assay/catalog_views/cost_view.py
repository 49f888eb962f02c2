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
from assay.cost.created import table_created
from assay.cost.model import Attribution, CostReport, StoredTable, cost_report, daily_costs
from assay.intervals import utcnow
from assay.naming import split_name
from assay.pipelines.quarantine import quarantine_name
from assay.pipelines.rejected import DEAD_LETTERS
from assay.tables.storage import TableStorage, warehouse_storage

if TYPE_CHECKING:
    from assay.pipelines.spec import DatasetSpec
    from assay.runtime import Runtime


def attribution_of(rt: Runtime) -> dict[str, Attribution]:
    """Owner, team (`team=` tag) and layer of every declared dataset; a stream's window
    tables are its stream's (they are declared without the stream's tags)."""
    specs = rt.dag.specs
    attribution: dict[str, Attribution] = {}
    for name, spec in specs.items():
        stream = specs.get(_window_stream(spec) or "", spec)
        attribution[name] = Attribution(stream.owner, team_of(stream.tags), split_name(name)[0])
    return attribution


def _window_stream(spec: DatasetSpec) -> str | None:
    """The stream whose window writes `spec`'s table (None: not a window's table)."""
    if not spec.producer.is_stream:
        return None
    # Imported only for projects with streams (the module pulls pandas in).
    from assay.streaming.sources import WindowOutput

    return spec.producer.stream if isinstance(spec.producer, WindowOutput) else None


def home_of(rt: Runtime) -> dict[str, str]:
    """The dataset each companion table's storage is charged to: a dataset's quarantine
    table, a stream's dead letters, and a window's late rows (table -> dataset).

    Example:
        >>> import assay, tempfile
        >>> project = assay.Project(assay.init_project(tempfile.mkdtemp()))
        >>> home_of(project.runtime)["quarantine.bronze_orders"]
        'bronze.orders'
    """
    homes = {quarantine_name(name): name for name in rt.dag.specs}
    for name, spec in rt.dag.specs.items():
        if _window_stream(spec) is not None:
            from assay.streaming.windowing import late_name

            homes[late_name(name)] = name
        elif spec.producer.is_stream:
            homes[DEAD_LETTERS.name(name)] = name
    return homes


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


def stored_tables(rt: Runtime, tables: list[TableStorage]) -> list[StoredTable]:
    """Each table's bytes on disk, charged to its dataset (see `home_of`; a table no
    dataset declares counts under its own name), with the time the table was created."""
    homes = home_of(rt)
    return [
        StoredTable(
            homes.get(table.name, table.name),
            table.total_bytes,
            table_created(rt.warehouse, table.name),
        )
        for table in tables
    ]


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
        stored_tables(rt, tables),
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
