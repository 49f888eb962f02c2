"""Run datasets in dependency order: plan, produce, commit, record; retry what is transient.

A dataset that fails does not stop the run: its downstream datasets are skipped and the
others go on; the result lists every failure with its reason.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from assay import _faults
from assay.catalog.sync import sync
from assay.cost.record import BuildMeter
from assay.engines import TableRef
from assay.errors import AssayError, ContractViolationError
from assay.intervals import Interval, describe, utcnow
from assay.pipelines.commit import BatchBlocked, Committer, QuarantineLimitExceeded
from assay.pipelines.plan import Planner, Work
from assay.pipelines.producers import Output, RunContext
from assay.pipelines.quarantine import quarantine_name
from assay.pipelines.spec import DatasetSpec, Kind
from assay.runtime import Runtime
from assay.tables.commitmeta import DatasetState

log = logging.getLogger(__name__)


@dataclass
class DatasetResult:
    """What happened to one dataset in a run."""

    dataset: str
    status: str  # success | up_to_date | failed | skipped
    reasons: list[str] = field(default_factory=list)
    commits: int = 0
    intervals: int = 0
    rows_in: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    seconds: float = 0.0
    error: str | None = None
    #: Why a failed dataset failed, for alerts: failure, contract (a blocking rule) or
    #: quarantine (over `max_quarantined`).
    cause: str | None = None


@dataclass
class RunResult:
    """The outcome of `assay run` or `assay backfill`."""

    run_id: str
    results: list[DatasetResult]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> list[DatasetResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def commits(self) -> int:
        return sum(r.commits for r in self.results)

    def result(self, dataset: str) -> DatasetResult:
        return next(r for r in self.results if r.dataset == dataset)


class Reporter(Protocol):
    """Receives progress events (the CLI draws rich progress bars from them)."""

    def dataset_started(self, dataset: str, units: int, reasons: list[str]) -> None: ...
    def unit_done(self, dataset: str, label: str) -> None: ...
    def dataset_finished(self, result: DatasetResult) -> None: ...


class RunListener(Protocol):
    """Told as a run and each dataset it builds start and end (OpenLineage events hang
    here). Datasets skipped because an upstream failed are not started. An error a listener
    raises is logged and the run goes on."""

    def run_started(self, names: list[str]) -> None: ...
    def dataset_started(self, spec: DatasetSpec) -> None: ...
    def dataset_finished(self, spec: DatasetSpec, result: DatasetResult) -> None: ...
    def run_finished(self, result: RunResult | None, error: BaseException | None) -> None: ...


class SilentReporter:
    def dataset_started(self, dataset: str, units: int, reasons: list[str]) -> None:
        pass

    def unit_done(self, dataset: str, label: str) -> None:
        pass

    def dataset_finished(self, result: DatasetResult) -> None:
        pass


class Runner:
    """Executes one run (or backfill) with one run id."""

    def __init__(
        self,
        rt: Runtime,
        run_id: str,
        reporter: Reporter | None = None,
        full_refresh: bool = False,
        restated: set[str] | None = None,
        listeners: Sequence[RunListener] = (),
    ):
        self.rt = rt
        self.run_id = run_id
        self.reporter = reporter or SilentReporter()
        self.full_refresh = full_refresh
        #: Incremental datasets whose intervals in the window are recomputed even if done.
        self.restated = restated or set()
        self.planner = Planner.for_runtime(rt)
        self.committer = Committer(rt.warehouse, rt.local, rt.contracts, rt.catalog)
        self.started_at = utcnow()
        self.listeners = tuple(listeners)

    def _notify(self, event: str, *args: object) -> None:
        """Call `event` on every listener; what one raises is logged, never the run's."""
        for listener in self.listeners:
            try:
                getattr(listener, event)(*args)
            except Exception:
                log.exception("run listener %s failed on %s", type(listener).__name__, event)

    def run(
        self, names: list[str], window: tuple[datetime, datetime] | None = None, workers: int = 1
    ) -> RunResult:
        began = time.monotonic()
        self._notify("run_started", names)
        try:
            results = self._run_all(names, window, workers)
        except BaseException as exc:
            self._notify("run_finished", None, exc)
            raise
        outcome = RunResult(self.run_id, results, time.monotonic() - began)
        self._notify("run_finished", outcome, None)
        return outcome

    def _run_all(
        self, names: list[str], window: tuple[datetime, datetime] | None, workers: int
    ) -> list[DatasetResult]:
        results: list[DatasetResult] = []
        broken: set[str] = set()
        for name in names:
            spec = self.rt.dag[name]
            blocked = [i for i in spec.inputs if i in broken]
            if blocked:
                result = DatasetResult(name, "skipped", [f"upstream failed: {', '.join(blocked)}"])
                broken.add(name)
            else:
                self._notify("dataset_started", spec)
                result = self._run_dataset(spec, window, workers)
                self._notify("dataset_finished", spec, result)
                if result.status == "failed":
                    broken.add(name)
            results.append(result)
            self.reporter.dataset_finished(result)
        return results

    def _run_dataset(
        self, spec: DatasetSpec, window: tuple[datetime, datetime] | None, workers: int
    ) -> DatasetResult:
        began, started_at = time.monotonic(), utcnow()
        # CPU, memory and bytes of the whole build, retries, contracts and commits included.
        on_spark = not spec.producer.is_source and self.rt.engine.name == "spark"
        meter = BuildMeter.begin(
            self.rt.warehouse, [spec.name, quarantine_name(spec.name)], on_spark
        )
        result = DatasetResult(spec.name, "success")
        retry = self.rt.config.retries
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(retry.attempts),
                wait=wait_exponential(multiplier=retry.backoff_initial, max=retry.backoff_max),
                retry=retry_if_exception(lambda e: isinstance(e, AssayError) and e.transient),
                reraise=True,
            ):
                with attempt:
                    result = DatasetResult(spec.name, "success")
                    self._build(spec, result, window, workers, meter)
        except Exception as exc:  # one dataset's failure must not stop the others
            result.status, result.cause = "failed", failure_cause(exc)
            result.error = (
                str(exc)
                if isinstance(exc, AssayError)
                else (f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
            )
        result.seconds = time.monotonic() - began
        self.rt.catalog.record_dataset_run(
            run_id=self.run_id,
            dataset=spec.name,
            status=result.status,
            reason="; ".join(result.reasons),
            started_at=started_at,
            finished_at=utcnow(),
            rows_in=result.rows_in,
            rows_written=result.rows_written,
            rows_quarantined=result.rows_quarantined,
            version=self.rt.warehouse.version(spec.name) if result.commits else None,
            fingerprint=spec.fingerprint,
            error=result.error,
        )
        rows = (result.rows_in, result.rows_written, result.rows_quarantined)
        meter.finish(self.rt.catalog, self.run_id, spec.name, result.status, rows)
        return result

    def _build(
        self,
        spec: DatasetSpec,
        result: DatasetResult,
        window: tuple[datetime, datetime] | None,
        workers: int,
        meter: BuildMeter,
    ) -> None:
        state = self.state(spec)
        missing = [n for n in spec.inputs if not self.rt.warehouse.exists(n)]
        if missing:
            result.status, result.reasons = "skipped", [f"inputs not built: {', '.join(missing)}"]
            return
        work = self.work(spec, state, window)
        result.reasons = work.reasons
        if not work.needed:
            result.status = "up_to_date"
            return
        ctx = self._context(spec, state, work)
        meter.read({name: ref.version for name, ref in ctx.inputs.items()})
        if spec.kind is Kind.INCREMENTAL:
            self.reporter.dataset_started(spec.name, len(work.intervals), work.reasons)
            self._build_intervals(ctx, work.intervals, result, workers)
        else:
            self.reporter.dataset_started(spec.name, 1, work.reasons)
            for output in spec.producer.produce(ctx):
                self._commit(ctx, output, None, result)
            self.reporter.unit_done(spec.name, spec.name)
        if not result.commits:
            result.status = "up_to_date"
            result.reasons = [*result.reasons, "no changes to commit"]
        sync(self.rt.catalog, self.rt.warehouse, spec.name)
        _faults.point("after_catalog")

    def work(
        self,
        spec: DatasetSpec,
        state: DatasetState,
        window: tuple[datetime, datetime] | None = None,
    ) -> Work:
        """What the dataset needs now, and why (`state` from `Runner.state`)."""
        return self.planner.work(
            spec, state, self.full_refresh, window, force=spec.name in self.restated
        )

    def state(self, spec: DatasetSpec) -> DatasetState:
        """The dataset's state from its Delta log (synced into the catalog), with the files
        it has ingested, read once for both planning and producing."""
        return self.planner.state(spec)

    def _context(self, spec: DatasetSpec, state: DatasetState, work: Work) -> RunContext:
        inputs = {n: TableRef(n, self.rt.warehouse.version(n)) for n in spec.inputs}
        refresh = self.full_refresh or work.replace_table
        return RunContext(
            run_id=self.run_id,
            dataset=spec,
            engine=self.rt.local if spec.producer.is_source else self.rt.engine,
            warehouse=self.rt.warehouse,
            project_root=self.rt.root,
            ingested_at=self.started_at,
            inputs=inputs,
            state=state,
            vars=self.rt.config.vars,
            full_refresh=refresh,
            replace_table=refresh,
            runtime=self.rt,
        )

    def _commit(
        self,
        ctx: RunContext,
        output: Output,
        intervals: list[Interval] | None,
        result: DatasetResult,
    ) -> None:
        version, written = self.committer.commit(ctx, output, intervals)
        # A Frame's rows in are what the commit wrote plus what its contracts quarantined.
        rows_in = output.rows_in
        result.rows_in += (
            rows_in if rows_in is not None else written.rows_written + written.rows_quarantined
        )
        result.rows_written += written.rows_written if version is not None else 0
        result.rows_quarantined += written.rows_quarantined
        if version is not None:
            result.commits += 1
            ctx.replace_table = False

    def _build_intervals(
        self, ctx: RunContext, intervals: list[Interval], result: DatasetResult, workers: int
    ) -> None:
        size = ctx.dataset.batch_size or ctx.engine.default_batch_intervals
        batches = list(batched_intervals(intervals, size))
        done: list[Interval] = []
        for batch, outputs in self._batch_outputs(ctx, batches, workers):
            try:
                for output in outputs:
                    self._commit(ctx, output, batch, result)
            except BatchBlocked as exc:
                raise _batch_failure(exc, batch, done) from exc
            done.extend(batch)
            result.intervals += len(batch)
            for interval in batch:
                self.reporter.unit_done(ctx.dataset.name, str(interval))

    def _batch_outputs(
        self, ctx: RunContext, batches: list[list[Interval]], workers: int
    ) -> Iterator[tuple[list[Interval], list[Output]]]:
        """Compute batches (in parallel with workers > 1) and yield them in time order,
        so commits stay ordered and a crash leaves a clean prefix done."""

        def compute(batch: list[Interval]) -> list[Output]:
            sub = replace(ctx, start=batch[0].start, end=batch[-1].end)
            return list(ctx.dataset.producer.produce(sub))

        if workers <= 1:
            for batch in batches:
                yield batch, compute(batch)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: deque[tuple[list[Interval], Future[list[Output]]]] = deque()
            queue = iter(batches)
            for batch in queue:
                pending.append((batch, pool.submit(compute, batch)))
                if len(pending) >= workers * 2:
                    break
            while pending:
                batch, future = pending.popleft()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.append((nxt, pool.submit(compute, nxt)))
                yield batch, future.result()


def _batch_failure(
    exc: BatchBlocked, batch: list[Interval], done: list[Interval]
) -> ContractViolationError:
    """The error of a blocked batch, saying exactly what this run did and did not commit."""
    committed = (
        f"earlier batches of this run are committed and done: {describe(done)}"
        if done
        else "no earlier batch of this run committed anything"
    )
    return ContractViolationError(
        f"contract failed, intervals {describe(batch)} not committed: {exc.failures}; " + committed,
        where=exc.where,
        hint=exc.hint,
    )


def failure_cause(exc: BaseException) -> str:
    """`quarantine`, `contract` or `failure`: what kind of failure `exc` (or the error it
    was raised from) is.

    Example:
        >>> failure_cause(ValueError("boom"))
        'failure'
    """
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 20:
        chain.append(seen)
        seen = seen.__cause__
    if any(isinstance(e, QuarantineLimitExceeded) for e in chain):
        return "quarantine"
    if any(isinstance(e, ContractViolationError) for e in chain):
        return "contract"
    return "failure"


def batched_intervals(intervals: list[Interval], size: int) -> Iterator[list[Interval]]:
    """Split sorted intervals into contiguous runs of at most `size` intervals.

    Example:
        >>> from datetime import datetime as dt
        >>> days = [Interval(dt(2026, 1, d), dt(2026, 1, d + 1)) for d in (1, 2, 3, 5)]
        >>> [len(b) for b in batched_intervals(days, 2)]
        [2, 1, 1]
    """
    batch: list[Interval] = []
    for interval in sorted(intervals):
        if batch and (len(batch) >= size or batch[-1].end != interval.start):
            yield batch
            batch = []
        batch.append(interval)
    if batch:
        yield batch
