"""Online reads of historical data (vega_datasets' monthly stock prices, 2000-2010), checked
against pandas: served `as_of` the materialization's end, values are present, not judged
against today's wall clock; an entity key that is not the view's join key is a 422."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from vega_datasets import local_data

import assay
from assay.features.store import EntityKeyError
from assay.server.app import create_app, hash_key
from tests.helpers import write_project

KEY = "k"
HEADERS = {"X-API-Key": KEY}
END = datetime(2002, 12, 15)
TTL = timedelta(days=45)

INGEST = """
import assay

stocks = assay.files("bronze.stocks", path="data/stocks.csv", format="csv",
                     columns={"symbol": "VARCHAR", "date": "DATE", "price": "DOUBLE"})
"""
FEATURES = """
from assay import Entity, FeatureService, FeatureView

ticker = Entity("ticker", join_keys=["symbol"])
prices = FeatureView(name="prices", entities=[ticker], source="bronze.stocks",
                     timestamp="date", ttl="45d", features=["price"])
"""


@pytest.fixture(scope="module")
def stocks() -> pd.DataFrame:
    return local_data.stocks()


@pytest.fixture(scope="module")
def served(
    stocks: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[assay.Project, TestClient]:
    root = write_project(
        tmp_path_factory.mktemp("hist") / "project",
        {
            "pipelines/ingest.py": INGEST,
            "features/prices.py": FEATURES,
            "data/stocks.csv": stocks.to_csv(index=False, date_format="%Y-%m-%d"),
        },
        {"server": {"api_keys": [hash_key(KEY)], "log_sample_rate": 1.0}},
    )
    project = assay.Project(root)
    assert project.run().ok
    project.features.materialize(end=END)
    return project, TestClient(create_app(project))


def expected_as_of(stocks: pd.DataFrame, at: datetime) -> dict[str, tuple[float, datetime]]:
    """The latest price per symbol with date <= at and >= at - ttl (pandas)."""
    window = stocks[(stocks.date <= at) & (stocks.date >= at - TTL)]
    latest = window.sort_values("date").groupby("symbol").tail(1)
    return {r.symbol: (r.price, r.date.to_pydatetime()) for r in latest.itertuples()}


def ask(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/features", json=body, headers=HEADERS)


def test_served_as_of_the_materialization_end_equals_pandas(
    served: tuple[assay.Project, TestClient], stocks: pd.DataFrame
) -> None:
    _, client = served
    symbols = sorted(stocks.symbol.unique())
    expected = expected_as_of(stocks, END)
    assert sorted(expected) == ["AAPL", "AMZN", "IBM", "MSFT"]  # GOOG listed in 2004
    body = {"entities": [{"symbol": s} for s in symbols], "features": ["prices:price"]}
    reply = ask(client, {**body, "as_of": END.isoformat()})
    assert reply.status_code == 200, reply.text
    for symbol, vector in zip(symbols, reply.json()["results"], strict=True):
        price = vector["price"]
        if symbol in expected:
            value, stamp = expected[symbol]
            assert price["status"] == "present"
            assert price["value"] == pytest.approx(value)
            assert price["event_timestamp"] == stamp.isoformat()
        else:
            assert price == {"value": None, "event_timestamp": None, "status": "missing"}
    # The same request judged against today's clock: everything from 2002 is past its TTL.
    today = ask(client, body).json()["results"]
    assert {v["price"]["status"] for s, v in zip(symbols, today, strict=True) if s in expected} == {
        "expired"
    }


def test_as_of_with_an_offset_is_utc(served: tuple[assay.Project, TestClient]) -> None:
    _, client = served
    body = {"entities": [{"symbol": "MSFT"}], "features": ["prices:price"]}
    # 2002-12-01 01:00+02:00 is 2002-11-30 23:00 UTC: before December's price.
    early = ask(client, {**body, "as_of": "2002-12-01T01:00:00+02:00"}).json()["results"][0]
    assert early["price"]["status"] == "future"
    assert early["price"]["value"] is None
    assert early["price"]["event_timestamp"] == "2002-12-01T00:00:00"
    on_time = ask(client, {**body, "as_of": "2002-12-01T02:00:00+02:00"}).json()["results"][0]
    assert on_time["price"]["status"] == "present"


def test_as_of_requests_are_not_logged_for_skew(served: tuple[assay.Project, TestClient]) -> None:
    project, _ = served
    with TestClient(create_app(project)) as client:  # the lifespan flushes the log on exit
        body = {"entities": [{"symbol": "IBM"}], "features": ["prices:price"]}
        assert ask(client, {**body, "as_of": END.isoformat()}).status_code == 200
        assert ask(client, body).status_code == 200
    logged = project.table("logs.feature_requests")
    assert logged.num_rows == 1  # the live request only
    assert logged["status"].to_pylist() == ["expired"]


@pytest.mark.parametrize(
    ("entities", "named"),
    [
        ([{"country": "NOR"}], ["missing join key 'symbol'", "unknown key 'country'"]),
        ([{"symbol": "IBM"}, {"Symbol": "MSFT"}], ["entity 1", "unknown key 'Symbol'"]),
        ([{"symbol": "IBM", "date": "2002-12-01"}], ["unknown key 'date'"]),
    ],
)
def test_an_entity_without_the_join_keys_is_a_422(
    served: tuple[assay.Project, TestClient], entities: list[dict[str, Any]], named: list[str]
) -> None:
    _, client = served
    reply = ask(client, {"entities": entities, "features": ["prices:price"]})
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"]
    for text in named:
        assert text in detail
    assert "join keys symbol (view prices)" in detail


def test_the_python_api_refuses_unknown_keys_and_takes_as_of(
    served: tuple[assay.Project, TestClient], stocks: pd.DataFrame
) -> None:
    project, _ = served
    with pytest.raises(EntityKeyError, match="missing join key 'symbol'"):
        project.features.online([{"ticker": "IBM"}], ["prices:price"], as_of=END)
    [vector] = project.features.online([{"symbol": "IBM"}], ["prices:price"], as_of=END)
    assert vector["price"]["value"] == pytest.approx(expected_as_of(stocks, END)["IBM"][0])
    with pytest.raises(assay.errors.UsageError, match="both as_of and now"):
        project.features.online([{"symbol": "IBM"}], ["prices:price"], as_of=END, now=END)


def test_the_cli_reads_online_features_as_of_a_time(
    served: tuple[assay.Project, TestClient], stocks: pd.DataFrame
) -> None:
    from typer.testing import CliRunner

    from assay.cli.main import app

    project, _ = served
    runner = CliRunner()
    base = ["features", "online", "--project", str(project.root), "-f", "prices:price"]
    env = {"COLUMNS": "200", "NO_COLOR": "1"}
    past = runner.invoke(app, [*base, "-k", "symbol=IBM", "--as-of", END.isoformat()], env=env)
    assert past.exit_code == 0, past.output
    line = next(row for row in past.output.splitlines() if "IBM" in row)
    price = expected_as_of(stocks, END)["IBM"][0]
    assert f"{price:.6g}" in line and "present" in line
    now = runner.invoke(app, [*base, "-k", "symbol=IBM"], env=env)
    assert "expired" in next(row for row in now.output.splitlines() if "IBM" in row)
    wrong = runner.invoke(app, [*base, "-k", "country=NOR"], env=env)
    assert wrong.exit_code == 2
    assert "missing join key 'symbol'" in wrong.output
