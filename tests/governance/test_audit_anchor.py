"""Finding 4 of the governance trial: whoever can write the catalog database can delete
events and recompute the whole plain chain and its head (the trial's own attack script,
/tmp/trial-gov/rechain.py, is replayed here byte for byte). Plain --verify cannot see it;
an anchor kept outside the database (`assay audit --head`) and a keyed chain
($ASSAY_AUDIT_KEY, HMAC-SHA-256 checked against Python's hmac) both catch it. Finding 3:
with roles, reading the log needs a role that allows `audit`."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.governance.audit import AuditEvent, AuditLog, AuditLogError

runner = CliRunner()
KEY = "a secret the database's other writers do not have"

#: The trial's attack (finding 4), copied verbatim: delete the events of 'nobody', then
#: renumber and re-hash the chain and its head with plain sha256.
RECHAIN = """
import sqlite3, hashlib, json
from datetime import datetime
c = sqlite3.connect(".assay/catalog.db")
c.execute("DELETE FROM audit_events WHERE principal='nobody'")
rows = c.execute("SELECT seq,time,principal,role,action,dataset,columns,rows,query_hash,allowed,detail FROM audit_events ORDER BY seq").fetchall()
prev = "0"*64
c.execute("DELETE FROM audit_events")
for i, r in enumerate(rows, 1):
    seq,time,principal,role,action,dataset,columns,nrows,qh,allowed,detail = r
    t = datetime.fromisoformat(time).isoformat(timespec="microseconds")
    vals = [t,principal,role,action,dataset,columns,nrows,qh,bool(allowed),detail,prev]
    h = hashlib.sha256(json.dumps(vals, sort_keys=True, separators=(",",":"), ensure_ascii=False, default=str).encode()).hexdigest()
    c.execute("INSERT INTO audit_events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", (i,time,principal,role,action,dataset,columns,nrows,qh,allowed,detail,prev,h))
    prev = h
c.execute("UPDATE audit_chain_head SET seq=?, hash=? WHERE id=1", (len(rows), prev))
c.commit(); print("rewrote", len(rows), "events")
"""  # noqa: E501


def invoke(root: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    full = {"COLUMNS": "250", "NO_COLOR": "1", **(env or {})}
    return runner.invoke(app, ["audit", "--project", str(root), *args], env=full)


def rechain(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the trial's attack in the project's folder, as the trial did."""
    monkeypatch.chdir(root)
    exec(compile(RECHAIN, "rechain.py", "exec"), {})


def fill(root: Path) -> None:
    """Events of three principals; 'nobody' was denied twice (what the attacker hides)."""
    log = AuditLog(assay.Project(root).catalog)
    for principal, allowed in [("alice", True), ("nobody", False), ("bob", True)] * 2:
        log.append(AuditEvent("read", "silver.customers", principal=principal, allowed=allowed))


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("ASSAY_AUDIT_KEY", raising=False)
    path = tmp_path / "fraud"
    assay.init_project(str(path))
    yield path


