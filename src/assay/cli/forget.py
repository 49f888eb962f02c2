"""`assay forget`: erase a data subject everywhere assay keeps it, and prove it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

if TYPE_CHECKING:
    from assay.governance.erasure import ErasureReport


@handles_errors
def forget(
    subject: Annotated[
        list[str],
        typer.Option("--subject", "-s", help="column=value naming the person (repeatable)."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (tables, rows); change nothing.")
    ] = False,
    purge_history: Annotated[
        bool,
        typer.Option(
            "--purge-history",
            help="Also rewrite and vacuum older versions and log statistics: time travel "
            "to versions before the erasure is lost for those tables.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    project: ProjectOpt = Path("."),
) -> None:
    """Erase a person: find every table, quarantined or dead-lettered record, training
    set, request log, online feature and source file that holds them (through column
    names, column lineage and their own keys, such as their cards), delete their rows in
    one commit per table (held tables are skipped and reported), then scan every data file,
    the Delta logs, the online store and the catalog to prove nothing is left. The proof,
    with salted hashes instead of the values, goes to the audit log (`assay audit`).

    Source files outside the warehouse (file sources, folder streams' files, the Kafka
    partitions and offsets that held the subject) are listed for deletion at the source.
    A subject named by one identifier (an email) is followed to their others (their
    customer id, their cards) found on their rows.

    Exit codes: 0 when nothing of the subject remains anywhere ("None found."); 1 when the
    proof still finds the subject where it was to be erased (it says where); 4 when the
    erasure is otherwise complete but a table under legal hold still holds the subject
    ("Still held: TABLE (legal hold: REASON), N rows"). Roles configured, the principal's
    role must allow `forget`.

    Example: `assay forget --subject customer_id=123 --dry-run`, then
    `assay forget --subject customer_id=123 --purge-history --yes`
    """
    from assay.cli.render import console
    from assay.governance.erasure import Subject, forget

    subjects = [Subject.parse(text) for text in subject]
    runtime = _project(project).runtime
    if not dry_run and not yes:
        plan = forget(runtime, subjects, dry_run=True)
        _print_plan(plan)
        if not plan.plan.tables and not plan.plan.online:
            return
        typer.confirm("Erase these rows?", abort=True)
    with console.status("erasing") as status:
        report = forget(
            runtime,
            subjects,
            dry_run=dry_run,
            purge_history=purge_history,
            progress=lambda text: status.update(text),
        )
    if dry_run:
        _print_plan(report)
        return
    _print_result(report)
    if not report.ok:
        raise typer.Exit(1)
    if report.still_held:
        raise typer.Exit(STILL_HELD_EXIT)


#: Exit status when only tables under legal hold still hold the subject.
STILL_HELD_EXIT = 4


def _print_plan(report: ErasureReport) -> None:
    from assay.cli.render import console, rows_table

    plan = report.plan
    rows = [
        (t.table, t.kind, ", ".join([*t.columns, *t.raw]), f"{t.rows:,}", t.hold or "-")
        for t in plan.tables
    ]
    rows += [
        (f"online: {o.view}", "online features", o.column, f"{o.rows:,}", "-") for o in plan.online
    ]
    title = "Erasure plan (dry run: nothing changed)" if report.dry_run else "Erasure plan"
    console.print(rows_table(title, ["dataset", "kind", "matched on", "rows", "legal hold"], rows))
    _print_sources(report)
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}")


def _print_sources(report: ErasureReport) -> None:
    from assay.cli.render import console, rows_table

    if report.plan.sources:
        rows = [(f.dataset, f.path, f"{f.records:,}") for f in report.plan.sources]
        title = "Source files outside the warehouse: delete the subject at the source"
        console.print(rows_table(title, ["dataset", "file", "records"], rows))
        console.print(
            "Until they are deleted there, a full refresh (`assay run --full-refresh`) "
            "would ingest the subject again."
        )


def _print_result(report: ErasureReport) -> None:
    from assay.cli.render import console, rows_table

    rows: list[tuple[object, ...]] = [
        (e.table, f"{e.rows_deleted:,}", e.files_rewritten, e.commits, e.version)
        for e in report.erased
    ]
    rows += [(f"online: {v}", f"{n:,}", "-", "-", "-") for v, n in report.online_deleted.items()]
    for note in report.plan.notes:
        console.print(f"[yellow]note:[/] {note}")
    if not rows:
        console.print("No table or online view holds the subject.")
    else:
        columns = ["dataset", "rows", "files rewritten", "commits", "version"]
        console.print(rows_table("Erased", columns, rows))
    for where, scrubbed in report.catalog_scrubbed.items():
        console.print(f"Scrubbed the subject from the catalog's {where} ({scrubbed} rows).")
    for table, reason in report.skipped:
        console.print(f"[yellow]skipped {table}: legal hold ({reason})[/]")
    if report.purged:
        purged = [
            (
                p.table,
                p.files_vacuumed,
                p.log_entries_rewritten,
                p.checkpoints_removed,
                p.checkpoint_version,
            )
            for p in report.purged
        ]
        columns = [
            "table",
            "files vacuumed",
            "log entries rewritten",
            "old checkpoints removed",
            "checkpoint at",
        ]
        console.print(rows_table("History purged", columns, purged))
        console.print(
            "Time travel to versions before the erasure no longer works for these tables."
        )
    _print_sources(report)
    _print_proof(report)


def _print_proof(report: ErasureReport) -> None:
    from assay.cli.render import console

    proof = report.proof
    if proof is None:
        return
    console.print(
        f"Proof: scanned {proof.files_scanned:,} data files, {proof.log_files_scanned:,} log "
        f"files, {proof.online_views_scanned} online views, {proof.catalog_tables_scanned} "
        f"catalog tables in {report.seconds:.1f} s; written to the audit log (action erase)."
    )
    if not report.purge_history:
        for finding in proof.history():
            console.print(f"[yellow]still in an older version:[/] {finding.where}")
        if proof.history():
            console.print("Run again with --purge-history to remove them from older versions.")
    failures = proof.failures(report.purge_history)
    for finding in failures:
        console.print(f"[red]STILL FOUND:[/] {finding.where} ({finding.rows} rows)")
    if report.still_held:
        held = "; ".join(
            f"{table} (legal hold: {reason}), {rows:,} rows"
            for table, reason, rows in report.still_held
        )
        console.print(f"[yellow]Still held:[/] {held}")
    elif not failures:
        console.print("[green]None found.[/]")
