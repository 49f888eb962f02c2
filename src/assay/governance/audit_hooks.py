"""Where the audit log hears about reads and writes.

- Writes by runs: `AuditRunListener`, a run listener (see
  `assay.pipelines.runner.RunListener`) that appends one `write` event per dataset a run
  committed to: its rows written, the table version it left, the run id.
- Other writes (streams, retention, erasure, key rotation, holds): `audit_write`.
- Reads: `record_read`, the callback for `Reader.observe`, appends one `read` event per
  finished or denied read, with the query's sha256 and never its text.

Nothing is appended when `governance: {audit: false}` is set in assay.yaml.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> runtime = assay.Project(root).runtime
    >>> audit_write(runtime, "gold.daily_totals", rows=0, action="retention").action
    'retention'
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from assay.catalog.store import Catalog
from assay.governance.audit import AuditEvent, AuditLog, AuditRecord

if TYPE_CHECKING:
    from assay.reader import Read
    from assay.runtime import Runtime

#: One log per catalog, so the table check runs once per process, not once per event.
_logs: weakref.WeakKeyDictionary[Catalog, AuditLog] = weakref.WeakKeyDictionary()


def audit_log(runtime: Runtime) -> AuditLog | None:
    """The project's audit log, or None when auditing is off in assay.yaml."""
    if not runtime.config.governance.audit:
        return None
    catalog = runtime.catalog
    log = _logs.get(catalog)
    if log is None:
        log = _logs[catalog] = AuditLog(catalog)
    return log


def audit_write(
    runtime: Runtime,
    dataset: str | None,
    rows: int | None = None,
    action: str = "write",
    columns: Sequence[str] = (),
    detail: Mapping[str, Any] | None = None,
    principal: str | None = None,
    role: str | None = None,
) -> AuditRecord | None:
    """Append one change to the log (None when auditing is off).

    Args:
        runtime: the project's runtime.
        dataset: `layer.name` changed (None for project-wide actions).
        rows: rows written, deleted or rewritten.
        action: write, delete, erase, retention, vacuum, hold, keys_rotate, ...
        columns: the columns changed (a key rotation's tokenized columns).
        detail: anything else, JSON-serializable and free of data values (version, run
            id, files rewritten, salted hashes).
        principal: who (default: the current principal).
        role: the role acted in; by default the role the principal holds under `roles:`
            (None without roles, or for a principal in none).
    """
    log = audit_log(runtime)
    if log is None:
        return None
    if role is None and runtime.config.roles:
        from assay.governance.permissions import role_of

        role = role_of(runtime.config, principal)
    event = AuditEvent(
        action, dataset, principal, role, tuple(columns), rows, detail=dict(detail or {})
    )
    return log.append(event)


# -- writes by runs ---------------------------------------------------------------------------


class _Spec(Protocol):
    @property
    def name(self) -> str: ...


class _Result(Protocol):
    status: str
    commits: int
    intervals: int
    rows_written: int
    rows_quarantined: int


class AuditRunListener:
    """Appends one `write` event per dataset a run committed to (see the module).

    Installed with the run's other listeners (`assay.project.run_listeners`); a dataset
    that committed nothing (up to date, skipped, failed before its first commit) has no
    event. A failed incremental dataset whose first batches did commit has one, with its
    status.

    Args:
        runtime: the project's runtime.
        run_id: the run's id.
        command: what started the run (run, backfill, schedule, airflow).
    """

    def __init__(self, runtime: Runtime, run_id: str, command: str):
        self.runtime = runtime
        self.run_id = run_id
        self.command = command

    def run_started(self, names: list[str]) -> None:
        pass

    def dataset_started(self, spec: _Spec) -> None:
        pass

    def dataset_finished(self, spec: _Spec, result: _Result) -> None:
        if not result.commits:
            return
        detail = {
            "run_id": self.run_id,
            "command": self.command,
            "version": self.runtime.warehouse.version(spec.name),
            "commits": result.commits,
            "intervals": result.intervals,
            "rows_quarantined": result.rows_quarantined,
            "status": result.status,
        }
        audit_write(self.runtime, spec.name, result.rows_written, "write", detail=detail)

    def run_finished(self, result: object, error: BaseException | None) -> None:
        pass


# -- reads ------------------------------------------------------------------------------------


class ReadOutcome(Protocol):
    """What the reader reports when a read finished or was denied (assay.reader)."""

    @property
    def read(self) -> Read: ...
    @property
    def principal(self) -> str: ...
    @property
    def role(self) -> str | None: ...
    @property
    def rows(self) -> int | None: ...
    @property
    def allowed(self) -> bool: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def query_hash(self) -> str | None: ...


def record_read(log: AuditLog, outcome: ReadOutcome) -> AuditRecord:
    """Append one `read` event for `outcome` (allowed False for a denied read).

    The query itself is never stored, only its sha256 (`outcome.query_hash`): a query may
    hold data values (`WHERE email = '...'`).
    """
    read = outcome.read
    detail: dict[str, Any] = {"purpose": read.purpose, "version": read.version}
    if read.columns is None:
        detail["all_columns"] = True
    if outcome.reason:
        detail["reason"] = outcome.reason
    event = AuditEvent(
        action="read",
        dataset=read.table,
        principal=outcome.principal,
        role=outcome.role,
        columns=tuple(read.columns or ()),
        rows=outcome.rows,
        query_hash=outcome.query_hash,
        allowed=outcome.allowed,
        detail=detail,
    )
    return log.append(event)


class ReadRecorder:
    """The callback `Reader.observe` takes: `ReadRecorder(log)(outcome)` appends it.

    Example: ``runtime.reader.observe(ReadRecorder(log))``
    """

    def __init__(self, log: AuditLog):
        self.log = log

    def __call__(self, outcome: ReadOutcome) -> None:
        record_read(self.log, outcome)


class ProjectReadRecorder:
    """`ReadRecorder` for a project: opens the catalog at the first read it records, so
    installing it on the reader opens no catalog database."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def __call__(self, outcome: ReadOutcome) -> None:
        log = audit_log(self.runtime)
        if log is not None:
            record_read(log, outcome)


def read_observer(runtime: Runtime) -> ProjectReadRecorder | None:
    """The reader's audit callback for this project (None when auditing is off).

    Example: ``observer = read_observer(runtime); observer and reader.observe(observer)``
    """
    return ProjectReadRecorder(runtime) if runtime.config.governance.audit else None
