"""Row rules for a property's `logicalTypeOptions` (ODCS schema: logical type options),
as sqlglot expressions that are true for a breaking row.

Bounds compare in the column's type: numbers as numbers, dates as dates, timestamps as UTC
instants (a bound with an offset is converted; one without is read in `defaultTimezone`,
else UTC; naive timestamp columns hold UTC), times (text, Delta has no TIME type) as
zero-padded `HH:MM:SS` text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlglot import exp

from assay.contracts.errors import ContractError
from assay.contracts.sql import any_of, col, lit, search, text

#: A time of day as text: HH:MM, HH:MM:SS or HH:MM:SS.fraction.
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"
#: String formats assay checks (others are documentation).
FORMATS = {
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "uri": r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$",
    "ipv4": r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$",
}
#: Bound options: the comparison that breaks them, and how to say so.
BOUNDS: dict[str, tuple[type[exp.Binary], str]] = {
    "minimum": (exp.LT, "below the minimum"),
    "maximum": (exp.GT, "above the maximum"),
    "exclusiveMinimum": (exp.LTE, "not above the exclusive minimum"),
    "exclusiveMaximum": (exp.GTE, "not below the exclusive maximum"),
}


def _number_format(fmt: str) -> tuple[float, float] | None:
    """The range of a Rust numeric type name (i8..i128, u8..u128, f32, f64)."""
    if fmt in ("f32",):
        return (-3.4028234663852886e38, 3.4028234663852886e38)
    if (
        len(fmt) > 1
        and fmt[0] in "iu"
        and fmt[1:].isdigit()
        and int(fmt[1:]) in (8, 16, 32, 64, 128)
    ):
        bits = int(fmt[1:])
        if fmt[0] == "u":
            return (0, 2**bits - 1)
        return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return None


def option_violation(
    option: str,
    bound: Any,
    column: str,
    value: exp.Expr,
    temporal: str | None,
    options: dict[str, Any],
    where: str,
) -> tuple[exp.Expr, str] | None:
    """(condition, reason) for one scalar option, None for documentation-only options.

    `value` is the column's value in its logical type; `temporal` is date, timestamp,
    timestamptz or time when the column is compared as one.
    """
    raw = col(column)
    if option == "format":
        return _format(str(bound), raw, value, temporal, column)
    if option in ("minLength", "maxLength"):
        op = exp.LT if option == "minLength" else exp.GT
        length = exp.Length(this=text(raw))
        words = "shorter than" if option == "minLength" else "longer than"
        return op(this=length, expression=lit(int(bound))), f"{column} is {words} {bound}"
    if option == "pattern":
        return exp.not_(search(text(raw), str(bound))), f"{column} does not match {bound}"
    if option == "multipleOf":
        ratio = exp.Div(
            this=exp.cast(value, "DOUBLE"), expression=lit(_number(bound, option, column, where))
        )
        off = exp.Abs(this=exp.Sub(this=ratio, expression=exp.Round(this=ratio.copy())))
        return exp.GT(this=off, expression=lit(1e-9)), f"{column} is not a multiple of {bound}"
    if option in BOUNDS:
        breaks, words = BOUNDS[option]
        limit = _bound(bound, temporal, options, option, column, where)
        return breaks(this=value, expression=limit), f"{column} is {words} {bound}"
    return None


def _format(
    fmt: str, raw: exp.Expr, value: exp.Expr, temporal: str | None, column: str
) -> tuple[exp.Expr, str] | None:
    pattern = FORMATS.get(fmt.lower())
    if pattern is not None and temporal is None:
        return exp.not_(search(text(raw), pattern)), f"{column} is not a valid {fmt}"
    limits = _number_format(fmt.lower())
    if limits is not None and temporal is None:
        low, high = limits
        outside = any_of(
            [exp.LT(this=value, expression=lit(low)), exp.GT(this=value, expression=lit(high))]
        )
        return outside, f"{column} does not fit {fmt}"
    return None  # date formats of typed columns, password, byte...: documentation


def _number(bound: Any, option: str, column: str, where: str) -> float | int:
    if isinstance(bound, bool) or not isinstance(bound, int | float | str):
        raise ContractError(f"{option}({column}): {bound!r} is not a number", where=where)
    try:
        return bound if isinstance(bound, int | float) else float(bound)
    except ValueError:
        raise ContractError(
            f"{option}({column}): {bound!r} is not a number",
            where=where,
            hint="numeric columns take numeric bounds",
        ) from None


def _bound(
    bound: Any, temporal: str | None, options: dict[str, Any], option: str, column: str, where: str
) -> exp.Expr:
    if temporal is None:
        return lit(_number(bound, option, column, where))
    try:
        if temporal == "time":
            return lit(_time_text(str(bound)))
        if temporal == "date":
            return exp.cast(lit(date.fromisoformat(str(bound)[:10]).isoformat()), "DATE")
        instant = _utc(str(bound), options.get("defaultTimezone"))
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ContractError(
            f"{option}({column}): {bound!r} is not a {temporal} ({exc})",
            where=where,
            hint="write bounds in ISO 8601, e.g. 2020-01-01 00:00:00+10:00",
        ) from None
    if temporal == "timestamptz":
        return exp.cast(lit(instant.isoformat(sep=" ") + "+00:00"), "TIMESTAMPTZ")
    return exp.cast(lit(instant.isoformat(sep=" ")), "TIMESTAMP")


def _utc(value: str, default_zone: Any) -> datetime:
    """A bound as a naive UTC datetime: an offset wins, else `defaultTimezone`, else UTC.

    Example:
        >>> _utc("2020-01-01 00:00:00+10:00", None)
        datetime.datetime(2019, 12, 31, 14, 0)
    """
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(str(default_zone)) if default_zone else UTC)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _time_text(value: str) -> str:
    """A time bound as zero-padded HH:MM:SS[.f] text (how time columns compare)."""
    if not _matches_time(value):
        raise ValueError("expected HH:MM[:SS[.fraction]]")
    return value if len(value) > 5 else value + ":00"


def _matches_time(value: str) -> bool:
    import re

    return re.fullmatch(TIME_PATTERN.strip("^$"), value) is not None


def time_value(column: str) -> exp.Expr:
    """A text time column padded to HH:MM:SS, so times compare as text (NULL when the
    text is no time: a value that is not a time breaks the type, not the bounds)."""
    raw = col(column)
    short = exp.EQ(this=exp.Length(this=raw), expression=lit(5))
    return exp.Case(
        ifs=[
            exp.If(this=exp.not_(search(raw.copy(), TIME_PATTERN)), true=exp.null()),
            exp.If(this=short, true=exp.DPipe(this=raw.copy(), expression=lit(":00"))),
        ],
        default=raw.copy(),
    )
