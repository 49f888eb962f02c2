"""A broken `.sql` dataset stops the project from loading, naming file, line and column, so
`assay plan` exits 2 and `assay run` commits nothing (before: plan exited 0 and run
committed the other datasets, failing this one with DuckDB's words and no file)."""

from __future__ import annotations

from pathlib import Path

import pytest

import assay
from assay.errors import DefinitionError
from assay.pipelines.sqlfile import load_sql_file
from tests.hardening.cli_errors import assert_one_error, hint_of, invoke, scaffold

HEADER = "-- name: silver.broken\n-- kind: full\n\n"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return scaffold(tmp_path / "shop")


@pytest.mark.parametrize(
    ("body", "line", "column", "words"),
    [
        # Line and column are of the file: the 3 header lines count.
        ("SELECT order_id,\n  FROM WHERE x", 5, 8, "Expected table name but got 'WHERE'"),
        ("SELECT order_id,, amount\nFROM {{ ref('bronze.orders') }}", 4, 17, "two commas"),
        ("SELECT * FROM {{ ref('bronze.orders') }} WHERE (amount > 1", 4, 58, "Expecting )"),
        ("SELECT 1,\n  'not closed\nFROM t", 5, 3, "a string opened with ' is never closed"),
        ("SELECT * FROM {{ ref('bronze.orders')\n", 4, 15, "unterminated or malformed"),
        ('SELECT * FROM {{ ref("bronze.orders") }}', 4, 15, "unterminated or malformed"),
        ("SELECT * FROM {{ ref('bronze.orders') }} WHERE {{ when }}", 4, 48, "{{ when }}"),
        ("SELECT {{ var('country') }} FROM {{ ref('bronze.orders') }}", 4, 8, "unknown var"),
    ],
)
def test_sql_errors_name_file_line_column_and_plan_exits_2(
    shop: Path, body: str, line: int, column: int, words: str
) -> None:
    path = shop / "pipelines" / "broken.sql"
    path.write_text(HEADER + body)
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, f"{path}:{line}:{column}:", words)
    assert hint_of(outcome)


def test_a_syntax_error_stops_run_before_anything_commits(shop: Path) -> None:
    path = shop / "pipelines" / "broken.sql"
    path.write_text(HEADER + "SELECT order_id,, amount\nFROM {{ ref('bronze.orders') }}\n")
    outcome = invoke("run", "--project", str(shop))
    assert_one_error(outcome, 2, f"{path}:4:17:")
    assert not (shop / "warehouse").exists() or not any((shop / "warehouse").rglob("*.json"))


def test_a_non_utf8_sql_file_is_named_with_the_byte_position(shop: Path) -> None:
    path = shop / "pipelines" / "broken.sql"
    path.write_bytes(HEADER.encode() + b"SELECT 'caf\xe9' AS x\n")
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, f"{path}:4:12:", "not UTF-8 text (byte 0xe9)")
    assert "UTF-8" in hint_of(outcome)


def test_valid_sql_with_every_template_still_loads_and_runs(shop: Path) -> None:
    """No false alarm: refs, interval bounds, vars (a value and an identifier), a struct
    literal with `}}`, a `{{` inside a string, DuckDB-only syntax."""
    config = shop / "assay.yaml"
    config.write_text(config.read_text() + "vars:\n  min_amount: 10\n  dir: DESC\n")
    (shop / "pipelines" / "fine.sql").write_text(
        "-- name: silver.fine\n-- kind: incremental\n-- time_column: ordered_at\n"
        "SELECT o.*, {'a': {'b': 1}} AS nested, '{{ not a template' AS text\n"
        "FROM {{ref('bronze.orders')}} AS o\n"
        "WHERE ordered_at >= {{ start }} AND ordered_at < {{end}}\n"
        "  AND amount >= {{ var('min_amount') }}\n"
        "QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY amount {{ var('dir') }}) = 1\n"
    )
    outcome = invoke("run", "--project", str(shop))
    assert outcome.exit_code == 0, outcome.output
    table = assay.Project(shop).table("silver.fine")
    assert sorted(table["amount"].to_pylist()) == [12.5, 30.0]  # 7.25 is under min_amount
    assert set(table["text"].to_pylist()) == {"{{ not a template"}


def test_a_body_using_vars_is_parsed_with_their_values(tmp_path: Path) -> None:
    """A var's value can be any SQL text: without the project's vars the body is not judged,
    with them an undefined var is refused and the filled body parsed."""
    path = tmp_path / "ordered.sql"
    path.write_text("-- name: gold.x\nSELECT a FROM t ORDER BY a {{ var('dir') }}\n")
    assert load_sql_file(path).name == "gold.x"
    assert load_sql_file(path, {"dir": "DESC"}).name == "gold.x"
    with pytest.raises(DefinitionError, match="unknown var 'dir'") as info:
        load_sql_file(path, {})
    assert info.value.where == f"{path}:2:28"
    with pytest.raises(DefinitionError, match="SQL syntax error") as info:
        load_sql_file(path, {"dir": "DESC LIMIT"})
    assert info.value.where is not None and info.value.where.startswith(f"{path}:2:")
