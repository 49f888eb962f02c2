"""Tables whose files mix Arrow `string` and `string_view` (delta-rs writes MERGE output as
`string_view`) scan with string filters: pyarrow has no kernel comparing the two, and a
gold dataset over a merged table failed after a second delivery with
"Function 'greater_equal' has no kernel matching input types (string, string_view)".

Checked on vega_datasets' stocks and Seattle weather against pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from vega_datasets import local_data

import assay
from assay.engines.duckdb import DuckDBEngine
from assay.engines.views import scannable_parts
from assay.tables import Warehouse, WriteMode
from tests.helpers import write_project

TABLE = "silver.t"


@pytest.fixture
def mixed(tmp_path: Path) -> Warehouse:
    """A table with a file written by delta-rs's MERGE (string_view) and one appended."""
    wh = Warehouse(str(tmp_path / "wh"))
    first = pa.table({"k": [1, 2, 3], "s": ["apple", "banana", "cherry"]})
    wh.write(TABLE, first, mode=WriteMode.OVERWRITE, metadata={})
    wh.merge(TABLE, pa.table({"k": [2, 4], "s": ["blueberry", "date"]}), keys=["k"], metadata={})
    wh.write(TABLE, pa.table({"k": [5], "s": ["elder"]}), mode=WriteMode.APPEND, metadata={})
    return wh


def test_the_merge_really_wrote_string_view(mixed: Warehouse) -> None:
    kinds = {
        pq.read_schema(f"{mixed.uri(TABLE)}/{path}").field("s").type
        for path in mixed.file_actions(TABLE)["path"].to_pylist()
    }
    # Without both kinds of file this test would prove nothing.
    assert kinds == {pa.string(), pa.string_view()}
    parts = scannable_parts(mixed.dataset(TABLE))
    assert sorted(str(p.schema.field("s").type) for p in parts) == ["string", "string_view"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("s = 'date'", [4]),
        ("s = 'elder'", [5]),
        ("s >= 'blueberry' AND s < 'date'", [2, 3]),
        ("s IN ('apple', 'elder', 'zebra')", [1, 5]),
        ("s LIKE 'b%'", [2]),
        ("s > 'zebra'", []),  # outside every file's min/max
        ("k IN (SELECT k FROM silver.t WHERE s <> 'apple')", [2, 3, 4, 5]),
    ],
)
def test_string_filters_on_a_mixed_table(mixed: Warehouse, where: str, expected: list[int]) -> None:
    engine = DuckDBEngine(mixed)
    got = engine.query(f"SELECT k FROM silver.t WHERE {where} ORDER BY k", {TABLE: _ref()})
    assert got["k"].to_pylist() == expected


def _ref() -> assay.engines.TableRef:
    return assay.engines.TableRef(TABLE)


INGEST = """
import assay

stocks = assay.files("bronze.stocks", path="data/stocks/*.csv", format="csv",
                     columns={"symbol": "VARCHAR", "date": "DATE", "price": "DOUBLE"})
weather = assay.files("bronze.weather", path="data/weather/*.csv", format="csv",
                      columns={"date": "DATE", "temp_max": "DOUBLE", "weather": "VARCHAR"})
"""
SILVER = """-- name: silver.stocks
-- kind: merge
-- keys: symbol, date
SELECT symbol, date, price FROM {{ ref('bronze.stocks') }}
QUALIFY row_number() OVER (PARTITION BY symbol, date ORDER BY _ingested_at DESC) = 1
"""
# Stock prices by calendar month beside Seattle's mean high for that calendar month: the
# join and the symbol filter both push string/int filters into the merged table's scan.
GOLD = """-- name: gold.stock_weather
SELECT s.symbol, month(s.date) AS month, avg(s.price) AS price, any_value(w.temp) AS temp
FROM {{ ref('silver.stocks') }} s
JOIN (SELECT month(date) AS month, avg(temp_max) AS temp
      FROM {{ ref('bronze.weather') }} GROUP BY 1) w ON month(s.date) = w.month
WHERE s.symbol IN ('MSFT', 'AAPL', 'IBM')
GROUP BY ALL
"""


def _csv(frame: pd.DataFrame) -> str:
    return str(frame.to_csv(index=False, date_format="%Y-%m-%d"))


def test_a_gold_join_over_a_merged_table_survives_a_second_delivery(tmp_path: Path) -> None:
    stocks, weather = local_data.stocks(), local_data.seattle_weather()
    first = stocks[stocks.symbol.isin(["MSFT", "IBM", "AMZN"])]
    root = write_project(
        tmp_path / "p",
        {
            "pipelines/ingest.py": INGEST,
            "pipelines/silver_stocks.sql": SILVER,
            "pipelines/gold.sql": GOLD,
            "data/stocks/a.csv": _csv(first),
            "data/weather/seattle.csv": _csv(weather),
        },
    )
    project = assay.Project(root)
    assert project.run().ok
    # The second delivery adds AAPL and GOOG and corrects MSFT prices: the merge updates
    # and inserts, writing string_view files.
    second = stocks[stocks.symbol.isin(["GOOG", "AAPL", "MSFT"])].copy()
    second.loc[second.symbol == "MSFT", "price"] += 1.0
    (root / "data/stocks/b.csv").write_text(_csv(second))
    result = project.run()
    assert result.ok, [r.error for r in result.results if r.error]

    final = pd.concat([first[first.symbol != "MSFT"], second])
    final = final[final.symbol.isin(["MSFT", "AAPL", "IBM"])]
    temps = weather.groupby(weather.date.dt.month).temp_max.mean()
    expected = (
        final.assign(month=final.date.dt.month)
        .groupby(["symbol", "month"], as_index=False)
        .price.mean()
        .assign(temp=lambda f: f.month.map(temps))
        .sort_values(["symbol", "month"])
        .reset_index(drop=True)
    )
    got = (
        project.table("gold.stock_weather")
        .to_pandas()
        .sort_values(["symbol", "month"])
        .reset_index(drop=True)
    )
    assert len(got) == len(expected) == 3 * 12
    assert got.symbol.tolist() == expected.symbol.tolist()
    assert got.month.tolist() == expected.month.tolist()
    assert got.price.to_numpy() == pytest.approx(expected.price.to_numpy())
    assert got.temp.to_numpy() == pytest.approx(expected.temp.to_numpy())
