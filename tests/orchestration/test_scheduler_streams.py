"""The stream supervisor's restart backoff: a stream that keeps dying is restarted after
1, 2, 4 ... seconds (at most a minute), not in a tight loop."""

from __future__ import annotations

import sys
import time

import assay
from assay.orchestration.streams import StreamSupervisor
from tests.conftest import MakeProject

STREAM = """
import assay

assay.folder_stream("bronze.clicks", path="incoming/*.jsonl", timestamp="event_time",
                    columns={"click_id": "BIGINT"})
"""


class Dying(StreamSupervisor):
    def command(self, name: str) -> list[str]:
        return [sys.executable, "-c", "raise SystemExit(3)"]


def test_a_dying_stream_is_restarted_with_growing_backoff(make_project: MakeProject) -> None:
    lines: list[str] = []
    supervisor = Dying(assay.Project(make_project({"pipelines/s.py": STREAM})), lines.append)
    assert supervisor.names == ["bronze.clicks"]
    child = supervisor.children["bronze.clicks"]
    delays = []
    for _ in range(3):
        supervisor.check()  # starts it
        assert child.process is not None
        child.process.wait(30)
        supervisor.check()  # sees the exit, schedules the restart
        delays.append(round(child.restart_at - time.monotonic()))
        child.restart_at = 0.0  # the test does not wait the backoff out
    assert delays == [1, 2, 4]
    assert sum("exited with code 3" in line for line in lines) == 3
    supervisor.stop()
