"""Writes and reads reach the audit log: a run of the fraud example (the project installs
the audit run listener) appends one `write` per dataset it committed to, with the rows the
Delta table holds (counted with deltalake) and its version; a read outcome becomes a
`read` event with the query's sha256, never its text; `audit: false` appends nothing."""

from __future__ import annotations

import hashlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from deltalake import DeltaTable

import assay
from assay.catalog import Catalog
from assay.governance.audit import AuditLog
from assay.governance.audit_hooks import (
    AuditRunListener,
    audit_log,
    audit_write,
    read_observer,
    record_read,
)
from assay.project import run_listeners
from assay.reader import Read

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"


@pytest.fixture
def fraud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "fraud"
    root.mkdir()
    shutil.copy(EXAMPLE / "assay.yaml", root)
    shutil.copytree(EXAMPLE / "pipelines", root / "pipelines")
    shutil.copytree(EXAMPLE / "contracts", root / "contracts")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setenv("ASSAY_USER", "etl-bot")
    return root


def _generate(root: Path, through_day: int) -> None:
    """The example's files up to `through_day`, plus the ones where `device_id` appears
    (silver.transactions reads it)."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        import generate
    finally:
        sys.path.remove(str(EXAMPLE))
    days = generate.SCHEMA_CHANGE_DAY + through_day
    generate.generate(root, through_day=days, n_transactions=4_000)


def test_fraud_run_writes_one_event_per_dataset_committed(fraud: Path) -> None:
    _generate(fraud, through_day=1)
    project = assay.Project(fraud)
    first = project.run()
    assert first.ok, [r.error for r in first.failed]
    committed = [r for r in first.results if r.commits]
    assert len(committed) >= 5
    log = AuditLog(project.catalog)
    writes = log.events(action="write")
    assert [e.dataset for e in writes] == [r.dataset for r in committed]
    for event, result in zip(writes, committed, strict=True):
        table = DeltaTable(project.warehouse.uri(result.dataset))
        assert event.rows == table.to_pyarrow_dataset().count_rows() == result.rows_written
        assert event.detail["version"] == table.version()
        assert event.detail["run_id"] == first.run_id
        assert event.detail["rows_quarantined"] == result.rows_quarantined
        assert event.principal == "etl-bot" and event.allowed

    again = assay.Project(fraud).run()  # nothing new: nothing committed, nothing appended
    assert again.ok and not again.commits
    assert log.count() == len(writes)

    _generate(fraud, through_day=6)
    later = assay.Project(fraud).run()
    assert later.ok
    new = log.events(action="write")[len(writes) :]
    assert [(e.dataset, e.rows) for e in new] == [
        (r.dataset, r.rows_written) for r in later.results if r.commits
    ]
    for event in new:
        assert event.detail["version"] == DeltaTable(project.warehouse.uri(event.dataset)).version()
        assert event.detail["run_id"] == later.run_id
    assert log.verify().ok


@dataclass(frozen=True)
class Outcome:
    """A read outcome as the reader reports it (the fields `record_read` uses)."""

    read: Read
    principal: str
    role: str | None
    rows: int | None
    allowed: bool
    reason: str | None
    query_hash: str | None


def test_read_outcomes_become_read_events_without_the_query(tmp_path: Path) -> None:
    log = AuditLog(Catalog(f"sqlite:///{tmp_path / 'c.db'}"))
    query = "SELECT * FROM gold.customers WHERE email = 'ann@example.org'"
    digest = hashlib.sha256(query.encode()).hexdigest()
    record_read(
        log,
        Outcome(Read("gold.customers", 4, "sql"), "ann", "analyst", 12, True, None, digest),
    )
    record_read(
        log,
        Outcome(
            Read("gold.customers", 4, "table", ("email",)),
            "bob",
            "support",
            None,
            False,
            "role support may not read gold.customers.email (pii)",
            None,
        ),
    )
    allowed, denied = log.events()
    assert (allowed.action, allowed.principal, allowed.role, allowed.rows) == (
        "read",
        "ann",
        "analyst",
        12,
    )
    assert allowed.query_hash == digest and allowed.allowed
    assert allowed.detail == {"purpose": "sql", "version": 4, "all_columns": True}
    assert (denied.allowed, denied.columns, denied.rows) == (False, ("email",), None)
    assert denied.detail["reason"] == "role support may not read gold.customers.email (pii)"
    stored = (tmp_path / "c.db").read_bytes()
    assert b"ann@example.org" not in stored and digest.encode() in stored


def test_audit_false_appends_nothing(tmp_path: Path) -> None:
    root = tmp_path / "quiet"
    assay.init_project(str(root))
    with (root / "assay.yaml").open("a") as f:
        f.write("\ngovernance:\n  audit: false\n")
    runtime = assay.Project(root).runtime
    assert audit_log(runtime) is None and read_observer(runtime) is None
    assert audit_write(runtime, "gold.daily_totals", rows=3) is None
    assert not any(isinstance(x, AuditRunListener) for x in run_listeners(runtime, "r", "run"))
    on = tmp_path / "on"
    assay.init_project(str(on))
    runtime = assay.Project(on).runtime
    assert any(isinstance(x, AuditRunListener) for x in run_listeners(runtime, "r", "run"))
    record = audit_write(runtime, "gold.daily_totals", 3, "retention", detail={"files": 1})
    assert record is not None and (record.seq, record.action, record.rows) == (1, "retention", 3)
    assert audit_log(runtime) is audit_log(runtime)  # one log per catalog
