"""Fenced commits: a writer whose partition another writer has moved on (a zombie: paused,
then resumed) commits nothing of it, whether the move happened before its check or
between its check and its commit, and a table's recorded offsets never move backwards."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import assay
from assay.streaming.readers import records_table
from assay.streaming.runner import StreamRunner
from tests.conftest import MakeProject

T0 = datetime(2026, 3, 1, 12)
PIPELINE = """
import assay

events = assay.folder_stream(
    "bronze.events", path="incoming/*.jsonl", timestamp="event_time", key="event_id",
    columns={"event_id": "BIGINT", "amount": "DOUBLE"},
)
"""


def records(partition: str, offsets: range, poison: set[int] = frozenset()) -> pa.Table:  # type: ignore[assignment]
    values = [
        b"{not json"
        if i in poison
        else json.dumps(
            {"event_id": i, "amount": 1.0, "event_time": (T0 + timedelta(seconds=i)).isoformat()}
        ).encode()
        for i in offsets
    ]
    n = len(values)
    return records_table([partition] * n, list(offsets), [None] * n, values)


@pytest.fixture
def project(make_project: MakeProject) -> assay.Project:
    return assay.Project(make_project({"pipelines/events.py": PIPELINE}))


def runner(project: assay.Project) -> StreamRunner:
    return StreamRunner(project.runtime, project.dag["bronze.events"])


def ids(project: assay.Project) -> list[int]:
    return sorted(project.sql("SELECT event_id FROM bronze.events")["event_id"].to_pylist())


def recorded_history(project: assay.Project, app: str) -> list[int]:
    """The offset the table recorded for `app` at each version, oldest first."""
    wh = project.warehouse
    out = []
    for version in range(wh.version("bronze.events") + 1):  # type: ignore[operator]
        value = wh.transaction_version("bronze.events", app, version)
        if value is not None:
            out.append(value)
    return out


def test_a_zombie_whose_partition_moved_on_before_its_check_commits_nothing(
    project: assay.Project,
) -> None:
    healthy, zombie = runner(project), runner(project)
    # Both read partition p after "nothing recorded"; the healthy one commits first.
    assert healthy.process(records("p", range(1, 11)), {"p": None}).written == 10
    stale = zombie.process(records("p", range(1, 16)), {"p": None})
    assert (stale.written, stale.rows_in, stale.version) == (0, 0, None)
    assert stale.fenced == {"p": 10} and stale.committed == {}
    assert ids(project) == list(range(1, 11))
    # Its records after the healthy one's (11-15) are not written either: the owner
    # reads them; the zombie, rewound to 10, may take them only as 10's successor.
    again = zombie.process(records("p", range(11, 16)), {"p": 10})
    assert (again.written, again.fenced, again.committed) == (5, {}, {"p": 15})
    assert ids(project) == list(range(1, 16))
    assert recorded_history(project, "file:p") == sorted(recorded_history(project, "file:p"))


def test_a_commit_made_between_the_check_and_the_commit_fences_the_zombie(
    project: assay.Project,
) -> None:
    healthy, zombie = runner(project), runner(project)
    healthy.process(records("p", range(1, 5)), {"p": None})
    healthy.process(records("q", range(1, 3)), {"q": None})
    split = zombie.validator.split

    def paused_after_the_check(batch: pa.Table) -> Any:
        # While the zombie is "stopped" after reading the snapshot, the healthy writer
        # takes p over and commits past it.
        healthy.process(records("p", range(5, 30)), {"p": 4})
        return split(batch)

    zombie.validator.split = paused_after_the_check  # type: ignore[method-assign]
    # The zombie's batch: p after 4 (moved on meanwhile) and q after 2 (still its own).
    batch = pa.concat_tables([records("p", range(5, 12)), records("q", range(3, 6))])
    stats = zombie.process(batch, {"p": 4, "q": 2})
    assert stats.fenced == {"p": 29}
    assert (stats.rows_in, stats.written, stats.committed) == (3, 3, {"q": 5})
    wh = project.warehouse
    assert wh.transaction_version("bronze.events", "file:p") == 29
    assert wh.transaction_version("bronze.events", "file:q") == 5
    got = project.sql(
        "SELECT _partition, count(*) AS n, count(DISTINCT _offset) AS u FROM bronze.events "
        "GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    assert got == [{"_partition": "p", "n": 29, "u": 29}, {"_partition": "q", "n": 5, "u": 5}]
    assert recorded_history(project, "file:p") == sorted(recorded_history(project, "file:p"))


def test_dead_letters_of_a_fenced_batch_are_not_stored_twice_nor_recorded_backwards(
    project: assay.Project,
) -> None:
    healthy, zombie = runner(project), runner(project)
    split = zombie.validator.split

    def paused_after_the_check(batch: pa.Table) -> Any:
        # The owner commits p up to 20 (its dead letters 3 and 15 too) while the zombie
        # holds p up to 8 (dead letter 3).
        healthy.process(records("p", range(1, 21), poison={3, 15}), {"p": None})
        return split(batch)

    zombie.validator.split = paused_after_the_check  # type: ignore[method-assign]
    stats = zombie.process(records("p", range(1, 9), poison={3}), {"p": None})
    assert stats.fenced == {"p": 20} and stats.written == 0
    dead = project.sql("SELECT _offset FROM deadletter.bronze_events ORDER BY 1")
    assert dead["_offset"].to_pylist() == [3, 15]
    wh = project.warehouse
    assert wh.transaction_version("deadletter.bronze_events", "file:p") == 20
    assert ids(project) == [i for i in range(1, 21) if i not in (3, 15)]


def test_a_zombie_that_commits_its_dead_letters_first_leaves_the_successor_none_to_repeat(
    project: assay.Project,
) -> None:
    healthy, zombie = runner(project), runner(project)
    commit_rows = zombie._commit_rows

    def paused_after_its_dead_letters(*args: Any) -> Any:
        healthy.process(records("p", range(1, 6), poison={3}), {"p": None})
        return commit_rows(*args)

    zombie._commit_rows = paused_after_its_dead_letters  # type: ignore[method-assign]
    stats = zombie.process(records("p", range(1, 11), poison={3, 9}), {"p": None})
    assert stats.fenced == {"p": 5} and stats.written == 0
    # The owner goes on from 5: the dead letter 9 the zombie stored is not stored again.
    healthy.process(records("p", range(6, 13), poison={9}), {"p": 5})
    dead = project.sql("SELECT _offset FROM deadletter.bronze_events ORDER BY 1")
    assert dead["_offset"].to_pylist() == [3, 9]
    # Recorded by the zombie's dead-letter commit (its batch ran to 10); the owner's batch
    # had no new dead letter, so nothing recorded less.
    assert project.warehouse.transaction_version("deadletter.bronze_events", "file:p") == 10
    assert ids(project) == [i for i in range(1, 13) if i not in (3, 9)]


def test_the_first_batches_of_two_writers_race_to_create_the_table(
    project: assay.Project, tmp_path: Path
) -> None:
    first, second = runner(project), runner(project)
    split = second.validator.split

    def created_meanwhile(batch: pa.Table) -> Any:
        first.process(records("p", range(1, 4)), {"p": None})
        return split(batch)

    second.validator.split = created_meanwhile  # type: ignore[method-assign]
    stats = second.process(records("p", range(1, 6)), {"p": None})
    assert stats.fenced == {"p": 3} and stats.written == 0
    assert ids(project) == [1, 2, 3]
