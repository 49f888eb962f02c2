"""`assay optimize` (compact, z-order, vacuum) and `assay storage` (each table's storage
health: small files, unvacuumed history, and what optimizing would save)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

if TYPE_CHECKING:
    from assay.pipelines.optimize import OptimizeOutcome
    from assay.tables.storage import TableStorage

Names = Annotated[
    list[str] | None,
    typer.Argument(help="Tables (layer.name); default: every table in the warehouse."),
]


class StorageFormat(StrEnum):
    table = "table"
    json = "json"


@handles_errors
def optimize(
    names: Names = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the flags and the estimated saving; change nothing."),
    ] = False,
    no_vacuum: Annotated[
        bool,
        typer.Option("--no-vacuum", help="Compact and z-order only; remove no file."),
    ] = False,
    retain_hours: Annotated[
        float | None,
        typer.Option(
            "--retain-hours",
            min=1,
            help="Vacuum keeps files removed less than this long ago "
            "(default: storage.vacuum_retain_hours in assay.yaml, 168).",
        ),
    ] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Compact small files, z-order tables on their datasets' `zorder_by` columns, and
    vacuum the files no version of the retention period references.

    Every row and every version inside the retention stays readable; the commits are
    marked as maintenance, so `assay run` afterwards has nothing to do and downstream
    intervals stay done. A dataset under a legal hold is refused when named (its vacuum
    would delete files; `--no-vacuum` compacts it anyway) and, when every table is
    optimized, compacted without a vacuum. Each change goes to the audit log. With roles
    in assay.yaml, optimizing (not --dry-run) needs a role that allows `optimize`.

    Example: `assay optimize --dry-run`, then `assay optimize silver.flights --retain-hours 24`
    """
    from assay.cli.render import console, progress_bar
    from assay.governance.permissions import require_action
    from assay.lock import project_lock
    from assay.pipelines.optimize import optimize_project, optimize_targets

    proj = _project(project)
    if not dry_run:
        require_action(proj.runtime, "optimize")
    vacuum = not no_vacuum
    targets = optimize_targets(proj.runtime, names or [], vacuum=vacuum, refuse_held=not dry_run)
    if not targets:
        console.print("No table to optimize yet: `assay run` builds them.")
        return
    with project_lock(proj.state_dir, proj.config.lock_timeout), progress_bar() as bar:
        task = bar.add_task("optimize" if not dry_run else "plan", total=len(targets))
        outcomes = optimize_project(
            proj.runtime,
            targets,
            vacuum=vacuum,
            retain_hours=retain_hours,
            dry_run=dry_run,
            on_done=lambda _: bar.advance(task),
        )
    retention = retain_hours or proj.config.storage.vacuum_retain_hours
    if dry_run:
        _report_plan(outcomes, vacuum, retention)
    else:
        _report(outcomes, vacuum, retention)


@handles_errors
def storage(
    names: Names = None,
    format_: Annotated[
        StorageFormat, typer.Option("--format", "-f", help="table, or json for scripts.")
    ] = StorageFormat.table,
    project: ProjectOpt = Path("."),
) -> None:
    """Show each table's storage: live files and bytes, small files, versions kept,
    history still on disk, and the flags `assay optimize` would clear with their saving.

    Example: `assay storage`, or `assay storage silver.flights --format json`
    """
    from assay.cli.render import console
    from assay.tables.storage import warehouse_storage

    proj = _project(project)
    wh = proj.warehouse
    chosen = names or [n for n in proj.runtime.dag.order() if wh.exists(n)] + [
        n for n in wh.list_tables() if n not in proj.runtime.dag.items()
    ]
    if names:
        for name in names:
            wh.table(name)  # a clear error for a table not built yet
    listing = warehouse_storage(wh, chosen, proj.config.storage)
    if format_ is StorageFormat.json:
        console.print_json(json.dumps([_storage_json(s) for s in listing]))
        return
    _report_storage(listing)


