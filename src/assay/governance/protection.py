"""What a dataset declares about protecting its data: masks and drops at ingest, retention.

Sources take `mask={"card_number": "tokenize", "email": "hash"}` and `drop=[...]` (data
minimization: the columns never reach the table); every dataset takes `retention="400d"`
(rows older than that, by its time column, are deleted by `assay retention apply`).
Declared on the dataset, parsed when the project loads, so a typo fails there.

Example:
    >>> p = Protection.declare("bronze.cards", mask={"pan": "tokenize"}, drop=["cvv"],
    ...                        retention="400d")
    >>> p.mask["pan"], p.drop, p.retention.days
    ('tokenize', ('cvv',), 400)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, get_args

from assay.errors import DefinitionError

#: How a column is masked: `null` (no value), `hash` (SHA-256 hex of the value), `partial`
#: (only the last four characters, or an email's first letter and domain), `tokenize`
#: (a deterministic HMAC-SHA-256 token under the project's key, `tok<version>_<hex>`, so
#: joins and counts still work and the key's owner can re-identify).
MaskKind = Literal["null", "hash", "partial", "tokenize"]
MASK_KINDS: tuple[str, ...] = get_args(MaskKind)


def check_mask_kind(kind: str, where: str) -> str:
    """`kind` when it is a mask kind; otherwise a DefinitionError naming `where`."""
    if kind not in MASK_KINDS:
        raise DefinitionError(
            f"unknown mask {kind!r}", where=where, hint=f"use one of: {', '.join(MASK_KINDS)}"
        )
    return kind


def parse_retention(text: str | int | float | timedelta, where: str) -> timedelta:
    """A retention period from `"400d"`, `"12h"`, `"2w"` or a number of days.

    Example:
        >>> parse_retention("2w", "x"), parse_retention(30, "x").days
        (datetime.timedelta(days=14), 30)
    """
    if isinstance(text, timedelta):
        period = text
    elif isinstance(text, int | float) and not isinstance(text, bool):
        period = timedelta(days=float(text))
    else:
        raw = str(text).strip().lower()
        units = {"d": 86400, "w": 7 * 86400, "h": 3600, "y": 365 * 86400}
        try:
            period = timedelta(seconds=float(raw[:-1]) * units[raw[-1]])
        except (KeyError, ValueError, IndexError):
            period = timedelta(0)
    if period <= timedelta(0):
        raise DefinitionError(
            f"invalid retention {text!r}",
            where=where,
            hint="write a period such as '400d', '12w' or '2y' (days, weeks, hours, years)",
        )
    return period


@dataclass(frozen=True)
class Protection:
    """A dataset's declared protection (all optional).

    Attributes:
        mask: column -> mask kind, applied at ingest (sources only), before the data is
            written: the table never holds the clear values.
        drop: columns removed at ingest (sources only).
        retention: how long rows are kept, by the dataset's time column.
    """

    mask: Mapping[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    retention: timedelta | None = None

    @classmethod
    def declare(
        cls,
        where: str,
        mask: Mapping[str, str] | None = None,
        drop: Sequence[str] | str | None = None,
        retention: str | int | float | timedelta | None = None,
    ) -> Protection:
        """Parse the declaration's arguments; errors name `where`."""
        masks = {
            str(c): check_mask_kind(str(k), f"{where}: mask of {c}")
            for c, k in (mask or {}).items()
        }
        drops = (drop,) if isinstance(drop, str) else tuple(drop or ())
        both = sorted(set(masks) & set(drops))
        if both:
            raise DefinitionError(
                f"column {both[0]!r} is both masked and dropped",
                where=where,
                hint="a dropped column is never written; remove it from mask=",
            )
        period = None if retention is None else parse_retention(retention, where)
        return cls(masks, drops, period)

    @property
    def at_ingest(self) -> bool:
        """Whether ingest changes the rows (masks or drops columns)."""
        return bool(self.mask or self.drop)
