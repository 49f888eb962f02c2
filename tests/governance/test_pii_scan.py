"""`assay pii scan` on the fraud example's customers and transactions (counts checked with
pandas and the test's own Luhn), on a CSV of the standards' published IBANs, card numbers
and national ids (Presidio adds the ids assay's own patterns do not know), the catalog
holding only masked examples, the classification and audit events that follow, and the
command line."""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import assay
from assay.catalog.classifications import ScanFinding, ScanStore
from assay.cli.main import app
from assay.errors import TableNotFoundError, UsageError
from assay.governance.audit import AuditLog
from assay.governance.classes import classified_columns
from assay.governance.scan import scan, scan_table
from tests.conftest import MakeProject
from tests.governance.test_pii_detect import CARDS, IBANS, oracle_iban, oracle_luhn

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"
SELECT = ["bronze.customers", "silver.customers", "bronze.transactions"]


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    root = tmp_path_factory.mktemp("fraud")
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for part in ("pipelines", "contracts"):
        shutil.copytree(EXAMPLE / part, root / part)
    sys.path.insert(0, str(EXAMPLE))
    try:
        import generate

        generate.generate(root, through_day=2, n_transactions=3_000)
    finally:
        sys.path.remove(str(EXAMPLE))
    project = assay.Project(root)
    assert project.run(select=SELECT).ok
    return project


def _by(findings: tuple[ScanFinding, ...]) -> dict[tuple[str, str], ScanFinding]:
    return {(f.column, f.kind): f for f in findings}


def test_customers_scan_matches_a_pandas_count(fraud: assay.Project) -> None:
    report = scan_table(fraud.runtime, "bronze.customers", rows=5_000, use_presidio=False)
    raw = pd.read_csv(fraud.root / "data" / "customers.csv", dtype=str)
    assert report.sampled == report.rows == len(raw)  # every row read
    emails = raw["email"].dropna()
    expected = int(emails.str.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}").sum())
    phones = raw["phone"].dropna()
    expected_phones = int(phones.str.fullmatch(r"\+44 7700 \d{6}").sum())
    found = _by(report.findings)
    email = found[("email", "email")]
    assert (email.matched, email.sampled) == (expected, len(emails))
    assert email.confidence == pytest.approx(1 - (1 - expected / len(emails)) * 0.5, abs=1e-4)
    phone = found[("phone", "phone")]
    assert phone.matched == expected_phones
    assert ("name", "name") in found  # full personal names in a column called `name`
    assert {k for k, _ in found} == {"email", "phone", "name"}


