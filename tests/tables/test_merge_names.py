"""`Warehouse.merge` over names that need quoting: the ON and update conditions are built
as expressions, so any key or column name merges (delta-rs itself still fails on a name
holding a backtick, in the columns it inserts)."""

from __future__ import annotations

import pyarrow as pa

from assay.tables import Warehouse, WriteMode

KEY, COL, NEW = 'user "id"', "it's; DROP TABLE t; --", "new col"


def test_merge_updates_changed_rows_inserts_new_ones_and_skips_unchanged(tmp_path):
    wh = Warehouse(str(tmp_path))
    wh.write(
        "silver.u",
        pa.table({KEY: [1, 2], COL: ["x", None]}),
        mode=WriteMode.OVERWRITE,
        metadata={},
    )
    same = pa.table({KEY: [1, 2], COL: ["x", None]})
    assert wh.merge("silver.u", same, keys=[KEY], metadata={}) is None  # nothing changed
    changed = pa.table({KEY: [2, 3], COL: ["y", "z"], NEW: [None, 5]})
    assert wh.merge("silver.u", changed, keys=[KEY], metadata={"run_id": "r2"}) == 1
    rows = sorted(wh.read("silver.u").to_pylist(), key=lambda r: r[KEY])
    assert rows == [
        {KEY: 1, COL: "x", NEW: None},
        {KEY: 2, COL: "y", NEW: None},
        {KEY: 3, COL: "z", NEW: 5},
    ]
    assert wh.history("silver.u", 1)[0].meta.run_id == "r2"
