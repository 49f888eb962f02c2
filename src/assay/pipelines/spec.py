"""Immutable dataset specifications: what a user declared, independent of how it runs."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from assay.errors import DefinitionError
from assay.intervals import Grain
from assay.naming import split_name

if TYPE_CHECKING:
    from assay.pipelines.producers import Producer


class Kind(StrEnum):
    """How a dataset's table is written on each run."""

    FULL = "full"  # recomputed and replaced as a whole
    INCREMENTAL = "incremental"  # by time range: each interval replaced on its own
    MERGE = "merge"  # upserted by key
    APPEND = "append"  # new input appended (file sources)


class SchemaPolicy(StrEnum):
    """What happens when a source's columns change (dlt's schema contracts)."""

    EVOLVE = "evolve"  # new columns are added; removed or retyped columns fail
    FREEZE = "freeze"  # any change fails
    DISCARD = "discard"  # new columns are dropped; removed ones become null
    QUARANTINE = "quarantine"  # rows with new columns or bad types are quarantined


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: a Delta table `layer.name` and the recipe that produces it."""

    name: str
    kind: Kind
    producer: Producer
    inputs: tuple[str, ...] = ()
    time_column: str | None = None
    grain: Grain = Grain.DAY
    start: datetime | None = None
    lookback: int = 0
    #: Contiguous intervals computed by one query and written in one commit; None (not
    #: declared): the engine's default (`Engine.default_batch_intervals`).
    batch_size: int | None = None
    keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    owner: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    schema_policy: SchemaPolicy = SchemaPolicy.EVOLVE
    #: Widen a column's type (BIGINT -> DOUBLE...) when a source's values need it.
    allow_widening: bool = False
    origin: str = "<python>"

    def __post_init__(self) -> None:
        split_name(self.name)
        if self.kind is Kind.INCREMENTAL and not self.time_column:
            raise DefinitionError(
                "incremental datasets need a time column",
                where=self.where,
                hint="declare time_column (SQL header: `-- time_column: event_time`)",
            )
        if self.kind is Kind.MERGE and not self.keys:
            raise DefinitionError(
                "merge datasets need keys",
                where=self.where,
                hint="declare keys (SQL header: `-- keys: customer_id`)",
            )
        if self.name in self.inputs:
            raise DefinitionError("a dataset cannot read itself", where=self.where)

    @property
    def layer(self) -> str:
        return split_name(self.name)[0]

    @property
    def where(self) -> str:
        return f"{self.name} ({self.origin})"

    @property
    def fingerprint(self) -> str:
        """Hash of everything that changes the data: code plus write semantics."""
        parts: list[Any] = [
            self.producer.code_fingerprint(),
            self.kind.value,
            self.inputs,
            self.time_column,
            self.grain.value,
            self.keys,
            self.lookback,
        ]
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def time_column_hint(column: str) -> str:
    """What to declare when a time column holds numbers (a year, an epoch) or text."""
    return (
        f"derive a DATE column from {column!r} where the data is read, e.g. "
        f"derive={{'period_start': 'make_date({column}, 1, 1)'}} on assay.files, or "
        f"`make_date({column}, 1, 1) AS period_start` in SQL; then declare "
        "time_column: period_start and grain: year"
    )
