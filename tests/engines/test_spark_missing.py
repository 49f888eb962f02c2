"""A project on Spark without Spark's parts installed stops once, before running anything,
saying what to install. pyspark is made unimportable (a None entry in sys.modules), so these
run whether or not the `spark` extra is installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.engines.spark import session
from assay.errors import MissingExtraError, UsageError

runner = CliRunner()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    return root


@pytest.fixture
def no_pyspark(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)


@pytest.mark.usefixtures("no_pyspark")
def test_run_on_spark_without_pyspark_stops_before_running_anything(shop: Path) -> None:
    result = runner.invoke(app, ["run", "--project", str(shop), "--engine", "spark"])
    assert result.exit_code == 2, result.output
    # Once, with the install command intact (not eaten as rich markup), and no traceback.
    assert result.output.count("pip install 'assay[spark]'") == 1
    assert "'pyspark' is not installed" in result.output
    assert "Traceback" not in result.output and "ModuleNotFoundError" not in result.output
    # Nothing ran: not even the sources, which run in the driver on any engine.
    assert not (shop / "warehouse").exists()


@pytest.mark.usefixtures("no_pyspark")
def test_a_spark_project_fails_at_load_and_runs_on_duckdb_when_asked(shop: Path) -> None:
    config = yaml.safe_load((shop / "assay.yaml").read_text())
    (shop / "assay.yaml").write_text(yaml.safe_dump({**config, "engine": "spark"}))
    with pytest.raises(MissingExtraError) as info:
        assay.Project(shop)
    assert info.value.hint == "pip install 'assay[spark]'"
    # The same project on the embedded engine needs no Spark.
    result = runner.invoke(app, ["run", "--project", str(shop), "--engine", "duckdb"])
    assert result.exit_code == 0, result.output
    assert assay.Project(shop, engine="duckdb").table("gold.daily_totals").num_rows > 0


def test_missing_delta_spark_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        session, "_SPARK_MODULES", {"json": "json", "assay_no_such_module": "delta-spark"}
    )
    with pytest.raises(MissingExtraError, match="'delta-spark' is not installed") as info:
        session.require_spark()
    assert info.value.hint == "pip install 'assay[spark]'"


@pytest.mark.usefixtures("no_pyspark")
def test_a_broken_pyspark_import_says_what_to_install() -> None:
    with pytest.raises(MissingExtraError, match="'pyspark' is not installed"):
        session._pyspark()


def test_missing_java_stops_a_spark_project_at_load(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "_SPARK_MODULES", {"json": "json"})  # as if pyspark were there
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    with pytest.raises(UsageError, match="needs Java") as info:
        assay.Project(shop, engine="spark")
    assert "JAVA_HOME=/nonexistent/jdk" in str(info.value)
    assert not (shop / "warehouse").exists()
