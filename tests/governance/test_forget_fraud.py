"""`assay forget` on the fraud example: rows per table against pandas, the raw Parquet scan
with and without --purge-history, the online SQLite store, a held table, the dry run and
the proof in the audit log.

The oracle is independent of the erasure's code: pandas over the tables (a customer's rows
and the rows of the cards only they use), pyarrow.parquet over every file on disk,
json over the Delta log and the source files, sqlite3 over the online store.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.governance.audit import AuditLog
from assay.governance.erasure import ErasureIncompleteError, Subject, forget
from assay.governance.erasure_proof import verify_subject
from assay.governance.holds import Holds

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"
sys.path.insert(0, str(EXAMPLE))

import generate  # noqa: E402

#: Tables whose rows belong to one customer, by the column that says whose.
PER_CUSTOMER = ("bronze.customers", "silver.customers")
PER_TRANSACTION = ("bronze.transactions", "silver.transactions")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fraud example, run, its features online (SQLite) and a training set saved."""
    return build_example(tmp_path_factory.mktemp("fraud_built"))


def build_example(root: Path) -> Path:
    """Build the fraud example in `root` (see `built`)."""
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    generate.generate(root, through_day=60, n_transactions=6000)
    project = assay.Project(root)
    assert project.run().ok
    project.features.materialize(end=pd.Timestamp("2026-08-01").to_pydatetime())
    labels = project.sql(
        "SELECT card_id, event_time + INTERVAL 1 DAY AS event_timestamp FROM silver.transactions"
    )
    project.features.training_set(labels, ["card_daily:txn_count_1d"], save_as="cards")
    return root


@pytest.fixture
def fraud(built: Path, tmp_path: Path) -> Path:
    """A fresh copy of the built project for one test."""
    root = tmp_path / "fraud"
    shutil.copytree(built, root)
    return root


def _frame(project: assay.Project, table: str, version: int | None = None) -> pd.DataFrame:
    return project.warehouse.read(table, version).to_pandas()


