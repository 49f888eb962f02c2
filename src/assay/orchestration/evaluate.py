"""When alerts are evaluated: after every `assay run` and `assay backfill` (`alert_run`,
called by `Project._execute`: the run's failures and rules, and owners over their monthly
budget, since only runs and their commits add cost), and on every scheduler tick
(`check_periodic`: SLA deadlines, stream lag, and channels that failed last time).

Example:
    >>> import assay, tempfile
    >>> from datetime import datetime
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> project = assay.Project(root)
    >>> check_periodic(project.runtime, datetime(2026, 1, 1))
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from assay.errors import AssayError
from assay.intervals import utcnow
from assay.orchestration.alerts import Alert, Alerter, Cleared
from assay.orchestration.run_rules import run_alerts
from assay.orchestration.slas import deadline_alerts
from assay.orchestration.stream_lag import lag_alerts
from assay.pipelines.runner import RunResult
from assay.runtime import Runtime

log = logging.getLogger("assay.alerts")


def alert_run(
    rt: Runtime,
    result: RunResult,
    window: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
) -> None:
    """Fire, resolve and send the alerts of one finished run: its failures, durations,
    contract SLA rules and anomalies, and the SLA deadlines it met (resolved).

    Never raises: the run's data is committed and its result stands; an alerting problem
    is logged (a channel that failed is retried on the next evaluation).
    """
    now = now or utcnow()
    try:
        alerter = Alerter(rt)
        open_rows = alerter.store.open_alerts()
        firing, cleared = run_alerts(rt, result, window, open_rows)
        # Deadlines the run met resolve now; missed ones fire from the periodic check,
        # whose clock is the scheduler's.
        ran = [r.dataset for r in result.results if r.status != "skipped"]
        _add_deadlines(rt, alerter, ran, now, [], cleared)
        if rt.config.cost.budgets:
            over, within = budget_alerts(rt, now)
            firing, cleared = [*firing, *over], [*cleared, *within]
        alerter.evaluate(firing, cleared, run_id=result.run_id, now=now)
    except AssayError as exc:  # a known cause (a full disk...): one line, as assay says it
        log.warning("alerts of run %s could not be evaluated: %s", result.run_id, exc)
    except Exception:  # alerting must not turn a finished run into a crash
        log.exception("alerts of run %s could not be evaluated", result.run_id)


def check_periodic(rt: Runtime, now: datetime, lag_limits: Mapping[str, int] | None = None) -> None:
    """What the scheduler calls on every tick (`now`: naive UTC): SLA deadlines of every
    dataset that declares one, stream lag over each stream's declared `max_lag` (or
    `lag_limits`: stream -> records, which take precedence), and
    delivery of alerts a channel missed. Never raises; problems are logged."""
    try:
        alerter = Alerter(rt)
        firing: list[Alert] = []
        cleared: list[Cleared] = []
        _add_deadlines(rt, alerter, list(rt.dag.specs), now, firing, cleared)
        declared = {
            n: s.automation.max_lag for n, s in rt.dag.specs.items() if s.automation.max_lag
        }
        lagging, caught_up = lag_alerts(rt, {**declared, **(lag_limits or {})})
        alerter.evaluate([*firing, *lagging], [*cleared, *caught_up], now=now)
    except AssayError as exc:
        log.warning("periodic alert check at %s failed: %s", now.isoformat(), exc)
    except Exception:
        log.exception("periodic alert check at %s failed", now.isoformat())


def budget_alerts(rt: Runtime, now: datetime) -> tuple[list[Alert], list[Cleared]]:
    """A `budget` alert per owner whose month-to-date cost is over its monthly budget
    (dataset `owner:NAME`, subject the month); owners within theirs, and last month's
    alerts, resolve."""
    from assay.catalog_views.cost_view import budgets_of
    from assay.cost.model import money

    firing: list[Alert] = []
    cleared: list[Cleared] = []
    try:
        statuses = budgets_of(rt, now)
    except Exception:  # no verdict on budgets must not cost the run's other alerts
        log.exception("budgets could not be evaluated at %s", now.isoformat())
        return firing, cleared
    for status in statuses:
        about, month = f"owner:{status.owner}", f"{status.month_start:%Y-%m}"
        cleared.append(Cleared("budget", about))  # any other month's alert, or this one
        if not status.over:
            continue
        amounts = f"{money(status.spent)} {status.currency} of {money(status.budget)}"
        firing.append(
            Alert(
                "budget",
                about,
                f"{status.owner} spent {amounts} budgeted for {month} "
                f"(projected {money(status.projected)})",
                f"assay cost --by dataset --since {status.month_start:%Y-%m-%d}",
                subject=month,
                details=status.to_json(),
                owner=status.owner,
            )
        )
    return firing, cleared


def _add_deadlines(
    rt: Runtime,
    alerter: Alerter,
    names: list[str],
    now: datetime,
    firing: list[Alert],
    cleared: list[Cleared],
) -> None:
    for name in names:
        spec = rt.dag.specs.get(name)
        if spec is None or spec.automation.sla is None:
            continue
        open_sla = [r for r in alerter.store.open_alerts(name) if r.key.event == "sla"]
        missed, met = deadline_alerts(rt, spec, now, open_sla)
        firing.extend(missed)
        cleared.extend(met)
