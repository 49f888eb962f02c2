"""`assay dbt --help` teaches with an example that works: examples/fraud has no dbt project,
so the example names the user's own project (with `dbt:` in its assay.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli.main import app

FRAUD = Path(__file__).resolve().parents[3] / "examples" / "fraud"


@pytest.mark.parametrize(
    "args", [["dbt", "--help"], ["dbt", "models", "--help"], ["dbt", "tests", "--help"]]
)
def test_the_help_example_does_not_point_at_a_project_without_dbt(args: list[str]) -> None:
    assert not list(FRAUD.rglob("dbt_project.yml"))  # why examples/fraud is no example
    shown = CliRunner().invoke(app, args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    assert "--project examples/fraud" not in text
    assert "--project my_project" in text and "dbt:" in text
