"""`assay.Project`: load a project folder and run, plan, backfill and query it.

`Project` loads assay.yaml and the definitions, builds the `Runtime` the workflows below
it take (pipelines, streaming, features), and is the one entry point to a project.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> project = assay.Project(root)
    >>> result = project.run()
    >>> result.ok, project.table("gold.daily_totals").num_rows > 0
    (True, True)
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.catalog import Catalog
from assay.catalog.sync import sync
from assay.config import ProjectConfig, load_config
from assay.contracts import load_contracts
from assay.engines import Engine, get_engine
from assay.errors import DefinitionError, UsageError
from assay.governance.access import AccessPolicy
from assay.governance.audit_hooks import AuditRunListener, audit_write, read_observer
from assay.governance.permissions import require_action
from assay.intervals import Interval, to_naive_utc
from assay.lock import project_lock
from assay.pipelines.dag import Dag
from assay.pipelines.declare import collecting
from assay.pipelines.plan import Planner, Work
from assay.pipelines.protect import rules_on_masked_columns
from assay.pipelines.quarantine import quarantine_name
from assay.pipelines.runner import Reporter, RunListener, Runner, RunResult
from assay.pipelines.spec import DatasetSpec, Kind
from assay.pipelines.sqlfile import load_sql_file
from assay.runtime import STATE_DIR, Runtime
from assay.tables import CommitInfo, Warehouse

log = logging.getLogger("assay")

if TYPE_CHECKING:
    from assay.contracts import Contract
    from assay.contracts.enforce import CheckResult
    from assay.features.store import Features
    from assay.lineage.impact import Impact
    from assay.pipelines.replay import ReplayOutcome
    from assay.streaming.runner import BatchStats, StreamStats
    from assay.streaming.status import StreamStatus

__all__ = ["STATE_DIR", "DatasetStatus", "Project"]


@dataclass(frozen=True)
class DatasetStatus:
    """One row of `assay status`."""

    name: str
    kind: str
    version: int | None
    rows: int | None
    last_run: datetime | None
    last_status: str | None
    intervals_done: int | None
    intervals_missing: int | None
    quarantined: int | None
    #: Why its intervals cannot be planned (an incremental dataset with no `start` over
    #: inputs without a time column), with what to do; None when they can.
    problem: str | None = None


class Project:
    """A project folder: assay.yaml, pipelines/, contracts/, features/.

    Args:
        path: the project folder.
        engine: overrides `engine:` from assay.yaml.
    """

    def __init__(self, path: str | Path = ".", engine: str | None = None):
        self.root = Path(path).resolve()
        self.config: ProjectConfig = load_config(self.root)
        AccessPolicy.from_config(self.config)  # roles checked now: a principal in two fails
        self.state_dir = self.root / STATE_DIR
        self.warehouse = Warehouse(
            _warehouse_uri(self.root, self.config), self.config.storage_options
        )
        name = engine or self.config.engine
        self.engine: Engine = get_engine(name, self.warehouse, _engine_settings(self.config, name))
        #: The embedded engine for work on data already in this process (see Runtime).
        self.local_engine: Engine = (
            self.engine if self.engine.name == "duckdb" else get_engine("duckdb", self.warehouse)
        )
        definitions = load_definitions(self.root, self.config)
        dbt_tests: dict[str, list[Contract]] = {}
        if self.config.dbt is not None:  # dbt models as datasets, dbt tests as contract rules
            from assay.integrations.dbt import load_dbt

            dbt = load_dbt(self.root, self.config.dbt, self.state_dir)
            definitions.extend(dbt.datasets)
            dbt_tests = dbt.contracts
        self.dag = Dag([d for d in definitions if isinstance(d, DatasetSpec)])
        self.contracts = load_contracts(self.root / "contracts", set(self.dag.specs))
        for name, tests in dbt_tests.items():
            self.contracts.setdefault(name, []).extend(tests)
        for spec in self.dag.specs.values():
            bound = self.contracts.get(spec.name, ())
            upstream = [self.dag[name] for name in self.dag.upstream(spec.name)] if bound else []
            for conflict in rules_on_masked_columns(spec, bound, upstream):
                log.warning(conflict)
        #: What the workflows below the project take (they never see the project).
        self.runtime = Runtime(
            str(self.root),
            self.config,
            self.dag,
            self.warehouse,
            self.engine,
            None,  # the catalog is opened on first use
            self.contracts,
            self.local_engine,
            [d for d in definitions if not isinstance(d, DatasetSpec)],
        )
        if self.config.governance.audit:  # the audit log hears every read
            self.runtime.read_observers.append(read_observer)
        self._features: Features | None = None

    @property
    def catalog(self) -> Catalog:
        return self.runtime.catalog

    @property
    def features(self) -> Features:
        """Feature views, entities and services, training sets and the online store."""
        if self._features is None:
            from assay.features.store import Features

            self._features = Features(self.runtime)
        return self._features

    @property
    def datasets(self) -> dict[str, DatasetSpec]:
        return dict(self.dag.items())

    # -- running ------------------------------------------------------------------------

    def run(
        self,
        select: Sequence[str] = (),
        full_refresh: bool = False,
        reporter: Reporter | None = None,
        window: tuple[date | datetime | str, date | datetime | str] | None = None,
        command: str = "run",
        allow_breaking: bool = False,
    ) -> RunResult:
        """Build the selected datasets (default: all) in dependency order.

        `window` limits incremental datasets to the missing or stale intervals in
        `[start, end)` (a scheduler's tick or Airflow's data interval); other datasets run
        as usual. `command` is what the run history records (`run`, `schedule`, `airflow`).
        A changed SQL dataset that removes or retypes a column something downstream uses
        stops the run before it starts (a SchemaDriftError naming the users), unless
        `allow_breaking`. Returns a RunResult; `result.ok` is False when any dataset failed.

        Example: ``project.run(["silver.transactions"], window=("2026-01-01", "2026-01-02"))``
        """
        names = self.dag.select(select) if select else self.dag.order()
        bounds = None if window is None else (_as_datetime(window[0]), _as_datetime(window[1]))
        if bounds and bounds[0] >= bounds[1]:
            raise UsageError("the window's start must be before its end")
        if not allow_breaking:
            self._refuse_breaking(names)
        return self._execute(names, command, full_refresh, reporter, bounds)

    def backfill(
        self,
        name: str,
        start: date | datetime | str,
        end: date | datetime | str,
        workers: int = 1,
        reporter: Reporter | None = None,
        restate: bool = False,
    ) -> RunResult:
        """Fill missing or stale intervals of `name` in `[start, end)`, then its downstream.

        With `restate=True`, every interval of `name` in the window is recomputed even if
        done (after fixing bad upstream data, say); downstream intervals follow as stale.

        Example: ``project.backfill("silver.transactions", "2026-01-01", "2026-02-01")``
        """
        spec = self.dag[name]
        if spec.kind is not Kind.INCREMENTAL:
            raise UsageError(
                f"{name} is a {spec.kind.value} dataset, not incremental",
                hint="backfill works on incremental datasets; use `assay run`",
            )
        window = (_as_datetime(start), _as_datetime(end))
        if window[0] >= window[1]:
            raise UsageError("--start must be before --end")
        names = [name, *self.dag.downstream(name)]
        restated = {name} if restate else set()
        return self._execute(names, "backfill", False, reporter, window, workers, restated)

    def _execute(
        self,
        names: list[str],
        command: str,
        full_refresh: bool,
        reporter: Reporter | None,
        window: tuple[datetime, datetime] | None = None,
        workers: int = 1,
        restated: set[str] | None = None,
    ) -> RunResult:
        run_id = uuid.uuid4().hex[:12]
        listeners = run_listeners(self.runtime, run_id, command)
        with project_lock(self.state_dir, self.config.lock_timeout):
            self.catalog.start_run(run_id, command)
            runner = Runner(self.runtime, run_id, reporter, full_refresh, restated, listeners)
            result = runner.run(names, window, workers)
            self.catalog.finish_run(run_id, "success" if result.ok else "failed")
        # Outside the lock: a slow channel must not hold up the next run.
        from assay.orchestration.evaluate import alert_run

        alert_run(self.runtime, result, window)
        return result

    def repair(self, name: str, reporter: Reporter | None = None) -> RunResult:
        """Recover `name` from a torn Delta log: move its torn newest commit aside, then
        rebuild `name` and everything downstream from their sources (a full refresh), so
        no table keeps rows derived from the lost commit.

        Example: ``project.repair("bronze.transactions")``
        """
        from assay.tables.logcheck import set_torn_commit_aside

        self.dag[name]
        with project_lock(self.state_dir, self.config.lock_timeout):
            set_torn_commit_aside(name, self.warehouse.uri(name))
        return self.run([f"{name}+"], full_refresh=True, reporter=reporter)

    def impact(self, select: Sequence[str] = ()) -> Impact:
        """What the changed SQL datasets among `select` (default: all) reach downstream, and
        the columns they remove or retype that downstream still uses.

        Example: ``project.impact(["silver.transactions"]).breaking``
        """
        from assay.lineage.impact import impact

        return impact(self.runtime, self.dag.select(select) if select else self.dag.order())

    def _refuse_breaking(self, names: Sequence[str]) -> None:
        from assay.lineage.impact import impact, refuse_breaking

        refuse_breaking(impact(self.runtime, names))

    def plan(self, select: Sequence[str] = (), full_refresh: bool = False) -> list[Work]:
        """What `run` would do, per dataset, and why (nothing is written)."""
        names = self.dag.select(select) if select else self.dag.order()
        planner = Planner.for_runtime(self.runtime)
        return planner.plan_all([self.dag[n] for n in names], full_refresh)

    # -- reading ------------------------------------------------------------------------

    def table(self, name: str, version: int | None = None) -> pa.Table:
        """The table `layer.name` (or `layer.name@version`) as Arrow, at `version` (latest
        by default). Reads go through `runtime.reader`."""
        return self.runtime.reader.table(name, version)

    def sql(self, query: str) -> pa.Table:
        """Run a query (DuckDB's dialect, translated on Spark) where tables are `layer.name`.

        Example: ``project.sql("SELECT count(*) FROM silver.transactions")``
        """
        return self.runtime.reader.sql(query)

    def history(self, name: str, limit: int | None = None) -> list[CommitInfo]:
        """Versions of a table, newest first, with run id, operation, rows and interval."""
        if not self.warehouse.exists(name):
            raise self.runtime.reader.unknown(name)  # names it, and how to build it
        return self.warehouse.history(name, limit)

    def status(self) -> list[DatasetStatus]:
        """Every dataset with its version, rows, last run and intervals."""
        return dataset_statuses(self.runtime)

    def check(self, names: Sequence[str] = (), sensitivity: float = 3.5) -> list[CheckResult]:
        """Run the contracts of `names` (default: every dataset with a contract) against the
        tables as they are; results and metrics are stored, anomalies flagged as warnings."""
        return check_contracts(self.runtime, names, sensitivity)

    def stream_status(self) -> list[StreamStatus]:
        """Each streaming dataset's offsets, lag, watermark, rows/s, dead letters, late rows."""
        from assay.streaming.sources import StreamSource
        from assay.streaming.status import stream_status

        return [
            stream_status(self.runtime, spec)
            for spec in self.dag.specs.values()
            if isinstance(spec.producer, StreamSource)
        ]

    def stream(
        self,
        name: str,
        max_batches: int | None = None,
        until_idle: bool = False,
        on_batch: Callable[[BatchStats], None] | None = None,
    ) -> StreamStats:
        """Run the streaming dataset `name`: micro-batches, exactly once into its table,
        its windows kept, until `max_batches`, until the source is idle, or forever.

        Example: ``project.stream("bronze.events", until_idle=True)``
        """
        from assay.streaming.runner import StreamRunner
        from assay.streaming.sources import KafkaSource

        runner = StreamRunner(self.runtime, self.dag[name])
        source = runner.source
        if isinstance(source, KafkaSource) and not source.windows:
            # A consumer group shares the partitions: several processes may run it.
            return runner.run(max_batches, until_idle, on_batch)
        # A folder, or windows (whose state spans all partitions): one process at a time.
        # No wait (lock_timeout is for runs): a stream runs until it is stopped.
        with project_lock(
            self.state_dir,
            0,
            f"stream-{name}.lock",
            f"another `assay stream {name}`",
            hint=f"stop the other `assay stream {name}` (pid {{pid}}), or wait for it",
        ):
            return runner.run(max_batches, until_idle, on_batch)

    def replay_quarantine(self, name: str) -> ReplayOutcome:
        """Re-validate `name`'s quarantined rows; move those that now pass into its table."""
        from assay.pipelines.replay import replay_quarantine

        protection = self.dag[name].protection
        with project_lock(self.state_dir, self.config.lock_timeout):
            outcome = replay_quarantine(
                self.local_engine,
                self.warehouse,
                name,
                self.contracts.get(name, []),
                uuid.uuid4().hex[:12],
                [*protection.mask, *protection.drop],
            )
        if outcome.replayed:
            detail = {"replay": True, "remaining": outcome.remaining}
            audit_write(self.runtime, name, outcome.replayed, "write", detail=detail)
        return outcome

    def infer_contract(self, name: str) -> dict[str, Any]:
        """A starting ODCS contract for table `name`, from its data (its observed values
        go into the file: a read, so it passes the reader as a `profile`)."""
        from assay.contracts.infer import infer_contract

        self.dag[name]
        source, schema = self.runtime.reader.source(name, purpose="profile")
        return infer_contract(self.engine, name, schema, source)

    def row_count(self, name: str) -> int:
        """Rows in a table, from the Delta log's file statistics (no scan)."""
        return self.runtime.row_count(name)

    def intervals(self, name: str) -> list[Interval]:
        """The done intervals of incremental dataset `name` (its Delta log read first)."""
        spec = self.dag[name]
        sync(self.catalog, self.warehouse, name)
        return [r.interval for r in self.catalog.done_intervals(name, spec.fingerprint)]


def run_listeners(rt: Runtime, run_id: str, command: str) -> list[RunListener]:
    """What hears a run's progress besides the reporter: the audit log (one write event
    per dataset committed, unless `governance: {audit: false}`) and OpenLineage events when
    `openlineage:` is set (the integration is imported only then)."""
    listeners: list[RunListener] = []
    if rt.config.governance.audit:
        listeners.append(AuditRunListener(rt, run_id, command))
    settings = rt.config.openlineage
    if settings is None or settings.disabled:
        return listeners
    from assay.integrations.openlineage import OpenLineageListener

    return [*listeners, OpenLineageListener(rt, run_id, command, settings)]


# -- loading --------------------------------------------------------------------------------


def _engine_settings(config: ProjectConfig, name: str) -> dict[str, Any]:
    """The engine's section of assay.yaml (`spark:` for Spark)."""
    return dict(getattr(config, name, None) or {}) if name == "spark" else {}


def _warehouse_uri(root: Path, config: ProjectConfig) -> str:
    uri = config.warehouse
    return uri if "://" in uri else str((root / uri).resolve())


def load_definitions(root: Path, config: ProjectConfig) -> list[Any]:
    """Datasets from pipelines/ (SQL and Python), feature objects from features/, models
    (`@assay.model`) from models/."""
    found: list[Any] = []
    pipelines = root / "pipelines"
    if pipelines.is_dir():
        found.extend(load_sql_file(p, config.vars) for p in sorted(pipelines.rglob("*.sql")))
    for folder in (pipelines, root / "features", root / "models"):
        if folder.is_dir():
            for path in sorted(folder.rglob("*.py")):
                found.extend(_load_python(root, path))
    return found


def _load_python(root: Path, path: Path) -> list[Any]:
    module_name = f"assay_project_{abs(hash(str(root)))}.{path.stem}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise DefinitionError("cannot import the file", where=str(path))
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(root))
    try:
        with collecting() as found:
            module_spec.loader.exec_module(module)
    except DefinitionError:
        raise
    except SystemExit as exc:
        # Definition files are imported, not run: an exit would end `assay` itself.
        raise DefinitionError(
            f"the file called sys.exit({'' if exc.code is None else repr(exc.code)}) "
            "while it was loaded",
            where=f"{path}:{_user_line(exc, path)}",
            hint='remove the call, or move script code under `if __name__ == "__main__":`',
        ) from None
    except Exception as exc:
        line = _user_line(exc, path)
        raise DefinitionError(
            f"{type(exc).__name__}: {exc}",
            where=f"{path}:{line}",
            hint="fix the definition file",
        ) from exc
    finally:
        sys.path.remove(str(root))
    return found


