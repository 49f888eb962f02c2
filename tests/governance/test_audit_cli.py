"""`assay audit`: its filters select exactly the events a Python filter over all events
selects, JSON carries every field, and --verify exits 0 on an intact chain and 1 naming
the event removed with raw SQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.governance import audit as audit_module
from assay.governance.audit import AuditEvent, AuditLog, query_hash
from assay.intervals import utcnow

runner = CliRunner()

#: (age, principal, action, dataset, allowed)
EVENTS = [
    (timedelta(days=10), "alice", "write", "silver.orders", True),
    (timedelta(days=9), "bob", "read", "gold.customers", True),
    (timedelta(days=5), "bob", "read", "gold.customers", False),
    (timedelta(days=3), "alice", "read", "gold.daily_totals", True),
    (timedelta(days=1), "carol", "erase", "gold.customers", True),
    (timedelta(hours=5), "bob", "read", "silver.orders", False),
    (timedelta(hours=1), "alice", "write", "gold.daily_totals", True),
]


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": "250", "NO_COLOR": "1"})


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "shop"
    assay.init_project(str(root))
    now = utcnow()
    times = iter([now - age for age, *_ in EVENTS])
    monkeypatch.setattr(audit_module, "utcnow", lambda: next(times))
    log = AuditLog(assay.Project(root).catalog)
    for _, principal, action, dataset, allowed in EVENTS:
        reason = {} if allowed else {"reason": "role analyst has no grant on " + dataset}
        log.append(
            AuditEvent(
                action,
                dataset,
                principal=principal,
                role="analyst",
                columns=("id",),
                rows=7,
                allowed=allowed,
                query_hash=query_hash(f"SELECT id FROM {dataset}"),
                detail=reason,
            )
        )
    monkeypatch.undo()
    yield root


def listed(root: Path, *options: str) -> list[dict[str, Any]]:
    result = invoke("audit", "--project", str(root), "--format", "json", *options)
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


def expected(keep: Any) -> list[tuple[str, str, str]]:
    return [(p, a, d) for age, p, a, d, ok in EVENTS if keep(age, p, a, d, ok)]


def triples(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["principal"], e["action"], e["dataset"]) for e in events]


@pytest.mark.parametrize(
    ("options", "keep"),
    [
        ((), lambda *e: True),
        (("--user", "bob"), lambda age, p, a, d, ok: p == "bob"),
        (("--dataset", "gold.customers"), lambda age, p, a, d, ok: d == "gold.customers"),
        (("--action", "write"), lambda age, p, a, d, ok: a == "write"),
        (("--action", "deny"), lambda age, p, a, d, ok: not ok),
        (("--since", "2d"), lambda age, p, a, d, ok: age < timedelta(days=2)),
        (
            ("--since", "4d", "--user", "alice"),
            lambda age, p, a, d, ok: age < timedelta(days=4) and p == "alice",
        ),
        (
            ("--user", "bob", "--action", "read", "--dataset", "gold.customers"),
            lambda age, p, a, d, ok: (p, a, d) == ("bob", "read", "gold.customers"),
        ),
    ],
)
def test_filters_select_what_a_python_filter_selects(
    project: Path, options: tuple[str, ...], keep: Any
) -> None:
    assert triples(listed(project, *options)) == expected(keep)


def test_since_takes_an_iso_time_and_limit_keeps_the_newest(project: Path) -> None:
    cut = (utcnow() - timedelta(days=6)).strftime("%Y-%m-%d %H:%M")
    assert triples(listed(project, "--since", cut)) == expected(
        lambda age, *_: age < timedelta(days=6)
    )
    assert triples(listed(project, "--limit", "2")) == expected(lambda *e: True)[-2:]
    bad = invoke("audit", "--project", str(project), "--since", "last tuesday")
    assert bad.exit_code == 2 and "invalid time" in bad.output


def test_json_has_every_field_and_the_table_shows_denials(project: Path) -> None:
    denied = listed(project, "--action", "deny")
    assert [e["seq"] for e in denied] == [3, 6]
    first = denied[0]
    assert first["allowed"] is False and first["role"] == "analyst" and first["rows"] == 7
    assert first["columns"] == ["id"]
    assert first["query_hash"] == query_hash("SELECT id FROM gold.customers")
    assert first["detail"] == {"reason": "role analyst has no grant on gold.customers"}
    assert len(first["hash"]) == 64 and len(first["prev_hash"]) == 64
    table = invoke("audit", "--project", str(project), "--user", "bob")
    assert table.exit_code == 0, table.output
    assert table.output.count("DENIED") == 2
    assert table.output.count("reason=") == 2
    assert "carol" not in table.output


def test_verify_ok_then_broken_by_a_deleted_event(project: Path) -> None:
    ok = invoke("audit", "--project", str(project), "--verify")
    assert ok.exit_code == 0, ok.output
    assert f"OK: {len(EVENTS)} event(s)" in ok.output
    con = sqlite3.connect(project / ".assay" / "catalog.db")
    with con:
        con.execute("DELETE FROM audit_events WHERE seq = 4")
    con.close()
    broken = invoke("audit", "--project", str(project), "--verify")
    assert broken.exit_code == 1
    assert "BROKEN at event 4 (deleted)" in broken.output


def test_empty_log(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    assay.init_project(str(root))
    result = invoke("audit", "--project", str(root))
    assert result.exit_code == 0 and "No audit events match." in result.output
    assert "OK: 0 event(s)" in invoke("audit", "--project", str(root), "--verify").output


def test_since_ages(monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.cli.audit import parse_since

    now = datetime(2026, 3, 10, 12, 0)
    assert parse_since("30m", now) == datetime(2026, 3, 10, 11, 30)
    assert parse_since("1w", now) == datetime(2026, 3, 3, 12, 0)
    assert parse_since("2026-03-01T08:00:00+01:00", now) == datetime(2026, 3, 1, 7, 0)
    assert parse_since(None, now) is None
