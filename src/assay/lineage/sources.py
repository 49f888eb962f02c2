"""Lineage of the datasets that read the outside world (files, databases, Kafka topics and
folders), of stream windows, and of Python datasets.

Each function returns a `DatasetLineage`: the dataset's output columns with the edges into
each, whole-table edges, and what it could not resolve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot.errors import ParseError

from assay.lineage.fields import merged, sampled_fields
from assay.lineage.graph import DIRECT, INDIRECT, Edge, Node
from assay.lineage.sqlexpr import IDENTITY, ExpressionUses, Use
from assay.pipelines.files import NOT_UTF8, FileSource
from assay.pipelines.producers import INGESTED_AT, LINE, SOURCE_FILE
from assay.pipelines.sources import SqlTableSource
from assay.pipelines.spec import DatasetSpec
from assay.streaming.sources import KafkaSource, StreamSource, WindowOutput
from assay.streaming.window_sql import WINDOW_END, WINDOW_START


@dataclass
class DatasetLineage:
    """One dataset's lineage: edges into each output column, whole-table edges, and the
    columns or expressions whose lineage is unknown."""

    columns: dict[str, list[Edge]] = field(default_factory=dict)
    table_edges: list[Edge] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)

    def add(self, column: str, *edges: Edge) -> None:
        """Record output `column` (even with no edge: a constant, an ingest time)."""
        self.columns.setdefault(column, []).extend(edges)


def _user_columns(built: Sequence[str] | None) -> list[str] | None:
    """A built source table's columns without the ones assay adds (names from `_`)."""
    return None if built is None else [c for c in built if not c.startswith("_")]


def _copy(source: Node, dataset: str, note: str | None = None) -> Edge:
    """`source` copied into the same-named column of `dataset`."""
    target = Node("dataset", dataset, source.column)
    return Edge(source, target, DIRECT, "IDENTITY", note)


def file_lineage(
    spec: DatasetSpec, source: FileSource, root: str, built: Sequence[str] | None
) -> DatasetLineage:
    """Each file field to its bronze column (cast to its declared type), `derive=` columns
    to the fields their expressions read, `_source_file` and `_line` to the files."""
    result = DatasetLineage()
    raw = Node("file", source.path)
    sampled = sampled_fields(source, root)
    if sampled is None and built is None:
        result.unresolved.append(
            f"* (no file matches {source.path} and {spec.name} is not built: "
            "only its declared columns are known)"
        )
    derived_only = set(source.derive) - set(sampled or ())
    for name in merged(sampled, _user_columns(built), list(source.columns)):
        if name in source.derive or name in derived_only or name == NOT_UTF8:
            continue
        declared = source.columns.get(name)
        note = f"cast to {declared}" if declared else None
        result.add(name, _copy(Node("file", source.path, name), spec.name, note))
    for name, expression in source.derive.items():
        uses = _expression_uses(expression, source.path)
        target = Node("dataset", spec.name, name)
        result.add(name, *(_edge(Node("file", u.table, u.column), target, u) for u in uses))
    result.add(SOURCE_FILE, _whole(raw, spec.name, SOURCE_FILE, "the path of the file read"))
    result.add(LINE, _whole(raw, spec.name, LINE, "the line (or row) of the record"))
    result.add(INGESTED_AT)  # when the run read it: no input
    return result


def _whole(raw: Node, dataset: str, column: str, note: str) -> Edge:
    return Edge(raw, Node("dataset", dataset, column), DIRECT, "TRANSFORMATION", note)


def _edge(source: Node, target: Node, use: Use) -> Edge:
    return Edge(source, target, use.type, use.subtype)


def _expression_uses(expression: str, table: str) -> list[Use]:
    """The fields a `derive=` expression reads (it is checked at declaration)."""
    try:
        parsed = sqlglot.parse_one(expression, dialect="duckdb")
    except ParseError:
        return []
    uses = ExpressionUses(lambda column: [Use(table, column.name, *IDENTITY)], lambda _: [], {})
    return list(dict.fromkeys(uses.of(parsed, IDENTITY)))


def database_lineage(
    spec: DatasetSpec, source: SqlTableSource, built: Sequence[str] | None
) -> DatasetLineage:
    """Each column read from a database table to the same-named column."""
    result = DatasetLineage()
    table = Node("database", database_name(source))
    columns = list(source.columns) or _user_columns(built)
    if columns is None:
        result.unresolved.append(
            f"* ({spec.name} reads every column of {source.table} and is not built yet: "
            "run it, or list columns=[...])"
        )
    for name in columns or ():
        result.add(name, _copy(Node("database", table.name, name), spec.name))
    return result


