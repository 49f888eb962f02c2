"""The audit log's hash chain: appends from two processes at once keep one unbroken chain
(SQLite and PostgreSQL), the stored hash equals sha256 over the documented encoding
(computed here with hashlib), and an event edited, deleted or inserted with raw SQL is
found and named."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.catalog import Catalog
from assay.governance.audit import GENESIS, AuditEvent, AuditLog, AuditLogError, query_hash

#: A writer process: opens the log, waits for the go file, appends N events as NAME.
WRITER = """
import sys, time
from pathlib import Path
from assay.catalog import Catalog
from assay.governance.audit import AuditEvent, AuditLog
url, name, n, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
log = AuditLog(Catalog(url))
(folder / f"ready-{name}").touch()
while not (folder / "go").exists():
    time.sleep(0.01)
began = time.time()
for i in range(n):
    log.append(AuditEvent("read", "gold.flights", principal=name, rows=i,
                          columns=("carrier", "dep_delay"), detail={"i": i}))
(folder / f"span-{name}").write_text(f"{began} {time.time()}")
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return str(request.getfixturevalue("pg_url"))


def oracle_hash(row: dict[str, Any], prev_hash: str) -> str:
    """The documented encoding, computed independently: sha256 of the canonical JSON list
    of the event's fields (time to the microsecond, columns and detail as stored) and the
    previous hash."""
    moment = row["time"]  # raw SQL on SQLite gives the stored text
    moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    fields = [
        moment.isoformat(timespec="microseconds"),
        row["principal"],
        row["role"],
        row["action"],
        row["dataset"],
        row["columns"],
        row["rows"],
        row["query_hash"],
        bool(row["allowed"]),
        row["detail"],
        prev_hash,
    ]
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def raw_rows(url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    with engine.connect() as con:
        rows = con.execute(sa.text("SELECT * FROM audit_events ORDER BY seq")).mappings()
        found = [dict(r) for r in rows]
    engine.dispose()
    return found


def raw_sql(url: str, *statements: str, **params: Any) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as con:
        for statement in statements:
            con.execute(sa.text(statement), params)
    engine.dispose()


def test_two_processes_append_one_unbroken_chain(db_url: str, tmp_path: Path) -> None:
    per_process = 150
    # The catalog's own tables first: two processes creating a fresh catalog at once race
    # in Catalog() itself (not what this test is about).
    Catalog(db_url)
    names = ("alice", "bob")
    logs = {name: (tmp_path / f"stderr-{name}").open("w") for name in names}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db_url, name, str(per_process), str(tmp_path)],
            stderr=logs[name],
        )
        for name in names
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{n}").exists() for n in ("alice", "bob")):
        assert time.monotonic() < deadline, "writers did not start"
        assert all(p.poll() is None for p in procs), "a writer died while starting"
        time.sleep(0.05)
    (tmp_path / "go").touch()
    codes = [p.wait(timeout=300) for p in procs]
    for name in names:
        logs[name].close()
    assert codes == [0, 0], [(tmp_path / f"stderr-{n}").read_text()[-2000:] for n in names]

    log = AuditLog(Catalog(db_url))
    result = log.verify()
    assert result.ok, result.broken
    assert result.events == 2 * per_process
    rows = raw_rows(db_url)
    assert [r["seq"] for r in rows] == list(range(1, 2 * per_process + 1))
    for name in ("alice", "bob"):  # each process's events in its own order, none lost
        assert [r["rows"] for r in rows if r["principal"] == name] == list(range(per_process))
    # The writers appended at the same time (SQLite may still let one take the lock
    # again and again while the other waits: serialized, not interleaved).
    spans = [tuple(map(float, (tmp_path / f"span-{n}").read_text().split())) for n in names]
    assert max(s[0] for s in spans) < min(s[1] for s in spans), "the writers did not overlap"
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    prev = GENESIS
    for row in rows:  # every link, recomputed with hashlib
        assert row["prev_hash"] == prev
        assert row["hash"] == oracle_hash(row, prev)
        prev = row["hash"]


def _filled(url: str, n: int = 10) -> AuditLog:
    log = AuditLog(Catalog(url))
    for i in range(n):
        log.append(
            AuditEvent(
                "write" if i % 2 else "read",
                f"silver.t{i % 3}",
                principal=f"user{i % 2}",
                role="analyst",
                columns=("a", "b"),
                rows=i * 10,
                query_hash=query_hash(f"SELECT * FROM silver.t{i % 3}"),
                detail={"i": i, "run_id": "r1"},
            )
        )
    assert log.verify().ok
    return log


