"""Before a run: which columns a changed SQL dataset would remove or retype.

A changed SQL file is bound by DuckDB over empty inputs of its inputs' schemas (no row is
read), and its output schema is compared with its table's. A column that disappears, or
whose new type the table cannot take without changing it (BIGINT to VARCHAR, DOUBLE to
DATE: anything but a widening within integers and decimals, or within floats), is a change
downstream readers may break on. Who reads each column is lineage's business
(`assay.lineage.impact`); this module only says what changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from assay.errors import AssayError
from assay.pipelines.spec import DatasetSpec
from assay.pipelines.transforms import SqlTransform, render_sql
from assay.runtime import Runtime
from assay.tables.casts import castable

#: Bounds `{{ start }}`/`{{ end }}` take while binding: any interval gives the same types.
_BIND_WINDOW = {"start": datetime(2000, 1, 1), "end": datetime(2000, 1, 2)}


@dataclass(frozen=True)
class ColumnChange:
    """One column of `dataset` that the changed code removes or retypes.

    Example:
        >>> ColumnChange("silver.t", "amount", "DOUBLE", None).describe()
        'silver.t.amount (DOUBLE) is removed'
    """

    dataset: str
    column: str
    old_type: str
    new_type: str | None  # None: removed

    def describe(self) -> str:
        what = "is removed" if self.new_type is None else f"becomes {self.new_type}"
        return f"{self.dataset}.{self.column} ({self.old_type}) {what}"


def changed_sql_datasets(rt: Runtime, names: Iterable[str]) -> list[DatasetSpec]:
    """SQL datasets among `names` whose table was built by other code, in DAG order."""
    found = []
    for name in rt.dag.order(names):
        spec = rt.dag[name]
        if not isinstance(spec.producer, SqlTransform) or not rt.warehouse.exists(name):
            continue
        _, state = rt.catalog.sync_point(name)
        if state.fingerprint is not None and state.fingerprint != spec.fingerprint:
            found.append(spec)
    return found


def column_changes(rt: Runtime, names: Iterable[str]) -> list[ColumnChange]:
    """Columns removed or incompatibly retyped by the changed SQL datasets among `names`.

    A changed dataset whose SQL does not bind (an input not built yet, a column its SQL
    names that is gone) is skipped here: the run reports that error itself.
    """
    new_schemas: dict[str, pa.Schema] = {}
    changes: list[ColumnChange] = []
    for spec in changed_sql_datasets(rt, names):
        schema = _bound_schema(rt, spec, new_schemas)
        if schema is None:
            continue
        new_schemas[spec.name] = schema
        changes += _compare(spec.name, rt.warehouse.schema(spec.name), schema)
    return changes


def _bound_schema(
    rt: Runtime, spec: DatasetSpec, new_schemas: dict[str, pa.Schema]
) -> pa.Schema | None:
    """The output schema of `spec`'s SQL over empty inputs (changed upstreams: their new
    schemas), or None when it cannot be bound."""
    if rt.local_engine is None or any(
        i not in new_schemas and not rt.warehouse.exists(i) for i in spec.inputs
    ):
        return None
    assert isinstance(spec.producer, SqlTransform)
    inputs = {
        name: (new_schemas.get(name) or rt.warehouse.schema(name)).empty_table()
        for name in spec.inputs
    }
    sql = render_sql(spec.producer.sql, {**_BIND_WINDOW, "vars": rt.config.vars}, spec.where)
    try:
        return rt.local_engine.query(f"SELECT * FROM ({sql}) AS __bound LIMIT 0", inputs).schema
    except AssayError:
        return None


def _compare(dataset: str, old: pa.Schema, new: pa.Schema) -> list[ColumnChange]:
    new_types = {f.name: f.type for f in new}
    changes = []
    for field in old:
        if field.name.startswith("_"):
            continue  # system columns (_ingested_at, ...) are assay's, not the SQL's
        new_type = new_types.get(field.name)
        if new_type is None:
            changes.append(ColumnChange(dataset, field.name, str(field.type), None))
        elif not _same_or_kept(new_type, field.type):
            changes.append(ColumnChange(dataset, field.name, str(field.type), str(new_type)))
    return changes


def _same_or_kept(new: pa.DataType, old: pa.DataType) -> bool:
    """Whether the table keeps serving `old` (the same type, text of another width, or a
    value cast on write into the table's type: see tables/casts.py)."""
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    if any(f(new) for f in text) and any(f(old) for f in text):
        return True
    return bool(new == old) or castable(new, old)
