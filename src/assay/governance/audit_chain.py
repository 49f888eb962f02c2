"""The audit log's hash chain: how an event is hashed, and checking the chain for the
first broken link and what broke it.

Each stored event must (1) hash to its `hash` from its fields and `prev_hash`, (2) link
to the event before it (`prev_hash` equals that event's hash) and (3) carry the next
number; the newest event must be the chain head the appends keep. Which rule fails, and
how the following event links, tells an edited event from a deleted or an inserted one.

What each check protects against:

- The plain chain (sha256) finds an event edited, deleted or inserted by someone who does
  not recompute the hashes after it. Whoever can write the database can recompute them
  all and move the head: the plain chain alone does not catch that.
- Anchors (`SEQ:HASH` pairs of `AuditLog.head`, kept outside the database: a ticket,
  git, a WORM bucket, a log shipper) catch it: a rewritten chain cannot keep the hash an
  anchor recorded at its number.
- A keyed chain (`$ASSAY_AUDIT_KEY` set: HMAC-SHA-256 under that secret instead of
  sha256, from the event the head row names) cannot be recomputed without the key at
  all, so a rewrite by a writer without the key fails verification even without anchors.

Example:
    >>> verify_chain([], 0, GENESIS)
    VerifyResult(ok=True, events=0, broken=None)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: The `prev_hash` of the first event.
GENESIS = "0" * 64

#: The environment variable holding the secret of a keyed chain.
KEY_ENV = "ASSAY_AUDIT_KEY"


def audit_key() -> bytes | None:
    """The key of a keyed chain (`$ASSAY_AUDIT_KEY`, UTF-8), or None when it is not set.

    Example:
        >>> os.environ.pop(KEY_ENV, None) and None
        >>> audit_key() is None
        True
    """
    text = os.environ.get(KEY_ENV, "")
    return text.encode("utf-8") if text else None


def parse_anchor(text: str) -> tuple[int, str]:
    """An anchor `SEQ:HASH` (as `assay audit --head` prints it) as (seq, hash).

    Example:
        >>> parse_anchor("12:" + "ab" * 32)[0]
        12
    """
    from assay.errors import UsageError

    seq, _, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    ok = seq.strip().isdigit() and len(digest) == 64
    if not ok or any(c not in "0123456789abcdef" for c in digest):
        raise UsageError(
            f"anchor {text.strip()!r} is not SEQ:HASH",
            hint="give what `assay audit --head` printed, e.g. 1042:9f86d081...(64 hex digits)",
        )
    return int(seq), digest


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


def event_hash(row: Mapping[str, Any], prev_hash: str, key: bytes | None = None) -> str:
    """sha256 over the stored fields of one event (`HASHED_FIELDS`) and `prev_hash`; with
    `key`, HMAC-SHA-256 under it over the same bytes.

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
    data = canonical_json([*values, prev_hash]).encode("utf-8")
    if key is not None:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    """Where the chain first breaks.

    Attributes:
        seq: the number of the first event that is wrong (for a deletion, the first
            missing number).
        kind: edited, deleted, inserted, anchor (an anchor's hash differs: the chain was
            rewritten) or unkeyed (a key is set but no event is keyed).
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


@dataclass(frozen=True)
class ChainKey:
    """How the events of a chain are hashed: HMAC under `key` from event `keyed_from` on,
    plain sha256 before it (or everywhere when `keyed_from` is None)."""

    key: bytes | None = None
    keyed_from: int | None = None

    def for_seq(self, seq: int) -> bytes | None:
        """The key event `seq` is hashed under (None: plain sha256)."""
        if self.keyed_from is None or seq < self.keyed_from:
            return None
        return self.key


def verify_chain(
    rows: Iterable[Mapping[str, Any]],
    head_seq: int | None,
    head_hash: str | None,
    keying: ChainKey | None = None,
    anchors: Mapping[int, str] | None = None,
) -> VerifyResult:
    """Check events (in `seq` order) against each other, against the chain head (None
    when the head row is missing) and against `anchors` (seq -> hash kept elsewhere).

    Example:
        >>> verify_chain([], 0, GENESIS, anchors={3: "ab" * 32}).broken.kind
        'anchor'
    """
    keying = keying or ChainKey()
    anchors = dict(anchors or {})
    prev_hash, expected = GENESIS, 1
    #: Hashes of the accepted events, in order, with their numbers: an event that links
    #: back past its predecessors shows those predecessors were inserted.
    accepted: dict[str, int] = {GENESIS: 0}
    order: list[int] = []
    checked = 0
    for row, following in _pairs(rows):
        checked += 1
        key = keying.for_seq(int(row["seq"]))
        broken = _check(row, following, prev_hash, expected, accepted, order, key)
        broken = broken or _check_anchor(row, anchors.pop(int(row["seq"]), None))
        if broken is not None:
            return VerifyResult(False, checked, broken)
        prev_hash, expected = row["hash"], int(row["seq"]) + 1
        accepted[prev_hash] = len(order) + 1
        order.append(int(row["seq"]))
    last = order[-1] if order else 0
    broken = _check_head(last, prev_hash, head_seq, head_hash)
    broken = broken or _missing_anchor(anchors, last) or _check_keyed(keying, last)
    return VerifyResult(broken is None, checked, broken)


def _check_anchor(row: Mapping[str, Any], anchored: str | None) -> BrokenLink | None:
    """An event an anchor names must still carry the anchored hash."""
    if anchored is None or row["hash"] == anchored:
        return None
    seq = int(row["seq"])
    return BrokenLink(
        seq,
        "anchor",
        f"event {seq} has hash {row['hash'][:16]}..., not the anchored {anchored[:16]}...: "
        f"the chain was rewritten at or before event {seq} (the hashes were recomputed)",
    )


def _missing_anchor(anchors: Mapping[int, str], last: int) -> BrokenLink | None:
    """Anchors past the end of the chain: the events they name are gone."""
    if not anchors:
        return None
    seq = min(anchors)
    return BrokenLink(
        seq,
        "anchor",
        f"the anchor at event {seq} names an event the log no longer has (it ends at {last}): "
        "events were deleted and the chain rewritten",
    )


def _check_keyed(keying: ChainKey, last: int) -> BrokenLink | None:
    """With a key at hand, a chain none of whose events is keyed was rewritten without
    the key (or the key was set only now, and nothing was appended since)."""
    if keying.key is None or last == 0:
        return None
    if keying.keyed_from is not None and keying.keyed_from <= last:
        return None
    return BrokenLink(
        last,
        "unkeyed",
        f"{KEY_ENV} is set but no event of the chain is keyed with it: the chain was "
        "rewritten without the key, or the key was set only now (then any command that "
        "appends an event starts the keyed chain; verify again after it)",
    )


def _check(
    row: Mapping[str, Any],
    following: Mapping[str, Any] | None,
    prev_hash: str,
    expected: int,
    accepted: dict[str, int],
    order: list[int],
    key: bytes | None = None,
) -> BrokenLink | None:
    seq = int(row["seq"])
    links = row["prev_hash"] == prev_hash
    intact = event_hash(row, row["prev_hash"], key) == row["hash"]
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
    if not intact and key is not None:
        return BrokenLink(
            seq,
            "edited",
            f"event {seq} does not match its HMAC under {KEY_ENV}: it was edited, or the "
            "chain was re-hashed without the key",
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
