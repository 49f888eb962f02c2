"""`assay hold add|remove|list`: legal holds that stop retention, erasure and vacuum from
deleting a dataset's rows or files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

hold_app = typer.Typer(
    help="Legal holds: a held dataset (or glob such as `silver.*`) keeps its rows and old "
    "files; `assay retention apply`, `assay forget` and every vacuum skip it and say so.\n\n"
    "Example: `assay hold add silver.customers --reason 'case 2026-114'`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

NameArg = Annotated[
    str, typer.Argument(help="A dataset (layer.name) or a glob of them (silver.*, *.orders).")
]


@hold_app.command("add")
@handles_errors
def add(
    name: NameArg,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why (case number, request): required.")
    ] = "",
    project: ProjectOpt = Path("."),
) -> None:
    """Place a legal hold: nothing assay does deletes the dataset's rows or files until
    it is removed. The hold and who placed it go to the audit log. With `roles:` in
    assay.yaml, your role must list `hold` in its `allow:`.

    Example: `assay hold add 'silver.*' --reason 'case 2026-114: litigation'`
    """
    import fnmatch

    from assay.cli.render import console
    from assay.governance.holds import place_hold

    proj = _project(project)
    hold = place_hold(proj.runtime, name, reason)
    who = hold.held_by
    covered = [d for d in sorted(proj.datasets) if fnmatch.fnmatchcase(d, hold.pattern)]
    console.print(
        f"Held [bold]{hold.pattern}[/] ({hold.reason}), by {who}: "
        f"{', '.join(covered) if covered else 'no dataset of the project matches it yet'}."
    )


@hold_app.command("remove")
@handles_errors
def remove(name: NameArg, project: ProjectOpt = Path(".")) -> None:
    """Release the hold placed on NAME (as it was added: the glob, not a dataset it covers).
    With `roles:` in assay.yaml, your role must list `hold` in its `allow:`.

    Example: `assay hold remove 'silver.*'`
    """
    from assay.cli.render import console
    from assay.governance.holds import release_hold

    proj = _project(project)
    hold = release_hold(proj.runtime, name)
    console.print(
        f"Released the hold on [bold]{hold.pattern}[/] ({hold.reason}), by {hold.released_by}."
    )


@hold_app.command("list")
@handles_errors
def list_(
    project: ProjectOpt = Path("."),
    all_: Annotated[bool, typer.Option("--all", help="Also list released holds.")] = False,
) -> None:
    """Show the legal holds, oldest first, with the datasets each covers.

    Example: `assay hold list --all`
    """
    from assay.cli.render import console, rows_table
    from assay.governance.holds import Holds

    proj = _project(project)
    holds = Holds(proj.catalog).all(include_released=all_)
    if not holds:
        console.print("No legal holds." if not all_ else "No legal holds, ever.")
        return
    names = sorted(proj.datasets)
    rows = [
        (
            h.pattern,
            ", ".join(n for n in names if h.covers(n)) or "-",
            h.reason,
            h.held_by,
            h.held_at.strftime("%Y-%m-%d %H:%M"),
            "-" if h.released_at is None else f"{h.released_at:%Y-%m-%d %H:%M} by {h.released_by}",
        )
        for h in holds
    ]
    columns = ["held", "datasets", "reason", "by", "since (UTC)", "released"]
    console.print(rows_table("Legal holds", columns, rows))
