"""Contracts enforced during runs, on demand (`assay check`), inferred, and replayed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.contracts.anomalies import detect
from assay.contracts.odcs import ContractError
from assay.errors import ProjectError
from assay.tables import Warehouse
from tests.conftest import MakeProject
from tests.helpers import EVENTS_INGEST, event, jsonl

# Engine-generic: every test runs on DuckDB and on Spark (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("engine_name")

SILVER = """
-- name: silver.events
-- kind: incremental
-- time_column: event_time
-- grain: day
SELECT event_id, user_id, amount, event_time FROM {{ ref('bronze.events') }}
"""
GOLD = """
-- name: gold.totals
SELECT user_id, sum(amount) AS total FROM {{ ref('silver.events') }} GROUP BY ALL
"""


def contract(max_amount: float = 100, min_rows: int = 1, severity: str = "error") -> str:
    return f"""
apiVersion: v3.1.0
kind: DataContract
id: events
version: 1.0.0
status: active
schema:
  - name: events
    physicalName: silver.events
    properties:
      - name: event_id
        logicalType: integer
        required: true
        unique: true
      - name: amount
        logicalType: number
        logicalTypeOptions: {{minimum: 0, maximum: {max_amount}}}
    quality:
      - metric: rowCount
        mustBeGreaterOrEqualTo: {min_rows}
        severity: {severity}
