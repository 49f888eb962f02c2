"""`assay keys new|rotate|status`: the tokenization key ring and the tokens tables hold."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

if TYPE_CHECKING:
    from assay.governance.rotate import RingUpdate, RotationPlan, TableRotation

keys_app = typer.Typer(
    help="The key ring behind `tokenize` masks: make one, rotate it (every stored token "
    "carried to the new version, one commit per table), see which version each table's "
    "tokens are at.\n\n"
    "The ring lives in $ASSAY_TOKEN_KEY or in the file `governance.token_key_file` names, "
    "outside the project; never in the repo.\n\n"
    "Example: `assay keys status`, then `assay keys rotate --dry-run`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@keys_app.command("new")
@handles_errors
def new(project: ProjectOpt = Path(".")) -> None:
    """Make the project's first key ring (one random version).

    With `governance.token_key_file` set, the ring is written there (readable by you
    only); otherwise its text is printed for you to put in $ASSAY_TOKEN_KEY (or your
    secret store).

    With `roles:` in assay.yaml, your role must list `keys` in its `allow:`.

    Example: `assay keys new --project examples/fraud`
    """
    from assay.config import load_config
    from assay.governance.rotate import new_ring

    root = Path(project).resolve()  # new_ring refuses a role not allowed `keys`
    settings = load_config(root).governance
    _tell_ring(new_ring(settings, root), settings.token_key_env, "Made a key ring")


@keys_app.command("status")
@handles_errors
def status(project: ProjectOpt = Path(".")) -> None:
    """Show the ring's newest version and, for every table holding tokens, the columns,
    the key versions of its tokens (scanned) and what its commits record.

    Example: `assay keys status`
    """
    from assay.cli.render import console, rows_table
    from assay.governance.keys import TokenKeys
    from assay.governance.rotate import recorded_version, token_tables

    proj = _project(project)
    ring = TokenKeys.load(proj.config.governance, proj.root)
    tables = token_tables(proj.runtime.warehouse)
    rows = [
        (
            t.table,
            ", ".join(t.columns),
            _versions(t),
            recorded_version(proj.runtime.warehouse, t.table) or "-",
            "current" if t.oldest == ring.current else "behind: run `assay keys rotate`",
        )
        for t in tables.values()
    ]
    console.print(f"Key ring from {ring.where}: newest version {ring.current}.")
    columns = ["table", "token columns", "tokens by version", "recorded", "state"]
    console.print(rows_table("Tokens", columns, rows) if rows else "No table holds tokens.")


@keys_app.command("rotate")
@handles_errors
def rotate(
    project: ProjectOpt = Path("."),
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset",
            "-d",
            help="Only this table (and its quarantine table); repeatable. Default: all.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Only carry tables forward to the ring's newest version; never add a key "
            "(a re-run then does nothing).",
        ),
    ] = False,
    ring_file: Annotated[
        Path | None,
        typer.Option(
            "--ring-file",
            help="For a ring in the environment: write the new ring to this file (outside "
            "the project) instead of printing it.",
        ),
    ] = None,
) -> None:
    """Add a key version and carry every stored token to it: one commit per table
    (tokens in any text column, quarantined raw records too), resumable.

    When some table still holds tokens older than the ring's newest version (an
    interrupted rotation), no key is added: those tables are carried forward. Rows
    ingested later get the new version's tokens, equal to the rotated ones, so joins keep
    working. Old table versions keep old tokens until their files are vacuumed
    (`assay retention apply`, `assay forget --purge-history`).

    With `governance.token_key_file`, the new version is written to that file first.
    With a ring in $ASSAY_TOKEN_KEY, assay cannot change your environment: it prints the
    new ring (or writes it to --ring-file) and stops; set the variable and run it again,
    which rewrites the tables. With `roles:` in assay.yaml, your role must list `keys` in
    its `allow:`.

    Example: `assay keys rotate --dry-run`, then `assay keys rotate`
    """
    from assay.governance.keys import TokenKeys
    from assay.governance.permissions import require_action
    from assay.governance.rotate import add_key_version, plan_rotation
    from assay.pipelines.quarantine import quarantine_name

    proj = _project(project)
    require_action(proj.runtime, "keys")  # before the scan, and for --dry-run and --resume
    settings, warehouse = proj.config.governance, proj.runtime.warehouse
    ring = TokenKeys.load(settings, proj.root)
    names = None
    if dataset:
        for name in dataset:
            if not warehouse.exists(name):
                raise proj.runtime.reader.unknown(name)
        names = [n for d in dataset for n in (d, quarantine_name(d))]
    plan = plan_rotation(warehouse, ring, names, resume)
    if not plan.tables:
        from assay.cli.render import console

        console.print("No table holds tokens: nothing to rotate.")
        return
    if not plan.resume:
        if dry_run:
            _show_plan(plan, ring.current + 1)
            return
        update = add_key_version(settings, proj.root, ring, ring_file)
        if update.in_environment:
            _tell_ring(update, settings.token_key_env, "Added key version")
            return
        ring = update.ring
    elif dry_run:
        _show_plan(plan, ring.current)
        return
    _rotate(proj, plan, ring)


def _rotate(proj: Any, plan: RotationPlan, ring: Any) -> None:
    """Rewrite the tables holding older tokens, with a progress bar, an audit event per
    table and a summary."""
    from assay.cli.render import console, progress_bar
    from assay.governance.audit_hooks import audit_write
    from assay.governance.rotate import rotate_tables

    done: list[TableRotation] = []
    names = list(plan.tables)
    with progress_bar() as bar:
        task = bar.add_task(f"carrying tokens to key version {ring.current}", total=len(names))

        def finished(outcome: TableRotation) -> None:
            done.append(outcome)
            if outcome.version is not None:
                audit_write(
                    proj.runtime,
                    outcome.table,
                    rows=outcome.rows,
                    action="keys_rotate",
                    columns=outcome.columns,
                    detail={
                        "from_versions": sorted(outcome.before),
                        "to_version": ring.current,
                        "table_version": outcome.version,
                    },
                )
            bar.advance(task)

        rotate_tables(proj.runtime.warehouse, ring, names, on_table=finished)
    console.print(_summary(done, ring.current, dry_run=False))
    if proj.runtime.feature_views and any(t.version is not None for t in done):
        # The online store and training-set files are copies outside the tables.
        console.print(
            "The online store still holds the old tokens: reload it with "
            "`assay features materialize`; training-set files written before keep them too."
        )


def _show_plan(plan: RotationPlan, target: int) -> None:
    from assay.cli.render import console

    head = "would carry the tables behind to" if plan.resume else "would add key version"
    console.print(f"Dry run: {head} {target}; nothing changed.")
    console.print(_summary(list(plan.tables.values()), target, dry_run=True))


def _summary(outcomes: list[TableRotation], target: int, dry_run: bool) -> Any:
    from assay.cli.render import rows_table

    rows = []
    for t in outcomes:
        if dry_run:
            state = "current" if t.oldest == target else "to rewrite (1 commit)"
        elif t.version is not None:
            state = f"rewritten: version {t.version}"
        else:
            state = "skipped: already current" if t.columns else "no tokens"
        rows.append((t.table, ", ".join(t.columns) or "-", _versions(t), t.rows, state))
    columns = ["table", "token columns", "tokens by version (before)", "rows", "result"]
    return rows_table(f"Key rotation to version {target}", columns, rows)


def _versions(scan: TableRotation) -> str:
    return ", ".join(f"v{v}: {n:,}" for v, n in sorted(scan.before.items())) or "-"


def _tell_ring(update: RingUpdate, variable: str, what: str) -> None:
    """Say where the ring went; print it when it must go into the environment."""
    from assay.cli.render import console, err_console

    version = update.ring.current
    if not update.in_environment:
        console.print(f"{what} {version} in {update.written_to} (readable by you only).")
        return
    rerun = "run `assay keys rotate` again to carry the tables forward" if version > 1 else ""
    if update.written_to is not None:
        err_console.print(
            f"{what} {version}: the new ring is in {update.written_to}. Set ${variable} "
            f"to its contents{' and ' + rerun if rerun else ''}; no table was rewritten."
        )
        return
    err_console.print(
        f"{what} {version}: set ${variable} to the text below (keep it secret; store it "
        f"where you keep secrets){', then ' + rerun if rerun else ''}. No table was rewritten."
    )
    # Plain text on stdout only, so `assay keys rotate > ring.txt` captures the ring alone.
    typer.echo(update.ring.dump(), nl=False)
