"""Declarations of event-time windows over a stream: tumbling, hopping and sliding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from assay.errors import DefinitionError
from assay.features.spec import Aggregation, Entity, parse_ttl
from assay.naming import split_name

WindowKind = Literal["tumbling", "hopping", "sliding"]


@dataclass(frozen=True)
class Window:
    """Where each event belongs in time: windows are half-open, [start, start + size).

    Example:
        >>> tumbling("10m").slide, hopping("1h", every="15m").slide
        (datetime.timedelta(seconds=600), datetime.timedelta(seconds=900))
    """

    kind: WindowKind
    size: timedelta
    slide: timedelta

    def __post_init__(self) -> None:
        if self.size <= timedelta(0) or self.slide <= timedelta(0):
            raise DefinitionError("window size and slide must be positive")
        if self.kind == "hopping" and self.slide > self.size:
            raise DefinitionError(
                f"a hopping window's slide ({self.slide}) exceeds its size ({self.size})",
                hint="use a slide no longer than the window, or a tumbling window",
            )


def _duration(text: str | timedelta, what: str) -> timedelta:
    value = parse_ttl(text)
    if value is None:
        raise DefinitionError(f"invalid {what} {text!r}", hint='use e.g. "10m", "1h"')
    return value


def tumbling(size: str | timedelta) -> Window:
    """Back-to-back windows of `size`: each event is in exactly one."""
    length = _duration(size, "window size")
    return Window("tumbling", length, length)


def hopping(size: str | timedelta, every: str | timedelta) -> Window:
    """Windows of `size` starting every `every`: an event is in size/every of them."""
    return Window("hopping", _duration(size, "window size"), _duration(every, "window slide"))


def sliding(size: str | timedelta) -> Window:
    """Kafka Streams' sliding windows: for every event, the window of `size` ending at it,
    [t - size, t] (so each event gets the aggregate of the last `size` of its key)."""
    length = _duration(size, "window size")
    return Window("sliding", length, length)


@dataclass(frozen=True)
class WindowSpec:
    """Keyed aggregations of a stream over event-time windows, written to their own table.

    A window closes when the watermark (the latest event time seen minus
    `allowed_lateness`) passes its end; it is then written and its state dropped. Rows
    that arrive for a closed window go to `late.<layer>_<name>`, never silently away.
    """

    name: str
    keys: tuple[str, ...]
    window: Window
    aggregations: tuple[Aggregation, ...]
    allowed_lateness: timedelta = timedelta(0)
    #: Serve the aggregates online: a feature view (named after the table) over this
    #: entity, kept fresh by the stream as windows close.
    entity: Entity | None = None
    #: "close": serve a window once it closes; "update": also serve, after every batch,
    #: each touched key's oldest open window so far (fresh within one micro-batch).
    emit: str = "close"

    def __post_init__(self) -> None:
        split_name(self.name)
        if not self.aggregations:
            raise DefinitionError("a window needs aggregations", where=self.name)
        names = [a.name for a in self.aggregations]
        if len(set(names)) != len(names):
            raise DefinitionError("aggregation names repeat", where=self.name)
        if self.emit not in ("close", "update"):
            raise DefinitionError(f"emit must be close or update, not {self.emit!r}")
        if self.emit == "update" and self.window.kind == "sliding":
            raise DefinitionError("sliding windows emit when they close only", where=self.name)
        if self.entity is not None and tuple(self.entity.join_keys) != self.keys:
            raise DefinitionError(
                f"window keys {list(self.keys)} differ from entity {self.entity.name}'s join "
                f"keys {list(self.entity.join_keys)}",
                where=self.name,
            )


def window(
    name: str,
    *,
    keys: Sequence[str],
    window: Window,
    aggregations: Sequence[Aggregation],
    allowed_lateness: str | timedelta = "0",
    entity: Entity | None = None,
    emit: str = "close",
) -> WindowSpec:
    """Declare windowed aggregates of a stream (pass the result to `windows=[...]`).

    Aggregations are named `<column>_<function>` (or `count`) unless given a name. With
    `entity`, the stream also upserts every closed window into the online store, as the
    feature view named after the table (timestamp: the window's end); with
    `emit="update"` the online value is refreshed after every micro-batch with each key's
    oldest open window so far (stamped with its latest event time), so features are fresh
    within a batch rather than a window.

    Example:
        >>> import assay
        >>> w = window("silver.card_10m", keys=["card_id"], window=tumbling("10m"),
        ...            aggregations=[assay.Aggregation(function="count"),
        ...                          assay.Aggregation("amount", "sum")])
        >>> [a.name for a in w.aggregations]
        ['count', 'amount_sum']
    """
    return WindowSpec(
        name=name,
        keys=tuple(keys),
        window=window,
        aggregations=tuple(aggregations),
        allowed_lateness=parse_ttl(allowed_lateness) or timedelta(0),
        entity=entity,
        emit=emit,
    )
