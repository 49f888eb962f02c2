"""`assay alerts`: the open alerts and the latest resolved ones, from the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project


@handles_errors
def alerts(
    project: ProjectOpt = Path("."),
    all_: Annotated[
        bool, typer.Option("--all", help="Also list resolved alerts (newest first).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many alerts.")] = 50,
) -> None:
    """Show open alerts (failures, missed SLAs, blocked contracts, quarantine over its
    limit, slow runs, anomalies) with their owner and the command that fixes each.

    Example: `assay alerts --project examples/fraud --all`
    """
    from rich.markup import escape

    from assay.catalog.alert_state import AlertStore
    from assay.cli.render import console, rows_table

    store = AlertStore(_project(project).catalog)
    shown = store.recent(limit) if all_ else store.open_alerts()[:limit]
    if not shown:
        console.print("No open alerts." if not all_ else "No alerts yet.")
        return
    rows = [
        (
            row.status,
            row.key.event,
            row.key.dataset,
            row.key.subject or "-",
            row.owner or "-",
            row.opened_at.strftime("%Y-%m-%d %H:%M"),
            row.times_seen,
            row.summary,
        )
        for row in shown
    ]
    columns = ["status", "event", "dataset", "subject", "owner", "opened (UTC)", "seen"]
    title = "Alerts" if all_ else "Open alerts"
    console.print(rows_table(title, [*columns, "what broke"], rows))
    # The commands on lines of their own, unwrapped, so they can be copied as they are.
    fixes = [row for row in shown if row.status == "open"]
    if fixes:
        console.print("To fix:", soft_wrap=True)
    for row in fixes:
        subject = f" {row.key.subject}" if row.key.subject else ""
        label = escape(f"{row.key.dataset} {row.key.event}{subject}")
        console.print(f"  {label}: [cyan]{escape(row.fix)}[/]", soft_wrap=True)
