"""Conform a batch of source records to the dataset's table schema, one SQL pass.

Decides the target columns under the dataset's schema policy, casts every value with
TRY_CAST, and splits rows into good rows and quarantined rows (with the reason in words).
Rows in = rows out + rows quarantined, by construction: the split is one boolean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from assay.engines import Engine
from assay.engines.types import INTEGRAL, arrow_to_sql, compatible, storage_type, widens
from assay.errors import SchemaDriftError
from assay.pipelines.producers import INGESTED_AT, LINE, SOURCE_FILE, SYSTEM_COLUMNS
from assay.pipelines.spec import SchemaPolicy

RAW = "_raw"
_REASON = "__reason"


@dataclass
class ColumnPlan:
    """Target column types plus what drifted from the table."""

    target: dict[str, str]
    new: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)
    quarantine_if_present: list[str] = field(default_factory=list)
    #: Columns whose table type widens to hold the new values (allow_widening=True).
    widened: dict[str, str] = field(default_factory=dict)


def plan_columns(
    dataset: str,
    observed: Mapping[str, str],
    table_types: Mapping[str, str] | None,
    declared: Mapping[str, str],
    policy: SchemaPolicy,
    has_rows: bool,
    allow_widening: bool = False,
) -> ColumnPlan:
    """Apply the schema policy to observed vs. existing (or declared) columns.

    With `allow_widening`, a column whose values now need a wider type (BIGINT -> DOUBLE,
    DATE -> TIMESTAMP) widens the table instead of counting as retyped (not when frozen).
    """
    base = dict(table_types) if table_types is not None else dict(declared)
    plan = ColumnPlan(target=dict(base))
    plan.new = [c for c in observed if c not in base]
    if table_types is not None and has_rows:
        plan.removed = [c for c in base if c not in observed]
    plan.retyped = [c for c in observed if c in base and not compatible(observed[c], base[c])]
    has_baseline = table_types is not None or bool(declared)
    if allow_widening and table_types is not None and policy is not SchemaPolicy.FREEZE:
        plan.widened = {c: observed[c] for c in plan.retyped if widens(observed[c], base[c])}
        plan.retyped = [c for c in plan.retyped if c not in plan.widened]
        plan.target.update(plan.widened)
    if table_types is None and policy is SchemaPolicy.EVOLVE:
        # A new table takes the data's column order, with declared types where given.
        ordered = [*observed, *(c for c in declared if c not in observed)]
        plan.target = {c: declared.get(c) or storage_type(observed[c]) for c in ordered}
        return plan
    if (
        policy is SchemaPolicy.FREEZE
        and has_baseline
        and (plan.new or plan.removed or plan.retyped)
    ):
        _fail(dataset, "frozen schema changed", plan)
    if policy is SchemaPolicy.EVOLVE and (plan.removed or plan.retyped):
        _fail(dataset, "schema changed", plan)
    if policy is SchemaPolicy.EVOLVE or not has_baseline:
        plan.target.update({c: storage_type(observed[c]) for c in plan.new})
    elif policy is SchemaPolicy.QUARANTINE:
        plan.quarantine_if_present = list(plan.new)
    return plan


def _fail(dataset: str, what: str, plan: ColumnPlan) -> None:
    parts = []
    if plan.new:
        parts.append(f"new column(s) {', '.join(plan.new)}")
    if plan.removed:
        parts.append(f"removed column(s) {', '.join(plan.removed)}")
    if plan.retyped:
        parts.append(
            "retyped column(s) "
            + ", ".join(f"{c} ({plan.target[c]} in the table)" for c in plan.retyped)
        )
    raise SchemaDriftError(
        f"{what}: {'; '.join(parts)}",
        where=dataset,
        hint="set schema_policy='discard' or 'quarantine' (or allow_widening=True for a wider "
        "type) on the dataset, or rebuild the table with `assay run --full-refresh`",
    )


def conform(
    engine: Engine,
    batch: pa.Table,
    observed: Mapping[str, str],
    plan: ColumnPlan,
    ingested_at: object,
    source_sql: str = "SELECT * FROM batch",
    text_values: bool = False,
    time_column: str | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Cast `batch` to `plan.target`; return (good rows, rejected rows with `reason`).

    `source_sql` selects the observed columns (plus _source_file, _line, _raw) from `batch`,
    so a parser can hand over raw records and extract their fields in this same pass;
    `text_values` says every observed value is text (JSON, CSV) and must be cast-checked.
    """
    selects, errors = [], []
    for column, target in plan.target.items():
        if column not in observed:
            selects.append(f'CAST(NULL AS {target}) AS "{_q(column)}"')
            continue
        selects.append(f'{_cast(column, target)} AS "{_q(column)}"')
        # Text values (JSON, CSV) are checked even when the column's usual type matches:
        # one "N/A" among numbers must be quarantined, not silently nulled.
        is_text = text_values or pa.types.is_string(batch.schema.field(column).type)
        as_text = is_text and target != "VARCHAR"
        if observed[column] != target or as_text:
            errors.append(_cast_error(column, target))
        if target.startswith(("DATE", "TIMESTAMP")):
            errors.append(_range_error(column, target, column == time_column))
    for column in plan.quarantine_if_present:
        errors.append(
            f"""CASE WHEN "{_q(column)}" IS NOT NULL THEN 'unexpected column {_lit(column)}' END"""
        )
    reason = f"concat_ws('; ', {', '.join(errors)})" if errors else "''"
    sql = f"""
        SELECT * EXCLUDE ({RAW}),
               CASE WHEN {_REASON} <> '' THEN rtrim({RAW}, chr(13) || chr(10)) END AS {RAW}
        FROM (
            SELECT {", ".join([*selects, SOURCE_FILE, LINE])},
                   TIMESTAMP '{ingested_at}' AS {INGESTED_AT}, {RAW}, {reason} AS {_REASON}
            FROM ({source_sql}) AS __source)
    """
    checked = engine.query(sql, {"batch": batch})
    bad_mask = pc.not_equal(checked[_REASON], "")
    good = checked.filter(pc.invert(bad_mask)).drop_columns([RAW, _REASON])
    bad = checked.filter(bad_mask).select([SOURCE_FILE, LINE, RAW, _REASON])
    return good, bad


