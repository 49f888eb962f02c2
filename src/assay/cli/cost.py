"""`assay cost`: what runs and storage cost, by dataset, owner, team tag or layer, with the
trend against the previous window and each owner's monthly budget."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

if TYPE_CHECKING:
    from rich.table import Table

    from assay.cost.budgets import BudgetStatus
    from assay.cost.model import CostReport


class CostBy(StrEnum):
    dataset = "dataset"
    owner = "owner"
    tag = "tag"
    layer = "layer"


class CostFormat(StrEnum):
    table = "table"
    json = "json"


@handles_errors
def cost(
    project: ProjectOpt = Path("."),
    by: Annotated[
        CostBy,
        typer.Option(
            "--by", help="Group by dataset, owner, tag (the `team=` tag's team) or layer."
        ),
    ] = CostBy.dataset,
    since: Annotated[
        str,
        typer.Option(
            "--since", help="Start of the window: an age (24h, 7d, 4w) or an ISO date (UTC)."
        ),
    ] = "30d",
    format_: Annotated[
        CostFormat, typer.Option("--format", "-f", help="table, or json for scripts.")
    ] = CostFormat.table,
) -> None:
    """Show what the project cost since `--since`: compute (CPU-hours), scan (GB read) and
    storage (GB-months of today's bytes, for the part of the window each table existed:
    from its first commit) at the prices of `cost:` in assay.yaml, each group's share of
    the total, the trend against the previous window of the same length ("new" when that
    window had nothing), and each owner's month-to-date spending against its `budgets:`.
    Quarantine, dead-letter and late-row tables count under their dataset.

    Example: `assay cost --project examples/fraud --by owner --since 7d`
    """
    from assay.catalog_views.cost_view import budgets_of, cost_of, storage_of
    from assay.cli.audit import SINCE_HINT, parse_since
    from assay.cli.render import console
    from assay.errors import UsageError
    from assay.intervals import utcnow

    rt = _project(project).runtime
    now = utcnow()
    start = parse_since(since, now)
    if start is None or start >= now:
        raise UsageError(f"--since {since!r} is not in the past", hint=SINCE_HINT)
    with console.status("Measuring table storage...", spinner="dots"):
        tables = storage_of(rt)
    report = cost_of(rt, by.value, start, now, tables)
    budgets = budgets_of(rt, now, tables)
    if format_ is CostFormat.json:
        body = {**report.to_json(), "budgets": [b.to_json() for b in budgets]}
        typer.echo(json.dumps(body, indent=2))
        return
    console.print(cost_table(report))
    if budgets:
        console.print(budget_table(budgets))


def _trend(value: float | None) -> str:
    if value is None:
        return "[dim]new[/]"
    color = "red" if value > 0.005 else "green" if value < -0.005 else "dim"
    return f"[{color}]{value:+.0%}[/]"


def cost_table(report: CostReport) -> Table:
    """The report as a rich table, with a total row."""
    from rich.markup import escape
    from rich.table import Table

    from assay.cost.model import money

    window = f"{report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC"
    table = Table(title=f"Cost by {report.by}, {window} ({report.currency})")
    measured = ("CPU s", "read", "written", "peak memory")
    for column in (report.by, "compute", "scan", "storage", "total", "share", "trend", *measured):
        table.add_column(column, justify="left" if column == report.by else "right")
    for line in report.lines:
        table.add_row(
            escape(line.key),
            money(line.compute),
            money(line.scan),
            money(line.storage),
            money(line.total),
            f"{line.share:.1%}",
            _trend(line.trend),
            f"{line.cpu_seconds:,.1f}",
            _size(line.bytes_read),
            _size(line.bytes_written),
            _size(line.peak_memory_bytes),
        )
    totals = [money(sum(getattr(line, c) for line in report.lines)) for c in ("compute", "scan")]
    storage = money(sum(line.storage for line in report.lines))
    table.add_section()
    table.add_row("total", *totals, storage, money(report.total), "100.0%", _trend(report.trend))
    return table


def _size(size: int | None) -> str:
    """Bytes for people (`tables.storage.human_bytes`), empty when unknown."""
    from assay.tables.storage import human_bytes

    return "" if size is None else human_bytes(size)


def budget_table(budgets: list[BudgetStatus]) -> Table:
    """Each owner's month so far against its budget."""
    from rich.markup import escape
    from rich.table import Table

    from assay.cost.model import money

    month = budgets[0].month_start
    table = Table(title=f"Budgets, {month:%B %Y} so far ({budgets[0].currency})")
    for column in ("owner", "budget", "spent", "used", "projected", "state"):
        table.add_column(column, justify="left" if column in ("owner", "state") else "right")
    for status in budgets:
        state = "[red]over budget[/]" if status.over else "[green]within[/]"
        if not status.over and status.projected > status.budget:
            state = "[yellow]projected over[/]"
        used = f"{status.used:.0%}" if status.budget else "-"
        table.add_row(
            escape(status.owner),
            money(status.budget),
            money(status.spent),
            used,
            money(status.projected),
            state,
        )
    return table
