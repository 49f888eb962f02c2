"""`.sql` dataset files: header parsing, references, templates and kinds."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from assay.errors import DefinitionError
from assay.intervals import Grain
from assay.pipelines.spec import Kind
from assay.pipelines.sqlfile import load_sql_file, parse_header
from assay.pipelines.transforms import render_sql, template_refs
from tests.conftest import MakeProject


def sql_file(tmp_path: Path, text: str, name: str = "model.sql") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parse_header_splits_keys_from_body() -> None:
    text = (
        "-- name: silver.tx\n"
        "--KIND :  incremental  \n"
        "\n"
        "-- an ordinary comment without a colon\n"
        "-- keys: a, b\n"
        "SELECT 1\n"
        "-- trailing: comment in the body is not header\n"
    )
    header, body = parse_header(text, "x.sql")
    assert header == {"name": "silver.tx", "kind": "incremental", "keys": "a, b"}
    assert body == "SELECT 1\n-- trailing: comment in the body is not header"


def test_indented_comment_lines_continue_the_previous_key() -> None:
    text = "-- description: card transactions,\n--   deduplicated\n-- owner: risk\nSELECT 1"
    header, _ = parse_header(text, "x.sql")
    assert header == {"description": "card transactions, deduplicated", "owner": "risk"}


def test_header_only_file_has_empty_body() -> None:
    assert parse_header("-- name: a.b\n", "x.sql") == ({"name": "a.b"}, "")


def test_misspelt_header_key_names_file_line_and_the_key_meant(tmp_path: Path) -> None:
    path = sql_file(tmp_path, "-- name: silver.tx\n\n-- tme_column: t\nSELECT 1\n")
    with pytest.raises(DefinitionError) as info:
        load_sql_file(path)
    assert info.value.where == f"{path}:3"
    assert "'tme_column'" in info.value.message
    assert "did you mean 'time_column'?" in info.value.message
    assert f"{path}:3" in str(info.value)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("grian", "grain"), ("kinds", "kind"), ("batchsize", "batch_size"), ("Owners", "owner"),
     ("look_back", "lookback"), ("partition", "partition_by"), ("descrption", "description")],
)  # fmt: skip
def test_typos_of_every_kind_are_refused(typo: str, meant: str) -> None:
    with pytest.raises(DefinitionError, match=f"did you mean '{meant}'"):
        parse_header(f"-- name: a.b\n-- {typo}: x\nSELECT 1", "x.sql")


def test_ordinary_comments_with_a_colon_pass_through(tmp_path: Path) -> None:
    path = sql_file(
        tmp_path,
        "-- name: gold.prices\n"
        "-- Fix: map KOR to PRK\n"
        "-- Note: prices are in USD\n"
        "-- TODO: drop the 1990s\n"
        "-- see: https://example.org/a:b\n"
        "-- kind: full\n"
        "SELECT 1 AS a\n",
    )
    spec = load_sql_file(path)
    assert spec.name == "gold.prices" and spec.kind is Kind.FULL


def test_a_value_may_end_in_a_comment() -> None:
    header, _ = parse_header(
        "-- name: silver.t   -- the table\n"
        "-- kind: incremental          -- full | incremental | merge\n"
        "-- grain: day --hour | day\n"
        "-- keys: a--b\n"
        "SELECT 1",
        "x.sql",
    )
    # A comment needs space before its `--`; `a--b` is a value.
    assert header == {"name": "silver.t", "kind": "incremental", "grain": "day", "keys": "a--b"}


def test_the_readme_sql_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("**SQL transforms**", 1)[1].split("```sql\n", 1)[1].split("```")[0]
    spec = load_sql_file(sql_file(tmp_path, example))
    assert spec.name == "silver.transactions"
    assert spec.kind is Kind.INCREMENTAL and spec.grain is Grain.DAY
    assert spec.time_column == "event_time" and spec.batch_size == 30
    assert spec.owner == "payments-platform" and dict(spec.tags) == {"pii": "card_number"}
    assert spec.inputs == ("bronze.transactions",)


def test_full_header_builds_the_spec(tmp_path: Path) -> None:
    path = sql_file(
        tmp_path,
        """-- name: transactions
