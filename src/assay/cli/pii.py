"""`assay pii scan|columns`: find personal data in tables; show every classified column."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

pii_app = typer.Typer(
    help="Personal data: `scan` finds it in tables by column names and sampled values "
    "(emails, phones, Luhn-valid card numbers, mod-97-valid IBANs, IPs, national ids) and "
    "records it in the catalog; `columns` shows every classified column and why.\n\n"
    "Example: `assay pii scan silver.customers --project examples/fraud`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


class Format(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]


@pii_app.command("scan")
@handles_errors
def scan(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Tables (layer.name) to scan; none: every built table."),
    ] = None,
    project: ProjectOpt = Path("."),
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence",
            min=0.0,
            max=1.0,
            help="Findings at or above it are recorded and classify the column `pii`; "
            "below it they are shown as doubtful.",
        ),
    ] = 0.5,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Rows sampled per table.")] = 1000,
    presidio: Annotated[
        bool,
        typer.Option(
            "--presidio/--no-presidio",
            help="Add Presidio's recognizers (the pii extra; on when installed).",
        ),
    ] = True,
    format_: FormatOpt = Format.table,
) -> None:
    """Scan tables for personal data; record what is found in the catalog, so those
    columns (and the columns derived from them) are classified `pii` on every read.
    Examples are masked: no clear value is shown or stored. With `roles:` in assay.yaml,
    your role must list `pii_scan` in its `allow:` (the scan reads clear values).

    Example: `assay pii scan --project examples/fraud --min-confidence 0.8`
    """
    from assay.cli.render import console, progress_bar
    from assay.governance import pii_presidio
    from assay.governance.permissions import require_action
    from assay.governance.scan import check_built
    from assay.governance.scan import scan as run_scan

    runtime = _project(project).runtime
    require_action(runtime, "pii_scan")  # before any name is checked or bar shown
    use_presidio = presidio and pii_presidio.available()
    chosen = names or [n for n in runtime.dag.order() if runtime.warehouse.exists(n)]
    for name in chosen:  # a wrong name fails before the progress bar starts
        check_built(runtime, name)
    if format_ is Format.json:  # stdout holds only the JSON
        reports = run_scan(runtime, chosen, rows, min_confidence, use_presidio)
        print(json.dumps([_report_json(r) for r in reports], indent=2, default=str))
        return
    with progress_bar() as bar:
        task = bar.add_task("scanning", total=len(chosen))
        reports = run_scan(runtime, chosen, rows, min_confidence, use_presidio, _after(bar, task))
        bar.update(task, completed=len(chosen), description="scanned")
    _print_reports(console, reports, min_confidence)
    if presidio and not use_presidio:
        console.print(
            "Presidio's recognizers (more national ids) are not installed: "
            "pip install 'assay[pii]' adds them."
        )


def _after(bar: Any, task: Any) -> Any:
    """A progress callback: the previous table is done when the next one starts."""
    seen: list[str] = []

    def progress(name: str) -> None:
        if seen:
            bar.advance(task)
        seen.append(name)
        bar.update(task, description=f"scanning {name}")

    return progress


def _report_json(report: Any) -> dict[str, Any]:
    def finding(f: Any) -> dict[str, Any]:
        return {
            "column": f.column,
            "kind": f.kind,
            "confidence": f.confidence,
            "matched": f.matched,
            "sampled": f.sampled,
            "examples": list(f.examples),
        }

    return {
        "dataset": report.dataset,
        "version": report.version,
        "rows": report.rows,
        "sampled": report.sampled,
        "presidio": report.presidio,
        "findings": [finding(f) for f in report.findings],
        "doubtful": [finding(f) for f in report.doubtful],
    }


def _print_reports(console: Any, reports: list[Any], min_confidence: float) -> None:
    from assay.cli.render import rows_table

    rows = [
        (
            r.dataset,
            f.column,
            f.kind,
            f"{f.confidence:.2f}" + ("" if f.confidence >= min_confidence else " (doubtful)"),
            f"{f.matched}/{f.sampled}",
            ", ".join(f.examples) or "-",
        )
        for r in reports
        for f in (*r.findings, *r.doubtful)
    ]
    columns = ["dataset", "column", "kind", "confidence", "matched", "examples (masked)"]
    if rows:
        console.print(rows_table("Personal data found", columns, rows))
    found = sum(len(r.findings) for r in reports)
    engines = "patterns + Presidio" if any(r.presidio for r in reports) else "patterns"
    console.print(
        f"Scanned {len(reports)} table(s) ({engines}); {found} finding(s) at confidence >= "
        f"{min_confidence:g} recorded in the catalog; their columns are classified pii."
    )


@pii_app.command("columns")
@handles_errors
def columns(
    project: ProjectOpt = Path("."),
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Only this table (layer.name).")
    ] = None,
    format_: FormatOpt = Format.table,
) -> None:
    """Show every classified column: its classifications, what it holds and why
    (contract, dataset tags, a scan, or lineage from an upstream column).

    Example: `assay pii columns --project examples/fraud --dataset silver.customers`
    """
    from assay.cli.render import console, rows_table
    from assay.governance.classes import as_json, classified_columns, feature_classes

    runtime = _project(project).runtime
    if dataset is not None:
        runtime.dag[dataset]  # an unknown name raises, listing the known ones
    found = {t: c for t, c in classified_columns(runtime).items() if dataset in (None, t)}
    if format_ is Format.json:
        print(json.dumps(as_json(found), indent=2))
        return
    rows = [
        (
            table,
            column,
            ", ".join(sorted(c.classes)),
            ", ".join(sorted(c.kinds)) or "-",
            "; ".join(c.sources),
        )
        for table, cols in found.items()
        for column, c in cols.items()
    ]
    if not rows:
        console.print("No classified columns.")
        return
    headers = ["dataset", "column", "classification", "kind", "why"]
    console.print(rows_table("Classified columns", headers, rows))
    served = [
        (view, feature, ", ".join(sorted(classes)), runtime.feature_views[view].source)
        for view, features in feature_classes(runtime).items()
        if dataset in (None, runtime.feature_views[view].source)
        for feature, classes in features.items()
    ]
    if served:
        headers = ["feature view", "feature", "classification", "source table"]
        console.print(rows_table("Features serving classified columns", headers, served))
