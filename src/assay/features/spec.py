"""Feature declarations users write in `features/*.py`: Entity, FeatureView, FeatureService.

Feast users should feel at home: a view reads a gold table, keyed by its entities' join
keys, stamped by an event timestamp (and optionally a created timestamp as tie-breaker),
and valid for `ttl` after that timestamp.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from assay.errors import DefinitionError
from assay.naming import split_name

_TTL = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_ttl(text: str | timedelta | None) -> timedelta | None:
    """`"30d"`, `"12h"`, `"15m"` -> timedelta; None or "0" means no TTL (Feast's convention).

    Example:
        >>> parse_ttl("30d"), parse_ttl("90m"), parse_ttl(None)
        (datetime.timedelta(days=30), datetime.timedelta(seconds=5400), None)
    """
    if text is None or isinstance(text, timedelta):
        return text or None
    if str(text).strip() == "0":
        return None
    match = _TTL.match(str(text))
    if not match:
        raise DefinitionError(f"invalid ttl {text!r}", hint='use a number and a unit: "30d", "12h"')
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


def _register(obj: object) -> None:
    from assay.pipelines.declare import register

    register(obj)


@dataclass(frozen=True)
class Entity:
    """A thing features describe, identified by its join keys.

    Example:
        >>> Entity("card", join_keys=["card_id"]).join_keys
        ('card_id',)
    """

    name: str
    join_keys: Sequence[str]
    description: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "join_keys", tuple(self.join_keys))
        if not self.join_keys:
            raise DefinitionError("an entity needs at least one join key", where=self.name)
        _register(self)


AGGREGATE_FUNCTIONS = ("count", "sum", "mean", "min", "max", "count_distinct")


def _window_label(window: timedelta) -> str:
    """The shortest unit that divides the window: 1h, 7d, 90m, 45s."""
    seconds = int(window.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if unit != "w" and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Aggregation:
    """A windowed aggregate by entity over a table's rows: the rows of the last `time_window`
    up to and including the moment asked about, i.e. the half-open window (t - w, t].

    `function` is one of count, sum, mean, min, max, count_distinct; `count` without a
    column counts rows. The feature is named `<column>_<function>_<window>` unless `name`
    is given.

    Example:
        >>> Aggregation("amount", "sum", "1d").name
        'amount_sum_1d'
        >>> Aggregation(function="count", time_window="1h").name
        'count_1h'
        >>> Aggregation("amount", "max").name  # in a stream window, which has the window
        'amount_max'
    """

    column: str | None = None
    function: str = "count"
    #: Required on feature views; a stream window (assay.window) has its own.
    time_window: str | timedelta | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if self.time_window is not None:
            window = parse_ttl(self.time_window)
            if window is None or window.total_seconds() < 1:
                raise DefinitionError(
                    f"invalid aggregation window {self.time_window!r}",
                    hint='use a positive window: "1h", "1d", "7d", "30d"',
                )
            object.__setattr__(self, "time_window", window)
        if self.function == "distinct_count":
            object.__setattr__(self, "function", "count_distinct")
        if self.function not in AGGREGATE_FUNCTIONS:
            raise DefinitionError(
                f"unknown aggregation function {self.function!r}",
                hint=f"use one of {', '.join(AGGREGATE_FUNCTIONS)}",
            )
        if self.column is None and self.function != "count":
            raise DefinitionError(f"aggregation {self.function} needs a column")
        if not self.name:
            parts = [self.column] if self.column else []
            parts.append(self.function)
            if self.time_window is not None:
                parts.append(_window_label(self.window))
            object.__setattr__(self, "name", "_".join(parts))

    @property
    def window(self) -> timedelta:
        if not isinstance(self.time_window, timedelta):
            raise DefinitionError(f"aggregation {self.name} has no time_window")
        return self.time_window

    def definition(self) -> dict[str, object]:
        return {
            "name": self.name,
            "column": self.column,
            "function": self.function,
            "window": _window_label(self.window) if self.time_window is not None else None,
        }


@dataclass(frozen=True)
class FeatureView:
    """Features of entities read from a table, valid for `ttl` after their timestamp.

    A view either lists `features` (columns of a gold table, one row per entity and time)
    or declares `aggregations` over an event table (bronze or silver), which assay computes
    from that one definition for training sets (exact at every entity row's timestamp)
    and for the online store (as of materialization). An aggregated view's values are
    null for an entity with no rows in its longest window, which is also its TTL.

    Example:
        >>> card = Entity("card", join_keys=["card_id"])
        >>> activity = FeatureView(
        ...     name="card_activity", entities=[card], source="silver.transactions",
        ...     timestamp="event_time",
        ...     aggregations=[Aggregation(function="count", time_window="1h"),
        ...                   Aggregation("amount", "sum", "7d")])
        >>> activity.features, activity.ttl_delta
        (('count_1h', 'amount_sum_7d'), datetime.timedelta(days=7))
    """

    name: str
    entities: Sequence[Entity]
    source: str
    timestamp: str
    features: Sequence[str] = ()
    ttl: str | timedelta | None = None
    created_timestamp: str | None = None
    owner: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    aggregations: Sequence[Aggregation] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "entities", tuple(self.entities))
        object.__setattr__(self, "aggregations", tuple(self.aggregations))
        if not self.name.isidentifier():
            raise DefinitionError(f"feature view name {self.name!r} is not an identifier")
        split_name(self.source)
        if self.aggregations:
            self._check_aggregations()
        object.__setattr__(self, "features", tuple(self.features))
        if not self.features:
            raise DefinitionError("a feature view needs features", where=self.name)
        parse_ttl(self.ttl)
        _register(self)

    def _check_aggregations(self) -> None:
        if self.features:
            raise DefinitionError(
                "a feature view declares either features or aggregations, not both",
                where=self.name,
                hint="aggregated features are named by their Aggregation",
            )
        if self.ttl is not None or self.created_timestamp is not None:
            raise DefinitionError(
                "an aggregated view's TTL is its longest window; it takes no ttl or "
                "created_timestamp",
                where=self.name,
            )
        unwindowed = [a.name for a in self.aggregations if a.time_window is None]
        if unwindowed:
            raise DefinitionError(
                f"aggregation(s) {', '.join(unwindowed)} need a time_window",
                where=self.name,
                hint='e.g. Aggregation("amount", "sum", "1d")',
            )
        names = [a.name for a in self.aggregations]
        if len(set(names)) != len(names):
            raise DefinitionError("aggregation names repeat", where=self.name)
        object.__setattr__(self, "features", tuple(names))

    @property
    def join_keys(self) -> tuple[str, ...]:
        return tuple(k for e in self.entities for k in e.join_keys)

    @property
    def ttl_delta(self) -> timedelta | None:
        if self.aggregations:
            return max(a.window for a in self.aggregations)
        return parse_ttl(self.ttl)

    def expired(self, stamp: datetime, now: datetime) -> bool:
        """Whether a value stamped `stamp` is past the TTL at `now`. Feast keeps a row
        whose timestamp is exactly now - ttl; an aggregate's window (now - w, now] does not."""
        ttl = self.ttl_delta
        if ttl is None:
            return False
        return stamp <= now - ttl if self.aggregations else stamp < now - ttl

    def definition(self) -> dict[str, object]:
        """A JSON-able description (what the registry versions)."""
        return {
            "name": self.name,
            "entities": [e.name for e in self.entities],
            "join_keys": list(self.join_keys),
            "source": self.source,
            "timestamp": self.timestamp,
            "created_timestamp": self.created_timestamp,
            "ttl": str(self.ttl_delta) if self.ttl_delta else None,
            "features": list(self.features),
            "owner": self.owner,
            "tags": dict(self.tags),
            "description": self.description,
        } | (
            # Only aggregated views carry the key, so other views keep their fingerprints.
            {"aggregations": [a.definition() for a in self.aggregations]}
            if self.aggregations
            else {}
        )

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.definition(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FeatureService:
    """The named list of features a model uses (`view:feature` references)."""

    name: str
    features: Sequence[str]
    description: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        _register(self)
