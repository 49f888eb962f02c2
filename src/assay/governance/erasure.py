"""Erasure with proof (`assay forget`): find a subject everywhere, delete, prove absence.

1. Find (erasure_find): every table, raw record, online entity and source file holding
   the subject, through column names, column lineage and the subject's own keys.
2. Delete: one commit per table (held tables skipped and reported), the online store's
   entities; with `purge_history`, older versions and log statistics too (erasure_delete).
3. Prove (erasure_proof): a raw scan of every data file, log entry, online view and the
   catalog; the proof (salted hashes, never the values) is appended to the audit log as
   action `erase`.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> project = assay.Project(root)
    >>> _ = project.run()
    >>> report = forget(project.runtime, [Subject.parse("order_id=1")], dry_run=True)
    >>> [t.table for t in report.plan.tables]
    ['bronze.orders', 'silver.orders']
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assay.errors import AssayError
from assay.governance.erasure_catalog import scrub_catalog
from assay.governance.erasure_delete import HistoryPurged, TableErased, erase_table
from assay.governance.erasure_delete import purge_history as purge_table_history
from assay.governance.erasure_find import Plan, Subject, find
from assay.governance.erasure_proof import Proof, prove, subject_entry

if TYPE_CHECKING:
    from assay.runtime import Runtime

__all__ = ["ErasureIncompleteError", "ErasureReport", "Subject", "forget"]


class ErasureIncompleteError(AssayError):
    """After an erasure, the proof still found the subject somewhere (named)."""


@dataclass
class ErasureReport:
    """What `forget` planned, did and proved."""

    plan: Plan
    dry_run: bool
    purge_history: bool
    erased: list[TableErased] = field(default_factory=list)
    purged: list[HistoryPurged] = field(default_factory=list)
    online_deleted: dict[str, int] = field(default_factory=dict)
    catalog_scrubbed: dict[str, int] = field(default_factory=dict)
    proof: Proof | None = None
    seconds: float = 0.0
    salt: str = ""

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Held tables left untouched, with their hold's reason."""
        return [(t.table, t.hold) for t in self.plan.tables if t.hold]

    @property
    def ok(self) -> bool:
        """Whether the proof found the subject nowhere it was to be erased (held tables
        are reported apart: see `still_held`)."""
        return self.proof is None or not self.proof.failures(self.purge_history)

    @property
    def still_held(self) -> list[tuple[str, str, int]]:
        """Held tables that still hold the subject: (table, hold's reason, rows)."""
        if self.dry_run:
            return []
        return [(t.table, t.hold, t.rows) for t in self.plan.tables if t.hold]

    @property
    def none_found(self) -> bool:
        """Whether nothing of the subject remains anywhere, held tables included."""
        return self.ok and not self.still_held

    def check(self) -> None:
        """Raise ErasureIncompleteError naming where the subject is still found."""
        failures = [] if self.proof is None else self.proof.failures(self.purge_history)
        if failures:
            raise ErasureIncompleteError(
                "the subject is still found in " + "; ".join(f.where for f in failures),
                hint="remove it there (or lift what keeps it) and run the erasure again; "
                "older versions go with --purge-history",
            )

    def audit_detail(self) -> dict[str, Any]:
        """The proof as the audit log keeps it: salted hashes, counts and places only."""
        proof = self.proof or Proof()
        return {
            # Per subject: scrypt's salt, cost and hash (see erasure_proof), never the value.
            "subjects": [subject_entry(self.salt, s.column, s.value) for s in self.plan.subjects],
            "tables": [
                {"table": e.table, "rows": e.rows_deleted, "files_rewritten": e.files_rewritten}
                for e in self.erased
            ],
            "skipped_held": [{"table": t, "hold": r} for t, r in self.skipped],
            "still_held": [{"table": t, "hold": r, "rows": n} for t, r, n in self.still_held],
            "online": self.online_deleted,
            "catalog_scrubbed": self.catalog_scrubbed,
            "history_purged": [p.table for p in self.purged],
            "sources_to_delete": [
                {"dataset": f.dataset, "path": f.path, "records": f.records}
                for f in self.plan.sources
            ],
            "files_scanned": proof.files_scanned,
            "log_files_scanned": proof.log_files_scanned,
            "catalog_tables_scanned": proof.catalog_tables_scanned,
            "found": [f.where for f in proof.failures(self.purge_history)],
            "found_in_history": [f.where for f in proof.history()],
            "none_found": self.none_found,
        }


