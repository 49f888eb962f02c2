"""Run failures and reasons print their text as it is: brackets are not rich markup."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from assay.cli import render
from assay.pipelines.runner import DatasetResult, RunResult


def test_a_failure_and_its_reasons_keep_their_brackets(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(render, "err_console", Console(file=out, width=200))
    error = "the optional package 'mlflow' is not installed (hint: pip install 'assay[mlflow]')"
    failed = DatasetResult("models.fraud_model", "failed", reasons=["[red]x[/]"], error=error)
    result = RunResult(run_id="r", results=[failed], seconds=0.1)
    render.failure_summary(result)
    assert "pip install 'assay[mlflow]'" in out.getvalue()
    shown = io.StringIO()
    Console(file=shown, width=300).print(render.run_summary(result, "run"))
    assert "[red]x[/]" in shown.getvalue()
