"""What a scheduler tick found due and did, and its one log line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Ran:
    """One run a tick made: the dataset, why it was due, and the outcome."""

    dataset: str
    why: str
    outcome: str = "ok"  # ok | up to date | failed | waiting for lock
    seconds: float = 0.0
    error: str | None = None
    run_id: str | None = None


@dataclass
class TickReport:
    """What one tick found due and did.

    Example:
        >>> report = TickReport(datetime(2026, 1, 2, 5), [Ran("silver.x", "cron 05:00")])
        >>> report.line().split(" | ")[:3]
        ['tick 2026-01-02 05:00:00', 'due: 1', 'silver.x (cron 05:00): ok 0.0s']
    """

    at: datetime
    ran: list[Ran] = field(default_factory=list)
    skipped: dict[str, list[datetime]] = field(default_factory=dict)
    next_due: datetime | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[Ran]:
        return [r for r in self.ran if r.outcome == "failed"]

    def line(self) -> str:
        """The tick's one log line."""
        ran = "; ".join(f"{r.dataset} ({r.why}): {r.outcome} {r.seconds:.1f}s" for r in self.ran)
        nxt = f"{self.next_due:%Y-%m-%d %H:%M}" if self.next_due else "on sensors only"
        return (
            f"tick {self.at:%Y-%m-%d %H:%M:%S} | due: {len(self.ran)} | "
            f"{ran or 'nothing due'} | {self.seconds:.2f}s | next cron tick: {nxt}"
        )