# -- reports --------------------------------------------------------------------------------


def dataset_statuses(rt: Runtime) -> list[DatasetStatus]:
    """Every dataset with its version, rows, last run and intervals (`assay status`)."""
    last_runs = rt.catalog.last_dataset_runs()
    planner = Planner(rt.warehouse, rt.catalog, rt.dag.time_columns())
    rows = []
    for name, spec in rt.dag.items().items():
        sync(rt.catalog, rt.warehouse, name)
        exists = rt.warehouse.exists(name)
        done = missing = None
        problem = None
        if spec.kind is Kind.INCREMENTAL:
            done = len(rt.catalog.done_intervals(name, spec.fingerprint))
            try:
                missing = len(planner.interval_work(spec, False).missing)
            except DefinitionError as exc:  # one dataset's problem, shown on its row
                problem = f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message
        run = last_runs.get(name)
        quarantine = quarantine_name(name)
        rows.append(
            DatasetStatus(
                name=name,
                kind=spec.kind.value,
                version=rt.warehouse.version(name) if exists else None,
                rows=rt.row_count(name) if exists else None,
                last_run=run.finished_at if run else None,
                last_status=run.status if run else None,
                intervals_done=done,
                intervals_missing=missing,
                quarantined=rt.row_count(quarantine) if rt.warehouse.exists(quarantine) else 0,
                problem=problem,
            )
        )
    return rows


