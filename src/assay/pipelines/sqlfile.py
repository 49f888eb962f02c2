"""Parse `.sql` dataset files: a header of `-- key: value` comments, then a SELECT.

    -- name: silver.transactions
    -- kind: incremental
    -- time_column: event_time
    -- grain: day
    SELECT ... FROM {{ ref('bronze.transactions') }}

Header keys: name, layer, kind (full | incremental | merge), time_column, grain, start,
lookback, batch_size, keys, partition_by, owner, tags, description. Other comments in the
header are ordinary comments (`-- Fix: map KOR to PRK`), unless their first word is close
to a header key (`-- grian: day`): that is refused as a typo, with "did you mean".
A value may end in a comment of its own (`-- kind: incremental  -- or full`).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from assay.errors import DefinitionError
from assay.pipelines.declare import _common, _enum
from assay.pipelines.spec import DatasetSpec, Kind
from assay.pipelines.transforms import SqlTransform, template_refs

_KIND_ALIASES = {
    "incremental_by_time_range": "incremental",
    "merge_by_key": "merge",
    "table": "full",
    "view": "full",
}
_LIST_KEYS = {"keys", "partition_by"}
_KNOWN = {
    "name",
    "layer",
    "kind",
    "time_column",
    "grain",
    "batch_size",
    "start",
    "lookback",
    "keys",
    "partition_by",
    "owner",
    "tags",
    "description",
}
#: How close (difflib's ratio) a word must be to a header key to be refused as its typo:
#: `grian`, `kinds`, `time_colum`, `batchsize` are; `fix`, `note`, `todo`, `see` are not.
_TYPO_CUTOFF = 0.8
#: A comment after a value: `-- kind: incremental   -- full | incremental | merge`.
_TRAILING_COMMENT = re.compile(r"\s+--.*$")


def parse_header(text: str, path: str) -> tuple[dict[str, str], str]:
    """Split the leading `-- key: value` comments from the SQL body.

    Example:
        >>> parse_header("-- name: a.b\\n-- kind: full\\nSELECT 1", "x.sql")
        ({'name': 'a.b', 'kind': 'full'}, 'SELECT 1')
    """
    header: dict[str, str] = {}
    lines = text.splitlines()
    body_start = len(lines)
    last_key: str | None = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            body_start = number - 1
            break
        content = stripped[2:]
        if last_key and content.startswith("  ") and content.strip():
            header[last_key] += " " + content.strip()  # an indented continuation line
            continue
        key, sep, value = content.strip().partition(":")
        key = key.strip().lower()
        if not sep or not key.replace("_", "").isalnum():
            last_key = None
            continue  # an ordinary comment
        if key not in _KNOWN:
            _refuse_typo(key, f"{path}:{number}")
            last_key = None
            continue  # an ordinary comment that happens to contain a colon
        header[key] = _TRAILING_COMMENT.sub("", value).strip()
        last_key = key
    return header, "\n".join(lines[body_start:]).strip()


def _refuse_typo(word: str, where: str) -> None:
    """Refuse `word:` when it looks like a misspelt header key (it would be lost silently)."""
    close = difflib.get_close_matches(word, _KNOWN, n=1, cutoff=_TYPO_CUTOFF)
    if close:
        raise DefinitionError(
            f"unknown header key {word!r} (did you mean {close[0]!r}?)",
            where=where,
            hint=f"header keys: {', '.join(sorted(_KNOWN))}; for an ordinary comment, "
            f"do not start it with `{word}:`",
        )


def load_sql_file(path: Path) -> DatasetSpec:
    """Build the DatasetSpec a `.sql` file declares; every error names the file."""
    where = str(path)
    header, body = parse_header(path.read_text(), where)
    try:
        return _spec_from_header(header, body, where)
    except DefinitionError as exc:
        raise DefinitionError(exc.message, where=where, hint=exc.hint) from exc


def _spec_from_header(header: dict[str, str], body: str, origin: str) -> DatasetSpec:
    if not body:
        raise DefinitionError("the file has no SQL body")
    name = header.pop("name", None)
    layer = header.pop("layer", None)
    if not name:
        raise DefinitionError("missing `-- name: layer.name` header")
    if layer and "." not in name:
        name = f"{layer}.{name}"
    elif layer and not name.startswith(f"{layer}."):
        raise DefinitionError(f"layer {layer!r} does not match name {name!r}")
    kind_text = header.pop("kind", "full").lower()
    kind = _enum(Kind, _KIND_ALIASES.get(kind_text, kind_text), "kind")
    options: dict[str, Any] = {}
    for key, value in header.items():
        if key in _LIST_KEYS:
            options[key] = [v.strip() for v in value.split(",") if v.strip()]
        elif key == "tags":
            options[key] = _parse_tags(value)
        elif key in ("lookback", "batch_size"):
            options[key] = _positive_int(key, value)
        else:
            options[key] = value
    lookback = options.pop("lookback", 0)
    if "batch_size" in options:
        options["batch_size"] = max(1, options["batch_size"])
    inputs = tuple(dict.fromkeys(template_refs(body)))
    return DatasetSpec(
        name=name,
        kind=kind,
        producer=SqlTransform(body),
        inputs=inputs,
        lookback=lookback,
        origin=origin,
        **_common(**options),
    )


def _positive_int(key: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise DefinitionError(f"{key} must be a whole number >= 0, not {value!r}")
    return number


def _parse_tags(value: str) -> dict[str, str]:
    tags = {}
    for item in (v.strip() for v in value.split(",")):
        if item:
            key, _, val = item.partition("=")
            tags[key.strip()] = val.strip() or "true"
    return tags
