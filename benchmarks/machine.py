"""How busy the machine is, for benchmarks that must not measure during someone else's work:
whole-machine CPU from /proc/stat, the share other processes used, and a wait for quiet."""

from __future__ import annotations

import os
import time
from pathlib import Path

#: Other processes may use at most this share of the machine's CPU while a side is measured.
IDLE_SHARE = 0.10


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - ticks[3] - ticks[4]) / hz, sum(ticks) / hz


def other_share(before: tuple[float, float], own_cpu: float) -> float:
    """Share of the machine's CPU since `before` not used by our own processes."""
    busy, total = machine_cpu()
    return max(0.0, (busy - before[0] - own_cpu) / max(total - before[1], 1e-9))


def wait_for_idle(limit: float) -> None:
    """Wait (up to `limit` s) until other processes use under IDLE_SHARE of the machine, so
    a measured step does not start in the middle of someone else's test run."""
    deadline, said = time.monotonic() + limit, False
    while time.monotonic() < deadline:
        before = machine_cpu()
        time.sleep(2)
        if other_share(before, 0.0) < IDLE_SHARE:
            return
        if not said:
            print(f"  waiting (up to {limit:.0f} s) for the machine to be idle ...", flush=True)
            said = True
    print("  the machine is still busy; measuring anyway", flush=True)


def self_cpu() -> float:
    """CPU seconds of this process so far."""
    t = os.times()
    return t.user + t.system
