"""OpenLineage events of a run that fails: a Python transform that raises, a contract that
blocks, a dataset skipped behind the failure; and `openlineage:` settings that are wrong,
off, or absent (then the client is never imported)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import assay
from assay.errors import ProjectError
from tests.integrations.test_openlineage_spec import read_events

FILE_TRANSPORT = "openlineage:\n  transport: {type: file, log_file_path: ol.jsonl, append: true}\n"
#: The scaffold's customers (pipelines/ingest.py): id -> country.
COUNTRIES = {1: "GB", 2: "US"}

BROKEN = """
import assay


@assay.transform("silver.broken", inputs=["silver.orders"])
def broken(ctx, orders):
    raise ValueError("the scale reads zero")
"""

AFTER = "-- name: gold.after\nSELECT * FROM {{ ref('silver.broken') }}\n"

BLOCKING = """apiVersion: v3.1.0
kind: DataContract
id: daily-totals
name: Daily totals
version: 1.0.0
status: active
schema:
  - name: daily_totals
    physicalName: gold.daily_totals
    quality:
      - metric: rowCount
        mustBeGreaterThan: 1000
"""


def small_project(root: Path, settings: str = FILE_TRANSPORT) -> Path:
    assay.init_project(root)
    with open(root / "assay.yaml", "a") as f:
        f.write(settings)
    return root


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = small_project(tmp_path_factory.mktemp("olf") / "shop")
    (root / "pipelines" / "broken.py").write_text(BROKEN)
    (root / "pipelines" / "gold_after.sql").write_text(AFTER)
    (root / "contracts" / "daily_totals.yaml").write_text(BLOCKING)
    result = assay.Project(root).run()
    return {"root": root, "result": result, "events": read_events(root / "ol.jsonl")}


def _only(events: list[dict[str, Any]], job: str) -> list[dict[str, Any]]:
    return [e for e in events if e["job"]["name"] == job]


def test_a_failed_dataset_is_a_failed_child_and_fails_the_project_run(
    failed: dict[str, Any],
) -> None:
    events, result = failed["events"], failed["result"]
    assert not result.ok
    broken = _only(events, "silver.broken")
    assert [e["eventType"] for e in broken] == ["START", "FAIL"]
    error = broken[1]["run"]["facets"]["errorMessage"]
    # assay's message: the dataset, where it is declared, and what the code raised.
    assert error["message"] == result.result("silver.broken").error
    assert error["message"].startswith(f"silver.broken ({failed['root']}/pipelines/broken.py:")
    assert error["message"].endswith("ValueError: the scale reads zero")
    assert error["programmingLanguage"] == "python"
    assert "errorMessage" not in broken[0]["run"]["facets"]
    # Skipped behind the failure: it never started, so it has no run.
    assert result.result("gold.after").status == "skipped"
    assert _only(events, "gold.after") == []
    project = _only(events, "shop")
    assert [e["eventType"] for e in project] == ["START", "FAIL"]
    assert events[0] is project[0] and events[-1] is project[1]
    message = project[1]["run"]["facets"]["errorMessage"]["message"]
    assert message.startswith("2 of 6 datasets failed: silver.broken (")
    assert "ValueError: the scale reads zero; gold.daily_totals: contract failed" in message


def test_a_blocking_contract_fails_the_dataset_with_its_assertion(failed: dict[str, Any]) -> None:
    root = failed["root"]
    start, fail = _only(failed["events"], "gold.daily_totals")
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert "contract" in fail["run"]["facets"]["errorMessage"]["message"]
    (output,) = fail["outputs"]
    assert "version" not in output["facets"] and "outputStatistics" not in output["outputFacets"]
    (row_count,) = output["facets"]["dataQualityAssertions"]["assertions"]
    # The rows the blocked batch had: one per day and country of the orders, counted here.
    orders = pd.concat(pd.read_csv(p) for p in sorted((root / "data" / "orders").glob("*.csv")))
    orders = orders[pd.to_numeric(orders.amount, errors="coerce").notna()].drop_duplicates()
    days = orders.assign(
        day=pd.to_datetime(orders.ordered_at).dt.floor("D"),
        country=orders.customer_id.map(COUNTRIES),
    )[["day", "country"]].drop_duplicates()
    assert row_count["success"] is False and row_count["severity"] == "error"
    assert float(row_count["actual"]) == len(days)
    assert row_count["expected"] == "> 1000 rows"


def test_a_bad_transport_is_named_before_the_run(tmp_path: Path) -> None:
    root = small_project(tmp_path / "p", "openlineage:\n  transport: {type: http}\n")
    with pytest.raises(ProjectError, match=r"openlineage\.transport.*url") as caught:
        assay.Project(root).run()
    assert caught.value.where == str(root / "assay.yaml")
    assert not (root / "warehouse").exists()  # nothing ran


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ("openlineage:\n  transport: {url: http://x}\n", r"openlineage\.transport.*type"),
        ("openlineage:\n  transprot: {type: console}\n", r"openlineage\.transprot"),
        ("openlineage:\n  transport: console\n", r"openlineage\.transport"),
    ],
)
def test_invalid_settings_name_the_key(tmp_path: Path, settings: str, says: str) -> None:
    root = small_project(tmp_path / "p", settings)
    with pytest.raises(ProjectError, match=says):
        assay.Project(root)


def test_disabled_sends_nothing(tmp_path: Path) -> None:
    root = small_project(tmp_path / "p", FILE_TRANSPORT + "  disabled: true\n")
    assert assay.Project(root).run().ok
    assert not (root / "ol.jsonl").exists()


def test_without_settings_the_client_is_never_imported(tmp_path: Path) -> None:
    root = small_project(tmp_path / "p", "")
    code = (
        "import sys, assay; ok = assay.Project(sys.argv[1]).run().ok; "
        "print(ok, any(m.startswith('openlineage') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False"]


def test_a_backfill_names_its_intervals_as_nominal_time(tmp_path: Path) -> None:
    root = small_project(tmp_path / "shop")
    project = assay.Project(root)
    assert project.run().ok
    (root / "ol.jsonl").unlink()
    result = project.backfill("silver.orders", "2026-01-02", "2026-01-03", restate=True)
    assert result.ok
    events = read_events(root / "ol.jsonl")
    start, complete = _only(events, "silver.orders")
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    nominal = complete["run"]["facets"]["nominalTime"]
    assert (nominal["nominalStartTime"], nominal["nominalEndTime"]) == (
        "2026-01-02T00:00:00+00:00",
        "2026-01-03T00:00:00+00:00",
    )
    tags = {t["key"]: t["value"] for t in events[0]["run"]["facets"]["tags"]["tags"]}
    assert (tags["assay.command"], tags["assay.run_id"]) == ("backfill", result.run_id)
    # The downstream gold table follows; a full table has no interval.
    gold = _only(events, "gold.daily_totals")
    assert [e["eventType"] for e in gold] == ["START", "COMPLETE"]
    assert "nominalTime" not in gold[1]["run"]["facets"]


class _Raising:
    """A run listener that raises at every call (a broken integration)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _fail(self, call: str) -> None:
        self.calls.append(call)
        raise RuntimeError(f"listener broke in {call}")

    def run_started(self, names: list[str]) -> None:
        self._fail("run_started")

    def dataset_started(self, spec: Any) -> None:
        self._fail(f"dataset_started {spec.name}")

    def dataset_finished(self, spec: Any, result: Any) -> None:
        self._fail(f"dataset_finished {spec.name}")

    def run_finished(self, result: Any, error: Any) -> None:
        self._fail("run_finished")


def test_a_listener_that_raises_does_not_change_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from assay.pipelines.runner import Runner

    root = small_project(tmp_path / "shop", "")
    project = assay.Project(root)
    listener = _Raising()
    runner = Runner(project.runtime, "r-listener", listeners=[listener])
    with caplog.at_level(logging.ERROR, logger="assay.pipelines.runner"):
        result = runner.run(project.dag.order())
    assert result.ok and [r.status for r in result.results] == ["success"] * 4
    assert project.row_count("gold.daily_totals") > 0
    names = project.dag.order()
    assert listener.calls == [
        "run_started",
        *[f"{call} {n}" for n in names for call in ("dataset_started", "dataset_finished")],
        "run_finished",
    ]
    assert len([r for r in caplog.records if "listener broke" in str(r.exc_info[1])]) == 10
