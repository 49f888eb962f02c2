"""What identifies a data subject's rows, and how a column or a raw record is matched.

An erasure looks for *needles*: a column name and the values of it that belong to the
subject (`customer_id = 123`, and the keys only the subject has, such as their cards).
Typed columns are matched by value after casting the needle to the column's type; raw
records (quarantined rows, dead letters, the entity of a logged feature request) are text,
so they are parsed and matched by key (`"customer_id": 123`), never by substring: the
value 123 inside `1234` or in an amount is not the subject.

Example:
    >>> needles = Needles({"customer_id": frozenset({"123"})})
    >>> raw_holds('{"customer_id": 123, "amount": 5}', needles)
    True
    >>> raw_holds('{"customer_id": 1234, "amount": 123}', needles)
    False
    >>> raw_holds('{"customer_id":123,"card_numb', needles)  # a truncated line
    True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

#: Columns that hold a whole record as text, per layer: rejected rows keep the record as
#: read, the feature request log keeps the entity's keys as JSON.
RAW_COLUMNS: Mapping[str, frozenset[str]] = {
    "quarantine": frozenset({"raw_record"}),
    "deadletter": frozenset({"raw_record"}),
    "logs": frozenset({"entity"}),
}

_ALL_RAW = frozenset(c for columns in RAW_COLUMNS.values() for c in columns)


@dataclass(frozen=True)
class Needles:
    """Column name -> the subject's values in it, as text (typed per column on use).

    `extra` holds identifying values of the subject seen in its rows (an email, a phone)
    that no other subject shares: the proof looks for them in every text column too.
    """

    keys: Mapping[str, frozenset[str]]
    extra: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(self.keys)

    @cached_property
    def _patterns(self) -> list[tuple[str, re.Pattern[str]]]:
        # The value must end there: 123 is not 1234 nor 123.5 (123.0 is 123).
        return [(c, re.compile(p + r"(?![\w.])")) for c, p in self.key_patterns().items()]

    def key_patterns(self) -> dict[str, str]:
        """Per needle column, a regular expression (RE2 and Python syntax) of the column
        named with one of its values: `"column": value`, `"column":"value"`,
        `column=value`, up to the value's end. Ends with a value's optional `.0`."""
        out = {}
        for column, values in self.keys.items():
            ordered = sorted(values, key=len, reverse=True)  # the longest value first
            alternatives = "|".join(_escape(v) for v in ordered)
            out[column] = (
                rf'["\']?\b{_escape(column)}\b["\']?\s*[:=]\s*["\']?(?:{alternatives})(?:\.0+)?'
            )
        return out

    def text_hit(self, text: str) -> bool:
        """Whether free text names a needle by key (`customer_id=123`, JSON or not)."""
        return any(p.search(text) for _, p in self._patterns)

    def in_text(self, text: str) -> bool:
        """Whether free text names a needle by key, or holds an identifying value."""
        extras = (v for values in self.extra.values() for v in values)
        return self.text_hit(text) or any(v in text for v in extras)

    def all_values(self) -> set[str]:
        """Every needle value, keys and extras (for a cheap substring pre-filter)."""
        found = {v for values in self.keys.values() for v in values}
        return found | {v for values in self.extra.values() for v in values}


def _escape(text: str) -> str:
    """`text` as a literal in a regular expression both RE2 (Arrow's kernels) and Python
    read: only the metacharacters escaped."""
    return "".join("\\" + c if c in _META else c for c in text)


_META = frozenset("\\.^$|?*+()[]{}")


def typed(values: Iterable[str], dtype: pa.DataType) -> pa.Array:
    """The values that cast to `dtype` (a text needle against an integer column).

    Example:
        >>> typed(["123", "abc"], pa.int64()).to_pylist()
        [123]
    """
    kept = []
    for value in values:
        try:
            kept.append(pc.cast(pa.array([value], pa.string()), dtype, safe=True)[0].as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return pa.array(kept, dtype)


def _is_text(dtype: pa.DataType) -> bool:
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or _is_view(dtype)


def _is_view(dtype: pa.DataType) -> bool:
    return pa.types.is_string_view(dtype) or pa.types.is_binary_view(dtype)


def plain(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A view-typed column (as some Parquet writers store text) as plain text or binary,
    which every compute kernel takes."""
    if pa.types.is_string_view(column.type):
        return column.cast(pa.string())
    if pa.types.is_binary_view(column.type):
        return column.cast(pa.binary())
    return column


def raw_holds(text: str | None, needles: Needles) -> bool:
    """Whether a raw record holds a needle under its key (parsed as JSON when it is)."""
    if not text:
        return False
    try:
        parsed = json.loads(text)
    except ValueError:
        return needles.text_hit(text)  # a broken line: match the key textually
    return _json_holds(parsed, needles)


def _json_holds(value: Any, needles: Needles) -> bool:
    if isinstance(value, dict):
        for key, item in value.items():
            wanted = needles.keys.get(str(key))
            if wanted and not isinstance(item, dict | list) and _as_text(item) in wanted:
                return True
            if isinstance(item, dict | list) and _json_holds(item, needles):
                return True
        return False
    if isinstance(value, list):
        return any(_json_holds(item, needles) for item in value)
    return False


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def raw_columns(table: str, schema: pa.Schema) -> list[str]:
    """The raw-record text columns of `table` (see RAW_COLUMNS)."""
    layer = table.split(".", 1)[0]
    wanted = RAW_COLUMNS.get(layer, frozenset())
    return [f.name for f in schema if f.name in wanted and _is_text(f.type)]


def row_mask(
    batch: pa.RecordBatch | pa.Table,
    typed_columns: Mapping[str, Iterable[str]],
    raw: Iterable[str],
    needles: Needles,
) -> pa.Array:
    """True for rows of `batch` that hold a needle: a typed column equal to one of its
    values, or a raw column holding one by key."""
    mask = pa.array([False] * batch.num_rows, pa.bool_())
    for column, values in typed_columns.items():
        array = plain(batch.column(column))
        wanted = typed(values, array.type)
        if len(wanted):
            mask = pc.or_(mask, pc.fill_null(pc.is_in(array, wanted), False))
    for column in raw:
        mask = pc.or_(mask, raw_mask(plain(batch.column(column)), needles))
    return mask


def raw_mask(array: pa.Array | pa.ChunkedArray, needles: Needles) -> pa.Array:
    """Per row of a text column: whether the record holds a needle by key. A regular
    expression of the keys and values (Arrow's, vectorized) narrows the rows parsed."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], array.type)
    maybe = pa.array([False] * len(array), pa.bool_())
    for pattern in needles.key_patterns().values():
        found = pc.match_substring_regex(array, pattern + r"(?:[^\w.]|$)")
        maybe = pc.or_(maybe, pc.fill_null(found, False))
    flags = maybe.to_pylist()
    texts = array.to_pylist()
    return pa.array(
        [bool(flag) and raw_holds(text, needles) for flag, text in zip(flags, texts, strict=True)],
        pa.bool_(),
    )


def extra_mask(batch: pa.RecordBatch | pa.Table, needles: Needles) -> tuple[pa.Array, list[str]]:
    """Rows whose text columns hold one of the subject's identifying values (equal to it,
    or, in a raw column, containing it), and the columns where they were found."""
    mask = pa.array([False] * batch.num_rows, pa.bool_())
    where: list[str] = []
    values = pa.array(sorted({v for vs in needles.extra.values() for v in vs}), pa.string())
    if not len(values):
        return mask, where
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if not _is_text(column.type):
            continue
        column = plain(column)
        hit = pc.fill_null(pc.is_in(column.cast(pa.string()), values), False)
        if name in _ALL_RAW:
            for value in values.to_pylist():
                found = pc.fill_null(pc.match_substring(column, value), False)
                hit = pc.or_(hit, found)
        if pc.any(hit).as_py():
            where.append(name)
            mask = pc.or_(mask, hit)
    return mask, where
