"""`zorder_by` is declared on every dataset helper and in SQL headers, and is storage layout
only: changing it does not change a dataset's fingerprint (nothing is rebuilt)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import assay
from assay.errors import DefinitionError
from assay.pipelines.sqlfile import _spec_from_header, parse_header

SQL = "SELECT * FROM {{ ref('bronze.flights') }}"


def test_every_helper_takes_zorder_by() -> None:
    files = assay.files("bronze.f", path="d/*.csv", format="csv", zorder_by="dest")
    table = assay.sql_table("bronze.a", url="sqlite://", table="a", zorder_by=["id", "day"])

    @assay.source("bronze.s", zorder_by=["origin"])
    def source(ctx):  # type: ignore[no-untyped-def]
        return []

    @assay.transform("silver.t", inputs=["bronze.f"], zorder_by=("origin", "dest"))
    def transform(ctx, f):  # type: ignore[no-untyped-def]
        return f

    assert files.zorder_by == ("dest",)
    assert table.zorder_by == ("id", "day")
    assert source.dataset.zorder_by == ("origin",)  # type: ignore[attr-defined]
    assert transform.dataset.zorder_by == ("origin", "dest")  # type: ignore[attr-defined]


def test_the_sql_header_takes_a_list_and_refuses_a_typo() -> None:
    header, body = parse_header(
        f"-- name: silver.f\n-- zorder_by: origin,  dest\n{SQL}\n", "pipelines/f.sql"
    )
    assert _spec_from_header(header, body, "pipelines/f.sql").zorder_by == ("origin", "dest")
    with pytest.raises(DefinitionError, match="zorder_by"):
        parse_header(f"-- name: silver.f\n-- zorder_bi: origin\n{SQL}\n", "pipelines/f.sql")


def test_zorder_by_is_not_part_of_the_fingerprint() -> None:
    spec = assay.files("bronze.f", path="d/*.csv", format="csv")
    assert replace(spec, zorder_by=("dest",)).fingerprint == spec.fingerprint


def test_streams_take_zorder_by_too() -> None:
    # Streams write a file per micro-batch: their tables are the ones optimize compacts most.
    folder = assay.folder_stream(
        "bronze.live", path="incoming/*.jsonl", timestamp="ts", zorder_by="card_id"
    )
    kafka = assay.kafka("bronze.events", topic="events", timestamp="ts", zorder_by=["a", "b"])
    assert folder.zorder_by == ("card_id",)
    assert kafka.zorder_by == ("a", "b")
    assert assay.folder_stream("bronze.x", path="in/*.jsonl", timestamp="ts").zorder_by == ()
