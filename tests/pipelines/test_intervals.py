"""Interval arithmetic against brute force (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from assay.intervals import Grain, Interval, group_contiguous, missing, to_naive_utc

grains = st.sampled_from([Grain.HOUR, Grain.DAY])
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1))
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: timedelta(minutes=m))


def aligned(grain: Grain, moment: datetime) -> bool:
    if grain is Grain.HOUR:
        return (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def brute_span(grain: Grain, start: datetime, end: datetime) -> list[Interval]:
    """Walk the whole grid from a fixed epoch; keep cells sharing an instant with [start, end)."""
    cell = datetime(start.year - 1, 12, 31)
    out = []
    while cell < end:
        nxt = cell + grain.step
        if cell < end and start < nxt:
            out.append(Interval(cell, nxt))
        cell = nxt
    return out


@given(grains, moments)
def test_floor_and_ceil_bracket_the_moment(grain: Grain, moment: datetime) -> None:
    low, high = grain.floor(moment), grain.ceil(moment)
    assert aligned(grain, low) and aligned(grain, high)
    assert low <= moment < low + grain.step
    assert moment <= high < moment + grain.step
    assert (high == moment) == aligned(grain, moment)
    assert (low == high) == aligned(grain, moment)


@given(grains, moments, offsets)
def test_floor_of_an_aware_moment_is_taken_in_utc(grain: Grain, moment: datetime, off) -> None:
    aware = moment.replace(tzinfo=UTC).astimezone(timezone(off))
    assert grain.floor(aware) == grain.floor(moment)
    assert grain.floor(aware).tzinfo is None


@given(grains, moments, st.integers(min_value=1, max_value=4 * 24 * 3600))
def test_span_covers_the_range_exactly(grain: Grain, start: datetime, seconds: int) -> None:
    end = start + timedelta(seconds=seconds)
    spans = grain.span(start, end)
    assert spans == brute_span(grain, start, end)
    # aligned, one step long, contiguous and non-overlapping
    for interval in spans:
        assert aligned(grain, interval.start)
        assert interval.end - interval.start == grain.step
    for a, b in pairwise(spans):
        assert a.end == b.start
    # the union is [floor(start), ceil(end)) and so covers [start, end)
    assert spans[0].start == grain.floor(start) <= start
    assert spans[-1].end == grain.ceil(end) >= end
    assert len(spans) == (grain.ceil(end) - grain.floor(start)) // grain.step


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


interval_sets = st.builds(
    lambda grain, start, picks: (grain, start, picks),
    grains,
    moments,
    st.lists(st.integers(min_value=0, max_value=60), max_size=40),
)


def cells(grain: Grain, start: datetime, picks: list[int]) -> list[Interval]:
    base = grain.floor(start)
    return [Interval(base + grain.step * i, base + grain.step * (i + 1)) for i in picks]


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
        1 for i in intervals if Interval(i.start - grain.step, i.start) not in intervals
    )


@given(grains, moments)
def test_interval_key_round_trips(grain: Grain, moment: datetime) -> None:
    interval = Interval(grain.floor(moment), grain.floor(moment) + grain.step)
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
