"""A micro-batch that lands while optimize rewrites a table is not optimize's doing: the
row check compares the rewrite's own commit with the version it was made on."""

from __future__ import annotations

import tempfile
from typing import Any

import pyarrow as pa
import pytest

import assay.tables.optimize as optimize
from assay.config import StorageSettings
from assay.tables.delta import Warehouse, WriteMode


def test_an_append_during_the_rewrite_is_kept_and_not_blamed_on_optimize(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wh = Warehouse(tempfile.mkdtemp())
    for n in range(3):
        wh.write("bronze.t", pa.table({"a": [n]}), mode=WriteMode.APPEND, metadata={})
    rewrite = optimize._rewrite

    def rewrite_while_a_stream_appends(*args: Any, **kwargs: Any) -> tuple[int, int]:
        done = rewrite(*args, **kwargs)
        wh.write("bronze.t", pa.table({"a": [9]}), mode=WriteMode.APPEND, metadata={})
        return done

    monkeypatch.setattr(optimize, "_rewrite", rewrite_while_a_stream_appends)
    result = optimize.optimize_table(wh, "bronze.t", StorageSettings())
    assert result.rows == 3  # what the compaction itself held
    assert sorted(wh.table("bronze.t").to_pyarrow_table()["a"].to_pylist()) == [0, 1, 2, 9]
