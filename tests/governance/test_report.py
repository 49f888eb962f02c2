"""`assay governance report`: the records of processing of a project holding the fraud
example's customers: classified columns, owners, purposes, retention, holds, each role's
access (checked against the roles as written) and a real erasure, in JSON and Markdown,
with no data value anywhere in it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.governance.erasure import Subject, forget
from assay.governance.holds import Holds
from assay.governance.report import records
from assay.governance.report_render import as_dict, to_markdown
from tests.conftest import MakeProject

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"

BRONZE = """
import assay
assay.files("bronze.customers", "data/customers.csv", "csv",
            columns={"customer_id": "BIGINT", "signup_date": "DATE"},
            time_column="signup_date", owner="crm", tags={"pii": "name,email,phone"},
            retention="30d")
"""
SILVER = """
-- name: silver.customers
-- owner: crm
-- kind: merge
-- keys: customer_id
-- time_column: signup_date
-- description: One row per customer, for support and fraud review.
SELECT customer_id, name, lower(email) AS email, phone, country, signup_date
FROM {{ ref('bronze.customers') }}
"""
GOLD = """
-- name: gold.countries
-- owner: growth
SELECT country, count(email) AS customers FROM {{ ref('silver.customers') }} GROUP BY country
"""
CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: crm
name: crm
version: 1.0.0
status: active
description:
  purpose: Customer records as the CRM exports them, to contact and verify customers.
schema:
  - name: customers
    physicalName: bronze.customers
    properties:
      - {name: customer_id, logicalType: integer}
"""
FEATURES = """
from assay import Entity, FeatureView

customer = Entity("customer", join_keys=["customer_id"])
contact = FeatureView(name="contact", entities=[customer], source="silver.customers",
                      timestamp="signup_date", features=["phone", "country"])
"""
CONFIG = {
    "governance": {"retention": {"pii": "400d"}},
    "roles": {
        "analyst": {
            "principals": ["ann"],
            "grants": ["silver.*", "gold.*"],
            "masks": {"silver.customers.email": "hash"},
            "row_filters": {"silver.customers": "country = 'FR'"},
        },
        "dpo": {
            "principals": ["dee"],
            "grants": ["*"],
            "classifications": ["*"],
            "allow": ["forget", "report"],
        },
        "marketing": {"principals": ["mo"], "grants": ["gold.*"]},
    },
}


@pytest.fixture
def project(make_project: MakeProject, monkeypatch: pytest.MonkeyPatch) -> assay.Project:
    monkeypatch.setenv("ASSAY_USER", "dee")  # the DPO: allowed to forget and report
    files = {
        "pipelines/bronze.py": BRONZE,
        "pipelines/silver.sql": SILVER,
        "pipelines/gold.sql": GOLD,
        "contracts/crm.yaml": CONTRACT,
        "features/customers.py": FEATURES,
    }
    root = make_project(files, CONFIG)
    sys.path.insert(0, str(EXAMPLE))
    try:
        import generate

        generate.generate(root, through_day=1, n_transactions=1_000)
    finally:
        sys.path.remove(str(EXAMPLE))
    built = assay.Project(root)
    assert built.run().ok
    return built


def test_records_of_processing(project: assay.Project) -> None:
    runtime = project.runtime
    Holds(runtime.catalog).add("bronze.*", "case 2026-114: litigation", "dee")
    silver = runtime.warehouse.read("silver.customers").to_pandas()
    subject = int(silver["customer_id"].iloc[0])
    erased = forget(runtime, [Subject("customer_id", str(subject))])
    assert erased.ok

    found = as_dict(records(assay.Project(project.root).runtime))
    by_name = {d["dataset"]: d for d in found["datasets"]}
    # gold.countries only counts emails: not personal data.
    assert set(by_name) == {"bronze.customers", "silver.customers"}
    bronze, silver_rec = by_name["bronze.customers"], by_name["silver.customers"]
    assert set(bronze["columns"]) == set(silver_rec["columns"]) == {"name", "email", "phone"}
    assert bronze["owner"] == silver_rec["owner"] == "crm"
    assert bronze["purpose"].startswith("Customer records as the CRM exports them")
    assert silver_rec["purpose"] == "One row per customer, for support and fraud review."
    assert (bronze["retention"], bronze["retention_from"]) == ("30d", "declared")
    assert silver_rec["retention"] == "400d"  # governance.retention.pii, its columns' class
    assert silver_rec["retention_from"] == "classification pii (email, name, phone)"
    assert bronze["legal_hold"]["reason"] == "case 2026-114: litigation"
    assert silver_rec["legal_hold"] is None
    assert silver_rec["features"] == {"contact": {"phone": ["pii"]}}

    roles = {r["role"]: r for r in silver_rec["roles"]}
    # analyst: email masked as written; name and phone are pii, not granted: denied.
    assert roles["analyst"]["masked"] == {"email": "hash"}
    assert roles["analyst"]["denied"] == {"name": "pii", "phone": "pii"}
    assert roles["analyst"]["row_filter"] == "country = 'FR'"
    assert roles["dpo"]["masked"] == roles["dpo"]["denied"] == {}
    assert silver_rec["roles_without_access"] == ["marketing"]
    assert bronze["roles_without_access"] == ["analyst", "marketing"]

    (erasure,) = found["erasures"]
    assert erasure["subject_columns"] == ["customer_id"]
    # Oracle: the silver rows of the subject before the erasure; bronze is held.
    assert erasure["rows"] == int((silver["customer_id"] == subject).sum())
    assert [t["table"] for t in erasure["skipped_held"]] == ["bronze.customers"]
    assert erasure["none_found"] is False  # the held bronze table keeps the subject
    assert [(h["table"], h["rows"]) for h in erasure["still_held"]] == [("bronze.customers", 1)]
    assert "still held: bronze.customers (1 rows)" in to_markdown(records(project.runtime))

    raw = pd.read_csv(project.root / "data" / "customers.csv", dtype=str)
    text = json.dumps(found) + to_markdown(records(project.runtime))
    assert not [v for c in ("email", "phone") for v in raw[c].dropna() if v in text]


def test_markdown_and_the_command(project: assay.Project, tmp_path: Path) -> None:
    text = to_markdown(records(project.runtime))
    assert text.startswith(f"# Records of processing: {project.root.name}\n")
    assert "### silver.customers" in text and "### gold.countries" not in text
    assert "| analyst | no classified clear | email (hash) | name (pii), phone (pii) |" in text
    assert "| marketing | no grant |" in text
    assert "Served by feature view `contact`: phone (pii)" in text
    assert "## Last erasures\n\nNone recorded." in text

    runner = CliRunner()
    out = tmp_path / "ropa.json"
    result = runner.invoke(
        app, ["governance", "report", "--project", str(project.root), "-f", "json", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "2 dataset(s)" in result.output
    assert json.loads(out.read_text())["project"] == project.root.name
    shown = runner.invoke(app, ["governance", "report", "--project", str(project.root)])
    assert shown.exit_code == 0 and "silver.customers" in shown.output
    bad = runner.invoke(
        app, ["governance", "report", "--project", str(project.root), "-o", "/nonexistent/x.md"]
    )
    assert bad.exit_code == 2 and "cannot write the report" in bad.output