def check_contracts(rt: Runtime, names: Sequence[str], sensitivity: float) -> list[CheckResult]:
    """Run the contracts of `names` (default: every dataset with one) on the tables as they
    are (`assay check`); a table not built is a failed `table exists` check."""
    from assay.contracts.check import check_dataset
    from assay.contracts.enforce import CheckResult as Result

    require_action(rt, "check")  # it reads every row of the tables checked
    targets = list(names) or sorted(rt.contracts)
    for name in targets:
        if name not in rt.contracts:
            raise UsageError(
                f"no contract binds to {name}",
                hint=f"contracts bind to: {', '.join(sorted(rt.contracts))}",
            )
    run_id = "check-" + uuid.uuid4().hex[:8]
    results: list[CheckResult] = []
    for name in targets:
        if not rt.warehouse.exists(name):
            results.append(
                Result(
                    name,
                    "table exists",
                    "schema",
                    "error",
                    "fail",
                    None,
                    "a table",
                    "the table has not been built; run `assay run`",
                )
            )
            continue
        results.extend(
            check_dataset(
                rt.engine,
                rt.warehouse,
                rt.catalog,
                run_id,
                name,
                rt.contracts[name],
                sensitivity,
                rt.dag[name].time_column,
            )
        )
    return results


def _as_datetime(value: date | datetime | str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise UsageError(f"invalid date {value!r}", hint="use YYYY-MM-DD") from None
    return to_naive_utc(value)


def _user_line(exc: BaseException, path: Path) -> Any:
    tb = exc.__traceback__
    line: Any = "?"
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
