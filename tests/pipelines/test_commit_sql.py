"""SQL the committer and file reader build from column names: any name works, and the
checksum of a table is the one older versions recorded (else every full table would be
rewritten once after an upgrade)."""

from __future__ import annotations

import pyarrow as pa

from assay.engines import get_engine
from assay.pipelines.commit import content_hash
from assay.pipelines.files import parse_jsonl
from assay.tables import Warehouse

ODD = ['a"b', "it's", "select", "x; DROP TABLE t; --"]


def test_content_hash_is_the_checksum_older_versions_recorded(tmp_path):
    engine = get_engine("duckdb", Warehouse(str(tmp_path)))
    table = pa.table({"id": [1, 2, 3], "name": ["a", None, "c"]})
    rows, total = (
        engine.query(
            'SELECT count(*), coalesce(sum(hash("id", "name")::HUGEINT), 0)::VARCHAR FROM t',
            {"t": table},
        )
        .to_pylist()[0]
        .values()
    )
    assert content_hash(engine, table).startswith(f"{rows}:{total}:")


def test_content_hash_takes_any_column_name(tmp_path):
    engine = get_engine("duckdb", Warehouse(str(tmp_path)))
    table = pa.table({name: [i] for i, name in enumerate(ODD)})
    shuffled = table.select(list(reversed(ODD)))
    assert content_hash(engine, table).split(":")[0] == "1"
    assert content_hash(engine, table) != content_hash(engine, shuffled)  # the shape differs


def test_json_keys_with_quotes_become_columns(tmp_path):
    engine = get_engine("duckdb", Warehouse(str(tmp_path)))
    line = '{"a\\"b": 1, "it\'s": "x", "select": true}'
    lines = pa.table({"_source_file": ["f.jsonl"], "_line": [1], "_raw": [line]})
    batch = parse_jsonl(engine, lines)
    assert list(batch.observed) == ['a"b', "it's", "select"]
    parsed = engine.query(batch.source_sql, {"batch": batch.table}).to_pylist()
    assert [{k: parsed[0][k] for k in batch.observed}] == [
        {'a"b': "1", "it's": "x", "select": "true"}
    ]
