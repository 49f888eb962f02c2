"""`assay dbt models|tests`: a dbt project's models as assay datasets, and its tests with
their newest outcome."""

from __future__ import annotations

from pathlib import Path

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

dbt_app = typer.Typer(
    help="The dbt project named by `dbt:` in assay.yaml: its models run in `assay run` as "
    "datasets, its tests as contract rules that block.\n\n"
    "Example: `assay dbt tests --project my_project` (my_project: your assay project, "
    "with `dbt:` in its assay.yaml; the README's dbt section shows how to add the test "
    "suite's dbt project to examples/fraud, which has none)",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@dbt_app.command("models")
@handles_errors
def models(project: ProjectOpt = Path(".")) -> None:
    """List the datasets made from dbt models, in build order: kind (an incremental model
    with a time column is built interval by interval), inputs and the dbt tests on each.

    Example: `assay dbt models --project my_project` (your project, `dbt:` in assay.yaml)
    """
    from assay.cli.render import console, rows_table
    from assay.integrations.dbt.overview import dbt_models

    rows = [
        (m.dataset, m.kind, m.time_column or "-", ", ".join(m.inputs), m.tests, m.origin)
        for m in dbt_models(_project(project).runtime)
    ]
    columns = ["dataset", "kind", "time column", "inputs", "tests", "model file"]
    console.print(rows_table("dbt models", columns, rows))


@dbt_app.command("tests")
@handles_errors
def tests(project: ProjectOpt = Path(".")) -> None:
    """List every dbt test with the dataset it runs with, its severity and its newest
    outcome (from the check results `assay run` and `assay check` store). Exits 1 when an
    error-severity test failed last.

    Example: `assay dbt tests --project my_project` (your project, `dbt:` in assay.yaml)
    """
    from assay.cli.render import console, rows_table
    from assay.integrations.dbt.overview import dbt_tests

    found = dbt_tests(_project(project).runtime)
    rows = [
        (t.test, t.dataset, t.severity, t.status or "not run yet", t.failing_rows) for t in found
    ]
    columns = ["test", "dataset", "severity", "last status", "failing rows"]
    console.print(rows_table("dbt tests", columns, rows))
    if any(t.status == "fail" for t in found):
        raise typer.Exit(1)
