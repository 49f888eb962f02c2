"""The embedded scheduler: each tick it asks what is due (sensors.py) and runs it through
`Project.run(..., command="schedule")`, so the project lock, retries and the interval
ledger come with every run.

Cron schedules follow Airflow's data intervals: the run at tick T covers [previous tick, T).
An incremental dataset gets `window=(previous tick, T)` and fills exactly those intervals;
any other dataset simply runs, and several missed ticks of it collapse into one run
(recomputing a whole table N times gives the same table). The first start records a
baseline (no history is run, like Airflow 3's catchup=False); after downtime the newest
`catchup` missed ticks run oldest first and older ones are skipped and logged.

`on_upstream` datasets are evaluated in DAG order within a tick, so a cron bronze, an
on_upstream silver and an on_upstream gold flow in one tick. `on_arrival` file sources run
when files in their glob are new or changed. Streams are kept running as child processes.

Crash safety: a cron tick is claimed in the catalog before its run and marked done after;
kill -9 anywhere, and the restart re-runs a claimed tick (runs are idempotent) and never a
done one. A CLI run or backfill holding the project lock makes a tick wait `lock_timeout`;
then what was due stays due for the next tick. A failed run leaves its ticks `failed` (an
on_upstream dataset: its inputs unconsumed), so they run again on the next tick, until
they succeed. Definitions are loaded when the scheduler starts: restart it after editing
pipelines (the first tick then runs sensed datasets whose code changed).

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> report = Scheduler(assay.Project(root), log=lambda line: None).tick()
    >>> report.failed
    []
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

from assay import _faults
from assay.catalog.schedule_state import ScheduleState, TickRecord
from assay.errors import AssayError, LockedError
from assay.intervals import utcnow
from assay.lock import project_lock
from assay.orchestration.report import Ran, TickReport
from assay.orchestration.sensors import (
    Versions,
    cron_plan,
    named,
    triggers,
    upstream_changes,
)
from assay.pipelines.automation import Trigger
from assay.pipelines.spec import DatasetSpec, Kind

if TYPE_CHECKING:
    from assay.project import Project

_logger = logging.getLogger("assay.schedule")


class Scheduler:
    """Runs a project unattended: schedules, sensors and streams, one tick at a time.

    Args:
        project: the project to run.
        tick_seconds: seconds between ticks (default: assay.yaml's `scheduler.tick_seconds`).
        on_tick: called with the tick time at the end of every tick (alerts hook in here);
            an exception there is logged and never stops the scheduler.
        log: where the log lines go (default: the `assay.schedule` logger).
        clock: the current time, naive UTC (tests move it).
        streams: keep the project's streams running as child processes (`run` only).

    Example:
        ``Scheduler(assay.Project("shop")).run()`` runs until SIGTERM;
        ``Scheduler(project).tick()`` runs one tick.
    """

    def __init__(
        self,
        project: Project,
        tick_seconds: float | None = None,
        on_tick: Sequence[Callable[[datetime], None]] = (),
        log: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        streams: bool = True,
    ):
        self.project = project
        self.tick_seconds = tick_seconds or project.config.scheduler.tick_seconds
        self.on_tick = list(on_tick)
        self.log = log or _logger.info
        self.clock = clock
        self.streams = streams
        self.state = ScheduleState(project.catalog)
        self._triggers = triggers(project.dag)
        self._stop = threading.Event()
        self._lock_busy = False
        self._ticks = 0
        #: Read once per tick: each cron dataset's newest tick and its ticks still to run.
        self._last: dict[str, datetime] = {}
        self._pending: dict[str, list[TickRecord]] = {}

    # -- one tick ------------------------------------------------------------------------

    def scheduled(self) -> list[DatasetSpec]:
        """Datasets the scheduler ticks, in DAG order: those with a schedule, and those
        without one downstream of a scheduled dataset or a stream, which follow their
        upstream (`sensors.triggers`). Streams are kept running, not ticked."""
        return [self.project.dag[name] for name in self._triggers]

    def tick(self, now: datetime | None = None) -> TickReport:
        """Evaluate every schedule and sensor once, in DAG order, and run what is due."""
        started = time.monotonic()
        now = now or self.clock()
        report = TickReport(now)
        versions = Versions(self.project.warehouse)
        consumed = self.state.consumed()
        self._last = {name: tick for name, (tick, _) in self.state.last_ticks().items()}
        self._pending = self.state.pending()
        self._lock_busy = False
        for spec in self.scheduled():
            if self._stop.is_set() or self._lock_busy:
                break  # stopping, or the lock is held: the rest stays due for the next tick
            trigger = self._triggers[spec.name]
            if trigger is Trigger.CRON:
                self._cron(spec, now, report)
            elif trigger is Trigger.ON_UPSTREAM:
                reasons = upstream_changes(spec.inputs, versions, self._consumed(spec, consumed))
                reasons += self._redeclared(spec)
                if reasons:
                    before = {n: v for n in spec.inputs if (v := versions[n]) is not None}
                    ran = self._run(spec, "; ".join(reasons), None, report)
                    if ran.outcome in ("ok", "up to date"):
                        self.state.set_consumed(spec.name, before)
            elif files := self._arrived(spec):
                self._run(
                    spec, f"{len(files)} new or changed file(s): {named(files)}", None, report
                )
            elif changed := self._redeclared(spec):
                self._run(spec, changed[0], None, report)
            versions.forget(spec.name)
        self._ticks += 1
        report.next_due = self.next_cron_tick(now)
        report.seconds = time.monotonic() - started
        self.log(report.line())
        for hook in self.on_tick:
            try:
                hook(now)
            except Exception as exc:  # a hook never stops the scheduler
                self.log(f"on_tick hook {getattr(hook, '__name__', hook)!r} failed: {exc!r}")
        return report

    def _cron(self, spec: DatasetSpec, now: datetime, report: TickReport) -> None:
        schedule = spec.automation.schedule
        assert schedule is not None and schedule.cron is not None
        limit = spec.automation.catchup
        if limit is None:
            limit = self.project.config.scheduler.max_catchup
        plan = cron_plan(
            schedule,
            self._last.get(spec.name),
            self._pending.get(spec.name, []),
            now,
            limit,
        )
        if plan.baseline is not None:
            self.state.claim(spec.name, [(plan.baseline, None, None)], "baseline")
            self.log(
                f"{spec.name}: first start, schedule {schedule.text} begins at {plan.baseline}"
            )
            return
        if plan.skipped:
            self.state.claim(spec.name, [(t, None, None) for t in plan.skipped], "skipped")
            report.skipped[spec.name] = plan.skipped
            self.log(
                f"{spec.name}: skipped {len(plan.skipped)} missed tick(s) older than the "
                f"catch-up limit of {max(limit, 1)}: {named([str(t) for t in plan.skipped])}"
            )
        if not plan.runs:
            return
        if spec.kind is Kind.INCREMENTAL:
            for tick, start in plan.runs:
                if self._stop.is_set() or self._lock_busy:
                    return
                self._cron_run(
                    spec,
                    [(tick, start)],
                    f"cron {tick:%H:%M} [{start}, {tick})",
                    (start, tick),
                    report,
                )
        else:
            ticks = named([f"{t:%Y-%m-%d %H:%M}" for t, _ in plan.runs])
            why = f"cron {ticks}" + (" (one run for all)" if len(plan.runs) > 1 else "")
            self._cron_run(spec, plan.runs, why, None, report)

    def _cron_run(
        self,
        spec: DatasetSpec,
        runs: list[tuple[datetime, datetime]],
        why: str,
        window: tuple[datetime, datetime] | None,
        report: TickReport,
    ) -> None:
        ticks = [t for t, _ in runs]
        self.state.claim(spec.name, [(t, s, None) for t, s in runs])
        _faults.point("scheduler.after_claim")
        ran = self._run(spec, why, window, report)
        _faults.point("scheduler.after_run")
        if ran.outcome == "waiting for lock":
            return  # still claimed: run again next tick
        status = "failed" if ran.outcome == "failed" else "done"
        self.state.finish(spec.name, ticks, status, ran.run_id)
        _faults.point("scheduler.after_done")

    def _run(
        self,
        spec: DatasetSpec,
        why: str,
        window: tuple[datetime, datetime] | None,
        report: TickReport,
    ) -> Ran:
        ran = Ran(spec.name, why)
        started = time.monotonic()
        try:
            result = self.project.run([spec.name], window=window, command="schedule")
        except LockedError as exc:
            self._lock_busy = True
            ran.outcome, ran.error = "waiting for lock", exc.message
            self.log(f"{spec.name}: {exc.message}; it stays due for the next tick")
        except AssayError as exc:
            ran.outcome, ran.error = "failed", exc.message
        else:
            ran.run_id = result.run_id
            if not result.ok:
                ran.outcome = "failed"
                ran.error = "; ".join(f"{r.dataset}: {r.error}" for r in result.failed)
            elif all(r.status == "up_to_date" for r in result.results):
                ran.outcome = "up to date"
        ran.seconds = time.monotonic() - started
        if ran.outcome == "failed":
            self.log(f"{spec.name} failed: {ran.error}")
        report.ran.append(ran)
        return ran

    def _consumed(
        self, spec: DatasetSpec, consumed: dict[str, dict[str, int]]
    ) -> dict[str, int] | None:
        """The input versions `spec` last ran on: the scheduler's record, else (first start)
        the versions its table's newest commit says it was built from (as far as the catalog
        has synced its log: if behind, the dataset runs once and finds nothing to do)."""
        if spec.name in consumed:
            return consumed[spec.name]
        _, state = self.project.catalog.sync_point(spec.name)
        if not state.inputs:
            return None
        self.state.set_consumed(spec.name, state.inputs)  # read once, not every tick
        return dict(state.inputs)

    def _redeclared(self, spec: DatasetSpec) -> list[str]:
        """On the first tick (definitions are loaded when the scheduler starts): a sensed
        dataset whose table was built by other code or another declaration is due."""
        if self._ticks:
            return []
        _, state = self.project.catalog.sync_point(spec.name)
        if state.fingerprint is None or state.fingerprint == spec.fingerprint:
            return []
        return ["code or declaration changed since its table was built"]

    def _arrived(self, spec: DatasetSpec) -> list[str]:
        """New or changed files in a file source's glob (a stat of each, no reads)."""
        pending_files = getattr(spec.producer, "pending_files", None)
        if pending_files is None:
            return []
        ingested = self.project.catalog.ingested_files(spec.name)
        return [f.path for f in pending_files(str(self.project.root), ingested, False)]

    def next_cron_tick(self, now: datetime) -> datetime | None:
        """The soonest cron tick after `now` over all scheduled datasets."""
        ticks = [
            s.automation.schedule.next_after(now)
            for s in self.scheduled()
            if s.automation.schedule and s.automation.schedule.trigger is Trigger.CRON
        ]
        return min(ticks, default=None)

    # -- the loop ------------------------------------------------------------------------

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Stop after the current run (what SIGTERM and SIGINT call)."""
        if not self._stop.is_set() and signum is not None:
            self.log(f"received {signal.Signals(signum).name}: finishing the current run")
        self._stop.set()

    def run(self, once: bool = False) -> int:
        """Tick every `tick_seconds` until stopped (SIGTERM, SIGINT or `stop()`); with
        `once`, one tick. Returns the exit code: 0, or 1 when `once` and a run failed."""
        from assay.orchestration.streams import StreamSupervisor

        main_thread = threading.current_thread() is threading.main_thread()
        previous = {}
        if main_thread:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self.stop)
        supervisor = StreamSupervisor(self.project, self.log) if self.streams and not once else None
        code = 0
        try:
            with project_lock(
                self.project.state_dir,
                0,
                "schedule.lock",
                "another `assay schedule`",
                hint="stop the other `assay schedule` (pid {pid}); one scheduler per project",
            ):
                self.log(
                    f"scheduler started: {len(self.scheduled())} scheduled dataset(s), "
                    f"tick every {self.tick_seconds:g}s"
                )
                while not self._stop.is_set():
                    started = time.monotonic()
                    if supervisor is not None:
                        supervisor.check()
                    report = self.tick()
                    if once:
                        code = 1 if report.failed else 0
                        break
                    self._stop.wait(max(0.0, self.tick_seconds - (time.monotonic() - started)))
        finally:
            if supervisor is not None:
                supervisor.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.log("scheduler stopped: state recorded, nothing left half-done")
        return code