def test_card_numbers_and_ips_match_the_tests_own_checks(fraud: assay.Project) -> None:
    report = scan_table(fraud.runtime, "bronze.transactions", rows=50_000, use_presidio=False)
    table = fraud.runtime.warehouse.read("bronze.transactions").to_pandas()
    cards = [str(v) for v in table["card_number"].dropna()]
    valid = sum(oracle_luhn(c) for c in cards)
    ips = [str(v) for v in table["ip_address"].dropna()]
    valid_ips = sum(1 for v in ips if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", v) and _ipv4(v))
    found = _by(report.findings)
    card = found[("card_number", "card_number")]
    assert (card.matched, card.sampled) == (valid, len(cards))
    # About one random number in ten passes Luhn; the column's name lifts it over 0.5.
    assert card.confidence == pytest.approx(1 - (1 - valid / len(cards)) * 0.5, abs=1e-4)
    assert found[("ip_address", "ip_address")].matched == valid_ips
    assert not [f for f in report.findings if f.column in ("amount", "merchant_id", "card_id")]


def _ipv4(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address)
    except ValueError:
        return False


def test_scan_stores_masked_examples_classifies_and_audits(fraud: assay.Project) -> None:
    runtime = fraud.runtime
    reports = scan(runtime, ["bronze.customers"], rows=5_000, use_presidio=False)
    stored = ScanStore(runtime.catalog).results("bronze.customers")
    assert [(f.column, f.kind) for f in stored] == sorted(
        (f.column, f.kind) for f in reports[0].findings
    )
    assert {f.version for f in stored} == {runtime.warehouse.version("bronze.customers")}
    # No clear value anywhere in the catalog's scan table (raw rows, every column).
    raw = pd.read_csv(fraud.root / "data" / "customers.csv", dtype=str)
    clear = {v for c in ("email", "phone", "name") for v in raw[c].dropna()}
    with runtime.catalog.engine.connect() as con:
        rows = con.execute(sa.text("SELECT * FROM assay_pii_scans")).fetchall()
    text = json.dumps([list(map(str, r)) for r in rows])
    assert rows and not [v for v in clear if v in text]
    # Found columns are classified pii, the kind a tag, and so are silver's copies.
    classes = classified_columns(runtime)
    assert "phone" in classes["bronze.customers"]["phone"].kinds
    assert any(s.startswith("pii scan") for s in classes["bronze.customers"]["email"].sources)
    assert classes["silver.customers"]["email"].kinds >= {"email"}
    events = AuditLog(runtime.catalog).events(action="pii_scan", dataset="bronze.customers")
    assert events and set(events[-1].columns) == {"email", "name", "phone"}
    assert "@" not in json.dumps(events[-1].detail)  # kinds and counts, no values


def test_published_ibans_cards_and_national_ids(make_project: MakeProject) -> None:
    # Italian codici fiscali and Spanish NIEs: only Presidio's recognizers know them.
    national = ["RSSMRA85T10A562S", "MRTMTT91D08F205J", "X1234567L", "Y1234567X"]
    n = len(IBANS)
    frame = pd.DataFrame(
        {
            "account": IBANS,
            "pan": (CARDS * 2)[:n],
            "tax_code": (national * 3)[:n],
            "note": ["paid", "refund", "n/a", "ok", "late", "paid", "ok", "x", "y", "z"][:n],
        }
    )
    files = {
        "pipelines/bronze.py": 'import assay\nassay.files("bronze.payers", "data/p.csv", "csv")\n'
    }
    root = make_project(files)
    (root / "data").mkdir()
    frame.to_csv(root / "data" / "p.csv", index=False)
    project = assay.Project(root)
    assert project.run().ok
    plain = scan_table(project.runtime, "bronze.payers", use_presidio=False)
    found = {(f.column, f.kind): f.confidence for f in plain.findings}
    assert found[("account", "iban")] == sum(map(oracle_iban, IBANS)) / n == 1.0
    assert found[("pan", "card_number")] == 1.0
    assert not [c for c, _ in found if c in ("tax_code", "note")]
    with_presidio = scan_table(project.runtime, "bronze.payers", use_presidio=True)
    assert with_presidio.presidio
    more = {(f.column, f.kind): f.confidence for f in with_presidio.findings}
    assert more[("tax_code", "national_id")] == 1.0
    assert not [c for c, _ in more if c == "note"]


def test_wrong_names_fail_before_anything_is_scanned(fraud: assay.Project) -> None:
    store = ScanStore(fraud.runtime.catalog)
    before = store.revision()
    with pytest.raises(UsageError, match=r"silver\.nope"):
        scan(fraud.runtime, ["bronze.customers", "silver.nope"])
    assert store.revision() == before  # bronze.customers, named first, was not scanned
    with pytest.raises(TableNotFoundError) as err:
        scan(fraud.runtime, ["gold.card_daily"])
    assert err.value.where == "gold.card_daily" and "assay run --select" in (err.value.hint or "")
    with pytest.raises(UsageError, match="min-confidence"):
        scan(fraud.runtime, ["bronze.customers"], min_confidence=1.5)


def test_cli_scan_json_and_columns(fraud: assay.Project) -> None:
    runner = CliRunner()
    where = ["--project", str(fraud.root)]
    result = runner.invoke(
        app, ["pii", "scan", "bronze.customers", *where, "-f", "json", "--min-confidence", "0.99"]
    )
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)
    kinds = {f["column"]: f["confidence"] for f in report["findings"]}
    doubtful = {f["column"] for f in report["doubtful"]}
    assert all(c >= 0.99 for c in kinds.values()) and "name" in doubtful
    assert all(
        "@" not in e or e.split("@")[0].endswith("***")
        for f in report["findings"]
        for e in f["examples"]
    )
    table = runner.invoke(app, ["pii", "scan", *where, "--no-presidio"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "bronze.transactions" in table.output and "card_number" in table.output
    columns = runner.invoke(app, ["pii", "columns", *where, "-d", "silver.customers", "-f", "json"])
    assert columns.exit_code == 0, columns.output
    assert set(json.loads(columns.output)["silver.customers"]) == {"email", "name", "phone"}
    missing = runner.invoke(app, ["pii", "scan", "gold.card_daily", *where])
    assert missing.exit_code == 2 and "assay run --select gold.card_daily" in missing.output