def forget(
    rt: Runtime,
    subjects: Sequence[Subject],
    dry_run: bool = False,
    purge_history: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ErasureReport:
    """Forget `subjects` in `rt`'s project (see the module); `dry_run` only plans.

    Returns the report; check `report.ok` (the CLI exits 1 when it is not) and
    `report.still_held` (held tables that keep the subject: the CLI exits 4).

    Raises:
        AccessDeniedError: roles are configured and the principal's role does not allow
            the `forget` action.
    """
    from assay.governance.permissions import require_action
    from assay.lock import project_lock

    # Even a dry run reads every table for the subject: the role must allow forget.
    role = require_action(rt, "forget")
    started = time.perf_counter()
    step = progress or (lambda _: None)
    if dry_run:
        step("finding the subject")
        plan = find(rt, subjects, _holds(rt))
        report = ErasureReport(plan, dry_run, purge_history)
        report.seconds = time.perf_counter() - started
        return report
    # As a run does: no run writes a table between the plan, the deletes and the vacuum.
    with project_lock(rt.state_dir, rt.config.lock_timeout):
        step("finding the subject")
        plan = find(rt, subjects, _holds(rt))
        report = ErasureReport(plan, dry_run, purge_history, salt=secrets.token_hex(16))
        _erase(rt, report, step)
    report.seconds = time.perf_counter() - started
    _audit(rt, report, role)
    return report


def _erase(rt: Runtime, report: ErasureReport, step: Callable[[str], None]) -> None:
    """Delete, purge and prove (see `forget`), the project lock held."""
    plan = report.plan
    run = uuid.uuid4().hex[:12]
    for found in plan.tables:
        if found.hold:
            continue
        step(f"erasing {found.table}")
        report.erased.append(erase_table(rt, found, plan.needles, run))
    views = rt.feature_views
    for online in plan.online:
        step(f"erasing online view {online.view}")
        deleted = rt.online_store.forget_entities(views[online.view], online.column, online.values)
        report.online_deleted[online.view] = deleted
    step("scrubbing the catalog's run, check and alert texts")
    report.catalog_scrubbed = scrub_catalog(rt, plan.needles)
    held = [t for t, _ in report.skipped]
    step("proving absence")
    report.proof = prove(rt, plan.needles, held)
    if report.purge_history:
        # Tables erased now, and those an earlier erasure left in their history.
        tables = [e.table for e in report.erased] + [f.table for f in report.proof.history()]
        for table in dict.fromkeys(t for t in tables if t and t not in held):
            step(f"purging the history of {table}")
            report.purged.append(purge_table_history(rt, table, plan.needles))
        step("proving absence again")
        report.proof = prove(rt, plan.needles, held)


def _holds(rt: Runtime) -> dict[str, str]:
    from assay.governance.holds import Holds

    holds = Holds(rt.catalog)
    found = {}
    for table in rt.warehouse.list_tables():
        hold = holds.active(table)
        if hold is not None:
            found[table] = hold.reason
    return found


def _audit(rt: Runtime, report: ErasureReport, role: str | None) -> None:
    from assay.governance.audit import AuditEvent, AuditLog

    AuditLog(rt.catalog).append(
        AuditEvent(
            "erase",
            None,
            role=role,
            columns=tuple(sorted({s.column for s in report.plan.subjects})),
            rows=sum(e.rows_deleted for e in report.erased),
            allowed=True,
            detail=report.audit_detail(),
        )
    )
