"""The other alert kinds and `assay alerts`: a run over `max_duration`, a batch whose row
count leaves its usual range (vega_datasets' Seattle weather, delivered a week per file),
and the CLI table of open and resolved alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import vega_datasets
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.orchestration.evaluate import alert_run
from assay.pipelines.runner import DatasetResult, RunResult
from tests.conftest import MakeProject
from tests.helpers import EVENTS_SILVER
from tests.orchestration.receivers import Webhook, webhook_receiver  # noqa: F401 - fixture
from tests.orchestration.test_alerts import BROKEN_GOLD, GOOD_GOLD, events_project

SEATTLE = Path(vega_datasets.__file__).parent / "_data" / "seattle-weather.csv"
T0 = datetime(2026, 3, 1, 12, 0)


def test_a_run_over_max_duration_alerts_and_a_run_in_time_resolves(
    make_project: MakeProject, webhook: Webhook
) -> None:
    sql = "-- name: gold.slow\n-- owner: ana\n-- max_duration: 1m\nSELECT 1 AS x\n"
    root = make_project(
        {"pipelines/slow.sql": sql}, {"alerts": [{"type": "webhook", "url": webhook.url}]}
    )
    rt = assay.Project(root).runtime

    def run(run_id: str, seconds: float) -> RunResult:
        outcome = DatasetResult("gold.slow", "success", commits=1, seconds=seconds)
        return RunResult(run_id, [outcome], seconds)

    alert_run(rt, run("r1", 60.0), now=T0)  # at the limit: fine
    assert webhook.bodies == []
    alert_run(rt, run("r2", 95.5), now=T0 + timedelta(hours=1))
    (slow,) = webhook.bodies
    assert (slow["event"], slow["dataset"], slow["owner"], slow["run_id"]) == (
        "duration",
        "gold.slow",
        "ana",
        "r2",
    )
    assert slow["summary"] == "gold.slow took 95.5s, over its max_duration of 60s"
    assert slow["details"] == {"seconds": 95.5, "max_duration": 60.0}
    assert slow["fix"] == "assay history gold.slow"

    alert_run(rt, run("r3", 12.0), now=T0 + timedelta(hours=2))
    assert [b["status"] for b in webhook.bodies] == ["firing", "resolved"]


def weeks_of_weather(root: Path, first: int, count: int, name: str) -> int:
    """Write `count` weeks of the real Seattle weather (from week `first`) as one file."""
    frame = pd.read_csv(SEATTLE)[["date", "weather"]]
    part = frame.iloc[first * 7 : (first + count) * 7]
    folder = root / "data" / "weather"
    folder.mkdir(parents=True, exist_ok=True)
    part.to_csv(folder / f"{name}.csv", index=False)
    return len(part)


CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: seattle
name: Seattle weather deliveries
version: 1.0.0
status: active
schema:
  - name: weather
    physicalName: bronze.weather
    properties:
      - {name: weather, logicalType: string, required: true}
    quality:
      - {metric: rowCount, mustBeGreaterThan: 0}
"""


def test_a_delivery_far_larger_than_usual_is_an_anomaly(
    make_project: MakeProject, webhook: Webhook
) -> None:
    source = (
        "import assay\n\nassay.files('bronze.weather', path='data/weather/*.csv', "
        "format='csv', owner='weather-desk')\n"
    )
    root = make_project(
        {"pipelines/weather.py": source, "contracts/weather.yaml": CONTRACT},
        {"alerts": [{"type": "webhook", "url": webhook.url}]},
    )
    for week in range(6):  # six weekly deliveries: the history of the batch's row count
        assert weeks_of_weather(root, week, 1, f"week{week}") == 7
        assert assay.Project(root).run().ok
    assert webhook.bodies == []

    big = weeks_of_weather(root, 6, 10, "ten_weeks")
    assert assay.Project(root).run().ok  # an anomaly warns; the data is published

    (odd,) = webhook.bodies
    assert (odd["event"], odd["dataset"], odd["owner"]) == (
        "anomaly",
        "bronze.weather",
        "weather-desk",
    )
    assert odd["details"]["metric"] == "batch.rows"
    assert odd["details"]["observed"] == big == 70
    assert odd["details"]["expected_low"] < 7 < odd["details"]["expected_high"] < 70
    assert odd["summary"].startswith("bronze.weather: batch.rows = 70 is outside the expected")
    assert odd["fix"] == "assay check bronze.weather"

    weeks_of_weather(root, 16, 1, "week16")
    assert assay.Project(root).run().ok
    assert [b["status"] for b in webhook.bodies] == ["firing", "resolved"]


