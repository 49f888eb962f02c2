"""Reads through the one read path reach the audit log: the reader's observer
(`ReadRecorder`) appends one `read` event per table read, allowed or denied, with the
principal, the role, the rows returned (counted with pandas) and the query's sha256
(hashlib), and never the query's text or the values in it; on palmerpenguins."""

from __future__ import annotations

import hashlib
from pathlib import Path

import palmerpenguins
import pyarrow as pa
import pytest

from assay.catalog import Catalog
from assay.config import RoleSettings
from assay.engines import get_engine
from assay.errors import AccessDeniedError
from assay.governance.access import AccessPolicy
from assay.governance.audit import AuditLog
from assay.governance.audit_hooks import ReadRecorder
from assay.reader import Reader
from assay.tables import Warehouse
from assay.tables.delta import WriteMode

PENGUINS = "silver.penguins"
CLASSES = {PENGUINS: {"sex": frozenset({"pii"})}}


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Reader, AuditLog, Path]:
    monkeypatch.setenv("ASSAY_USER", "ann")
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    frame = palmerpenguins.load_penguins().astype(
        {c: "object" for c in ("species", "island", "sex")}
    )
    warehouse.write(
        PENGUINS,
        pa.Table.from_pandas(frame, preserve_index=False),
        mode=WriteMode.OVERWRITE,
        metadata={},
    )
    roles = {"analyst": RoleSettings(principals=["ann"], grants=["silver.*"])}
    policy = AccessPolicy(roles, classes=lambda: CLASSES)
    reader = Reader(warehouse, get_engine("duckdb", warehouse), policy=policy)
    db = tmp_path / "catalog.db"
    log = AuditLog(Catalog(f"sqlite:///{db}"))
    reader.observe(ReadRecorder(log))
    return reader, log, db


def test_allowed_and_denied_reads_are_logged_with_hashes_only(
    setup: tuple[Reader, AuditLog, Path],
) -> None:
    reader, log, db = setup
    frame = palmerpenguins.load_penguins()
    allowed_query = "SELECT species, island FROM silver.penguins WHERE island = 'Biscoe'"
    got = reader.sql(allowed_query)
    assert got.num_rows == int((frame["island"] == "Biscoe").sum())
    denied_query = "SELECT species FROM silver.penguins WHERE sex = 'female'"
    with pytest.raises(AccessDeniedError):
        reader.sql(denied_query)
    table = reader.table(PENGUINS, columns=["species", "bill_length_mm"])
    assert table.num_rows == len(frame)

    first, second, third = log.events()
    assert (first.action, first.dataset, first.principal, first.role) == (
        "read",
        PENGUINS,
        "ann",
        "analyst",
    )
    assert first.allowed and first.rows == got.num_rows
    assert first.query_hash == hashlib.sha256(allowed_query.encode()).hexdigest()
    assert first.detail["purpose"] == "sql"
    assert not second.allowed and second.rows is None
    assert second.query_hash == hashlib.sha256(denied_query.encode()).hexdigest()
    assert "sex" in second.detail["reason"] and "analyst" in second.detail["reason"]
    assert third.allowed and third.rows == len(frame) and third.query_hash is None
    assert set(third.columns) == {"species", "bill_length_mm"}
    assert log.verify().ok

    stored = db.read_bytes()
    for text in (allowed_query, denied_query, "Biscoe", "female"):
        assert text.encode() not in stored


def test_project_read_observer_records_reads_of_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assay
    from assay.governance.audit_hooks import read_observer

    monkeypatch.setenv("ASSAY_USER", "dora")
    root = tmp_path / "shop"
    assay.init_project(str(root))
    project = assay.Project(root)
    assert project.run().ok
    assert read_observer(project.runtime) is not None  # the project installs it
    query = "SELECT * FROM gold.daily_totals"
    rows = project.sql(query).num_rows
    events = AuditLog(project.catalog).events(action="read")
    assert [(e.principal, e.dataset, e.rows) for e in events] == [
        ("dora", "gold.daily_totals", rows)
    ]
    assert events[0].query_hash == hashlib.sha256(query.encode()).hexdigest()
