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
from datetime import timedelta

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


@dataclass(frozen=True)
class FeatureView:
    """Features of entities read from a table, valid for `ttl` after their timestamp."""

    name: str
    entities: Sequence[Entity]
    source: str
    timestamp: str
    features: Sequence[str]
    ttl: str | timedelta | None = None
    created_timestamp: str | None = None
    owner: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "entities", tuple(self.entities))
        object.__setattr__(self, "features", tuple(self.features))
        if not self.name.isidentifier():
            raise DefinitionError(f"feature view name {self.name!r} is not an identifier")
        split_name(self.source)
        if not self.features:
            raise DefinitionError("a feature view needs features", where=self.name)
        parse_ttl(self.ttl)
        _register(self)

    @property
    def join_keys(self) -> tuple[str, ...]:
        return tuple(k for e in self.entities for k in e.join_keys)

    @property
    def ttl_delta(self) -> timedelta | None:
        return parse_ttl(self.ttl)

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
        }

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
