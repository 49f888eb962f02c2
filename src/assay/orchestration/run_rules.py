"""What one run (or backfill) says about alerts: failures (by cause: failure, contract,
quarantine), runs over `max_duration`, ODCS freshness/latency rules that did not pass
(`sla`), batch metrics out of their usual range (`anomaly`); and which open alerts the
run cleared (a dataset's next successful run, a rule passing again, a run in time).

Example:
    >>> from assay.pipelines.runner import DatasetResult
    >>> summary_line(DatasetResult("silver.x", "failed", error="silver.x: bad data\\nmore"))
    'bad data'
    >>> summary_line(DatasetResult("silver.x", "failed", error="silver.x (x.sql): SQL failed"))
    'SQL failed'
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from assay.catalog.alert_state import AlertRow
from assay.catalog.store import check_results, metrics
from assay.contracts.anomalies import detect, watched
from assay.intervals import Interval
from assay.orchestration.alerts import Alert, Cleared
from assay.orchestration.fixes import backfill_command, run_command
from assay.pipelines.plan import Planner
from assay.pipelines.runner import DatasetResult, RunResult
from assay.pipelines.spec import DatasetSpec, Kind
from assay.runtime import Runtime

#: Open alerts of these events clear when the dataset runs successfully again.
RECOVERABLE = ("failure", "contract", "quarantine")
_SLA_RULES = ("freshness(", "latency(")
_WHAT_FAILED = {
    "failure": "failed",
    "contract": "was blocked by its contract",
    "quarantine": "quarantined more rows than max_quarantined allows",
}


def run_alerts(
    rt: Runtime,
    result: RunResult,
    window: tuple[datetime, datetime] | None,
    open_rows: Sequence[AlertRow],
) -> tuple[list[Alert], list[Cleared]]:
    """Alerts that `result` fires and conditions it clears (`open_rows`: the open alerts)."""
    firing: list[Alert] = []
    cleared: list[Cleared] = []
    checks = _checks_of_run(rt, result.run_id)
    for outcome in result.results:
        spec = rt.dag.specs.get(outcome.dataset)
        if spec is None:
            continue
        if outcome.status == "failed":
            firing.append(failure_alert(rt, spec, outcome, result, window))
        elif outcome.status in ("success", "up_to_date"):
            mine = [r for r in open_rows if r.key.dataset == spec.name]
            cleared.extend(_recovered(rt, spec, mine))
        _duration(spec, outcome, firing, cleared)
        _rule_alerts(spec, checks.get(spec.name, []), firing, cleared)
    _anomalies(rt, result.run_id, firing, cleared)
    return firing, cleared


def failure_alert(
    rt: Runtime,
    spec: DatasetSpec,
    outcome: DatasetResult,
    result: RunResult,
    window: tuple[datetime, datetime] | None,
) -> Alert:
    """The alert of a failed dataset: its error, the intervals still missing and the
    command that re-runs exactly them."""
    event = outcome.cause or "failure"
    pending = _pending_intervals(rt, spec, window)
    fix = backfill_command(spec.name, pending) if pending else run_command(spec.name)
    skipped = [
        r.dataset
        for r in result.results
        if r.status == "skipped" and any(spec.name in reason for reason in r.reasons)
    ]
    details: dict[str, Any] = {
        "error": outcome.error,
        "rows_in": outcome.rows_in,
        "rows_written": outcome.rows_written,
        "rows_quarantined": outcome.rows_quarantined,
    }
    if pending:
        details["intervals"] = [i.key() for i in pending]
    if skipped:
        details["skipped_downstream"] = skipped
    summary = f"{spec.name} {_WHAT_FAILED.get(event, 'failed')}: {summary_line(outcome)}"
    return Alert(event, spec.name, summary, fix, details=details)


def summary_line(outcome: DatasetResult, limit: int = 300) -> str:
    """The first line of a dataset's error, shortened."""
    line = (outcome.error or "no error recorded").strip().splitlines()[0]
    # The alert names the dataset already (the full error, with its file, is in details).
    for where in (f"{outcome.dataset}: ", f"{outcome.dataset} ("):
        if line.startswith(where):
            line = line[len(where) :] if where.endswith(": ") else line.partition("): ")[2]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _pending_intervals(
    rt: Runtime, spec: DatasetSpec, window: tuple[datetime, datetime] | None
) -> list[Interval]:
    """The intervals of an incremental dataset the run left missing or stale."""
    if spec.kind is not Kind.INCREMENTAL:
        return []
    planner = Planner.for_runtime(rt)
    return planner.work(spec, planner.state(spec), False, window).intervals


