"""`assay runbook`: the on-call page for a project, written from what the project declares
and what the catalog remembers, so it is never out of date with the code.

Per dataset: owner, schedule, SLA, inputs and consumers, how to re-run, backfill and replay
quarantine, the alerts that can fire with what to do for each, and its last failures.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from assay.catalog.store import DatasetRun
from assay.config import EmailAlert, WebhookAlert
from assay.features.spec import FeatureView
from assay.intervals import utcnow
from assay.orchestration.sensors import triggers
from assay.pipelines.spec import DatasetSpec, Kind
from assay.runtime import Runtime

#: What each alert means and the first thing to do, by alert event.
PLAYBOOK: dict[str, tuple[str, str]] = {
    "failure": (
        "the dataset failed in a run; its downstream was skipped",
        "read the error below, fix the code or the data, then re-run",
    ),
    "contract": (
        "a blocking contract check failed: nothing was published",
        "look at the failed rule (`assay check {name}`), fix the data or the contract, re-run",
    ),
    "quarantine": (
        "more rows than `max_quarantined` allows went to quarantine: the batch was blocked",
        "inspect the quarantine rules and counts, fix the source or the rule, then "
        "`assay quarantine replay {name}`",
    ),
    "sla": (
        "the freshness deadline passed before the data was done",
        "find why the upstream is late (`assay status`), then run or backfill the missing range",
    ),
    "duration": (
        "a run took longer than `max_duration`",
        "compare with earlier runs (`assay history {name}`); look for data growth or a slow input",
    ),
    "anomaly": (
        "a metric left its usual range (row count, nulls, ...)",
        "check the upstream delivery (`assay check {name}`); confirm or fix it before "
        "consumers use the data",
    ),
    "stream_lag": (
        "the stream fell behind its source",
        "check that `assay stream {name}` is running and keeping up; add consumers or resources",
    ),
}

#: How many failures per dataset the runbook lists.
FAILURES_SHOWN = 3


@dataclass(frozen=True)
class DatasetPage:
    """What the runbook says about one dataset (also usable as data: `runbook_pages`)."""

    spec: DatasetSpec
    inputs: tuple[str, ...]
    consumers: tuple[str, ...]
    alerts: tuple[str, ...]
    commands: tuple[tuple[str, str], ...]
    failures: tuple[DatasetRun, ...]
    #: No schedule of its own, but downstream of a scheduled dataset: the scheduler runs it.
    follows_upstream: bool = False


def runbook_pages(rt: Runtime, now: datetime | None = None) -> list[DatasetPage]:
    """One page per dataset, in dependency order."""
    failures = _recent_failures(rt)
    ticked = triggers(rt.dag)
    moment = now or utcnow()
    return [
        DatasetPage(
            spec=spec,
            inputs=spec.inputs,
            consumers=(*rt.dag.consumers[name], *_feature_views_of(rt, name)),
            alerts=tuple(alerts_for(rt, spec)),
            commands=tuple(commands_for(spec, _last_done(rt, spec) or moment)),
            failures=tuple(failures.get(name, ())),
            follows_upstream=name in ticked and spec.automation.schedule is None,
        )
        for name in rt.dag.order()
        for spec in (rt.dag[name],)
    ]


def alerts_for(rt: Runtime, spec: DatasetSpec) -> Iterator[str]:
    """The alert events that can fire for `spec`, given what it declares."""
    yield "failure"
    contracts = rt.contracts.get(spec.name, ())
    if any(c.enforcing for c in contracts):
        yield "contract"
    if spec.automation.max_quarantined is not None:
        yield "quarantine"
    sla_rules = any(r.metric in ("freshness", "latency") for c in contracts for r in c.batch_rules)
    if spec.automation.sla is not None or sla_rules:
        yield "sla"
    if spec.automation.max_duration is not None:
        yield "duration"
    if contracts:
        yield "anomaly"
    if _is_stream(spec):
        yield "stream_lag"


def commands_for(spec: DatasetSpec, now: datetime) -> Iterator[tuple[str, str]]:
    """(what, command) pairs an on-call person runs for `spec`; backfill examples cover the
    7 intervals before `now` (the runbook passes the end of the newest done interval)."""
    name = spec.name
    if _is_stream(spec):
        stream = getattr(spec.producer, "stream", name)  # a window's table: its stream's
        yield "run the stream", f"assay stream {stream}"
    else:
        yield "re-run it", f"assay run --select {name}"
        yield "re-run it and everything downstream", f"assay run --select {name}+"
    if spec.kind is Kind.INCREMENTAL:
        end = spec.grain.floor(now)
        start = spec.grain.shift(end, -7)
        yield (
            "backfill a range (missing or stale intervals only; e.g. the last 7)",
            f"assay backfill {name} --start {_day(start)} --end {_day(end)}",
        )
        yield (
            "recompute a range after fixing data",
            (f"assay backfill {name} --start {_day(start)} --end {_day(end)} --restate"),
        )
    if not hasattr(spec.producer, "stream"):  # a window's table has no quarantine
        yield "replay quarantined rows after a fix", f"assay quarantine replay {name}"
    yield "see its recent commits", f"assay history {name}"


def render_runbook(rt: Runtime, now: datetime | None = None) -> str:
    """The runbook as markdown.

    Example:
        >>> from assay.orchestration.runbook import PLAYBOOK
        >>> sorted(PLAYBOOK)[:3]
        ['anomaly', 'contract', 'duration']
    """
    moment = now or utcnow()
    lines = [f"# Runbook: {rt.config.name}", ""]
    lines += [
        f"Written by `assay runbook` on {moment:%Y-%m-%d %H:%M} UTC from the project's "
        "declarations and its run history; re-run it after a change.",
        "",
        f"- Engine: {rt.config.engine}; warehouse: `{rt.config.warehouse}`",
        f"- Alerts go to: {_channels(rt)}",
        "- Status of every dataset: `assay status`; run history: `assay history NAME`",
        "",
        "## Alerts and what to do",
        "",
        "| Alert | What it means | What to do |",
        "|---|---|---|",
    ]
    lines += [
        f"| {event} | {meaning} | {todo.format(name='NAME')} |"
        for event, (meaning, todo) in PLAYBOOK.items()
    ]
    lines += ["", "## Datasets", ""]
    for page in runbook_pages(rt, moment):
        lines += _page(page, rt.root)
    return "\n".join(lines).rstrip() + "\n"


def _page(page: DatasetPage, root: str) -> list[str]:
    spec = page.spec
    auto = spec.automation
    lines = [f"### {spec.name}", ""]
    lines += [
        f"- Owner: {spec.owner or 'not declared (add owner=...)'}",
        f"- Kind: {_kind(spec)}",
        f"- Schedule: {_schedule(spec, page.follows_upstream)}",
        f"- SLA: {auto.sla.text if auto.sla else 'none declared'}",
        f"- Limits: {_limits(spec)}",
        f"- Inputs: {_names(page.inputs, 'none (a source)')}",
        f"- Consumers: {_names(page.consumers, 'none')}",
        f"- Declared at: `{_relative(spec.origin, root)}`",
    ]
    if spec.description:
        paragraph = " ".join(spec.description.split("\n\n")[0].split())
        lines.append(f"- Description: {paragraph}")
    lines += ["", "How to:", ""]
    lines += [f"- {what}: `{command}`" for what, command in page.commands]
    lines += ["", "Alerts that can fire:", ""]
    for event in page.alerts:
        meaning, todo = PLAYBOOK[event]
        lines.append(f"- **{event}**: {meaning}. {_capital(todo.format(name=spec.name))}.")
    lines += ["", "Last failures:", ""]
    lines += _failures(page.failures)
    return [*lines, ""]


def _failures(failures: Sequence[DatasetRun]) -> list[str]:
    if not failures:
        return ["- none recorded"]
    rows = ["| When (UTC) | Run | Error |", "|---|---|---|"]
    for run in failures:
        error = (run.error or run.reason or "").strip().splitlines()
        message = _cell(error[0] if error else "(no message)")
        rows.append(f"| {run.started_at:%Y-%m-%d %H:%M} | {run.run_id} | {message} |")
    return rows


def _recent_failures(rt: Runtime) -> dict[str, list[DatasetRun]]:
    found: dict[str, list[DatasetRun]] = {}
    for run in rt.catalog.recent_failures(limit_per_dataset=FAILURES_SHOWN):
        found.setdefault(run.dataset, []).append(run)
    return found


def _kind(spec: DatasetSpec) -> str:
    if spec.kind is Kind.INCREMENTAL:
        return f"incremental, by {spec.grain.value} on `{spec.time_column}`"
    return spec.kind.value


def _schedule(spec: DatasetSpec, follows: bool) -> str:
    schedule = spec.automation.schedule
    if _is_stream(spec):
        return "a stream: `assay schedule` keeps `assay stream` running"
    if schedule is None and follows:
        return "none: `assay schedule` runs it after its upstream commits"
    if schedule is None:
        return "none: runs with `assay run` (no scheduled upstream)"
    if schedule.cron and schedule.cron != schedule.text:
        return f"`{schedule.text}` (cron `{schedule.cron}`)"
    return f"`{schedule.text}`"


def _limits(spec: DatasetSpec) -> str:
    auto = spec.automation
    parts = []
    if auto.max_duration is not None:
        parts.append(f"runs within {timedelta(seconds=round(auto.max_duration))}")
    if auto.max_quarantined is not None:
        parts.append(f"at most {auto.max_quarantined:.2%} of a batch quarantined")
    if auto.catchup is not None:
        parts.append(f"catches up at most {auto.catchup} missed ticks")
    return "; ".join(parts) or "none declared"


def _channels(rt: Runtime) -> str:
    described = ["the log"]
    for channel in rt.config.alerts:
        if isinstance(channel, WebhookAlert):
            described.append(f"webhook {channel.url} ({channel.format})")
        elif isinstance(channel, EmailAlert):
            described.append(f"email to {', '.join(channel.to)}")
    return ", ".join(described)


def _is_stream(spec: DatasetSpec) -> bool:
    """A stream's table, or a table its windows write (both written by `assay stream`)."""
    return bool(spec.producer.is_stream)


