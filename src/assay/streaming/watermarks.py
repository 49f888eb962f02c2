"""Event-time progress of a stream, per source partition.

Each partition's mark is the latest event time read from it. The stream's frontier is
the minimum of the marks over the partitions being read that are not idle (Flink's and
Kafka Streams' rule), and it never goes back. So a partition read behind the others (a
backlog, a restart, a rebalance) holds the frontier back instead of having its on-time
events classed late, and the same input gives the same frontier whatever the batching:
within a partition whose events are in time order (or out of order by at most the
allowed lateness), no event is ever behind the frontier when it is read.

A partition being read with nothing new for `idle_timeout` seconds stops holding the
frontier back (else one quiet partition would stop every window from closing); its next
event counts again, and may then be late.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: The one partition of a source whose events are read as one sequence (a folder).
ONE = ""


class PartitionWatermarks:
    """Per-partition marks (microseconds since the epoch) and the frontier over them.

    Example:
        >>> marks = PartitionWatermarks(idle_timeout=None)
        >>> marks.expect(["0", "1"])
        >>> marks.observe({"0": 50}) is None  # partition 1 has not been read yet
        True
        >>> marks.observe({"1": 20}), marks.observe({"0": 90, "1": 40})
        (20, 40)
    """

    def __init__(self, idle_timeout: float | None, clock: Callable[[], float] = time.monotonic):
        self.idle_timeout = idle_timeout
        self.clock = clock
        #: Latest event time read per partition.
        self.marks: dict[str, int] = {}
        #: Partitions being read (with a mark or not yet).
        self.expected: set[str] = set()
        #: When each partition last brought an event (or began to be read).
        self.last_seen: dict[str, float] = {}
        self.frontier: int | None = None

    def expect(self, partitions: Iterable[str]) -> None:
        """Partitions being read now: until each has brought an event (or gone idle),
        the frontier waits for it."""
        now = self.clock()
        for p in partitions:
            if p not in self.expected:
                self.expected.add(p)
                self.last_seen.setdefault(p, now)

    def observe(self, newest: Mapping[str, int]) -> int | None:
        """Fold in a batch's latest event time per partition; return the frontier."""
        now = self.clock()
        for p, t in newest.items():
            self.marks[p] = max(self.marks.get(p, t), t)
            self.last_seen[p] = now
            self.expected.add(p)
        active = [p for p in self.expected if not self._idle(p, now)]
        if not active or any(p not in self.marks for p in active):
            return self.frontier  # all idle, or one not read yet: no progress
        candidate = min(self.marks[p] for p in active)
        if self.frontier is None or candidate > self.frontier:
            self.frontier = candidate
        return self.frontier

    def _idle(self, partition: str, now: float) -> bool:
        if self.idle_timeout is None:
            return False
        return now - self.last_seen.get(partition, now) > self.idle_timeout

    # -- persisted with each window commit, so a restart continues exactly ---------------

    def state(self) -> dict[str, Any]:
        return {"marks": dict(self.marks), "frontier": self.frontier}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from a saved `state()`: every partition counts again (idle clocks
        restart), and the frontier stays where it was."""
        now = self.clock()
        self.marks = {str(p): int(t) for p, t in (state.get("marks") or {}).items()}
        self.expected = set(self.marks)
        self.last_seen = dict.fromkeys(self.marks, now)
        frontier = state.get("frontier")
        self.frontier = None if frontier is None else int(frontier)
