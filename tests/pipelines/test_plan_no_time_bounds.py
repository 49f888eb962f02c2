"""An incremental dataset whose inputs carry no time column (a dimension table, a full
model): its intervals run from its `start` through the current one, and without `start`
it is refused by name, never reported up to date with nothing built."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

import assay
from assay.errors import DefinitionError
from assay.intervals import Grain, utcnow
from tests.helpers import write_project

START = datetime(2026, 6, 1)

CHARGEBACKS = """
    import assay
    assay.files("bronze.chargebacks", path="data/*.csv", format="csv",
                columns={"chargeback_id": "INTEGER", "reported": "DATE", "amount": "DOUBLE"})
    """
#: A full table with no time column of its own (reported is kept as text).
SILVER = """
    -- name: silver.chargebacks
    -- kind: full
    SELECT chargeback_id, CAST(reported AS VARCHAR) AS reported_text, amount
    FROM {{ ref('bronze.chargebacks') }}
    """


def gold(start: str | None) -> str:
    header = f"-- start: {start}\n" if start else ""
    return (
        "-- name: gold.cb_daily\n-- kind: incremental\n-- time_column: day\n-- grain: day\n"
        + header
        + """SELECT CAST(reported_text AS DATE) AS day, count(*) AS n, sum(amount) AS amount
        FROM {{ ref('silver.chargebacks') }}
        WHERE CAST(reported_text AS DATE) >= {{ start }} AND CAST(reported_text AS DATE) < {{ end }}
        GROUP BY ALL
        """
    )


def make(root: Path, start: str | None) -> assay.Project:
    rows = [(i, f"2026-06-{1 + i % 20:02d}", 10.0 + i) for i in range(60)]
    write_project(
        root,
        {
            "pipelines/ingest.py": CHARGEBACKS,
            "pipelines/silver.sql": SILVER,
            "pipelines/gold.sql": gold(start),
            "data/cb.csv": "chargeback_id,reported,amount\n"
            + "".join(f"{i},{d},{a}\n" for i, d, a in rows),
        },
    )
    return assay.Project(root)


def test_intervals_run_from_start_through_now_when_inputs_have_no_time_column(tmp_path):
    project = make(tmp_path / "p", "2026-06-01")
    first = project.run()
    assert first.ok, [(r.dataset, r.error) for r in first.failed]
    wanted = Grain.DAY.covering(START, utcnow())
    assert sorted(project.intervals("gold.cb_daily")) == wanted
    [status] = [s for s in project.status() if s.name == "gold.cb_daily"]
    assert (status.intervals_done, status.intervals_missing) == (len(wanted), 0)
    # Oracle: pandas over the delivered file.
    raw = pd.read_csv(tmp_path / "p" / "data" / "cb.csv", parse_dates=["reported"])
    expected = raw.groupby("reported").agg(n=("chargeback_id", "count"), amount=("amount", "sum"))
    built = project.table("gold.cb_daily").to_pandas().set_index("day").sort_index()
    assert list(pd.to_datetime(built.index)) == list(expected.index)
    assert built["n"].tolist() == expected["n"].tolist()
    assert built["amount"].tolist() == pytest.approx(expected["amount"].tolist())
    assert not any(work.needed for work in project.plan())


def test_without_start_the_dataset_is_refused_by_name(tmp_path):
    project = make(tmp_path / "p", None)
    assert project.run(select=["bronze.chargebacks", "silver.chargebacks"]).ok
    with pytest.raises(DefinitionError) as err:
        project.plan()
    assert "gold.cb_daily" in str(err.value)
    assert "start" in (err.value.hint or "") and "time column" in (err.value.hint or "")
    result = project.run()
    assert not result.ok
    [failed] = result.failed
    assert failed.dataset == "gold.cb_daily" and "time column" in str(failed.error)


def test_status_shows_the_refusal_on_the_dataset_row_and_lists_the_others(tmp_path):
    from typer.testing import CliRunner

    from assay.cli.main import app

    project = make(tmp_path / "p", None)
    assert project.run(select=["bronze.chargebacks", "silver.chargebacks"]).ok
    statuses = {s.name: s for s in project.status()}
    assert statuses["silver.chargebacks"].rows == 60  # the others are still reported
    refused = statuses["gold.cb_daily"]
    assert refused.intervals_missing is None and "start" in (refused.problem or "")
    shown = CliRunner().invoke(app, ["status", "--project", str(tmp_path / "p")])
    assert shown.exit_code == 0, shown.output
    assert "cannot plan (below)" in shown.output
    assert "gold.cb_daily" in shown.output and "declare `start:`" in shown.output