def stored(root: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(root / ".assay" / "catalog.db") as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM audit_events ORDER BY seq")]


def test_the_rechain_attack_passes_plain_verify_but_not_an_anchor(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(root)
    head = invoke(root, "--head")
    assert head.exit_code == 0, head.output
    anchor = head.output.strip()
    assert anchor.split(":")[0] == "6" and anchor.split(":")[1] == stored(root)[-1]["hash"]
    (root / "anchors.txt").write_text("# kept in git\n" + anchor + "\n")
    assert invoke(root, "--verify", "--anchor", anchor).exit_code == 0

    rechain(root, monkeypatch)
    assert [e["principal"] for e in stored(root)] == ["alice", "bob"] * 2
    plain = invoke(root, "--verify")
    assert plain.exit_code == 0 and "OK" in plain.output  # the attack the trial found
    assert "does not catch a rewrite" in plain.output  # and the command says so
    for option in (["--anchor", anchor], ["--anchor-file", str(root / "anchors.txt")]):
        caught = invoke(root, "--verify", *option)
        assert caught.exit_code == 1, caught.output
        assert "BROKEN" in caught.output and "anchor" in caught.output
        assert "no longer has" in caught.output  # seq 6 is gone: the log ends at 4


def test_an_anchor_inside_the_rewritten_range_names_that_event(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(root)
    log = AuditLog(assay.Project(root).catalog)
    second = (2, stored(root)[1]["hash"])
    assert log.verify(dict([second])).ok
    rechain(root, monkeypatch)
    result = log.verify(dict([second]))
    assert not result.ok and result.broken is not None
    assert (result.broken.seq, result.broken.kind) == (2, "anchor")


def test_a_keyed_chain_is_hmac_sha256_and_the_rechain_attack_fails_it(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_AUDIT_KEY", KEY)
    fill(root)
    prev = "0" * 64
    for row in stored(root):  # the documented encoding, computed with hmac here
        fields = [
            datetime.fromisoformat(row["time"]).isoformat(timespec="microseconds"),
            *(row[k] for k in ("principal", "role", "action", "dataset", "columns", "rows")),
            row["query_hash"],
            bool(row["allowed"]),
            row["detail"],
            prev,
        ]
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert row["hash"] == hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest()
        assert row["hash"] != hashlib.sha256(text.encode()).hexdigest()
        prev = row["hash"]
    ok = invoke(root, "--verify", env={"ASSAY_AUDIT_KEY": KEY})
    assert ok.exit_code == 0 and "HMAC-SHA-256 from event 1" in ok.output

    rechain(root, monkeypatch)
    caught = invoke(root, "--verify", env={"ASSAY_AUDIT_KEY": KEY})
    assert caught.exit_code == 1, caught.output
    assert "BROKEN at event 1" in caught.output and "without the key" in caught.output


def test_a_keyed_chain_refuses_appends_and_verify_without_the_key(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_AUDIT_KEY", KEY)
    fill(root)
    monkeypatch.delenv("ASSAY_AUDIT_KEY")
    log = AuditLog(assay.Project(root).catalog)
    with pytest.raises(AuditLogError, match=r"keyed .* from event 1 on, and ASSAY_AUDIT_KEY"):
        log.append(AuditEvent("read", "gold.x"))
    assert log.count() == 6
    refused = invoke(root, "--verify")
    assert refused.exit_code != 0 and "ASSAY_AUDIT_KEY" in refused.output
    wrong = invoke(root, "--verify", env={"ASSAY_AUDIT_KEY": "guessed"})
    assert wrong.exit_code == 1 and "BROKEN at event 1" in wrong.output


def test_a_plain_log_becomes_keyed_at_the_first_append_with_the_key(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(root)
    log = AuditLog(assay.Project(root).catalog)
    monkeypatch.setenv("ASSAY_AUDIT_KEY", KEY)
    unkeyed = log.verify()  # the key is set, no event carries it yet
    assert not unkeyed.ok and unkeyed.broken is not None and unkeyed.broken.kind == "unkeyed"
    log.append(AuditEvent("write", "gold.x", principal="alice", rows=1))
    assert log.keyed_from() == 7 and log.verify().ok
    # The downgrade: rewrite every hash plain and say the chain never was keyed.
    rechain(root, monkeypatch)
    with sqlite3.connect(root / ".assay" / "catalog.db") as con:
        con.execute("UPDATE audit_chain_head SET keyed_from = NULL")
    downgraded = log.verify()
    assert not downgraded.ok and downgraded.broken is not None
    assert downgraded.broken.kind == "unkeyed"


def test_a_head_table_from_before_keyed_chains_gets_the_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with sqlite3.connect(tmp_path / "old.db") as con:
        con.execute("CREATE TABLE audit_chain_head (id INTEGER PRIMARY KEY, seq BIGINT, hash TEXT)")
        con.execute("INSERT INTO audit_chain_head VALUES (1, 0, ?)", ("0" * 64,))
    from assay.catalog import Catalog

    log = AuditLog(Catalog(url))
    log.append(AuditEvent("read", "gold.x", principal="a"))
    assert log.verify().ok and log.head()[0] == 1 and log.keyed_from() is None


ROLES = """
roles:
  dpo:
    principals: [dana]
    allow: [audit]
  analyst:
    principals: [ann]
"""


@pytest.mark.parametrize(("user", "allowed"), [("dana", True), ("ann", False), ("nobody", False)])
def test_reading_the_log_needs_a_role_allowing_audit(root: Path, user: str, allowed: bool) -> None:
    fill(root)
    with (root / "assay.yaml").open("a") as out:
        out.write(ROLES)
    for args in (["--action", "read"], ["--head"], ["--verify"], ["--format", "json"]):
        result = invoke(root, *args, env={"ASSAY_USER": user})
        if allowed:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 3, result.output
            assert f"'{user}'" in result.output and "audit" in result.output
            assert "silver.customers" not in result.output
