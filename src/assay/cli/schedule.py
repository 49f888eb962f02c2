"""`assay schedule`: run the project's schedules, sensors and streams in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project


@handles_errors
def schedule(
    project: ProjectOpt = Path("."),
    once: Annotated[
        bool, typer.Option("--once", help="Run one tick and exit (tests, cron users).")
    ] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="Show each scheduled dataset and its next run; exit.")
    ] = False,
    tick: Annotated[
        float | None,
        typer.Option(
            "--tick",
            help="Seconds between ticks.",
            min=0.01,
            show_default="assay.yaml's scheduler.tick_seconds (30)",
        ),
    ] = None,
) -> None:
    """Run the scheduler in the foreground: schedules, sensors and streams.

    Each tick runs what is due (cron schedules with catch-up, `on_upstream`, `on_arrival`
    file sensing) through the normal runner (project lock, retries, interval ledger), keeps
    streams running, checks SLA deadlines and stream lag (alerts), and logs one line per
    tick. Its state is in the catalog: kill -9 and restart never skips nor doubles a
    scheduled interval. SIGTERM or Ctrl-C finishes the current run and exits 0.

    Examples:

    - `assay schedule --project shop` (a service: runs until stopped)

    - `assay schedule --list` (schedules, last and next runs)

    - `assay schedule --once` (one tick, e.g. from cron every minute)

    - `assay schedule --tick 1` (sense new files every second)
    """
    from datetime import UTC, datetime

    from assay.cli.render import console, rows_table

    proj = _project(project)
    if list_:
        from assay.orchestration.listing import schedule_rows

        rows = schedule_rows(proj)
        if not rows:
            console.print("no dataset declares a schedule (schedule= or `-- schedule:`)")
            return
        columns = ["dataset", "schedule", "trigger", "last scheduled run", "next run", "catch-up"]
        console.print(rows_table("schedules", columns, [list(vars(r).values()) for r in rows]))
        return
    from functools import partial

    from assay.orchestration.evaluate import check_periodic
    from assay.orchestration.scheduler import Scheduler

    def log(line: str) -> None:
        console.print(f"{datetime.now(UTC):%H:%M:%SZ} {line}", markup=False, highlight=False)

    # Every tick also checks SLA deadlines and stream lag, and re-sends alerts a channel
    # missed (runs the scheduler starts alert on their own, like any `assay run`).
    alerts = partial(check_periodic, proj.runtime)
    code = Scheduler(proj, tick_seconds=tick, log=log, on_tick=[alerts]).run(once=once)
    raise typer.Exit(code)