def database_name(source: SqlTableSource) -> str:
    """`backend://host/db#schema.table`, with no password (names are shown and emitted).

    Example:
        >>> database_name(SqlTableSource("postgresql://u:secret@h/shop", "orders"))
        'postgresql://u:***@h/shop#orders'
    """
    from sqlalchemy.engine import make_url

    url = make_url(source.url).render_as_string(hide_password=True)
    table = f"{source.db_schema}.{source.table}" if source.db_schema else source.table
    return f"{url}#{table}"


def stream_lineage(
    spec: DatasetSpec, source: StreamSource, built: Sequence[str] | None
) -> DatasetLineage:
    """Each payload field of a Kafka topic or folder stream to its column; the stream's
    own columns (`_partition`, `_offset`...) to the topic or folder as a whole."""
    result = DatasetLineage()
    kind, name = ("kafka", source.topic) if isinstance(source, KafkaSource) else ("folder", "")
    if kind == "folder":
        name = str(getattr(source, "path", ""))
    whole = Node(kind, name)
    declared = [source.timestamp, *([source.key] if source.key else []), *source.columns]
    for field_name in merged(declared, _user_columns(built)):
        result.add(field_name, _copy(Node(kind, name, field_name), spec.name))
    for own in [c for c in built or () if c.startswith("_")]:
        result.add(own, _whole(whole, spec.name, own, "recorded by the stream"))
    if built is None and not source.columns:
        result.unresolved.append(f"* ({spec.name} declares no columns and is not built yet)")
    return result


def window_lineage(spec: DatasetSpec, output: WindowOutput, timestamp: str) -> DatasetLineage:
    """A stream window's table: keys copied, window bounds from the stream's event time
    (`timestamp`), each aggregate from its column; every row grouped by the keys and
    windowed by the event time."""
    result = DatasetLineage()
    stream, window = output.stream, output.window
    time = Node("dataset", stream, timestamp)
    for key in window.keys:
        result.add(key, _copy(Node("dataset", stream, key), spec.name))
    for bound in (WINDOW_START, WINDOW_END):
        target = Node("dataset", spec.name, bound)
        result.add(bound, Edge(time, target, DIRECT, "TRANSFORMATION", "window bound"))
    for aggregation in window.aggregations:
        target = Node("dataset", spec.name, aggregation.name)
        result.add(aggregation.name)
        if aggregation.column:
            source = Node("dataset", stream, aggregation.column)
            edge = Edge(source, target, DIRECT, "AGGREGATION", aggregation.function)
            result.add(aggregation.name, edge)
    for column, edges in result.columns.items():
        target = Node("dataset", spec.name, column)
        edges += [
            Edge(Node("dataset", stream, key), target, INDIRECT, "GROUP_BY") for key in window.keys
        ]
        edges.append(Edge(time, target, INDIRECT, "WINDOW", "event-time window"))
    return result


def python_lineage(
    spec: DatasetSpec, producer: Any, built: Sequence[str] | None, dataset_names: Mapping[str, Any]
) -> DatasetLineage:
    """A Python source or transform: whole-table edges from each input, and column edges
    where the producer declares them (`lineage={"out": ["layer.name.column", ...]}`)."""
    result = DatasetLineage()
    target = Node("dataset", spec.name)
    for name in spec.inputs:
        result.table_edges.append(
            Edge(Node("dataset", name), target, DIRECT, "TRANSFORMATION", "Python code")
        )
    declared: Mapping[str, Sequence[str]] = getattr(producer, "lineage", None) or {}
    for column, inputs in declared.items():
        for ref in inputs:
            table, _, input_column = ref.rpartition(".")
            if table not in dataset_names:
                result.unresolved.append(f"{column} (declared input {ref} is not a dataset)")
                continue
            source = Node("dataset", table, input_column)
            edge = Edge(source, Node("dataset", spec.name, column), DIRECT, "TRANSFORMATION")
            result.add(column, edge)
    for column in built or ():
        if column not in declared:
            result.add(column)
    # A producer whose rows are records about its inputs (a model's trainings), not
    # columns derived from them, has table lineage only by nature: nothing to warn about.
    if not declared and not getattr(producer, "table_lineage_only", False):
        result.unresolved.append(
            "* (Python code: lineage by table only; declare lineage= for its columns)"
        )
    return result