def _feature_views_of(rt: Runtime, name: str) -> list[str]:
    return [
        f"{d.name} (feature view)"
        for d in rt.feature_definitions
        if isinstance(d, FeatureView) and d.source == name
    ]


def _last_done(rt: Runtime, spec: DatasetSpec) -> datetime | None:
    """The end of the newest done interval (backfill examples cover the data's range, not
    the calendar's), or None."""
    if spec.kind is not Kind.INCREMENTAL:
        return None
    done = rt.catalog.done_intervals(spec.name, spec.fingerprint)
    return max((r.interval.end for r in done), default=None)


def _names(names: Sequence[str], empty: str) -> str:
    return ", ".join(f"`{n}`" for n in names) or empty


def _day(moment: datetime) -> str:
    """A date when `moment` is midnight (what `--start` takes), else the ISO timestamp."""
    midnight = moment.time() == datetime.min.time()
    return moment.strftime("%Y-%m-%d") if midnight else moment.isoformat()


def _relative(origin: str, root: str) -> str:
    """`pipelines/x.py:12` rather than the absolute path: the runbook is read elsewhere."""
    prefix = str(root).rstrip("/") + "/"
    return origin[len(prefix) :] if origin.startswith(prefix) else origin


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _cell(text: str, width: int = 160) -> str:
    text = text.replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"
