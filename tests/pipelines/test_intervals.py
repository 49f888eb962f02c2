"""Interval arithmetic against brute force (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from assay.intervals import Grain, Interval, group_contiguous, missing, to_naive_utc

grains = st.sampled_from(list(Grain))
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1))
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: timedelta(minutes=m))
TICK = timedelta(microseconds=1)


def cell(grain: Grain, moment: datetime) -> tuple[int, ...]:
    """Which calendar unit holds `moment`, computed without assay (the oracle)."""
    if grain is Grain.HOUR:
        return (moment.year, moment.month, moment.day, moment.hour)
    if grain is Grain.DAY:
        return (moment.year, moment.month, moment.day)
    if grain is Grain.WEEK:
        year, week, _ = moment.isocalendar()
        return (year, week)
    if grain is Grain.MONTH:
        return (moment.year, moment.month)
    if grain is Grain.QUARTER:
        return (moment.year, (moment.month - 1) // 3)
    return (moment.year,)


def walk(grain: Grain, start: datetime, end: datetime) -> list[datetime]:
    """Moments from start to end, fine enough that no unit of `grain` is skipped."""
    step = timedelta(minutes=30) if grain is Grain.HOUR else timedelta(hours=12)
    out, cursor = [], start
    while cursor < end:
        out.append(cursor)
        cursor += step
    return [*out, end - TICK] if end > start else out


@given(grains, moments)
def test_floor_is_the_first_instant_of_the_moments_unit(grain: Grain, moment: datetime) -> None:
    low, high, nxt = grain.floor(moment), grain.ceil(moment), grain.next(grain.floor(moment))
    assert low <= moment < nxt
    assert cell(grain, low) == cell(grain, moment) == cell(grain, nxt - TICK)
    assert cell(grain, low - TICK) != cell(grain, low)
    assert cell(grain, nxt) != cell(grain, moment)
    assert high == (moment if low == moment else nxt)
    assert grain.floor(low) == low and grain.floor(nxt) == nxt


@given(grains, moments, st.integers(min_value=-30, max_value=30))
def test_shift_moves_by_whole_units_and_back(grain: Grain, moment: datetime, units: int) -> None:
    start = grain.floor(moment)
    moved = grain.shift(start, units)
    assert grain.floor(moved) == moved
    assert grain.shift(moved, -units) == start
    walked = start
    for _ in range(abs(units)):
        walked = grain.next(walked) if units > 0 else grain.floor(walked - TICK)
    assert walked == moved


@given(grains, moments, offsets)
def test_floor_of_an_aware_moment_is_taken_in_utc(grain: Grain, moment: datetime, off) -> None:
    aware = moment.replace(tzinfo=UTC).astimezone(timezone(off))
    assert grain.floor(aware) == grain.floor(moment)
    assert grain.floor(aware).tzinfo is None


@given(grains, moments, st.integers(min_value=1, max_value=900 * 24 * 3600))
def test_span_covers_the_range_exactly(grain: Grain, start: datetime, seconds: int) -> None:
    end = start + timedelta(seconds=seconds)
    if grain in (Grain.HOUR, Grain.DAY):
        end = min(end, start + timedelta(days=20))
    spans = grain.span(start, end)
    # one interval per calendar unit the range touches, in order, contiguous
    assert [cell(grain, i.start) for i in spans] == list(
        dict.fromkeys(cell(grain, m) for m in walk(grain, start, end))
    )
    for interval in spans:
        assert grain.floor(interval.start) == interval.start
        assert interval.end == grain.next(interval.start)
    for a, b in pairwise(spans):
        assert a.end == b.start
    assert spans[0].start == grain.floor(start) <= start
    assert spans[-1].end == grain.ceil(end) >= end


@given(grains, moments, st.integers(min_value=0, max_value=400 * 24 * 3600))
def test_covering_holds_both_bounds(grain: Grain, low: datetime, seconds: int) -> None:
    """Data bounds are inclusive: the newest row's unit is covered even at its first instant
    (the newest day of a DATE column)."""
    for high in (low + timedelta(seconds=seconds), grain.floor(low + timedelta(seconds=seconds))):
        if high < low:
            continue
        covered = grain.covering(low, high)
        assert any(i.contains(low) for i in covered)
        assert any(i.contains(high) for i in covered)
        assert covered == grain.span(low, grain.next(grain.floor(high)))


@given(grains, moments, st.integers(min_value=0, max_value=3 * 24 * 3600))
def test_span_of_an_empty_or_reversed_range_is_empty(grain: Grain, end: datetime, back: int):
    start = end + timedelta(seconds=back)  # start >= end: [start, end) holds no instant
    assert grain.span(start, end) == []


def test_span_examples() -> None:
    assert [str(i) for i in Grain.DAY.span(datetime(2026, 1, 1, 5), datetime(2026, 1, 3))] == [
        "2026-01-01",
        "2026-01-02",
    ]
    hours = Grain.HOUR.span(datetime(2026, 3, 1, 22, 30), datetime(2026, 3, 2, 1, 0, 1))
    assert [i.start.hour for i in hours] == [22, 23, 0, 1]
    assert Grain.DAY.span(datetime(2026, 1, 1), datetime(2026, 1, 1)) == []
    # 2026-01-01 is a Thursday: its ISO week 2026-W01 starts on Monday 2025-12-29
    weeks = Grain.WEEK.covering(datetime(2026, 1, 1), datetime(2026, 1, 5))
    assert [str(w) for w in weeks] == ["2026-W01", "2026-W02"]
    assert weeks[0].start == datetime(2025, 12, 29)
    months = Grain.MONTH.span(datetime(2024, 1, 31), datetime(2024, 3, 1))
    assert [(str(m), (m.end - m.start).days) for m in months] == [("2024-01", 31), ("2024-02", 29)]
    assert [str(q) for q in Grain.QUARTER.covering(date(2023, 11, 5), date(2024, 4, 1))] == [
        "2023-Q4",
        "2024-Q1",
        "2024-Q2",
    ]
    # 25 years of yearly data are 25 intervals, not 9,000 days
    assert len(Grain.YEAR.covering(date(2000, 1, 1), date(2024, 1, 1))) == 25


def test_a_dates_newest_day_is_covered() -> None:
    """The defect: rows on 2024-01-01..03 as DATEs gave two intervals, losing the third day."""
    days = Grain.DAY.covering(date(2024, 1, 1), date(2024, 1, 3))
    assert [str(d) for d in days] == ["2024-01-01", "2024-01-02", "2024-01-03"]


interval_sets = st.builds(
    lambda grain, start, picks: (grain, start, picks),
    grains,
    moments,
    st.lists(st.integers(min_value=0, max_value=60), max_size=40),
)


def cells(grain: Grain, start: datetime, picks: list[int]) -> list[Interval]:
    base = grain.floor(start)
    return [Interval(grain.shift(base, i), grain.shift(base, i + 1)) for i in picks]


@given(interval_sets, st.lists(st.integers(min_value=0, max_value=60), max_size=40))
def test_missing_is_wanted_minus_done_in_time_order(case, done_picks: list[int]) -> None:
    grain, start, wanted_picks = case
    wanted = cells(grain, start, wanted_picks)
    done = cells(grain, start, done_picks)
    expected = sorted(w for w in wanted if w not in done)
    assert missing(wanted, done) == expected
    assert missing(wanted, []) == sorted(wanted)
    assert missing(wanted, wanted) == []


@given(interval_sets)
def test_group_contiguous_round_trips(case) -> None:
    grain, start, picks = case
    intervals = set(cells(grain, start, picks))
    groups = list(group_contiguous(intervals))
    # maximal: groups are in order, disjoint and never touch
    for (_, end_a), (start_b, _) in pairwise(groups):
        assert end_a < start_b
    expanded = [iv for lo, hi in groups for iv in grain.span(lo, hi)]
    assert expanded == sorted(intervals)
    assert len(groups) == sum(
        1 for i in intervals if Interval(grain.shift(i.start, -1), i.start) not in intervals
    )


@given(grains, moments)
def test_interval_key_round_trips(grain: Grain, moment: datetime) -> None:
    interval = Interval(grain.floor(moment), grain.next(grain.floor(moment)))
    assert Interval.parse(interval.key()) == interval


def test_interval_text_and_overlap() -> None:
    day = Interval(datetime(2026, 1, 2), datetime(2026, 1, 3))
    assert str(day) == "2026-01-02"
    assert str(Interval(datetime(2026, 1, 2, 5), datetime(2026, 1, 2, 6))) == (
        "2026-01-02 05:00:00..2026-01-02 06:00:00"
    )
    assert day.overlaps(datetime(2026, 1, 1), datetime(2026, 1, 2))  # inclusive end
    assert not day.overlaps(datetime(2026, 1, 3), datetime(2026, 1, 4))


def test_to_naive_utc() -> None:
    assert to_naive_utc(datetime(2026, 1, 1).date()) == datetime(2026, 1, 1)
    aware = datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert to_naive_utc(aware) == datetime(2025, 12, 31, 23, 30)
