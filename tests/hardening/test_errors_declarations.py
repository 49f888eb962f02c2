"""Python definition files that declare nonsense or end the process: refused when the project
loads, naming the file, line and argument, exit code 2 (before: `path=5` gave a 52-line
TypeError traceback from `assay plan`, a misspelt type in `columns=` passed plan and failed
the run with DuckDB's words and no file, `sys.exit()` ended `assay plan` silently with the
file's exit code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.cli_errors import assert_one_error, hint_of, invoke, scaffold


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return scaffold(tmp_path / "shop")


def declare(shop: Path, arguments: str) -> Path:
    path = shop / "pipelines" / "more.py"
    path.write_text(f"import assay\n\nextra = assay.files(\n    {arguments}\n)\n")
    return path


@pytest.mark.parametrize(
    ("arguments", "words", "hint"),
    [
        (
            '"bronze.extra", path=5, format="csv"',
            "path must be a non-empty string, not 5 (int)",
            "path='data/orders/*.csv'",
        ),
        (
            '"bronze.extra", path="data/orders/*.csv", format="csv", columns={"amount": "DUBBLE"}',
            "columns['amount']: 'DUBBLE' is not a SQL type",
            "DOUBLE",
        ),
        (
            '"bronze.extra", path="data/*.csv", format="csv", columns={"amount": float}',
            "columns['amount'] must be a non-empty string, not <class 'float'> (type)",
            "columns={'amount': 'DOUBLE'}",
        ),
        (
            '"bronze.extra", path="data/*.csv", format="csv", columns=["amount"]',
            "columns= must be a dict, not ['amount'] (list)",
            "columns={'amount': 'DOUBLE'}",
        ),
        (
            '"bronze.extra", path="data/*.csv", format="csv", time_column=1',
            "time_column must be a non-empty string, not 1 (int)",
            "time_column='event_time'",
        ),
    ],
)
def test_bad_arguments_name_the_file_line_and_argument(
    shop: Path, arguments: str, words: str, hint: str
) -> None:
    path = declare(shop, arguments)
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, f"bronze.extra ({path}:3)", words)
    assert hint in hint_of(outcome)


def test_duckdb_types_sqlglot_does_not_know_are_still_accepted(shop: Path) -> None:
    declare(
        shop,
        '"bronze.extra", path="data/orders/*.csv", format="csv", '
        'columns={"order_id": "UBIGINT", "customer_id": "varint", "amount": "DECIMAL(10, 2)"}',
    )
    outcome = invoke("run", "--project", str(shop))
    assert outcome.exit_code == 0, outcome.output
    shown = invoke(
        "sql", "SELECT typeof(customer_id) AS t FROM bronze.extra LIMIT 1", "--project", str(shop)
    )
    assert "BIGNUM" in shown.output or "VARINT" in shown.output, shown.output


@pytest.mark.parametrize(
    ("call", "shown"), [("sys.exit(3)", "sys.exit(3)"), ("exit()", "sys.exit()")]
)
def test_sys_exit_in_a_pipeline_file_is_reported_as_such(shop: Path, call: str, shown: str) -> None:
    path = shop / "pipelines" / "script.py"
    path.write_text(f"import sys\n\nimport assay\n\nprint('loading')\n{call}\n")
    outcome = invoke("plan", "--project", str(shop))
    output = outcome.output.replace("loading\n", "", 1)  # the file's own print came first
    outcome.output = output
    assert_one_error(outcome, 2, f"{path}:6:", f"the file called {shown} while it was loaded")
    assert '__name__ == "__main__"' in hint_of(outcome)
