"""Effective classifications: contracts, dataset tags and stored scans, carried along
column lineage (a count or a hash takes the values away; `public` stops it), cached per
runtime and refreshed when scan results change. Data: the fraud example's customers."""

from __future__ import annotations

import shutil
import sys
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay
from assay.catalog.classifications import ScanFinding, ScanStore
from assay.cli.main import app
from assay.governance.classes import (
    classified_columns,
    column_classes,
    feature_classes,
    invalidate,
)
from tests.conftest import MakeProject

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"

BRONZE = """
import assay
assay.files("bronze.customers", "data/customers.csv", "csv",
            columns={"customer_id": "BIGINT", "signup_date": "DATE"})
"""
# Silver reads bronze's email through a function (still the value) and drops nothing.
SILVER = """
-- name: silver.customers
SELECT customer_id, trim(name) AS name, lower(trim(email)) AS email, phone, country
FROM {{ ref('bronze.customers') }}
"""
# Aggregates: counts take the values away, max() keeps one of them.
GOLD_STATS = """
-- name: gold.country_stats
WITH c AS (SELECT country, email, phone FROM {{ ref('silver.customers') }})
SELECT country,
       count(email) AS emails,
       count(DISTINCT email) AS distinct_emails,
       approx_count_distinct(phone) AS phones,
       max(email) AS last_email,
       min(email) AS first_email
FROM c GROUP BY country
"""
# Row level: one-way hashes take the values away; upper() and a CTE keep them.
GOLD_KEYS = """
-- name: gold.customer_keys
WITH named AS (SELECT customer_id, upper(name) AS shout, email, phone, name
               FROM {{ ref('silver.customers') }})
SELECT customer_id, sha256(email) AS email_key, md5(phone) AS phone_key,
       CAST(hash(name) AS VARCHAR) AS name_key, shout, email || '' AS email_copy
FROM named
"""
CONTRACTS = """
apiVersion: v3.1.0
kind: DataContract
id: customers
name: customers
version: 1.0.0
status: active
schema:
  - name: customers
    physicalName: bronze.customers
    properties:
      - {name: customer_id, logicalType: integer}
      - {name: email, logicalType: string, classification: pii, tags: ["kind:email"]}
      - {name: name, logicalType: string, classification: pii}
      - {name: phone, logicalType: string, tags: [pii, phone]}
  - name: stats
    physicalName: gold.country_stats
    properties:
      - {name: first_email, logicalType: string, classification: public}
"""
FEATURES = """
from assay import Aggregation, Entity, FeatureView

customer = Entity("customer", join_keys=["customer_id"])
profile = FeatureView(name="profile", entities=[customer], source="silver.customers",
                      timestamp="signup_date", features=["email", "country"])
signups = FeatureView(name="signups", entities=[customer], source="silver.customers",
                      timestamp="signup_date", aggregations=[
                          Aggregation("email", "count_distinct", "7d"),
                          Aggregation("email", "max", "7d", name="last_email"),
                          Aggregation(function="count", time_window="7d")])
"""
PROJECT = {
    "features/customers.py": FEATURES,
    "pipelines/bronze.py": BRONZE,
    "pipelines/silver.sql": SILVER,
    "pipelines/gold_stats.sql": GOLD_STATS,
    "pipelines/gold_keys.sql": GOLD_KEYS,
    "contracts/customers.yaml": CONTRACTS,
}
EXPECTED = {
    "bronze.customers": {"email": {"pii"}, "name": {"pii"}, "phone": {"pii"}},
    "silver.customers": {"email": {"pii"}, "name": {"pii"}, "phone": {"pii"}},
    "gold.country_stats": {"last_email": {"pii"}},
    "gold.customer_keys": {"shout": {"pii"}, "email_copy": {"pii"}},
}


def _fraud_customers(target: Path) -> None:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import generate

        generate.generate(target, through_day=1, n_transactions=2_000)
    finally:
        sys.path.remove(str(EXAMPLE))


def _plain(found: dict[str, dict[str, frozenset[str]]]) -> dict[str, dict[str, set[str]]]:
    return {t: {c: set(v) for c, v in cols.items()} for t, cols in found.items()}


@pytest.fixture
def root(make_project: MakeProject) -> Path:
    path = make_project(PROJECT)
    _fraud_customers(path)
    return path