def test_assay_alerts_lists_open_then_resolved_alerts(
    make_project: MakeProject, webhook: Webhook
) -> None:
    root = events_project(
        make_project,
        {"alerts": [{"type": "webhook", "url": webhook.url}]},
        EVENTS_SILVER,
        BROKEN_GOLD,
    )
    runner = CliRunner()
    assert (
        runner.invoke(app, ["alerts", "--project", str(root)]).output.strip() == "No open alerts."
    )
    assert runner.invoke(app, ["run", "--project", str(root)]).exit_code == 1

    listed = runner.invoke(app, ["alerts", "--project", str(root)])
    assert listed.exit_code == 0
    assert listed.output.splitlines()[-2:] == [
        "To fix:",
        "  gold.user_daily failure: assay run --select gold.user_daily",
    ]
    table = " ".join(listed.output.split())
    assert "│ open │ failure │ gold.user_daily │ - │ growth@example.com │" in table

    (root / "pipelines" / "gold_user_daily.sql").write_text(GOOD_GOLD)
    assert runner.invoke(app, ["run", "--project", str(root)]).exit_code == 0
    assert (
        runner.invoke(app, ["alerts", "--project", str(root)]).output.strip() == "No open alerts."
    )
    history = runner.invoke(app, ["alerts", "--all", "--project", str(root)])
    assert "│ resolved │ failure │ gold.user_daily │" in " ".join(history.output.split())
    assert "To fix:" not in history.output

    helped = runner.invoke(app, ["alerts", "--help"])
    assert helped.exit_code == 0 and "Example: assay alerts" in " ".join(helped.output.split())


def test_a_blocking_contract_rule_fires_a_contract_alert(
    make_project: MakeProject, webhook: Webhook
) -> None:
    import shutil

    from tests.pipelines.test_max_quarantined import PENGUINS_CSV

    rows = len(pd.read_csv(PENGUINS_CSV))
    source = (
        "import assay\n\nassay.files('bronze.penguins', path='data/penguins.csv', "
        "format='csv', owner='field-team')\n"
    )
    contract = (
        CONTRACT.replace("bronze.weather", "bronze.penguins")
        .replace(
            "{metric: rowCount, mustBeGreaterThan: 0}",
            "{metric: rowCount, mustBeGreaterThan: 1000}",
        )
        .replace("{name: weather, logicalType: string, required: true}", "{name: species}")
    )
    root = make_project(
        {"pipelines/penguins.py": source, "contracts/penguins.yaml": contract},
        {"alerts": [{"type": "webhook", "url": webhook.url}]},
    )
    (root / "data").mkdir()
    shutil.copy(PENGUINS_CSV, root / "data" / "penguins.csv")

    assert not assay.Project(root).run().ok

    (blocked,) = webhook.bodies
    assert (blocked["event"], blocked["dataset"], blocked["owner"]) == (
        "contract",
        "bronze.penguins",
        "field-team",
    )
    assert blocked["summary"] == (
        "bronze.penguins was blocked by its contract: contract failed, nothing committed: "
        f"rowCount = {rows} rows, expected > 1000 rows (hint: fix the data or the contract; "
        "`assay check` shows every rule)"
    )
    assert blocked["fix"] == "assay run --select bronze.penguins"
