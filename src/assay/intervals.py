"""Time intervals of incremental datasets: grains, alignment and set arithmetic.

Intervals are half-open `[start, end)` in naive UTC. Every function here is pure, so the
ledger logic can be property-tested against brute force.

Example:
    >>> from datetime import datetime
    >>> [str(i) for i in Grain.DAY.span(datetime(2026, 1, 1, 5), datetime(2026, 1, 3))]
    ['2026-01-01', '2026-01-02']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum


class Grain(StrEnum):
    """The size of one interval."""

    HOUR = "hour"
    DAY = "day"

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self is Grain.HOUR else timedelta(days=1)

    def floor(self, moment: datetime) -> datetime:
        """The start of the interval that contains `moment`."""
        moment = to_naive_utc(moment)
        if self is Grain.HOUR:
            return moment.replace(minute=0, second=0, microsecond=0)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)

    def ceil(self, moment: datetime) -> datetime:
        """The end of the interval that contains `moment` (`moment` itself if aligned)."""
        floored = self.floor(moment)
        return floored if floored == to_naive_utc(moment) else floored + self.step

    def span(self, start: datetime, end: datetime) -> list[Interval]:
        """All intervals overlapping `[start, end)`, aligned to the grain."""
        cursor, stop = self.floor(start), to_naive_utc(end)
        if to_naive_utc(start) >= stop:
            return []
        out = []
        while cursor < stop:
            out.append(Interval(cursor, cursor + self.step))
            cursor += self.step
        return out


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open time range `[start, end)`."""

    start: datetime
    end: datetime

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """True when this interval shares any instant with `[start, end]` (inclusive end)."""
        return self.start <= end and start < self.end

    def __str__(self) -> str:
        if self.end - self.start == timedelta(days=1) and self.start.hour == 0:
            return self.start.date().isoformat()
        return f"{self.start.isoformat(' ')}..{self.end.isoformat(' ')}"

    def key(self) -> str:
        """A stable text form, used in commit metadata and the ledger."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    @classmethod
    def parse(cls, key: str) -> Interval:
        start, end = key.split("/")
        return cls(datetime.fromisoformat(start), datetime.fromisoformat(end))


def to_naive_utc(moment: datetime | date) -> datetime:
    """Normalize a date or datetime (aware or naive) to a naive UTC datetime."""
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def missing(wanted: Iterable[Interval], done: Iterable[Interval]) -> list[Interval]:
    """The wanted intervals not in `done`, in time order."""
    done_set = set(done)
    return sorted(i for i in wanted if i not in done_set)


def group_contiguous(intervals: Iterable[Interval]) -> Iterator[tuple[datetime, datetime]]:
    """Merge sorted intervals into maximal contiguous `(start, end)` ranges, for display."""
    current: tuple[datetime, datetime] | None = None
    for interval in sorted(intervals):
        if current and current[1] == interval.start:
            current = (current[0], interval.end)
            continue
        if current:
            yield current
        current = (interval.start, interval.end)
    if current:
        yield current