def test_classifications_travel_along_lineage_before_and_after_a_run(root: Path) -> None:
    unbuilt = assay.Project(root)
    assert _plain(column_classes(unbuilt.runtime)) == EXPECTED
    assert not (root / ".assay" / "catalog.db").exists()  # asking creates no catalog

    built = assay.Project(root)
    assert built.run().ok
    assert _plain(column_classes(built.runtime)) == EXPECTED
    detail = classified_columns(built.runtime)
    assert detail["bronze.customers"]["email"].kinds == {"email"}
    assert detail["bronze.customers"]["phone"].kinds == {"phone"}
    assert detail["gold.customer_keys"]["shout"].sources == ("lineage from silver.customers.name",)
    assert detail["silver.customers"]["email"].kinds == {"email"}  # kinds travel too
    # Features serve their source column's values, unless they only count them.
    assert feature_classes(built.runtime) == {
        "profile": {"email": {"pii"}},
        "signups": {"last_email": {"pii"}},
    }
    shown = CliRunner().invoke(
        app, ["pii", "columns", "--project", str(root)], env={"COLUMNS": "200"}
    )
    assert shown.exit_code == 0, shown.output
    assert "lineage from silver.customers.name" in shown.output
    assert "Features serving classified columns" in shown.output
    assert "last_email" in shown.output and "distinct" not in shown.output


def test_sql_header_tags_name_columns_and_bare_names_continue_the_list(
    make_project: MakeProject,
) -> None:
    files = {
        "pipelines/bronze.py": BRONZE,
        "pipelines/silver.sql": SILVER.replace(
            "-- name: silver.customers",
            "-- name: silver.customers\n-- tags: pii=name,email, team=crm, phone",
        ),
    }
    root = make_project(files)
    _fraud_customers(root)
    project = assay.Project(root)
    assert project.run().ok
    # `phone` follows `team=crm`, not `pii=`: the list ended there.
    assert _plain(column_classes(project.runtime)) == {
        "silver.customers": {"name": {"pii"}, "email": {"pii"}}
    }


def test_stored_scan_results_classify_and_refresh_the_cache(root: Path) -> None:
    project = assay.Project(root)
    assert project.run().ok
    runtime = project.runtime
    before = column_classes(runtime)
    assert "country" not in before["silver.customers"]
    assert column_classes(runtime) is not before  # a fresh dict, same cached content
    store = ScanStore(runtime.catalog)
    finding = ScanFinding("bronze.customers", "country", "location", 0.9, 9, 10, ("F*",))
    store.save("bronze.customers", 1, [finding], datetime(2026, 1, 1))
    after = column_classes(runtime)  # same runtime: the new revision is seen
    assert after["bronze.customers"]["country"] == {"pii"}
    assert after["silver.customers"]["country"] == {"pii"}
    assert after["gold.country_stats"]["country"] == {"pii"}  # the grouping key's values
    assert "country" not in after["gold.customer_keys"]  # not selected there
    store.save("bronze.customers", 1, [], datetime(2026, 1, 2))
    assert "country" not in column_classes(runtime)["bronze.customers"]
    invalidate(runtime)
    assert _plain(column_classes(runtime)) == EXPECTED


def test_the_fraud_example_python_transform_carries_only_declared_columns(
    tmp_path: Path,
) -> None:
    for part in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / part, tmp_path / part)
    shutil.copy(EXAMPLE / "assay.yaml", tmp_path)
    found = _plain(column_classes(assay.Project(tmp_path).runtime))
    # customers.yaml and the tags classify name, email and phone; transactions.yaml
    # card_number (restricted) and ip_address; bronze tags add pii to card_number.
    assert found["silver.customers"] == {"name": {"pii"}, "email": {"pii"}, "phone": {"pii"}}
    assert found["silver.transactions"] == {
        "card_number": {"pii", "restricted"},
        "ip_address": {"pii"},
    }
    # gold.merchant_daily (Python, declared lineage) and gold.card_daily (aggregates by
    # card_id) carry none of them.
    assert set(found) == {
        "bronze.customers",
        "bronze.transactions",
        "silver.customers",
        "silver.transactions",
    }


def test_columns_masked_at_ingest_hold_no_clear_value(make_project: MakeProject) -> None:
    masked = BRONZE.replace(
        'columns={"customer_id": "BIGINT", "signup_date": "DATE"})',
        'columns={"customer_id": "BIGINT", "signup_date": "DATE"},\n'
        '            tags={"pii": "name,email,phone"},\n'
        '            mask={"email": "hash", "phone": "partial"})',
    )
    root = make_project({"pipelines/bronze.py": masked, "pipelines/silver.sql": SILVER})
    _fraud_customers(root)
    project = assay.Project(root)
    assert project.run().ok
    stored = project.runtime.warehouse.read("bronze.customers").column("email").to_pylist()
    assert all(len(v) == 64 for v in stored if v is not None)  # SHA-256 hex: no email left
    # email: hashed, so no longer personal data by its tags; phone: partial keeps a part.
    expected = {"name": {"pii"}, "phone": {"pii"}}
    found = _plain(column_classes(project.runtime))
    assert found == {"bronze.customers": expected, "silver.customers": expected}
