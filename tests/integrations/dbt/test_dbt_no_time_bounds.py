"""An incremental dbt model over a table model without a time column builds from its
`start` through the current interval (real dbt-core and dbt-duckdb; pandas as the oracle),
and without `start` it is refused by name, never reported up to date unbuilt."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from assay.intervals import Grain, utcnow
from tests.integrations.dbt.small import ROWS, STAGING, make_project


def _daily(start: str | None) -> dict[str, str]:
    meta = "'layer': 'marts', 'time_column': 'day', 'grain': 'day'"
    meta += f", 'start': '{start}'" if start else ""
    return {
        "dbt/models/marts/cb_daily.sql": f"""\
            {{{{ config(materialized='incremental', meta={{'assay': {{{meta}}}}}) }}}}
            select cast(reported as date) as day, count(*) as n, sum(amount) as amount
            from {{{{ ref('stg_chargebacks') }}}}
            group by all
            """
    }


def test_an_incremental_model_over_a_table_without_time_column_builds_from_start(tmp_path):
    project = make_project(tmp_path / "p", {**STAGING, **_daily("2026-06-01")})
    result = project.run()
    assert result.ok, [(r.dataset, r.error) for r in result.failed]
    wanted = Grain.DAY.covering(date(2026, 6, 1), utcnow())
    assert sorted(project.intervals("marts.cb_daily")) == wanted
    # Oracle: pandas over the same rows.
    raw = pd.DataFrame(ROWS, columns=["chargeback_id", "reported", "amount"])
    expected = raw.groupby("reported").agg(n=("chargeback_id", "count"), amount=("amount", "sum"))
    built = project.table("marts.cb_daily").to_pandas().sort_values("day")
    assert [str(d)[:10] for d in built["day"]] == list(expected.index)
    assert built["n"].tolist() == expected["n"].tolist()
    assert built["amount"].tolist() == pytest.approx(expected["amount"].tolist())
    assert not any(work.needed for work in project.plan())


def test_without_start_the_incremental_model_is_refused_by_name(tmp_path):
    project = make_project(tmp_path / "p", {**STAGING, **_daily(None)})
    result = project.run()
    assert not result.ok
    [failed] = result.failed
    assert failed.dataset == "marts.cb_daily"
    assert "none of its inputs (staging.stg_chargebacks) has a time column" in str(failed.error)