def test_edited_event_is_found(db_url: str) -> None:
    log = _filled(db_url)
    raw_sql(db_url, "UPDATE audit_events SET principal = 'mallory' WHERE seq = 5")
    result = log.verify()
    assert not result.ok and result.broken is not None
    assert (result.broken.seq, result.broken.kind) == (5, "edited")


def test_edited_and_rehashed_event_is_found(db_url: str) -> None:
    log = _filled(db_url)
    row = raw_rows(db_url)[4]
    row["rows"] = 0
    forged = oracle_hash(row, row["prev_hash"])
    raw_sql(db_url, "UPDATE audit_events SET rows = 0, hash = :h WHERE seq = 5", h=forged)
    result = log.verify()
    assert result.broken is not None
    assert (result.broken.seq, result.broken.kind) == (5, "edited")


@pytest.mark.parametrize(("seq", "first_missing"), [(5, 5), (10, 10), (1, 1)])
def test_deleted_event_is_found(db_url: str, seq: int, first_missing: int) -> None:
    log = _filled(db_url)
    raw_sql(db_url, "DELETE FROM audit_events WHERE seq = :s", s=seq)
    result = log.verify()
    assert not result.ok and result.broken is not None
    assert (result.broken.seq, result.broken.kind) == (first_missing, "deleted")


def test_inserted_event_in_the_middle_is_found(db_url: str) -> None:
    """A forger who knows the encoding makes room at 5, inserts an event that links to
    event 4 with a valid hash, and moves the chain head: the next event still links to 4."""
    log = _filled(db_url)
    rows = raw_rows(db_url)
    forged = dict(rows[4])
    forged.update(principal="mallory", action="write", prev_hash=rows[3]["hash"])
    forged["hash"] = oracle_hash(forged, forged["prev_hash"])
    raw_sql(
        db_url,
        "UPDATE audit_events SET seq = -seq WHERE seq >= 5",
        "UPDATE audit_events SET seq = 1 - seq WHERE seq < 0",
        "UPDATE audit_chain_head SET seq = seq + 1",
    )
    _insert(db_url, forged)
    result = log.verify()
    assert result.broken is not None
    assert (result.broken.seq, result.broken.kind) == (5, "inserted")


def test_inserted_event_at_the_end_is_found(db_url: str) -> None:
    log = _filled(db_url)
    last = raw_rows(db_url)[-1]
    forged = dict(last, seq=11, principal="mallory", prev_hash=last["hash"])
    forged["hash"] = oracle_hash(forged, last["hash"])
    _insert(db_url, forged)
    result = log.verify()
    assert result.broken is not None
    assert (result.broken.seq, result.broken.kind) == (11, "inserted")


def _insert(url: str, row: dict[str, Any]) -> None:
    names = ", ".join(row)
    raw_sql(
        url, f"INSERT INTO audit_events ({names}) VALUES ({', '.join(':' + k for k in row)})", **row
    )


def test_log_holds_hashes_not_queries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    log = AuditLog(Catalog(url))
    query = "SELECT * FROM gold.customers WHERE email = 'ann@example.org'"
    log.append(AuditEvent("read", "gold.customers", principal="ann", query_hash=query_hash(query)))
    dump = "\n".join(sqlite_dump(tmp_path / "c.db"))
    assert "ann@example.org" not in dump
    assert hashlib.sha256(query.encode()).hexdigest() in dump


def sqlite_dump(path: Path) -> Iterator[str]:
    import sqlite3

    con = sqlite3.connect(path)
    try:
        yield from con.iterdump()
    finally:
        con.close()


def test_events_filter_and_keep_the_newest(tmp_path: Path) -> None:
    log = _filled(f"sqlite:///{tmp_path / 'c.db'}")
    assert [e.seq for e in log.events(principal="user1")] == [2, 4, 6, 8, 10]
    assert [e.seq for e in log.events(dataset="silver.t0", action="read")] == [1, 7]
    assert [e.seq for e in log.events(limit=3)] == [8, 9, 10]
    first = log.events(limit=1)[0]
    assert first.columns == ("a", "b") and first.detail == {"i": 9, "run_id": "r1"}
    assert log.events(denied=True) == []
    assert log.count() == 10


def test_deleted_chain_head_is_found_and_not_silently_restarted(db_url: str) -> None:
    _filled(db_url)
    raw_sql(db_url, "DELETE FROM audit_chain_head")
    log = AuditLog(Catalog(db_url))  # a new process opening the log must not restart it
    result = log.verify()
    assert result.broken is not None
    assert (result.broken.kind, result.events) == ("deleted", 10)
    assert "chain head" in result.broken.message
    with pytest.raises(AuditLogError, match="chain head is missing"):
        log.append(AuditEvent("read", "gold.x", principal="a"))
    assert len(raw_rows(db_url)) == 10