def _cast(column: str, target: str) -> str:
    """TRY_CAST, except that text times with an offset (`+02:00`, `Z`) become UTC: a plain
    cast to TIMESTAMP would drop the offset."""
    if target == "TIMESTAMP":
        return f"""CAST(TRY_CAST("{_q(column)}" AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"""
    return f'TRY_CAST("{_q(column)}" AS {target})'


def _cast_error(column: str, target: str) -> str:
    col = f'"{_q(column)}"'
    failed = f"TRY_CAST({col} AS {target}) IS NULL"
    if target in INTEGRAL:
        # DuckDB rounds '2.5' to 3 when casting to an integer; a fraction is a bad value.
        failed += f" OR TRY_CAST({col} AS DOUBLE) IS DISTINCT FROM TRY_CAST({col} AS {target})"
    return (
        f"CASE WHEN {col} IS NOT NULL AND ({failed}) THEN 'column {_lit(column)}: ' || "
        f"left(CAST({col} AS VARCHAR), 60) || ' is not {target}' END"
    )


def _range_error(column: str, target: str, is_time_column: bool) -> str:
    """Times no reader can hold are quarantined: infinities and years past 9999 break
    Python readers (`assay sql`, `show`); a time column must also leave room for its
    intervals (a year grain's last interval ends a year after its newest row)."""
    value = _cast(column, target)
    if is_time_column:
        bad, why = f"{value} >= '9999-01-01'", "is too far out for intervals (before 9999)"
    else:
        bad, why = f"{value} > '9999-12-31'", "is out of range (years 1 to 9999)"
    return (
        f"CASE WHEN {value} IS NOT NULL AND (NOT isfinite({value}) OR {value} < '0001-01-02' "
        f"OR {bad}) THEN 'column {_lit(column)}: ' || left(CAST({value} AS VARCHAR), 60) "
        f"|| ' {why}' END"
    )


def _q(name: str) -> str:
    return name.replace('"', '""')


def _lit(text: str) -> str:
    return text.replace("'", "''")


def conform_typed(
    dataset: str, table: pa.Table, table_schema: pa.Schema | None, policy: SchemaPolicy
) -> pa.Table:
    """Apply the schema policy to typed data (Python and database sources).

    New columns evolve (or are dropped / fail, per policy); removed columns fail or become
    nulls; columns are cast to the table's types so appends and merges line up.
    """
    if table_schema is None or not table.num_columns:
        return table
    observed = {f.name: arrow_to_sql(f.type) for f in table.schema}
    existing = {f.name: arrow_to_sql(f.type) for f in table_schema if f.name not in SYSTEM_COLUMNS}
    plan = plan_columns(dataset, observed, existing, {}, policy, table.num_rows > 0)
    if policy is SchemaPolicy.QUARANTINE and plan.new:
        # Typed sources have no raw record to quarantine: treat new columns as discarded.
        plan.quarantine_if_present = []
    columns, fields = [], []
    for name in plan.target:
        target_type = (
            table_schema.field(name).type
            if name in table_schema.names
            else table.schema.field(name).type
        )
        if name in table.column_names:
            try:
                columns.append(table[name].cast(target_type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SchemaDriftError(
                    f"column {name} cannot be stored as {target_type}: {exc}",
                    where=dataset,
                    hint="fix the source's type or rebuild with `assay run --full-refresh`",
                ) from exc
        else:
            columns.append(pa.nulls(table.num_rows, target_type))
        fields.append(pa.field(name, target_type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))
