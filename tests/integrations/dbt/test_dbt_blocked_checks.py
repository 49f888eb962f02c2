"""A dbt test that blocks a model's first build shows in `assay check` and `assay status`
(what the run recorded: the table is not built, so there is nothing to check now), and
`assay check` keeps similar dbt test names apart (folded, never cut)."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from typer.testing import CliRunner

from assay.cli.main import app
from assay.cli.render import check_table
from assay.contracts.results import CheckResult
from tests.integrations.dbt.small import ROWS, STAGING, make_project

#: `reported` repeats (60 chargebacks over 20 days): dbt's unique test fails; not_null passes.
TESTS = """\
version: 2
models:
  - name: stg_chargebacks
    columns:
      - name: reported
        data_tests: [unique]
      - name: chargeback_id
        data_tests: [not_null]
"""
UNIQUE = "dbt:unique_stg_chargebacks_reported"


def _cli(*args: str) -> str:
    shown = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    return shown.output


def test_a_blocked_first_build_shows_its_dbt_test_in_check_and_status(tmp_path):
    root = tmp_path / "p"
    project = make_project(root, {**STAGING, "dbt/models/staging/staging.yml": TESTS})
    result = project.run()
    assert result.result("staging.stg_chargebacks").status == "failed"
    assert not project.warehouse.exists("staging.stg_chargebacks")
    # Oracle: dbt's unique test returns one row per repeated value.
    repeated = pd.Series([d for _, d, _ in ROWS]).value_counts()
    failing_rows = int((repeated > 1).sum())
    checked = _cli("check", "--project", str(root))
    assert "table exists" in checked  # nothing to check now ...
    lines = [line for line in checked.splitlines() if UNIQUE in line]
    assert lines, checked  # ... and what blocked it, its name on one line
    assert " fail " in lines[0] and f" {failing_rows} " in lines[0]
    status = _cli("status", "--project", str(root))
    [line] = [line for line in status.splitlines() if UNIQUE in line]
    assert "staging.stg_chargebacks" in line and " fail " in line and f" {failing_rows} " in line
    assert "not_null" not in status  # status lists what failed or warned only


def test_similar_dbt_test_names_stay_apart_in_check(tmp_path):
    names = [
        "dbt:not_null_stg_chargebacks_chargeback_id",
        "dbt:not_null_stg_chargebacks_transaction_id",
        "dbt:relationships_stg_transactions_customer_id__customer_id__ref_stg_customers_",
    ]
    results = [
        CheckResult("staging.stg_chargebacks", n, "batch", "error", "fail", 3.0, "= 0", f"{n} = 3")
        for n in names
    ]
    console = Console(width=100, record=True, no_color=True)
    console.print(check_table(results))
    shown = console.export_text()
    for name in names[:2]:
        assert name in shown  # on one line, whole
    rule_cells = [line.split("│")[2].strip() for line in shown.splitlines() if "│" in line]
    assert "".join(rule_cells[-2:]) == names[2]  # longer than the column: folded, not cut
    assert "…" not in shown