def _customer(project: assay.Project) -> int:
    """A customer with several transactions (the oracle's subject)."""
    counts = _frame(project, "silver.transactions")["customer_id"].value_counts()
    return int(counts.index[len(counts) // 2])


def _their_cards(project: assay.Project, customer: int) -> set[int]:
    """Cards used by this customer and no other one."""
    frames = [_frame(project, t)[["card_id", "customer_id"]] for t in PER_TRANSACTION]
    rows = pd.concat(frames).dropna()
    owners = rows.groupby("card_id")["customer_id"].nunique()
    mine = set(rows.loc[rows["customer_id"] == customer, "card_id"])
    return {int(c) for c in mine if owners[c] == 1}


def _expected_rows(project: assay.Project, customer: int) -> dict[str, int]:
    cards = _their_cards(project, customer)
    out = {}
    for table in project.warehouse.list_tables():
        frame = _frame(project, table)
        mask = pd.Series(False, index=frame.index)
        if "customer_id" in frame:
            mask |= frame["customer_id"] == customer
        if "card_id" in frame:
            mask |= frame["card_id"].isin(cards)
        if "raw_record" in frame:
            mask |= frame["raw_record"].map(lambda raw: _raw_is(raw, customer))
        if int(mask.sum()):
            out[table] = int(mask.sum())
    return out


def _raw_is(raw: str | None, customer: int) -> bool:
    try:
        record = json.loads(raw or "")
    except ValueError:
        return f'"customer_id":{customer},' in (raw or "").replace(" ", "")
    return isinstance(record, dict) and str(record.get("customer_id")) == str(customer)


def _raw_scan(warehouse: Path, customer: int, cards: set[int]) -> dict[str, int]:
    """Every Parquet file on disk (current or not) -> rows holding the customer or a card."""
    found = {}
    for path in sorted(warehouse.rglob("*.parquet")):
        if "_delta_log" in path.parts:
            continue
        frame = pq.read_table(path).to_pandas()
        mask = pd.Series(False, index=frame.index)
        if "customer_id" in frame:
            mask |= frame["customer_id"] == customer
        if "card_id" in frame:
            mask |= frame["card_id"].isin(cards)
        if "raw_record" in frame:
            mask |= frame["raw_record"].map(lambda raw: _raw_is(raw, customer))
        if int(mask.sum()):
            found[str(path.relative_to(warehouse))] = int(mask.sum())
    return found


def _log_stats_hold(warehouse: Path, customer: int) -> list[str]:
    """Log entries whose file statistics bound customer_id at the customer's id."""
    found = []
    for path in sorted(warehouse.rglob("_delta_log/*.json")):
        for line in path.read_text().splitlines():
            for kind in ("add", "remove"):
                stats = json.loads(line).get(kind, {}).get("stats")
                if not stats:
                    continue
                bounds = json.loads(stats)
                values = [bounds.get(b, {}).get("customer_id") for b in ("minValues", "maxValues")]
                if customer in values:
                    found.append(str(path.relative_to(warehouse)))
    return found


def test_dry_run_plans_pandas_counts_and_changes_nothing(fraud: Path) -> None:
    project = assay.Project(fraud)
    customer = _customer(project)
    versions = {t: project.warehouse.version(t) for t in project.warehouse.list_tables()}
    files = sorted(p for p in fraud.rglob("*") if p.is_file() and ".assay" not in p.parts)
    report = forget(project.runtime, [Subject("customer_id", str(customer))], dry_run=True)
    assert {t.table: t.rows for t in report.plan.tables} == _expected_rows(project, customer)
    assert {"gold.card_daily", "training.cards"} <= {t.table for t in report.plan.tables}
    assert report.erased == [] and report.proof is None
    assert {t: project.warehouse.version(t) for t in versions} == versions
    assert sorted(p for p in fraud.rglob("*") if p.is_file() and ".assay" not in p.parts) == files


def test_forget_deletes_exactly_the_customer_rows_in_one_commit_per_table(fraud: Path) -> None:
    project = assay.Project(fraud)
    customer = _customer(project)
    cards = _their_cards(project, customer)
    expected = _expected_rows(project, customer)
    before = {t: _frame(project, t) for t in project.warehouse.list_tables()}
    versions = {t: project.warehouse.version(t) for t in before}
    report = forget(project.runtime, [Subject("customer_id", str(customer))])
    assert report.ok, report.proof
    assert {e.table: e.rows_deleted for e in report.erased} == expected
    for table, frame in before.items():
        after = _frame(project, table)
        assert len(after) == len(frame) - expected.get(table, 0), table
        if table in expected:
            assert project.warehouse.version(table) == versions[table] + 1  # one commit
            if "customer_id" in after:
                assert not (after["customer_id"] == customer).any()
            if "card_id" in after:
                assert not after["card_id"].isin(cards).any()
        else:
            assert project.warehouse.version(table) == versions[table]
    # The delete's log entry names columns, never the customer's id.
    newest = project.warehouse.table("silver.transactions").history(1)[0]
    assert str(customer) not in json.dumps(newest.get("operationParameters"))


def test_without_purge_history_old_versions_still_hold_the_customer(fraud: Path) -> None:
    project = assay.Project(fraud)
    customer = _customer(project)
    cards = _their_cards(project, customer)
    version = project.warehouse.version("silver.transactions")
    report = forget(project.runtime, [Subject("customer_id", str(customer))])
    assert report.ok  # nothing current holds them
    found = _raw_scan(fraud / "warehouse", customer, cards)
    assert any(p.startswith("silver/transactions/") for p in found)
    old = _frame(project, "silver.transactions", version)
    assert (old["customer_id"] == customer).any()  # time travel still reads them
    assert {f.table for f in report.proof.history()} >= {"silver.transactions", "gold.card_daily"}


def test_purge_history_leaves_no_file_or_log_statistic_holding_the_customer(fraud: Path) -> None:
    project = assay.Project(fraud)
    customer = _customer(project)
    cards = _their_cards(project, customer)
    version = project.warehouse.version("silver.transactions")
    kept = {t: len(_frame(project, t)) for t in project.warehouse.list_tables()}
    report = forget(project.runtime, [Subject("customer_id", str(customer))], purge_history=True)
    assert report.ok, [f.where for f in report.proof.found]
    assert _raw_scan(fraud / "warehouse", customer, cards) == {}
    assert _log_stats_hold(fraud / "warehouse", customer) == []
    assert {p.table for p in report.purged} == {e.table for e in report.erased}
    with pytest.raises(FileNotFoundError):  # time travel before the erasure is lost
        _frame(project, "silver.transactions", version)
    reopened = assay.Project(fraud)
    expected = {e.table: e.rows_deleted for e in report.erased}
    for table, rows in kept.items():
        assert len(_frame(reopened, table)) == rows - expected.get(table, 0)
    # The next run re-ingests nothing: the erasure's commits changed no run's state.
    rerun = reopened.run()
    assert rerun.ok and rerun.result("bronze.transactions").rows_in == 0
    assert not (_frame(reopened, "bronze.transactions")["customer_id"] == customer).any()


def test_online_sqlite_store_forgets_the_customer_cards(fraud: Path) -> None:
    project = assay.Project(fraud)
    customer = _customer(project)
    cards = _their_cards(project, customer)
    database = fraud / ".assay" / "online.db"

    def held(where: str) -> int:
        with sqlite3.connect(database) as con:
            marks = ",".join("?" * len(cards))
            query = f"SELECT count(*) FROM fv_card_daily WHERE card_id IN ({marks}){where}"
            return int(con.execute(query, sorted(cards)).fetchone()[0])

    with sqlite3.connect(database) as con:
        total = con.execute("SELECT count(*) FROM fv_card_daily").fetchone()[0]
    mine = held("")
    assert mine > 0
    report = forget(project.runtime, [Subject("customer_id", str(customer))])
    assert report.online_deleted.get("card_daily") == mine
    assert held("") == 0
    with sqlite3.connect(database) as con:
        assert con.execute("SELECT count(*) FROM fv_card_daily").fetchone()[0] == total - mine


def test_a_held_table_is_skipped_and_reported(fraud: Path) -> None:
    project = assay.Project(fraud)
    customer = _customer(project)
    Holds(project.catalog).add("silver.customers", "case 2026-7", "counsel")
    report = forget(project.runtime, [Subject("customer_id", str(customer))], purge_history=True)
    assert report.skipped == [("silver.customers", "case 2026-7")]
    assert report.still_held == [("silver.customers", "case 2026-7", 1)]
    [event] = [e for e in AuditLog(project.catalog).events() if e.action == "erase"]
    assert event.detail["still_held"] == [
        {"table": "silver.customers", "hold": "case 2026-7", "rows": 1}
    ]
    assert event.detail["none_found"] is False
    assert "silver.customers" not in {e.table for e in report.erased}
    assert (_frame(project, "silver.customers")["customer_id"] == customer).sum() == 1
    assert report.ok  # what a hold keeps is reported, not a failure
    report.check()
    assert any(f.held and f.table == "silver.customers" for f in report.proof.found)
    assert not (_frame(project, "bronze.customers")["customer_id"] == customer).any()


def test_the_proof_in_the_audit_log_holds_no_clear_value(fraud: Path) -> None:
    project = assay.Project(fraud)
    customer = _customer(project)
    email = _frame(project, "silver.customers").set_index("customer_id").loc[customer, "email"]
    forget(project.runtime, [Subject("customer_id", str(customer))], purge_history=True)
    [event] = [e for e in AuditLog(project.catalog).events() if e.action == "erase"]
    strings = list(_strings(event.detail))
    assert str(customer) not in strings and email not in json.dumps(event.detail)
    [entry] = event.detail["subjects"]
    assert entry["column"] == "customer_id" and entry["kdf"] == "scrypt"
    salt, cost = entry["salt"], {"n": 2 ** entry["log_n"], "r": entry["r"], "p": entry["p"]}
    digest = hashlib.scrypt(
        f"customer_id\0{customer}".encode(), salt=salt.encode(), maxmem=2**27, dklen=32, **cost
    )
    assert entry["hash"] == digest.hex()  # Python's own scrypt, the oracle
    # Whoever knows the subject can check it was erased; a neighbour does not match.
    assert verify_subject(entry, "customer_id", str(customer))
    assert not verify_subject(entry, "customer_id", str(customer + 1))
    # No cheap hash of the value is left to brute-force (finding 3): a guess costs a scrypt.
    cheap = hashlib.sha256(f"{salt}\0customer_id\0{customer}".encode()).hexdigest()
    assert cheap not in json.dumps(event.detail)
    started = time.perf_counter()
    verify_subject(entry, "customer_id", "1")
    assert time.perf_counter() - started > 0.02
    assert event.detail["none_found"] is True and event.detail["files_scanned"] > 0
    assert AuditLog(project.catalog).verify().ok


def _strings(value: Any) -> Any:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    else:
        yield str(value)


def test_source_files_holding_the_customer_are_listed(fraud: Path) -> None:
    project = assay.Project(fraud)
    customer = _customer(project)
    report = forget(project.runtime, [Subject("customer_id", str(customer))], dry_run=True)
    expected = {}
    for path in sorted((fraud / "data" / "transactions").glob("*.jsonl")):
        records = sum(_raw_is(line, customer) for line in path.read_text().splitlines())
        if records:
            expected[f"data/transactions/{path.name}"] = records
    customers = pd.read_csv(fraud / "data" / "customers.csv")
    expected["data/customers.csv"] = int((customers["customer_id"] == customer).sum())
    assert {f.path: f.records for f in report.plan.sources} == expected


def test_quarantined_raw_records_match_by_parsed_key(fraud: Path) -> None:
    project = assay.Project(fraud)
    quarantined = _frame(project, "quarantine.silver_customers")
    customer = json.loads(quarantined["raw_record"].iloc[0])["customer_id"]
    others = quarantined["raw_record"].map(lambda raw: not _raw_is(raw, customer)).sum()
    report = forget(project.runtime, [Subject("customer_id", str(customer))])
    assert report.ok
    left = _frame(project, "quarantine.silver_customers")
    assert len(left) == others and not left["raw_record"].map(lambda r: _raw_is(r, customer)).any()


def test_cli_scrubs_catalog_texts_and_fails_naming_what_it_may_not_edit(fraud: Path) -> None:
    """A check result quoting the customer is scrubbed; an audit event quoting them cannot
    be (the chain would break): the proof fails and names it."""
    import sqlalchemy as sa

    from assay.governance.audit import AuditEvent

    project = assay.Project(fraud)
    customer = _customer(project)
    email = _frame(project, "silver.customers").set_index("customer_id").loc[customer, "email"]
    runner = CliRunner()
    args = ["forget", "--subject", f"customer_id={customer}", "--project", str(fraud)]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "silver.transactions" in dry.output and "nothing changed" in dry.output
    detail = f'1 row: {{"customer_id": {customer}, "email": "{email}", "amount": {customer}}}'
    with project.catalog.engine.begin() as con:
        con.execute(
            sa.text(
                "INSERT INTO assay_check_results (run_id, dataset, rule, kind, severity, "
                "status, detail, measured_at) VALUES ('r', 'silver.customers', 'x', 'row', "
                "'warn', 'warn', :detail, CURRENT_TIMESTAMP)"
            ),
            {"detail": detail},
        )
    AuditLog(project.catalog).append(AuditEvent("read", detail={"note": f"customer_id={customer}"}))
    done = runner.invoke(app, [*args, "--yes"])
    assert done.exit_code == 1, done.output
    assert "assay_check_results.detail" in done.output  # scrubbed, and said so
    assert "STILL FOUND: catalog: audit_events.detail" in done.output
    with project.catalog.engine.connect() as con:
        [kept] = con.execute(sa.text("SELECT detail FROM assay_check_results WHERE run_id = 'r'"))
    assert kept[0] == (
        f'1 row: {{"customer_id": <erased>, "email": "<erased>", "amount": {customer}}}'
    )
    assert AuditLog(project.catalog).verify().ok
    again = forget(project.runtime, [Subject("customer_id", str(customer))])
    with pytest.raises(ErasureIncompleteError, match=r"catalog: audit_events\.detail"):
        again.check()


def test_rows_holding_only_the_customer_email_are_found_by_it(fraud: Path) -> None:
    """A mailing list keeps emails and no customer id: the email, which only this
    customer has, finds their row there."""
    (fraud / "pipelines" / "gold_newsletter.sql").write_text(
        "-- name: gold.newsletter\nSELECT email, country FROM {{ ref('silver.customers') }}\n"
    )
    project = assay.Project(fraud)
    assert project.run().ok
    customer = _customer(project)
    customers = _frame(project, "silver.customers")
    email = customers.loc[customers["customer_id"] == customer, "email"].item()
    assert (customers["email"] == email).sum() == 1
    newsletter = _frame(project, "gold.newsletter")
    report = forget(project.runtime, [Subject("customer_id", str(customer))])
    assert report.ok, [f.where for f in report.proof.found]
    assert {e.table: e.rows_deleted for e in report.erased}["gold.newsletter"] == 1
    after = _frame(project, "gold.newsletter")
    assert len(after) == len(newsletter) - 1 and email not in set(after["email"])


def test_purge_history_replaces_a_checkpoint_holding_the_customer_in_its_statistics(
    fraud: Path,
) -> None:
    project = assay.Project(fraud)
    customers = _frame(project, "silver.customers")
    customer = int(customers["customer_id"].min())  # a file's minimum: in its statistics
    log = fraud / "warehouse" / "silver" / "customers" / "_delta_log"
    project.warehouse.table("silver.customers").create_checkpoint()
    [old] = list(log.glob("*.checkpoint.parquet"))

    def checkpoint_minimums() -> list[object]:
        found = []
        for path in log.glob("*.checkpoint.parquet"):
            for add in pq.read_table(path).column("add").to_pylist():
                if add and add.get("stats"):
                    found.append(json.loads(add["stats"])["minValues"].get("customer_id"))
        return found

    assert customer in checkpoint_minimums() and _log_stats_hold(fraud / "warehouse", customer)
    report = forget(project.runtime, [Subject("customer_id", str(customer))], purge_history=True)
    assert report.ok, [f.where for f in report.proof.found]
    assert not old.exists() and customer not in checkpoint_minimums()
    assert _log_stats_hold(fraud / "warehouse", customer) == []
    [purged] = [p for p in report.purged if p.table == "silver.customers"]
    assert purged.checkpoints_removed == 1
    assert purged.checkpoint_version == project.warehouse.version("silver.customers")
    assert len(_frame(assay.Project(fraud), "silver.customers")) == len(customers) - 1


def test_cli_asks_before_erasing_and_a_no_changes_nothing(fraud: Path) -> None:
    project = assay.Project(fraud)
    customer = _customer(project)
    versions = {t: project.warehouse.version(t) for t in project.warehouse.list_tables()}
    args = ["forget", "-s", f"customer_id={customer}", "--project", str(fraud)]
    refused = CliRunner().invoke(app, args, input="n\n")
    assert refused.exit_code == 1 and "Erase these rows?" in refused.output
    assert "full refresh" in refused.output  # the source files would bring them back
    assert {t: project.warehouse.version(t) for t in versions} == versions
    done = CliRunner().invoke(app, [*args, "--yes", "--purge-history"])
    assert done.exit_code == 0, done.output
    assert "History purged" in done.output and "Time travel to versions before" in done.output
    assert done.output.rstrip().endswith("None found.")
    typo = CliRunner().invoke(app, ["forget", "-s", "customer=1", "--project", str(fraud), "--yes"])
    assert typo.exit_code == 0 and "no table has a column named 'customer'" in typo.output


def test_purge_history_blanks_an_earlier_delete_predicate_naming_the_customer(
    fraud: Path,
) -> None:
    """A row deleted before by hand (`Warehouse.delete`, whose log entry keeps its
    predicate's text): the customer is in that table's history and log only."""
    project = assay.Project(fraud)
    customer = _customer(project)
    cards = _their_cards(project, customer)
    project.warehouse.delete("silver.customers", f"customer_id = {customer}")
    log = fraud / "warehouse" / "silver" / "customers" / "_delta_log"

    def predicates() -> list[str]:
        found = []
        for path in sorted(log.glob("*.json")):
            for line in path.read_text().splitlines():
                info = json.loads(line).get("commitInfo") or {}
                found += [str(v) for v in (info.get("operationParameters") or {}).values()]
        return found

    assert f"customer_id = {customer}" in predicates()
    first = forget(project.runtime, [Subject("customer_id", str(customer))])
    assert "silver.customers" not in {e.table for e in first.erased}
    history = {f.where for f in first.proof.history() if f.table == "silver.customers"}
    assert any("Delta log" in w for w in history) and any(".parquet" in w for w in history)
    purged = forget(project.runtime, [Subject("customer_id", str(customer))], purge_history=True)
    assert purged.ok, [f.where for f in purged.proof.found]
    assert "silver.customers" in {p.table for p in purged.purged}
    assert not any(str(customer) in p for p in predicates()) and "<erased>" in predicates()
    assert _raw_scan(fraud / "warehouse", customer, cards) == {}
