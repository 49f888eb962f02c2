"""Which Delta version added, retyped or dropped each column of a table: the log's
`metaData` actions walked in order (the Delta log is the truth, not the catalog).

Example:
    >>> import tempfile, pyarrow as pa
    >>> from deltalake import write_deltalake
    >>> path = tempfile.mkdtemp()
    >>> write_deltalake(path, pa.table({"a": [1]}))
    >>> write_deltalake(path, pa.table({"a": [2], "b": ["x"]}), mode="append", schema_mode="merge")
    >>> [(c.name, c.type, c.added_in) for c in schema_history(path).columns]
    [('a', 'long', 0), ('b', 'string', 1)]
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from deltalake import DeltaTable


@dataclass
class ColumnHistory:
    """One column's life in a table's log. `added_in` is None when the column is older
    than the oldest commit the log still holds (`SchemaHistory.since`)."""

    name: str
    type: str
    added_in: int | None
    #: (version, type before, type after) of each type change, oldest first.
    retyped: list[tuple[int, str, str]] = field(default_factory=list)
    dropped_in: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "added_in": self.added_in,
            "retyped": [{"version": v, "from": a, "to": b} for v, a, b in self.retyped],
            "dropped_in": self.dropped_in,
        }


@dataclass(frozen=True)
class SchemaHistory:
    """Every column a table ever had (current ones first, in table order), and the
    oldest version the walk started from (0 unless the log was cleaned up)."""

    columns: list[ColumnHistory]
    since: int

    @property
    def current(self) -> list[ColumnHistory]:
        return [c for c in self.columns if c.dropped_in is None]


def delta_type(value: Any) -> str:
    """A Delta schema type as short text: `long`, `decimal(5,1)`, `array<string>`,
    `struct<a:long,b:string>`.

    Example:
        >>> delta_type({"type": "array", "elementType": "string", "containsNull": True})
        'array<string>'
    """
    if isinstance(value, str):
        return value
    kind = value.get("type")
    if kind == "array":
        return f"array<{delta_type(value['elementType'])}>"
    if kind == "map":
        return f"map<{delta_type(value['keyType'])},{delta_type(value['valueType'])}>"
    if kind == "struct":
        inner = ",".join(f"{f['name']}:{delta_type(f['type'])}" for f in value["fields"])
        return f"struct<{inner}>"
    return json.dumps(value, sort_keys=True)


def schema_history(uri: str, storage_options: Mapping[str, str] | None = None) -> SchemaHistory:
    """Walk the Delta log at `uri` and say when each column appeared, changed type or went.

    A local log is read commit file by commit file; an object-store table is loaded at each
    version instead (slower, same answer).
    """
    changes = _local_schemas(uri) if "://" not in uri else _loaded_schemas(uri, storage_options)
    columns: dict[str, ColumnHistory] = {}
    since: int | None = None
    for version, fields in changes:
        first = since is None
        since = version if first else since
        _fold(columns, version, fields, known_before=first and version > 0)
    current = [columns[name] for name in (changes[-1][1] if changes else {})]
    dropped = [c for c in columns.values() if c.dropped_in is not None]
    return SchemaHistory(current + dropped, since or 0)


def _fold(
    columns: dict[str, ColumnHistory], version: int, fields: Mapping[str, str], known_before: bool
) -> None:
    """Apply one version's schema to the running column histories."""
    for name, type_ in fields.items():
        seen = columns.get(name)
        if seen is None or seen.dropped_in is not None:
            columns[name] = ColumnHistory(name, type_, None if known_before else version)
        elif seen.type != type_:
            seen.retyped.append((version, seen.type, type_))
            seen.type = type_
    for name, seen in columns.items():
        if name not in fields and seen.dropped_in is None:
            seen.dropped_in = version


def _fields(schema_string: str) -> dict[str, str]:
    return {f["name"]: delta_type(f["type"]) for f in json.loads(schema_string)["fields"]}


def _local_schemas(uri: str) -> list[tuple[int, dict[str, str]]]:
    """(version, columns) of each commit that set the table's metadata, oldest first."""
    log = os.path.join(uri, "_delta_log")
    versions = sorted(
        int(name[:20])
        for name in os.listdir(log)
        if name.endswith(".json") and name[:20].isdigit() and len(name) == 25
    )
    found: list[tuple[int, dict[str, str]]] = []
    if versions and versions[0] > 0:
        # The log was cleaned up: start from the checkpoint before the oldest commit file.
        base = versions[0] - 1
        found.append((base, _fields(DeltaTable(uri, version=base).schema().to_json())))
    for version in versions:
        for action in _actions(os.path.join(log, f"{version:020d}.json")):
            if "metaData" in action:
                found.append((version, _fields(action["metaData"]["schemaString"])))
    return found


def _actions(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _loaded_schemas(
    uri: str, storage_options: Mapping[str, str] | None
) -> list[tuple[int, dict[str, str]]]:
    options = dict(storage_options or {}) or None
    latest = DeltaTable(uri, storage_options=options).version()
    found: list[tuple[int, dict[str, str]]] = []
    for version in range(latest + 1):
        fields = _fields(
            DeltaTable(uri, version=version, storage_options=options).schema().to_json()
        )
        if not found or found[-1][1] != fields:
            found.append((version, fields))
    return found
