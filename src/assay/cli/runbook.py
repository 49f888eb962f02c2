"""`assay runbook`: write the project's on-call runbook (markdown)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project


@handles_errors
def runbook(
    project: ProjectOpt = Path("."),
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Where to write it, relative to the project folder; `-` prints it.",
        ),
    ] = "RUNBOOK.md",
) -> None:
    """Write the on-call runbook: per dataset its owner, schedule, SLA, inputs and
    consumers, how to re-run, backfill and replay quarantine, the alerts that can fire and
    what to do for each, and its last failures.

    Example: `assay runbook --project examples/fraud` (writes examples/fraud/RUNBOOK.md), or
    `assay runbook -o -` to print it.
    """
    from assay.cli.render import console
    from assay.orchestration.runbook import render_runbook

    proj = _project(project)
    text = render_runbook(proj.runtime)
    if output == "-":
        typer.echo(text, nl=False)
        return
    path = proj.root / output
    path.write_text(text, encoding="utf-8")
    datasets = len(proj.datasets)
    console.print(f"Runbook for {datasets} dataset(s) written to {path}")
