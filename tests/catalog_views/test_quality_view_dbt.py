"""dbt tests on the quality page: a real dbt project (dbt-core, dbt-duckdb) whose unique
test blocks a model's build; its `dbt:` rules show among the latest results and the rule
outcomes, with the failing count dbt's unique test finds (pandas over the same rows)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from assay.catalog_views.quality_view import quality_view
from tests.integrations.dbt.small import ROWS, STAGING, make_project

TESTS = """\
version: 2
models:
  - name: stg_chargebacks
    columns:
      - name: reported
        data_tests: [unique]
      - name: chargeback_id
        data_tests: [not_null]
"""


def test_dbt_rules_show_with_their_outcome(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {**STAGING, "dbt/models/staging/staging.yml": TESTS})
    assert project.run().result("staging.stg_chargebacks").status == "failed"
    view = quality_view(project.runtime)
    latest = {r.rule: r for r in view.latest["staging.stg_chargebacks"]}
    unique = latest["dbt:unique_stg_chargebacks_reported"]
    repeated = pd.Series([day for _, day, _ in ROWS]).value_counts()
    assert unique.status == "fail" and unique.observed == int((repeated > 1).sum())
    assert latest["dbt:not_null_stg_chargebacks_chargeback_id"].status == "pass"
    charted = {(o.rule, o.status) for o in view.outcomes if o.dataset == "staging.stg_chargebacks"}
    assert ("dbt:unique_stg_chargebacks_reported", "fail") in charted
