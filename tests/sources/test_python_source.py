"""`@assay.source`: every supported return type, keyed merges, no-op runs and failures."""

from __future__ import annotations

import json

import pytest

import assay
from tests.conftest import MakeProject
from tests.helpers import rows

EXPECTED = [
    {"id": 1, "name": "ada", "score": 1.5},
    {"id": 2, "name": "bob", "score": 2.5},
    {"id": 3, "name": "cy", "score": None},
]

KINDS = """
import assay
import pandas as pd
import polars as pl
import pyarrow as pa

DATA = {"id": [1, 2, 3], "name": ["ada", "bob", "cy"], "score": [1.5, 2.5, None]}


@assay.source("bronze.from_pandas")
def from_pandas(ctx):
    return pd.DataFrame(DATA)


@assay.source("bronze.from_polars")
def from_polars(ctx):
    return pl.DataFrame(DATA)


@assay.source("bronze.from_arrow")
def from_arrow(ctx):
    return pa.table(DATA)


@assay.source("bronze.from_dicts")
def from_dicts(ctx):
    return [dict(zip(DATA, values)) for values in zip(*DATA.values())]


@assay.source("bronze.from_generator")
def from_generator(ctx):
    yield pd.DataFrame({k: v[:1] for k, v in DATA.items()})
    yield pl.DataFrame({k: v[1:2] for k, v in DATA.items()})
    yield pa.table({k: v[2:] for k, v in DATA.items()})


@assay.source("bronze.from_dict_stream")
def from_dict_stream(ctx):
    for values in zip(*DATA.values()):
        yield dict(zip(DATA, values))
"""

NAMES = [
    "bronze.from_pandas",
    "bronze.from_polars",
    "bronze.from_arrow",
    "bronze.from_dicts",
    "bronze.from_generator",
    "bronze.from_dict_stream",
]


@pytest.fixture
def kinds(make_project: MakeProject) -> assay.Project:
    return assay.Project(make_project({"pipelines/sources.py": KINDS}))


def test_every_return_type_becomes_the_same_table(kinds: assay.Project) -> None:
    result = kinds.run()

    assert result.ok, [r.error for r in result.failed]
    for name in NAMES:
        assert rows(kinds.table(name)) == EXPECTED, name
        assert result.result(name).rows_written == 3


def test_unchanged_output_commits_nothing(kinds: assay.Project) -> None:
    kinds.run()
    before = {name: kinds.warehouse.version(name) for name in NAMES}

    again = kinds.run()

    assert again.commits == 0
    assert {r.status for r in again.results} == {"up_to_date"}
    assert {name: kinds.warehouse.version(name) for name in NAMES} == before


KEYED = """
import json
from pathlib import Path

import assay


@assay.source("bronze.customers", keys=["customer_id"])
def customers(ctx):
    return json.loads((Path(ctx.project_root) / "customers.json").read_text())


@assay.source("bronze.snapshot")
def snapshot(ctx):
    return json.loads((Path(ctx.project_root) / "customers.json").read_text())
"""


def test_keyed_source_merges(make_project: MakeProject) -> None:
    root = make_project(
        {
            "pipelines/customers.py": KEYED,
            "customers.json": json.dumps(
                [
                    {"customer_id": 1, "name": "Ada", "tier": "gold"},
                    {"customer_id": 2, "name": "Bob", "tier": "silver"},
                ]
            ),
        }
    )
    project = assay.Project(root)
    assert project.run().ok
    (root / "customers.json").write_text(
        json.dumps(
            [
                {"customer_id": 2, "name": "Bob", "tier": "gold"},  # changed
                {"customer_id": 3, "name": "Cy", "tier": "bronze"},  # new
            ]
        )
    )

    result = project.run()

    assert result.result("bronze.customers").commits == 1
    # merged: 1 kept (a merge never deletes), 2 updated, 3 inserted
    assert rows(project.table("bronze.customers")) == [
        {"customer_id": 1, "name": "Ada", "tier": "gold"},
        {"customer_id": 2, "name": "Bob", "tier": "gold"},
        {"customer_id": 3, "name": "Cy", "tier": "bronze"},
    ]
    # without keys the table is the latest output
    assert rows(project.table("bronze.snapshot")) == [
        {"customer_id": 2, "name": "Bob", "tier": "gold"},
        {"customer_id": 3, "name": "Cy", "tier": "bronze"},
    ]
    assert project.run().commits == 0


FAILING = """
import assay


@assay.source("bronze.good")
def good(ctx):
    return [{"id": 1}, {"id": 2}]


@assay.source("bronze.bad")
def bad(ctx):
    raise ValueError("upstream API returned 503")


@assay.transform("silver.from_bad", inputs=["bronze.bad"])
def from_bad(ctx, bad):
    return bad


@assay.transform("gold.from_both", inputs=["silver.from_bad", "bronze.good"])
def from_both(ctx, bad, good):
    return good


@assay.transform("silver.from_good", inputs=["bronze.good"])
def from_good(ctx, good):
    return good.aggregate("count(*) AS n")
"""


def test_failing_source_fails_only_itself_and_skips_downstream(make_project: MakeProject) -> None:
    project = assay.Project(
        make_project(
            {"pipelines/sources.py": FAILING},
            {"retries": {"attempts": 1}},
        )
    )

    result = project.run()

    assert not result.ok
    status = {r.dataset: r.status for r in result.results}
    assert status == {
        "bronze.bad": "failed",
        "bronze.good": "success",
        "silver.from_bad": "skipped",
        "gold.from_both": "skipped",
        "silver.from_good": "success",
    }
    (failed,) = result.failed
    assert "bronze.bad" in failed.error
    assert "ValueError" in failed.error and "upstream API returned 503" in failed.error
    assert "bronze.bad" in result.result("silver.from_bad").reasons[0]
    assert project.table("silver.from_good").to_pylist() == [{"n": 2}]
    assert "bronze.bad" not in project.warehouse.list_tables()
    records = {r.dataset: r for r in project.catalog.run_records(result.run_id)}
    assert records["bronze.bad"].status == "failed"
    assert "upstream API returned 503" in records["bronze.bad"].error


def test_unsupported_return_type_fails_with_a_hint(make_project: MakeProject) -> None:
    source = 'import assay\n\n@assay.source("bronze.odd")\ndef odd(ctx):\n    return 42\n'
    project = assay.Project(make_project({"pipelines/odd.py": source}))

    failed = project.run().result("bronze.odd")

    assert failed.status == "failed"
    assert "bronze.odd" in failed.error and "int" in failed.error
