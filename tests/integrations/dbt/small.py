"""Small dbt projects (real dbt-core and dbt-duckdb) over one silver table of chargebacks
whose `reported` day is text: no input of the dbt models has a time column."""

from __future__ import annotations

from pathlib import Path

import assay
from tests.helpers import write_project
from tests.integrations.dbt.conftest import require_dbt

#: Chargebacks over twenty June days; `reported` is text, so no input has a time column.
ROWS = [(i, f"2026-06-{1 + i % 20:02d}", 10.0 + i) for i in range(60)]
SILVER = {
    "pipelines/chargebacks.sql": "-- name: silver.chargebacks\nSELECT * FROM (VALUES "
    + ", ".join(f"({i}, '{d}', {a})" for i, d, a in ROWS)
    + ") AS t(chargeback_id, reported, amount)\n",
    "dbt/models/sources.yml": "version: 2\n"
    "sources: [{name: silver, tables: [{name: chargebacks}]}]\n",
}
PROJECT_YML = """\
name: small
version: '1.0'
config-version: 2
models:
  small:
    staging:
      +materialized: table
      +meta: {assay: {layer: staging}}
"""


def make_project(root: Path, models: dict[str, str]) -> assay.Project:
    require_dbt()
    files = {**SILVER, "dbt/dbt_project.yml": PROJECT_YML, **models}
    write_project(root, files, {"dbt": {"project_dir": "dbt"}})
    return assay.Project(root)


STAGING = {
    "dbt/models/staging/stg_chargebacks.sql": """\
        select chargeback_id, reported, amount from {{ source('silver', 'chargebacks') }}
        """,
}