"""


def events() -> str:
    amounts = [5, 50, 500, -1, 7, 8]  # 500 and -1 break the range
    return jsonl(
        event(i, i % 2, a, f"2026-01-0{1 + i % 2} 10:0{i}:00") for i, a in enumerate(amounts)
    )


def project(make_project: MakeProject, contract_text: str) -> assay.Project:
    root = make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/silver.sql": SILVER,
            "pipelines/gold.sql": GOLD,
            "data/events/a.jsonl": events(),
            "contracts/events.yaml": contract_text,
        }
    )
    return assay.Project(root)


def test_rows_breaking_row_rules_are_quarantined_with_their_reason(
    make_project: MakeProject,
) -> None:
    p = project(make_project, contract())
    result = p.run()
    silver = result.result("silver.events")
    assert silver.status == "success"
    assert (silver.rows_in, silver.rows_written, silver.rows_quarantined) == (6, 4, 2)
    rows = p.sql(
        "SELECT rule, reason, raw_record, run_id FROM quarantine.silver_events ORDER BY rule"
    ).to_pylist()
    assert [r["rule"] for r in rows] == ["maximum(amount)", "minimum(amount)"]
    assert json.loads(rows[0]["raw_record"])["amount"] == 500
    assert all(r["run_id"] == result.run_id for r in rows)
    assert sorted(p.table("silver.events")["amount"].to_pylist()) == [5, 7, 8, 50]
    # A re-run that redoes the intervals replaces their rejects instead of adding more.
    again = p.backfill("silver.events", "2026-01-01", "2026-01-03", restate=True)
    assert again.result("silver.events").rows_quarantined == 2
    assert p.table("quarantine.silver_events").num_rows == 2


def test_an_error_batch_rule_blocks_the_write_and_downstream(make_project: MakeProject) -> None:
    p = project(make_project, contract(min_rows=1000))
    result = p.run()
    assert result.result("silver.events").status == "failed"
    assert "rowCount" in (result.result("silver.events").error or "")
    assert result.result("gold.totals").status == "skipped"
    assert not p.warehouse.exists("silver.events")  # nothing committed
    with p.catalog.engine.connect() as con:
        stored = con.execute(
            sa.text("SELECT rule, status FROM assay_check_results WHERE rule = 'rowCount'")
        ).all()
    assert stored and {s[1] for s in stored} == {"fail"}


def test_a_warning_batch_rule_records_but_writes(make_project: MakeProject) -> None:
    p = project(make_project, contract(min_rows=1000, severity="warning"))
    result = p.run()
    assert result.ok
    assert p.table("silver.events").num_rows == 4
    checks = [r for r in p.check() if r.rule == "rowCount"]
    assert [c.status for c in checks] == ["warn"]


def test_invalid_contracts_name_the_file_and_the_key(make_project: MakeProject) -> None:
    bad = contract().replace("logicalType: number", "logicalType: money")
    with pytest.raises(ContractError) as err:
        project(make_project, bad)
    assert "events.yaml" in str(err.value)
    assert "$.schema[0].properties[1].logicalType" in str(err.value)
    unknown = contract().replace("physicalName: silver.events", "physicalName: silver.nope")
    with pytest.raises(ProjectError, match=r"silver\.nope"):
        project(make_project, unknown)


def test_check_command_exit_codes_and_json(make_project: MakeProject) -> None:
    p = project(make_project, contract())
    assert p.run().ok
    runner = CliRunner()
    ok = runner.invoke(app, ["check", "--project", str(p.root), "--format", "json"])
    assert ok.exit_code == 0, ok.output
    results = json.loads(ok.output)
    assert {r["rule"] for r in results} >= {"required(event_id)", "unique(event_id)", "rowCount"}
    # Tighten the contract so the data already in the table breaks it.
    (p.root / "contracts" / "events.yaml").write_text(contract(max_amount=6))
    failed = runner.invoke(app, ["check", "--project", str(p.root)])
    assert failed.exit_code == 1
    assert "maximum(amount)" in failed.output


def test_inferred_contract_is_valid_odcs_and_passes_on_its_data(make_project: MakeProject) -> None:
    p = project(make_project, contract())
    assert p.run().ok
    out = CliRunner().invoke(app, ["contract", "infer", "gold.totals", "--project", str(p.root)])
    assert out.exit_code == 0, out.output
    document = yaml.safe_load((p.root / "contracts" / "gold_totals.yaml").read_text())
    props = {prop["name"]: prop for prop in document["schema"][0]["properties"]}
    # Two rows say nothing about uniqueness or ranges: none is claimed, and the file says why.
    assert props["user_id"]["required"] is True and "unique" not in props["user_id"]
    assert "logicalTypeOptions" not in props["total"]
    assert document["status"] == "draft"
    assert "only 2 rows were read" in document["description"]["purpose"]
    checks = assay.Project(p.root).check(["gold.totals"])
    assert checks and all(c.status == "pass" for c in checks)


def test_replay_moves_rows_that_pass_after_a_fix(make_project: MakeProject) -> None:
    p = project(make_project, contract())
    assert p.run().ok
    (p.root / "contracts" / "events.yaml").write_text(contract(max_amount=1000))
    outcome = assay.Project(p.root).replay_quarantine("silver.events")
    assert (outcome.replayed, outcome.remaining) == (1, 1)  # 500 passes now; -1 does not
    assert sorted(p.table("silver.events")["amount"].to_pylist()) == [5, 7, 8, 50, 500]
    assert p.table("quarantine.silver_events")["rule"].to_pylist() == ["minimum(amount)"]
    assert assay.Project(p.root).replay_quarantine("silver.events").replayed == 0


def test_replay_after_a_crash_between_its_two_commits_does_not_duplicate(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = project(make_project, contract())
    assert p.run().ok
    (p.root / "contracts" / "events.yaml").write_text(contract(max_amount=1000))
    original = Warehouse.write

    def crash_on_quarantine(self: Warehouse, name: str, *args: object, **kw: object) -> int:
        if name.startswith("quarantine."):
            raise KeyboardInterrupt("killed")
        return original(self, name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Warehouse, "write", crash_on_quarantine)
    with pytest.raises(KeyboardInterrupt):
        assay.Project(p.root).replay_quarantine("silver.events")
    monkeypatch.setattr(Warehouse, "write", original)
    outcome = assay.Project(p.root).replay_quarantine("silver.events")
    assert outcome.replayed == 1
    assert sorted(p.table("silver.events")["amount"].to_pylist()) == [5, 7, 8, 50, 500]
    assert p.table("quarantine.silver_events").num_rows == 1


def test_anomaly_detection_uses_a_robust_baseline() -> None:
    t0 = datetime(2026, 1, 1)
    steady = [(t0 + timedelta(days=i), 1000.0 + (i % 5) * 10) for i in range(28)]
    now = t0 + timedelta(days=28)
    assert detect("rows", steady, 1030.0, now) is None
    spike = detect("rows", steady, 5000.0, now)
    assert spike is not None and spike.low < 1020 < spike.high < 5000
    assert detect("rows", steady[:3], 5000.0, now) is None  # too little history
    # Weekly seasonality: Mondays are big; a big Monday is normal, a big Tuesday is not.
    weekly = [
        (t0 + timedelta(days=i), 5000.0 if (t0 + timedelta(days=i)).weekday() == 0 else 1000.0)
        for i in range(56)
    ]
    monday = next(t for t, _ in weekly if t.weekday() == 0) + timedelta(days=56)
    assert detect("rows", weekly, 5000.0, monday, seasonal=True) is None
    assert detect("rows", weekly, 5000.0, monday + timedelta(days=1), seasonal=True) is not None


def test_check_flags_a_volume_anomaly_from_history(make_project: MakeProject) -> None:
    p = project(make_project, contract())
    assert p.run().ok
    for _ in range(6):
        assert not [r for r in p.check() if r.kind == "anomaly"]
    # Ten times the data arrives: the next check sees a volume anomaly.
    many = jsonl(event(100 + i, i % 2, 5, "2026-01-01 11:00:00") for i in range(60))
    (p.root / "data" / "events" / "b.jsonl").write_text(many)
    assert assay.Project(p.root).run().ok
    anomalies = [r for r in assay.Project(p.root).check() if r.kind == "anomaly"]
    assert any(r.rule == "anomaly(rows)" and r.status == "warn" for r in anomalies)


def test_freshness_sla_reads_the_delta_log_statistics(make_project: MakeProject) -> None:
    sla = (
        contract()
        + """slaProperties:
  - property: freshness
    value: 1
    unit: d
    element: silver.events.event_time
"""
    )
    p = project(make_project, contract())
    assert p.run().ok
    (p.root / "contracts" / "events.yaml").write_text(sla)
    results = {r.rule: r for r in assay.Project(p.root).check()}
    freshness = results["freshness(event_time)"]
    newest = datetime(2026, 1, 2, 10, 5)  # the newest event in the data
    lag = (datetime.now(UTC).replace(tzinfo=None) - newest).total_seconds()
    assert freshness.status == "fail"
    assert abs((freshness.observed or 0) - lag) < 120
    with p.catalog.engine.connect() as con:
        lags = (
            con.execute(sa.text("SELECT value FROM assay_metrics WHERE metric = 'freshness_lag'"))
            .scalars()
            .all()
        )
    assert lags and abs(lags[-1] - lag) < 120