def _vacuum_cell(outcome: OptimizeOutcome, vacuum: bool, files: int, size: int) -> str:
    """What the vacuum did (or would do) to one table, for the report's column."""
    from assay.tables.storage import human_bytes

    if not vacuum:
        return "off"
    if outcome.vacuum_skipped:
        return f"skipped: {outcome.vacuum_skipped}"
    return f"{files} files, {human_bytes(size)}"


def _report(outcomes: list[OptimizeOutcome], vacuum: bool, retention: float) -> None:
    from assay.cli.render import console, rows_table
    from assay.tables.storage import human_bytes

    rows = []
    for outcome in outcomes:
        done = outcome.result
        assert done is not None
        vacuumed = _vacuum_cell(outcome, vacuum, done.vacuumed_files, done.bytes_freed)
        rows.append(
            (
                done.name,
                f"{done.before.files} -> {done.after.files}",
                f"{human_bytes(done.before.live_bytes)} -> {human_bytes(done.after.live_bytes)}",
                ", ".join(done.zorder_by) or "-",
                vacuumed,
                f"{done.seconds:.2f}s",
            )
        )
    columns = ["table", "files", "bytes", "z-ordered by", f"vacuumed (> {retention:g} h)", "time"]
    console.print(rows_table("Optimized", columns, rows))
    freed = sum(o.result.bytes_freed for o in outcomes if o.result)
    changed = sum(1 for o in outcomes if o.result and o.result.version is not None)
    console.print(
        f"{changed} of {len(outcomes)} table(s) changed; {human_bytes(freed)} freed. "
        "Every row is where it was; versions of the last "
        f"{retention:g} h still read with `assay show NAME@VERSION`."
    )


def _report_plan(outcomes: list[OptimizeOutcome], vacuum: bool, retention: float) -> None:
    from assay.cli.render import console, rows_table
    from assay.tables.storage import human_bytes

    rows = []
    for outcome in outcomes:
        plan = outcome.plan
        assert plan is not None
        vacuum_cell = _vacuum_cell(outcome, vacuum, plan.vacuum_files, plan.vacuum_bytes)
        compact = f"{plan.storage.files} -> {plan.files_after}" if plan.compact_files else "-"
        rows.append(
            (
                plan.name,
                compact,
                ", ".join(plan.zorder_by) or "-",
                vacuum_cell,
                "; ".join(f.message for f in plan.storage.flags) or "-",
            )
        )
    columns = ["table", "compact (files)", "z-order by", f"vacuum (> {retention:g} h)", "flags"]
    console.print(rows_table("Optimize plan (dry run: nothing changed)", columns, rows))
    saving = sum(o.plan.vacuum_bytes for o in outcomes if o.plan)
    fewer = sum(o.plan.storage.files - o.plan.files_after for o in outcomes if o.plan)
    console.print(
        f"Estimated saving: {fewer} fewer file(s), {human_bytes(saving)} freed. "
        "Run `assay optimize` without --dry-run to do it."
    )


def _report_storage(listing: list[TableStorage]) -> None:
    from assay.cli.render import console, rows_table
    from assay.tables.storage import human_bytes

    rows = [
        (
            s.name,
            s.files,
            s.small_files,
            human_bytes(s.avg_file_bytes),
            human_bytes(s.live_bytes),
            human_bytes(s.unvacuumed_bytes),
            human_bytes(s.total_bytes),
            s.versions_kept,
            "; ".join(f.message for f in s.flags) or "-",
        )
        for s in listing
    ]
    columns = ["table", "files", "small", "avg file", "live", "unvacuumed", "on disk", "versions"]
    console.print(rows_table("Storage", [*columns, "flags"], rows))
    flagged = [s.name for s in listing if s.flags]
    if flagged:
        console.print(f"`assay optimize {' '.join(flagged)}` clears the flags.", soft_wrap=True)


def _storage_json(storage: TableStorage) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(storage)
