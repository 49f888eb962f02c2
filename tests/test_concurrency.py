"""Two `assay run` processes on one project: one waits or fails clearly; nothing corrupts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import assay
from assay.errors import LockedError
from tests.conftest import MakeProject
from tests.helpers import (
    EVENTS_PIPELINES,
    base_env,
    copy_project,
    event,
    jsonl,
    versions,
    warehouse_checksums,
)

HOLD_LOCK = """
import sys, time
from pathlib import Path
from assay.lock import project_lock
with project_lock(Path(sys.argv[1]), 0):
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes our stdin
"""

RUN = """
import json, sys, assay
result = assay.Project(sys.argv[1]).run()
print(json.dumps({"ok": result.ok, "commits": result.commits}))
"""


def events_project(make_project: MakeProject, lock_timeout: float) -> Path:
    data = {
        f"data/events/day{d}.jsonl": jsonl(
            event(d * 100 + k, k % 7, float(k), f"2026-01-{d:02d} {k % 24:02d}:00:00")
            for k in range(200)
        )
        for d in range(1, 6)
    }
    return make_project({**EVENTS_PIPELINES, **data}, {"lock_timeout": lock_timeout})


def test_second_run_fails_clearly_while_the_lock_is_held(make_project: MakeProject) -> None:
    root = events_project(make_project, lock_timeout=0)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(root / ".assay")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=base_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        project = assay.Project(root)

        with pytest.raises(LockedError) as info:
            project.run()

        message = str(info.value)
        assert "another assay process" in message
        assert f"pid {holder.pid}" in message
        assert "lock_timeout" in message  # the hint says what to do
        assert project.warehouse.list_tables() == []
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert holder.returncode == 0
    # once the holder is gone, the lock is free again
    assert assay.Project(root).run().ok


def test_lock_is_released_when_the_holder_is_killed(make_project: MakeProject) -> None:
    root = events_project(make_project, lock_timeout=0)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(root / ".assay")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=base_env(),
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait(timeout=30)

    assert assay.Project(root).run().ok


def test_concurrent_runs_both_complete_with_a_single_runs_result(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = events_project(make_project, lock_timeout=120)
    single = assay.Project(copy_project(root, tmp_path / "single"))
    single_result = single.run()
    assert single_result.ok

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RUN, str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=base_env(),
        )
        for _ in range(2)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    assert all(o["ok"] for o in outputs)
    # one did all the work, the other found nothing left to do
    assert sorted(o["commits"] for o in outputs) == [0, single_result.commits]
    project = assay.Project(root)
    assert warehouse_checksums(project) == warehouse_checksums(single)
    assert versions(project) == versions(single)
    assert project.run().commits == 0
