"""Quarantine replay is idempotent whatever ran between a crash and the next replay.

Before: a replay killed between its data commit and its quarantine rewrite was recognised
only while its commit was the table's last one; a run in between made the next replay
append the same rows again (4,433 duplicates on a 450k-row project).
"""

from __future__ import annotations

from collections import Counter

import pytest

import assay
from assay.tables import Warehouse
from tests.conftest import MakeProject
from tests.contracts.test_contract_runs import contract, project
from tests.helpers import event, jsonl, write_files


def crash_before_the_quarantine_rewrite(root: object, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Warehouse.write

    def crash(self: Warehouse, name: str, *args: object, **kw: object) -> int:
        if name.startswith("quarantine."):
            raise KeyboardInterrupt("killed")
        return original(self, name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Warehouse, "write", crash)
    with pytest.raises(KeyboardInterrupt):
        assay.Project(root).replay_quarantine("silver.events")  # type: ignore[arg-type]
    monkeypatch.setattr(Warehouse, "write", original)


def test_a_run_between_a_crashed_replay_and_the_next_one_duplicates_nothing(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = project(make_project, contract())
    assert p.run().ok  # amounts 5, 50, 500, -1, 7, 8: 500 and -1 quarantined
    (p.root / "contracts" / "events.yaml").write_text(contract(max_amount=1000))
    crash_before_the_quarantine_rewrite(p.root, monkeypatch)
    # 500 is in the table now, and still in the quarantine; another run commits meanwhile
    write_files(p.root, {"data/events/b.jsonl": jsonl([event(9, 1, 9.0, "2026-01-03 10:00:00")])})
    assert assay.Project(p.root).run().ok
    assert p.warehouse.last_commit("silver.events").metadata.get("replay_of") is None

    outcome = assay.Project(p.root).replay_quarantine("silver.events")
    assert (outcome.replayed, outcome.remaining) == (1, 1)
    ids = Counter(p.table("silver.events")["event_id"].to_pylist())
    assert max(ids.values()) == 1, ids
    assert sorted(p.table("silver.events")["amount"].to_pylist()) == [5, 7, 8, 9, 50, 500]
    assert p.table("quarantine.silver_events")["rule"].to_pylist() == ["minimum(amount)"]
    # and again: nothing left to do, nothing duplicated
    assert assay.Project(p.root).replay_quarantine("silver.events").replayed == 0
    assert p.table("silver.events").num_rows == 6


def test_a_row_quarantined_again_after_a_replay_is_replayed_again(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crashed replay's rows are removed from the quarantine only if they were there
    before it: the same row quarantined later (its file re-read) is new and stays."""
    p = project(make_project, contract())
    assert p.run().ok
    (p.root / "contracts" / "events.yaml").write_text(contract(max_amount=1000))
    crash_before_the_quarantine_rewrite(p.root, monkeypatch)
    (p.root / "contracts" / "events.yaml").write_text(contract())  # tightened again
    # the interval is rebuilt: 500 leaves the table and is quarantined anew
    restated = assay.Project(p.root).backfill(
        "silver.events", "2026-01-01", "2026-01-03", restate=True
    )
    assert restated.ok
    assert 500 not in p.table("silver.events")["amount"].to_pylist()
    (p.root / "contracts" / "events.yaml").write_text(contract(max_amount=1000))
    outcome = assay.Project(p.root).replay_quarantine("silver.events")
    assert outcome.replayed == 1
    assert sorted(p.table("silver.events")["amount"].to_pylist()) == [5, 7, 8, 50, 500]
