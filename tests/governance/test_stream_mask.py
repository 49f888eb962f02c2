"""Streams mask and drop at ingest like file sources: the table, its windows and its dead
letters never hold the clear value (checked against hashlib and hmac)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

import assay
from assay.errors import DefinitionError
from tests.conftest import MakeProject
from tests.streaming.test_folder_stream import event, write

KEY = "ab" * 32

PIPELINE = """
import assay
from assay import Aggregation, Entity

card = Entity("card", join_keys=["card_id"])
events = assay.folder_stream(
    "bronze.events", path="incoming/*.jsonl", timestamp="event_time", key="event_id",
    columns={"event_id": "BIGINT", "card_id": "BIGINT", "amount": "DOUBLE", "email": "VARCHAR"},
    mask={"card_id": "tokenize", "email": "hash"}, drop=["ip"],
    max_batch_rows=20, max_batch_seconds=0.2,
    windows=[assay.window("silver.card_10m", keys=["card_id"], window=assay.tumbling("10m"),
                          aggregations=[Aggregation(function="count")], entity=card)],
)
"""


def token(value: object) -> str:
    digest = hmac.new(bytes.fromhex(KEY), str(value).encode(), hashlib.sha256).hexdigest()
    return f"tok1_{digest[:32]}"


def test_a_stream_masks_its_table_windows_and_dead_letters(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_TOKEN_KEY", f"1:{KEY}")
    root: Path = make_project({"pipelines/events.py": PIPELINE})
    lines = [
        {**event(i, i, card=i % 3), "email": f"u{i}@example.com", "ip": f"10.0.0.{i}"}
        for i in range(40)
    ]
    bad = {**event(99, 1, card=7), "amount": "lots", "email": "leak@example.com"}
    write(root, "a.jsonl", [*lines, bad])
    project = assay.Project(root)
    stats = project.stream("bronze.events", until_idle=True)
    assert (stats.rows_in, stats.written, stats.dead_lettered) == (41, 40, 1)
    table = sorted(project.table("bronze.events").to_pylist(), key=lambda r: r["event_id"])
    assert [r["card_id"] for r in table] == [token(i % 3) for i in range(40)]
    assert [r["email"] for r in table] == [
        hashlib.sha256(f"u{i}@example.com".encode()).hexdigest() for i in range(40)
    ]
    assert "ip" not in project.table("bronze.events").column_names
    windows = project.table("silver.card_10m").to_pylist()
    assert {w["card_id"] for w in windows} == {token(c) for c in range(3)}
    assert sum(w["count"] for w in windows) == 30  # [30m, 40m) is still open
    (letter,) = project.table("deadletter.bronze_events").to_pylist()
    raw = json.loads(letter["raw_record"])
    assert raw["card_id"] == token(7) and "leak@" not in letter["raw_record"]
    commit = project.warehouse.last_commit("bronze.events")
    assert commit is not None and commit.metadata["tokens"]["key_version"] == 1


def test_a_window_summing_a_masked_column_is_refused(make_project: MakeProject) -> None:
    pipeline = PIPELINE.replace('Aggregation(function="count")', 'Aggregation("email", "max")')
    root = make_project({"pipelines/events.py": pipeline})
    with pytest.raises(
        DefinitionError, match=r"window silver\.card_10m uses masked column 'email'"
    ):
        assay.Project(root)
