"""Time intervals of incremental datasets: grains, alignment and set arithmetic.

Intervals are half-open `[start, end)` in naive UTC. Grains are calendar units: hours, days,
ISO weeks (Monday to Monday), calendar months, quarters and years, so a month is 28 to 31
days long and a year never becomes 365 daily intervals. Every function here is pure, so the
ledger logic can be property-tested against brute force.

Example:
    >>> from datetime import datetime
    >>> [str(i) for i in Grain.DAY.span(datetime(2026, 1, 1, 5), datetime(2026, 1, 3))]
    ['2026-01-01', '2026-01-02']
    >>> [str(i) for i in Grain.MONTH.covering(datetime(2026, 1, 31), datetime(2026, 3, 1))]
    ['2026-01', '2026-02', '2026-03']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

#: Months in one unit of each month-based grain.
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


class Grain(StrEnum):
    """The size of one interval: a calendar unit."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    def floor(self, moment: datetime | date) -> datetime:
        """The start of the interval that contains `moment`.

        Example:
            >>> Grain.WEEK.floor(datetime(2026, 1, 1, 12))  # a Thursday; ISO weeks start Monday
            datetime.datetime(2025, 12, 29, 0, 0)
            >>> Grain.QUARTER.floor(datetime(2026, 8, 15))
            datetime.datetime(2026, 7, 1, 0, 0)
        """
        moment = to_naive_utc(moment)
        if self is Grain.HOUR:
            return moment.replace(minute=0, second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self is Grain.DAY:
            return day
        if self is Grain.WEEK:
            return day - timedelta(days=day.weekday())
        months = _MONTHS[self.value]
        month0 = (day.month - 1) // months * months
        return day.replace(month=month0 + 1, day=1)

    def shift(self, start: datetime, units: int) -> datetime:
        """`start` (aligned) moved by `units` intervals, forwards or backwards.

        Example:
            >>> Grain.MONTH.shift(datetime(2026, 11, 1), 3)
            datetime.datetime(2027, 2, 1, 0, 0)
        """
        if self is Grain.HOUR:
            return start + timedelta(hours=units)
        if self is Grain.DAY:
            return start + timedelta(days=units)
        if self is Grain.WEEK:
            return start + timedelta(weeks=units)
        total = start.year * 12 + start.month - 1 + units * _MONTHS[self.value]
        return start.replace(year=total // 12, month=total % 12 + 1)

    def next(self, start: datetime) -> datetime:
        """The start of the interval after the one starting at `start`."""
        return self.shift(start, 1)

    def ceil(self, moment: datetime | date) -> datetime:
        """The end of the interval that contains `moment` (`moment` itself if aligned)."""
        floored = self.floor(moment)
        return floored if floored == to_naive_utc(moment) else self.next(floored)

    def span(self, start: datetime | date, end: datetime | date) -> list[Interval]:
        """All intervals sharing an instant with `[start, end)`, aligned to the grain."""
        cursor, stop = self.floor(start), to_naive_utc(end)
        if to_naive_utc(start) >= stop:
            return []
        out = []
        while cursor < stop:
            nxt = self.next(cursor)
            out.append(Interval(cursor, nxt))
            cursor = nxt
        return out

    def covering(self, low: datetime | date, high: datetime | date) -> list[Interval]:
        """The intervals holding every moment from `low` to `high`, both included.

        Data bounds are inclusive: a newest row at midnight (a DATE column) belongs to the
        interval that starts there, so that interval is part of the range.

        Example:
            >>> [str(i) for i in Grain.DAY.covering(date(2024, 1, 1), date(2024, 1, 3))]
            ['2024-01-01', '2024-01-02', '2024-01-03']
        """
        if to_naive_utc(high) < to_naive_utc(low):
            return []
        return self.span(low, self.next(self.floor(high)))


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open time range `[start, end)`."""

    start: datetime
    end: datetime

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """True when this interval shares any instant with `[start, end]` (inclusive end)."""
        return self.start <= end and start < self.end

    def contains(self, moment: datetime | date) -> bool:
        """True when `moment` falls in `[start, end)`."""
        return self.start <= to_naive_utc(moment) < self.end

    def __str__(self) -> str:
        return _label(self.start, self.end)

    def key(self) -> str:
        """A stable text form, used in commit metadata and the ledger."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    @classmethod
    def parse(cls, key: str) -> Interval:
        start, end = key.split("/")
        return cls(datetime.fromisoformat(start), datetime.fromisoformat(end))


def _label(start: datetime, end: datetime) -> str:
    """A short name for a whole calendar unit (`2026-01-02`, `2026-W01`, `2026-01`,
    `2026-Q1`, `2026`); a range otherwise."""
    for grain in (Grain.DAY, Grain.WEEK, Grain.MONTH, Grain.QUARTER, Grain.YEAR):
        if grain.floor(start) == start and grain.next(start) == end:
            if grain is Grain.DAY:
                return start.date().isoformat()
            if grain is Grain.WEEK:
                year, week, _ = start.isocalendar()
                return f"{year}-W{week:02d}"
            if grain is Grain.MONTH:
                return f"{start.year}-{start.month:02d}"
            if grain is Grain.QUARTER:
                return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
            return str(start.year)
    return f"{start.isoformat(' ')}..{end.isoformat(' ')}"


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (how assay stores every timestamp)."""
    return datetime.now(UTC).replace(tzinfo=None)


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


def describe(intervals: Iterable[Interval], limit: int = 3) -> str:
    """Intervals as a few contiguous ranges, for messages.

    Example:
        >>> days = Grain.DAY.span(datetime(2024, 1, 1), datetime(2024, 1, 3))
        >>> describe(days + Grain.DAY.span(datetime(2024, 2, 1), datetime(2024, 2, 2)))
        '2024-01-01..2024-01-03, 2024-02-01'
    """
    groups = list(group_contiguous(intervals))
    shown = ", ".join(_range_label(lo, hi) for lo, hi in groups[:limit])
    extra = len(groups) - limit
    return shown + (f" and {extra} more range(s)" if extra > 0 else "")


def _range_label(start: datetime, end: datetime) -> str:
    label = _label(start, end)
    if ".." not in label:
        return label
    if start.time() == end.time() == datetime.min.time():
        return f"{start.date()}..{end.date()}"
    return label
