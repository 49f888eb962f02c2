"""`assay forget` follow-ups (issue 17 findings 2, 5, 7, 9) on the fraud example: a subject
named by email erases what their customer id would (also where tables hold the email
hashed), a role must allow `forget`, a held table still holding the subject ends the run
with "Still held" and exit 4, folder stream files and Kafka partitions/offsets are listed
for deletion at the source.

Oracles as in test_forget_fraud: pandas over the tables and every Parquet file, json over
the source files, the rows the test writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.governance.audit import AuditLog
from assay.governance.erasure import Subject, forget
from assay.governance.holds import Holds
from tests.governance.test_forget_fraud import (
    EXAMPLE,
    _customer,
    _expected_rows,
    _frame,
    _raw_scan,
    _their_cards,
    build_example,
    generate,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fraud example, run, its features online and a training set saved."""
    return build_example(tmp_path_factory.mktemp("fraud_followups"))


@pytest.fixture
def fraud(built: Path, tmp_path: Path) -> Path:
    """A fresh copy of the built project for one test."""
    root = tmp_path / "fraud"
    shutil.copytree(built, root)
    return root


def _email(project: assay.Project, customer: int) -> str:
    customers = _frame(project, "silver.customers")
    return str(customers.loc[customers["customer_id"] == customer, "email"].item())


def test_forget_by_email_erases_what_forget_by_customer_id_does(
    fraud: Path, built: Path, tmp_path: Path
) -> None:
    """Finding 2: the email's rows give the customer id, whose rows give their cards: gold
    tables, the training set and online features kept per card go too."""
    twin = tmp_path / "twin"
    shutil.copytree(built, twin)
    project, other = assay.Project(fraud), assay.Project(twin)
    customer = _customer(project)
    email, cards = _email(project, customer), _their_cards(project, customer)
    expected = _expected_rows(project, customer)
    assert {"gold.card_daily", "training.cards", "silver.transactions"} <= set(expected)
    by_email = forget(project.runtime, [Subject("email", email)], purge_history=True)
    by_id = forget(other.runtime, [Subject("customer_id", str(customer))], purge_history=True)
    assert by_email.none_found and by_id.none_found, [f.where for f in by_email.proof.found]
    assert {e.table: e.rows_deleted for e in by_email.erased} == expected
    assert {e.table: e.rows_deleted for e in by_id.erased} == expected
    assert by_email.online_deleted == by_id.online_deleted and by_email.online_deleted
    # Nothing of either identifier on disk: pandas over every Parquet file.
    assert _raw_scan(fraud / "warehouse", customer, cards) == {}
    for path in (fraud / "warehouse").rglob("*.parquet"):
        frame = pq.read_table(path).to_pandas()
        assert not frame.isin([email]).any().any(), path
    for subject in (Subject("customer_id", str(customer)), Subject("email", email)):
        again = forget(project.runtime, [subject], dry_run=True)
        assert again.plan.tables == [] and again.plan.online == [], subject


def test_cli_says_what_a_held_table_still_holds_and_exits_4(fraud: Path) -> None:
    """Finding 9: "None found." only when nothing remains, held tables included."""
    project = assay.Project(fraud)
    customer = _customer(project)
    expected = _expected_rows(project, customer)["silver.transactions"]
    Holds(project.catalog).add("silver.transactions", "case 2026-114", "counsel")
    args = ["forget", "-s", f"customer_id={customer}", "--project", str(fraud)]
    done = CliRunner().invoke(app, [*args, "--yes", "--purge-history"])
    assert done.exit_code == 4, done.output
    last = done.output.rstrip().splitlines()[-1]
    assert last == f"Still held: silver.transactions (legal hold: case 2026-114), {expected} rows"
    assert "None found." not in done.output
    left = _frame(project, "silver.transactions")
    assert (left["customer_id"] == customer).sum() == expected