def _recovered(rt: Runtime, spec: DatasetSpec, open_rows: Sequence[AlertRow]) -> list[Cleared]:
    """Failure alerts a successful run clears: all of them, except on incremental datasets
    whose failed intervals are not all done yet (a run limited to another window)."""
    done: set[Interval] | None = None
    cleared = []
    for row in open_rows:
        if row.key.event not in RECOVERABLE:
            continue
        failed = [Interval.parse(k) for k in row.details.get("intervals", [])]
        if failed:
            if done is None:
                records = rt.catalog.done_intervals(spec.name, spec.fingerprint)
                done = {r.interval for r in records}
            if not set(failed) <= done:
                continue
        cleared.append(Cleared(row.key.event, spec.name, row.key.subject))
    return cleared


def _duration(
    spec: DatasetSpec, outcome: DatasetResult, firing: list[Alert], cleared: list[Cleared]
) -> None:
    limit = spec.automation.max_duration
    if limit is None or outcome.status not in ("success", "failed"):
        return
    if outcome.seconds <= limit:
        if outcome.status == "success":
            cleared.append(Cleared("duration", spec.name))
        return
    firing.append(
        Alert(
            "duration",
            spec.name,
            f"{spec.name} took {outcome.seconds:.1f}s, over its max_duration of {limit:g}s",
            f"assay history {spec.name}",
            details={"seconds": round(outcome.seconds, 3), "max_duration": limit},
        )
    )


def _checks_of_run(rt: Runtime, run_id: str) -> dict[str, list[dict[str, Any]]]:
    query = sa.select(check_results).where(check_results.c.run_id == run_id)
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with rt.catalog.engine.connect() as con:
        for row in con.execute(query.order_by(check_results.c.id)).mappings():
            by_dataset[row["dataset"]].append(dict(row))
    return by_dataset


def _rule_alerts(
    spec: DatasetSpec,
    rows: Sequence[dict[str, Any]],
    firing: list[Alert],
    cleared: list[Cleared],
) -> None:
    """ODCS freshness/latency rules (`sla`) and anomaly results (`anomaly`) of the run."""
    worst: dict[str, dict[str, Any]] = {}
    for row in rows:  # a backfill checks each batch: a rule fails if any batch failed
        if row["rule"] not in worst or row["status"] in ("fail", "warn"):
            worst[row["rule"]] = row
    for rule, row in worst.items():
        event = "anomaly" if row["kind"] == "anomaly" else "sla"
        if event == "sla" and not rule.startswith(_SLA_RULES):
            continue
        if row["status"] == "pass":
            cleared.append(Cleared(event, spec.name, rule))
        elif row["status"] in ("fail", "warn"):
            detail = row["detail"] or f"{rule} {row['status']}"
            fix = run_command(spec.name) if event == "sla" else f"assay check {spec.name}"
            details = {"rule": rule, "observed": row["observed"], "expected": row["expected"]}
            firing.append(
                Alert(event, spec.name, f"{spec.name}: {detail}", fix, rule, details=details)
            )


def _anomalies(rt: Runtime, run_id: str, firing: list[Alert], cleared: list[Cleared]) -> None:
    """Batch metrics this run recorded that `assay check` watches too (row counts, null
    rates, means), each batch's value compared with the metric's history before the run
    (read once per metric: a backfill records one value per batch)."""
    query = sa.select(metrics).where(metrics.c.run_id == run_id, metrics.c.value.is_not(None))
    with rt.catalog.engine.connect() as con:
        measured = list(con.execute(query.order_by(metrics.c.id)).mappings())
    by_metric: dict[tuple[str, str], list[sa.RowMapping]] = defaultdict(list)
    for row in measured:
        # Maxima and distinct counts move by design: they are not anomalies.
        if row["dataset"] in rt.dag.specs and watched(row["metric"].removeprefix("batch.")):
            by_metric[(row["dataset"], row["metric"])].append(row)
    for (dataset, metric), rows in by_metric.items():
        history = _history_before(rt, dataset, metric, run_id)
        found = (detect(metric, history, float(r["value"]), r["measured_at"]) for r in rows)
        anomaly = next((a for a in found if a is not None), None)
        if anomaly is None:
            if history:
                cleared.append(Cleared("anomaly", dataset, metric))
            continue
        details = {
            "metric": anomaly.metric,
            "observed": anomaly.observed,
            "expected_low": anomaly.low,
            "expected_high": anomaly.high,
        }
        summary = f"{dataset}: {anomaly.describe()}"
        firing.append(Alert("anomaly", dataset, summary, f"assay check {dataset}", metric, details))


def _history_before(
    rt: Runtime, dataset: str, metric: str, run_id: str, limit: int = 60
) -> list[tuple[datetime, float]]:
    query = (
        sa.select(metrics.c.measured_at, metrics.c.value)
        .where(
            metrics.c.dataset == dataset,
            metrics.c.metric == metric,
            metrics.c.run_id != run_id,
            metrics.c.value.is_not(None),
        )
        .order_by(metrics.c.measured_at.desc(), metrics.c.id.desc())
        .limit(limit)
    )
    with rt.catalog.engine.connect() as con:
        return [(r[0], float(r[1])) for r in con.execute(query)][::-1]