-- layer: silver
-- kind: incremental_by_time_range
-- time_column: event_time
-- grain: hour
-- start: 2026-01-01
-- lookback: 2
-- batch_size: 90
-- keys: tx_id, card_id
-- partition_by: day
-- owner: risk-team
-- tags: pii, tier=1
-- description: cleaned transactions
SELECT * FROM {{ ref('bronze.transactions') }} t
JOIN {{ref('bronze.cards')}} c USING (card_id)
WHERE t.event_time >= {{ start }} AND t.event_time < {{ end }}
  AND t.card_id IN (SELECT card_id FROM {{ ref( 'bronze.cards' ) }})
""",
    )
    spec = load_sql_file(path)
    assert spec.name == "silver.transactions"
    assert spec.kind is Kind.INCREMENTAL
    assert spec.time_column == "event_time"
    assert spec.grain is Grain.HOUR
    assert spec.start == datetime(2026, 1, 1)
    assert spec.lookback == 2
    assert spec.batch_size == 90
    assert spec.keys == ("tx_id", "card_id")
    assert spec.partition_by == ("day",)
    assert spec.owner == "risk-team"
    assert dict(spec.tags) == {"pii": "true", "tier": "1"}
    assert spec.description == "cleaned transactions"
    assert spec.inputs == ("bronze.transactions", "bronze.cards")  # deduplicated, in order
    assert spec.origin == str(path)


def test_template_refs_in_order_of_appearance() -> None:
    sql = "SELECT * FROM {{ ref('b.x') }} JOIN {{ref('a.y')}} ON 1 WHERE t > {{ start }}"
    assert template_refs(sql) == ["b.x", "a.y"]
    assert template_refs("SELECT 1") == []


def test_render_sql_fills_refs_times_and_vars() -> None:
    sql = (
        "SELECT * FROM {{ ref('bronze.t') }} WHERE ts >= {{ start }} AND ts < {{end}} "
        "AND country = '{{ var('country') }}' LIMIT {{ var('n') }}"
    )
    values = {
        "start": datetime(2026, 1, 1),
        "end": datetime(2026, 1, 2),
        "vars": {"country": "GB", "n": 5},
    }
    assert render_sql(sql, values, "x.sql") == (
        "SELECT * FROM bronze.t WHERE ts >= TIMESTAMP '2026-01-01 00:00:00' "
        "AND ts < TIMESTAMP '2026-01-02 00:00:00' AND country = 'GB' LIMIT 5"
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT {{ start }}", "only defined for incremental"),
        ("SELECT {{ var('missing') }}", "unknown var 'missing'"),
        ("SELECT {{ source('x') }}", "unknown template expression"),
    ],
)
def test_render_sql_errors(sql: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as info:
        render_sql(sql, {"start": None, "end": None, "vars": {}}, "model.sql")
    assert info.value.where == "model.sql"


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("incremental_by_time_range", Kind.INCREMENTAL),
        ("incremental", Kind.INCREMENTAL),
        ("merge_by_key", Kind.MERGE),
        ("merge", Kind.MERGE),
        ("table", Kind.FULL),
        ("view", Kind.FULL),
        ("FULL", Kind.FULL),
    ],
)
def test_kind_aliases(tmp_path: Path, written: str, kind: Kind) -> None:
    path = sql_file(
        tmp_path,
        f"-- name: silver.x\n-- kind: {written}\n-- time_column: t\n-- keys: id\nSELECT 1\n",
    )
    assert load_sql_file(path).kind is kind


def test_default_kind_is_full(tmp_path: Path) -> None:
    assert load_sql_file(sql_file(tmp_path, "-- name: gold.x\nSELECT 1")).kind is Kind.FULL


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- name: silver.x\n-- kind: snapshot\nSELECT 1", "invalid kind 'snapshot'"),
        ("-- kind: full\nSELECT 1", "missing `-- name: layer.name` header"),
        ("-- name: silver.x\n", "no SQL body"),
        ("-- name: gold.x\n-- layer: silver\nSELECT 1", "does not match"),
        ("-- name: x\nSELECT 1", "not of the form layer.name"),
        ("-- name: silver.x\n-- kind: incremental\nSELECT 1", "need a time column"),
        ("-- name: silver.x\n-- kind: merge\nSELECT 1", "need keys"),
        ("-- name: silver.x\n-- grain: fortnight\nSELECT 1", "invalid grain 'fortnight'"),
        ("-- name: silver.x\n-- lookback: two\nSELECT 1", "lookback"),
    ],
)
def test_invalid_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = sql_file(tmp_path, text)
    with pytest.raises(DefinitionError, match=message) as info:
        load_sql_file(path)
    assert str(path) in str(info.value)


def test_fingerprint_ignores_whitespace_but_not_code(tmp_path: Path) -> None:
    a = load_sql_file(sql_file(tmp_path, "-- name: gold.x\nSELECT 1 AS a", "a.sql"))
    b = load_sql_file(sql_file(tmp_path, "-- name: gold.x\nSELECT   1\n  AS a", "b.sql"))
    c = load_sql_file(sql_file(tmp_path, "-- name: gold.x\nSELECT 2 AS a", "c.sql"))
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint


def test_python_transforms_keep_their_batch_size() -> None:
    import assay

    @assay.transform("gold.x", inputs=["silver.t"], kind="incremental", time_column="day",
                     batch_size=90)  # fmt: skip
    def x(ctx, t):  # type: ignore[no-untyped-def]
        return t

    assert x.dataset.batch_size == 90  # type: ignore[attr-defined]


def test_an_undeclared_batch_size_is_the_engines_default(make_project: MakeProject) -> None:
    """Without `batch_size`, DuckDB computes and commits 30 day-intervals at a time (Spark
    366: `default_batch_intervals`); a declared one wins."""
    import assay
    from assay.engines.duckdb import DuckDBEngine
    from assay.engines.spark.engine import SparkEngine
    from tests.helpers import EVENTS_INGEST, event, jsonl

    assert (DuckDBEngine.default_batch_intervals, SparkEngine.default_batch_intervals) == (30, 366)
    daily = (
        "-- name: silver.events\n-- kind: incremental\n-- time_column: event_time\n"
        "{batch}SELECT * FROM {{{{ ref('bronze.events') }}}}\n"
        "WHERE event_time >= {{{{ start }}}} AND event_time < {{{{ end }}}}\n"
    )
    first = datetime(2026, 1, 1, 10)
    days = [event(i, 1, 1.0, str(first + timedelta(days=i))) for i in range(61)]  # 61 days
    for batch, commits in ((None, 3), (10, 7)):
        header = "" if batch is None else f"-- batch_size: {batch}\n"
        root = make_project(
            {
                "pipelines/ingest.py": EVENTS_INGEST,
                "pipelines/events.sql": daily.format(batch=header),
                "data/events/a.jsonl": jsonl(days),
            },
            name=f"p{batch}",
        )
        result = assay.Project(root).run()
        assert result.ok
        built = next(r for r in result.results if r.dataset == "silver.events")
        assert (built.intervals, built.commits) == (61, commits), batch


def test_retention_header_is_read_and_checked(tmp_path: Path) -> None:
    spec = load_sql_file(
        sql_file(tmp_path, "-- name: gold.kept\n-- retention: 400d\nSELECT 1 AS x")
    )
    assert spec.protection.retention == timedelta(days=400)
    with pytest.raises(DefinitionError, match="invalid retention"):
        load_sql_file(sql_file(tmp_path, "-- name: gold.kept\n-- retention: forever\nSELECT 1"))