def test_folder_stream_files_holding_the_customer_are_listed(fraud: Path) -> None:
    """Finding 7: a folder stream's incoming files are listed for deletion at the source."""
    project = assay.Project(fraud)
    customer = _customer(project)
    cards = sorted(_their_cards(project, customer))
    others = _frame(project, "silver.transactions")["card_id"]
    stranger = int(others[~others.isin(cards)].iloc[0])
    incoming = fraud / "incoming"
    incoming.mkdir(exist_ok=True)
    lines = [
        {"transaction_id": "t1", "card_id": cards[0], "amount": 5.0, "event_time": "2026-07-01"},
        {"transaction_id": "t2", "card_id": stranger, "amount": 7.0, "event_time": "2026-07-01"},
        {"transaction_id": "t3", "card_id": cards[-1], "amount": 9.0, "event_time": "2026-07-02"},
    ]
    (incoming / "batch-1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (incoming / "batch-2.jsonl").write_text(json.dumps(lines[1]) + "\n")
    report = forget(project.runtime, [Subject("customer_id", str(customer))], dry_run=True)
    streamed = {
        f.path: f.records for f in report.plan.sources if f.dataset.endswith("live_transactions")
    }
    held = sum(
        json.loads(line)["card_id"] in cards
        for line in (incoming / "batch-1.jsonl").read_text().splitlines()
    )
    assert streamed == {"incoming/batch-1.jsonl": held} and held == 2


def test_forget_needs_a_role_allowing_it_and_the_proof_records_the_role(
    fraud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 5 (its erasure part): with roles, only a role allowing `forget` erases."""
    from assay.errors import AccessDeniedError

    with (fraud / "assay.yaml").open("a") as config:
        config.write(
            "roles:\n"
            "  dpo: {principals: [dana], allow: [forget, audit]}\n"
            "  analyst: {principals: [ann], grants: ['silver.*']}\n"
        )
    project = assay.Project(fraud)
    customer = _customer(project)
    versions = {t: project.warehouse.version(t) for t in project.warehouse.list_tables()}
    subject = [Subject("customer_id", str(customer))]
    for who in ("ann", "nobody"):
        monkeypatch.setenv("ASSAY_USER", who)
        with pytest.raises(AccessDeniedError, match=rf"'{who}'.*forget"):
            forget(project.runtime, subject, dry_run=True)
        refused = CliRunner().invoke(
            app, ["forget", "-s", f"customer_id={customer}", "--yes", "--project", str(fraud)]
        )
        assert refused.exit_code != 0 and "forget" in refused.output
    assert {t: project.warehouse.version(t) for t in versions} == versions
    monkeypatch.setenv("ASSAY_USER", "dana")
    report = forget(project.runtime, subject)
    assert report.none_found and report.erased
    [event] = [e for e in AuditLog(project.catalog).events() if e.action == "erase"]
    assert (event.principal, event.role) == ("dana", "dpo")


def test_kafka_partitions_and_offsets_holding_the_customer_are_listed(fraud: Path) -> None:
    """Finding 7: a topic cannot be read back, so the stream's table and its dead letters
    say which partitions and offsets held the subject."""
    import pyarrow as pa

    from assay.tables import WriteMode

    (fraud / "pipelines" / "payments.py").write_text(
        "import assay\n\n"
        'payments = assay.kafka("bronze.payments", topic="payments", timestamp="event_time",\n'
        '                       columns={"customer_id": "BIGINT", "amount": "DOUBLE"})\n'
    )
    project = assay.Project(fraud)
    customer = _customer(project)
    other = customer + 1
    good = {
        "customer_id": [customer, other, customer, customer, other],
        "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
        "_partition": ["0", "0", "0", "2", "2"],
        "_offset": [5, 6, 9, 3, 4],
    }
    dead = {
        "stream": ["bronze.payments", "bronze.payments", "bronze.other"],
        "_partition": ["1", "1", "1"],
        "_offset": [12, 13, 14],
        "raw_record": [
            json.dumps({"customer_id": customer, "amount": "ten"}),
            json.dumps({"customer_id": other, "amount": "ten"}),
            json.dumps({"customer_id": customer, "amount": "ten"}),  # another stream's
        ],
    }
    for table, data in (("bronze.payments", good), ("deadletter.bronze_payments", dead)):
        project.warehouse.write(table, pa.table(data), mode=WriteMode.APPEND, metadata={})
    report = forget(project.runtime, [Subject("customer_id", str(customer))], dry_run=True)
    listed = {f.path: f.records for f in report.plan.sources if f.dataset == "bronze.payments"}
    # The oracle: the rows written above, grouped by hand.
    assert listed == {
        "kafka payments partition 0 offsets 5-9": 2,
        "kafka payments partition 1 offsets 12-12": 1,
        "kafka payments partition 2 offsets 3-3": 1,
    }


def test_forget_by_a_clear_email_the_tables_hold_hashed_follows_the_customer(
    tmp_path: Path,
) -> None:
    """Finding 2 as the trial hit it: bronze.customers hashes email at ingest, so the
    tables hold the hash; the clear email (as the person gives it) still leads to their
    customer id and cards, and erases what their customer id would."""
    root = tmp_path / "masked"
    shutil.copytree(
        EXAMPLE, root, ignore=shutil.ignore_patterns("data", "warehouse", ".assay", "models")
    )
    bronze = root / "pipelines" / "bronze.py"
    text = bronze.read_text()
    declared = '    tags={"pii": "name,email,phone"},\n'
    assert declared in text
    bronze.write_text(text.replace(declared, declared + '    mask={"email": "hash"},\n'))
    contract = root / "contracts" / "customers.yaml"  # its email format would see the hash
    kept = [line for line in contract.read_text().splitlines() if "format: email" not in line]
    contract.write_text("\n".join(kept) + "\n")
    generate.generate(root, through_day=60, n_transactions=3000)
    project = assay.Project(root)
    assert project.run().ok
    customer = _customer(project)
    raw = pd.read_csv(root / "data" / "customers.csv")
    email = str(raw.loc[raw["customer_id"] == customer, "email"].iloc[0])
    assert email not in set(_frame(project, "silver.customers")["email"])  # hashed
    expected = _expected_rows(project, customer)
    assert "gold.card_daily" in expected
    plan = forget(project.runtime, [Subject("email", email)], dry_run=True).plan
    assert {t.table: t.rows for t in plan.tables} == expected
    report = forget(project.runtime, [Subject("email", email)])
    assert report.none_found, [f.where for f in report.proof.found]
    assert {e.table: e.rows_deleted for e in report.erased} == expected
    again = forget(project.runtime, [Subject("customer_id", str(customer))], dry_run=True)
    assert again.plan.tables == []
