"""`assay governance report`: the records of processing, in Markdown or JSON."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

governance_app = typer.Typer(
    help="Governance documents: `report` writes the records of processing a DPO asks for "
    "(GDPR art. 30, CCPA, HIPAA).\n\n"
    "Example: `assay governance report --project examples/fraud -o processing.md`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


class ReportFormat(StrEnum):
    markdown = "markdown"
    json = "json"


@governance_app.command("report")
@handles_errors
def report(
    project: ProjectOpt = Path("."),
    format_: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="markdown or json.")
    ] = ReportFormat.markdown,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of the terminal."),
    ] = None,
) -> None:
    """Records of processing: the datasets holding personal data and their classified
    columns, owners, purposes, retention, legal holds, the roles that read them (masked,
    denied, filtered) and the last erasures with their proof. No data values. With
    `roles:` in assay.yaml, your role must list `report` in its `allow:`.

    Example: `assay governance report --project examples/fraud --format json -o ropa.json`
    """
    from assay.cli.render import console
    from assay.errors import UsageError
    from assay.governance.report import records
    from assay.governance.report_render import to_json, to_markdown

    runtime = _project(project).runtime
    found = records(runtime)  # with roles:, the principal's role must allow `report`
    text = to_json(found) if format_ is ReportFormat.json else to_markdown(found)
    if output is None:
        if format_ is ReportFormat.json:
            print(text)
        else:
            from rich.markdown import Markdown

            console.print(Markdown(text))
        return
    try:
        output.write_text(text)
    except OSError as exc:
        raise UsageError(
            f"cannot write the report: {exc.strerror}",
            where=str(output),
            hint="give a writable path with -o",
        ) from None
    console.print(
        f"Wrote the records of processing ({len(found.datasets)} dataset(s) with "
        f"classified columns, {len(found.erasures)} erasure(s)) to {output}."
    )
