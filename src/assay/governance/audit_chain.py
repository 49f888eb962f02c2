"""The audit log's hash chain: how an event is hashed, and checking the chain for the
first broken link and what broke it.

Each stored event must (1) hash to its `hash` from its fields and `prev_hash`, (2) link
to the event before it (`prev_hash` equals that event's hash) and (3) carry the next
number; the newest event must be the chain head the appends keep. Which rule fails, and
how the following event links, tells an edited event from a deleted or an inserted one.

Example:
    >>> verify_chain([], 0, GENESIS)
    VerifyResult(ok=True, events=0, broken=None)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: The `prev_hash` of the first event.
GENESIS = "0" * 64

#: The fields the hash covers, in order (the row's `seq` is storage order, checked apart).
HASHED_FIELDS = (
    "time",
    "principal",
    "role",
    "action",
    "dataset",
    "columns",
    "rows",
    "query_hash",
    "allowed",
    "detail",
)


def query_hash(text: str) -> str:
    """The sha256 of a query's text: what the log stores instead of the query, which may
    hold data values (`WHERE email = '...'`).

    Example:
        >>> query_hash("SELECT 1")[:12]
        'e004ebd5b553'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    """The one JSON encoding hashed and stored: sorted keys, no spaces, UTF-8 as is.

    Example:
        >>> canonical_json({"b": 1, "a": [1, "x"]})
        '{"a":[1,"x"],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(row: Mapping[str, Any], prev_hash: str) -> str:
    """sha256 over the stored fields of one event (`HASHED_FIELDS`) and `prev_hash`.

    `columns` and `detail` are hashed as stored (canonical JSON text); time as its ISO
    text to the microsecond, which both SQLite and PostgreSQL keep.

    Example:
        >>> from datetime import datetime
        >>> row = {"time": datetime(2026, 1, 1), "principal": "a", "role": None,
        ...        "action": "read", "dataset": "gold.x", "columns": "[]", "rows": 1,
        ...        "query_hash": None, "allowed": True, "detail": "{}"}
        >>> len(event_hash(row, GENESIS))
        64
    """
    values = [row[name] for name in HASHED_FIELDS]
    values[0] = row["time"].isoformat(timespec="microseconds")
    values[8] = bool(row["allowed"])
    return hashlib.sha256(canonical_json([*values, prev_hash]).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    """Where the chain first breaks.

    Attributes:
        seq: the number of the first event that is wrong (for a deletion, the first
            missing number).
        kind: edited, deleted or inserted.
        message: what was found, in words.
    """

    seq: int
    kind: str
    message: str


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of `AuditLog.verify`: ok, how many events were checked, and the first
    broken link when not ok."""

    ok: bool
    events: int
    broken: BrokenLink | None = None


def verify_chain(
    rows: Iterable[Mapping[str, Any]], head_seq: int | None, head_hash: str | None
) -> VerifyResult:
    """Check events (in `seq` order) against each other and against the chain head
    (None when the head row is missing)."""
    prev_hash, expected = GENESIS, 1
    #: Hashes of the accepted events, in order, with their numbers: an event that links
    #: back past its predecessors shows those predecessors were inserted.
    accepted: dict[str, int] = {GENESIS: 0}
    order: list[int] = []
    checked = 0
    for row, following in _pairs(rows):
        checked += 1
        broken = _check(row, following, prev_hash, expected, accepted, order)
        if broken is not None:
            return VerifyResult(False, checked, broken)
        prev_hash, expected = row["hash"], int(row["seq"]) + 1
        accepted[prev_hash] = len(order) + 1
        order.append(int(row["seq"]))
    last = order[-1] if order else 0
    return VerifyResult(
        not (broken := _check_head(last, prev_hash, head_seq, head_hash)), checked, broken
    )


def _check(
    row: Mapping[str, Any],
    following: Mapping[str, Any] | None,
    prev_hash: str,
    expected: int,
    accepted: dict[str, int],
    order: list[int],
) -> BrokenLink | None:
    seq = int(row["seq"])
    links = row["prev_hash"] == prev_hash
    intact = event_hash(row, row["prev_hash"]) == row["hash"]
    if links and intact and seq == expected:
        return None
    if following is not None and following["prev_hash"] == prev_hash:
        return BrokenLink(
            seq,
            "inserted",
            f"event {seq} was inserted: event {following['seq']} links past it to the event before",
        )
    if not links and row["prev_hash"] in accepted:
        first = order[accepted[row["prev_hash"]]]
        return BrokenLink(
            first,
            "inserted",
            f"events {first} to {order[-1]} were inserted: event {seq} links past them",
        )
    if not links and seq > expected:
        missing = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
        return BrokenLink(
            expected,
            "deleted",
            f"event(s) {missing} were deleted: event {seq} links to a hash no remaining event has",
        )
    if not links:
        before = order[-1] if order else 0
        return BrokenLink(
            before,
            "edited",
            f"event {before} was changed (and re-hashed) or an "
            f"event was deleted and the rest renumbered: event {seq} links "
            "to a hash no remaining event has",
        )
    if not intact:
        return BrokenLink(
            seq, "edited", f"event {seq} was edited: its fields no longer match its hash"
        )
    return BrokenLink(seq, "edited", f"event {seq} was renumbered: expected number {expected}")


def _check_head(
    last: int, last_hash: str, head_seq: int | None, head_hash: str | None
) -> BrokenLink | None:
    """The newest event against the chain head the appends moved."""
    if head_seq is None or head_hash is None:
        if last == 0:
            return None  # a log never appended to has no head yet
        return BrokenLink(last, "deleted", "the chain head (audit_chain_head) was deleted")
    if last == head_seq and last_hash == head_hash:
        return None
    if last > head_seq:
        return BrokenLink(
            head_seq + 1,
            "inserted",
            f"events after {head_seq}, the newest appended, were inserted (the log ends at {last})",
        )
    if last < head_seq:
        missing = f"{last + 1}" if head_seq == last + 1 else f"{last + 1} to {head_seq}"
        return BrokenLink(last + 1, "deleted", f"event(s) {missing} at the end were deleted")
    return BrokenLink(
        last, "edited", f"event {last} was changed and re-hashed: it differs from the chain head"
    )


def _pairs(
    rows: Iterable[Mapping[str, Any]],
) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any] | None]]:
    """Each row with the one after it (None after the last), reading one row ahead."""
    it = iter(rows)
    current = next(it, None)
    while current is not None:
        following = next(it, None)
        yield current, following
        current = following
