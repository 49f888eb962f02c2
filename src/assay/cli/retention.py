"""`assay retention apply|list`: delete the rows datasets may no longer keep, and show
each dataset's retention period and where it comes from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

if TYPE_CHECKING:
    from assay.governance.retention import RetentionOutcome

retention_app = typer.Typer(
    help='Retention: the stricter of a dataset\'s `retention="400d"` and the shortest '
    "`governance.retention` period of the classifications its columns hold says how long "
    "rows are kept by its time column (a longer declared period never extends the "
    "classification's: `assay retention list` shows both).\n\n"
    "Example: `assay retention list`, then `assay retention apply --dry-run`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@retention_app.command("apply")
@handles_errors
def apply(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Datasets (layer.name); default: every dataset with a retention."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the expired rows and files; change nothing.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(help="Count periods back from this UTC time (2014-01-01) instead of now."),
    ] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Delete the rows older than each dataset's retention (one commit per table), then
    vacuum the files that held them.

    **The vacuum ends time travel**: versions of a table from before its retention delete
    can no longer be read (`assay show NAME@VERSION`), because their files are gone; that
    is the point, the expired rows must not stay on disk. Datasets under a legal hold
    (`assay hold list`) are skipped, neither deleted from nor vacuumed, and reported.
    A dataset's rejected rows (its quarantine table, a stream's dead letters) follow its
    retention, counted from when they were rejected. Every delete is recorded in the
    audit log. A dataset whose period comes only from a classification and that has no
    time column is skipped and reported (declare its time_column=); a dataset declaring
    a retention without one stops the command before anything is deleted. With roles in
    assay.yaml, applying (not --dry-run) needs a role that allows `retention`.

    Example: `assay retention apply --dry-run`, then `assay retention apply silver.flights`
    """
    from assay.cli.common import parse_time
    from assay.cli.render import console, progress_bar
    from assay.governance.permissions import require_action
    from assay.governance.retention import apply_retention, retention_plan
    from assay.intervals import to_naive_utc
    from assay.lock import project_lock

    proj = _project(project)
    if not dry_run:
        require_action(proj.runtime, "retention")
    moment = parse_time(now)
    plan = retention_plan(proj.runtime, names or [])
    if not plan:
        console.print("No dataset has a retention: nothing to delete.")
        return
    with project_lock(proj.state_dir, proj.config.lock_timeout), progress_bar() as bar:
        # Every table worked on, its quarantine and dead letters included.
        task = bar.add_task("retention", total=len(plan))
        outcomes = apply_retention(
            proj.runtime,
            names or [],
            now=None if moment is None else to_naive_utc(moment),
            dry_run=dry_run,
            on_done=lambda _: bar.advance(task),
        )
    _report(outcomes, dry_run)


def _report(outcomes: list[RetentionOutcome], dry_run: bool) -> None:
    from assay.cli.render import console, rows_table
    from assay.governance.retention import describe_period

    rows = [
        (
            o.rule.dataset,
            describe_period(o.rule.period),
            o.rule.source,
            o.cutoff.strftime("%Y-%m-%d %H:%M"),
            o.rows_deleted,
            o.files_rewritten,
            "-" if dry_run else o.files_removed,
            _skipped(o),
        )
        for o in outcomes
    ]
    verb = "to delete" if dry_run else "deleted"
    columns = ["dataset", "period", "from", "cutoff (UTC)", f"rows {verb}", "files rewritten"]
    title = "Retention (dry run: nothing changed)" if dry_run else "Retention applied"
    console.print(rows_table(title, [*columns, "files removed", "skipped"], rows))
    held = [o for o in outcomes if o.held]
    if held:
        console.print(
            f"Skipped {len(held)} dataset(s) under legal hold: "
            + ", ".join(o.rule.dataset for o in held)
            + " (their expired rows stay until the hold is removed: `assay hold list`)."
        )
    timeless = [o.rule.dataset for o in outcomes if o.skipped]
    if timeless:
        console.print(
            f"[yellow]Skipped {len(timeless)} dataset(s) with no time column[/]: "
            + ", ".join(timeless)
            + " (their classification's retention cannot tell expired rows: declare "
            "time_column= on each; nothing was deleted from them)."
        )
    vacuumed = [o for o in outcomes if o.version is not None]
    if vacuumed:
        console.print(
            "Vacuumed "
            + ", ".join(o.rule.dataset for o in vacuumed)
            + ": the deleted rows' files are gone, so time travel to versions before each "
            "delete no longer works."
        )


def _skipped(outcome: RetentionOutcome) -> str:
    """The table's `skipped` cell: a hold, a missing table or another reason, else -."""
    if outcome.held:
        return f"held ({outcome.held})"
    if outcome.missing:
        return "not built yet"
    return outcome.skipped or "-"


@retention_app.command("list")
@handles_errors
def list_(project: ProjectOpt = Path(".")) -> None:
    """Show each dataset's retention period, where it comes from (declared on the dataset
    or by a classification its columns hold; when both apply, the stricter and what it
    overrides), its time column and any legal hold.

    Example: `assay retention list --project examples/fraud`
    """
    from assay.cli.render import console, rows_table
    from assay.governance.holds import Holds
    from assay.governance.retention import describe_period, rejected_rules, retention_rules

    proj = _project(project)
    declared = retention_rules(proj.runtime)
    rules = [r for rule in declared for r in (rule, *rejected_rules(proj.runtime, rule))]
    if not rules:
        console.print(
            'No dataset has a retention. Declare `retention="400d"` on a dataset, or '
            "`governance: {retention: {pii: 400d}}` in assay.yaml."
        )
        return
    holds = Holds(proj.catalog)
    rows = []
    for rule in rules:
        hold = holds.active(rule.dataset) or (rule.follows and holds.active(rule.follows)) or None
        rows.append(
            (
                rule.dataset,
                describe_period(rule.period),
                rule.source,
                rule.time_column
                or ("(none: retention error)" if rule.declared else "(none: skipped)"),
                f"{hold.pattern}: {hold.reason}" if hold else "-",
            )
        )
    columns = ["dataset", "period", "from", "time column", "legal hold"]
    console.print(rows_table("Retention", columns, rows))
