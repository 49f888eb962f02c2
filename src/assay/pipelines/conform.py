"""Conform a batch of source records to the dataset's table schema, one SQL pass.

Decides the target columns under the dataset's schema policy, casts every value with
TRY_CAST, and splits rows into good rows and quarantined rows (with the reason in words).
Rows in = rows out + rows quarantined, by construction: the split is one boolean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from assay import sqlbuild as sb
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
    source_sql: str | exp.Query = "SELECT * FROM batch",
    text_values: bool = False,
    time_column: str | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Cast `batch` to `plan.target`; return (good rows, rejected rows with `reason`).

    `source_sql` selects the observed columns (plus _source_file, _line, _raw) from `batch`,
    so a parser can hand over raw records and extract their fields in this same pass;
    `text_values` says every observed value is text (JSON, CSV) and must be cast-checked.
    """
    sql = conform_sql(batch.schema, observed, plan, source_sql, text_values, time_column)
    checked = engine.query(sql, {"batch": batch})
    # The ingestion time is added here, not in the SQL: the query then depends on the
    # batch's shape only, and is built once per shape (building it is not free).
    stamp = pa.repeat(pa.scalar(_naive_utc(ingested_at), pa.timestamp("us")), checked.num_rows)
    checked = checked.add_column(len(plan.target) + 2, INGESTED_AT, stamp)  # after LINE
    bad_mask = pc.not_equal(checked[_REASON], "")
    good = checked.filter(pc.invert(bad_mask)).drop_columns([RAW, _REASON])
    bad = checked.filter(bad_mask).select([SOURCE_FILE, LINE, RAW, _REASON])
    return good, bad


def conform_sql(
    schema: pa.Schema,
    observed: Mapping[str, str],
    plan: ColumnPlan,
    source_sql: str | exp.Query = "SELECT * FROM batch",
    text_values: bool = False,
    time_column: str | None = None,
) -> str:
    """The DuckDB query `conform` runs: every target column cast, plus the reason (in words)
    a row is rejected, empty for good rows. Names and values are expressions, so a column
    named `a"; DROP TABLE x; --` is one column and its reason one text.

    Example:
        >>> plan = ColumnPlan(target={"n": "BIGINT"})
        >>> sql = conform_sql(pa.schema([("n", pa.string())]), {"n": "VARCHAR"}, plan)
        >>> 'TRY_CAST("n" AS BIGINT)' in sql
        True
    """
    shape = _Shape(
        frozenset(f.name for f in schema if pa.types.is_string(f.type)),
        tuple(observed.items()),
        tuple(plan.target.items()),
        tuple(plan.quarantine_if_present),
        text_values,
        time_column,
    )
    if isinstance(source_sql, str):
        return _cached_sql(shape, source_sql)
    return _build_sql(shape, source_sql)


@dataclass(frozen=True)
class _Shape:
    """What the conform query depends on, hashable (the key of its cache)."""

    text_columns: frozenset[str]
    observed: tuple[tuple[str, str], ...]
    target: tuple[tuple[str, str], ...]
    quarantine_if_present: tuple[str, ...]
    text_values: bool
    time_column: str | None


@lru_cache(maxsize=128)
def _cached_sql(shape: _Shape, source_sql: str) -> str:
    return _build_sql(shape, sqlglot.parse_one(source_sql, read="duckdb"))


def _build_sql(shape: _Shape, source: exp.Expr) -> str:
    observed = dict(shape.observed)
    selects: list[exp.Expr] = []
    errors: list[exp.Expr] = []
    for name, target in shape.target:
        if name not in observed:
            selects.append(exp.alias_(sb.cast(exp.null(), target), sb.identifier(name)))
            continue
        selects.append(exp.alias_(_cast(name, target), sb.identifier(name)))
        # Text values (JSON, CSV) are checked even when the column's usual type matches:
        # one "N/A" among numbers must be quarantined, not silently nulled.
        is_text = shape.text_values or name in shape.text_columns
        as_text = is_text and target != "VARCHAR"
        if observed[name] != target or as_text:
            errors.append(_cast_error(name, target))
        if target.startswith(("DATE", "TIMESTAMP")):
            errors.append(_range_error(name, target, name == shape.time_column))
    for name in shape.quarantine_if_present:
        present = exp.Not(this=exp.Is(this=sb.column(name), expression=exp.null()))
        errors.append(_when(present, sb.string(f"unexpected column {name}")))
    reason = _func("concat_ws", sb.string("; "), *errors) if errors else sb.string("")
    inner = exp.select(
        *selects,
        exp.column(SOURCE_FILE),
        exp.column(LINE),
        exp.column(RAW),
        exp.alias_(reason, _REASON),
    ).from_(exp.alias_(exp.Subquery(this=source), "__source", table=True))
    newline = exp.DPipe(this=_func("chr", _number(13)), expression=_func("chr", _number(10)))
    raw = _when(
        exp.NEQ(this=exp.column(_REASON), expression=sb.string("")),
        _func("rtrim", exp.column(RAW), newline),
    )
    outer = exp.select(exp.Star(except_=[exp.column(RAW)]), exp.alias_(raw, RAW))
    return sb.render(outer.from_(exp.Subquery(this=inner), copy=False), "duckdb", copy=False)


def _cast(name: str, target: str) -> exp.Expr:
    """TRY_CAST, except that text times with an offset (`+02:00`, `Z`) become UTC: a plain
    cast to TIMESTAMP would drop the offset."""
    if target == "TIMESTAMP":
        zoned = sb.cast(sb.column(name), "TIMESTAMPTZ", safe=True)
        return sb.cast(exp.AtTimeZone(this=zoned, zone=sb.string("UTC")), "TIMESTAMP")
    return sb.cast(sb.column(name), target, safe=True)


def _cast_error(name: str, target: str) -> exp.Expr:
    col = sb.column(name)
    failed: exp.Expr = exp.Is(this=sb.cast(col, target, safe=True), expression=exp.null())
    if target in INTEGRAL:
        # DuckDB rounds '2.5' to 3 when casting to an integer; a fraction is a bad value.
        fraction = exp.NullSafeNEQ(
            this=sb.cast(col.copy(), "DOUBLE", safe=True),
            expression=sb.cast(col.copy(), target, safe=True),
        )
        failed = exp.or_(failed, fraction, copy=False)
    present = exp.Not(this=exp.Is(this=col.copy(), expression=exp.null()))
    return _when(
        exp.and_(present, exp.paren(failed), copy=False),
        _message(name, col.copy(), f" is not {target}"),
    )


def _range_error(name: str, target: str, is_time_column: bool) -> exp.Expr:
    """Times no reader can hold are quarantined: infinities and years past 9999 break
    Python readers (`assay sql`, `show`); a time column must also leave room for its
    intervals (a year grain's last interval ends a year after its newest row)."""
    value = _cast(name, target)
    if is_time_column:
        bad: exp.Expr = value.copy() >= sb.string("9999-01-01")
        why = " is too far out for intervals (before 9999)"
    else:
        bad, why = value.copy() > sb.string("9999-12-31"), " is out of range (years 1 to 9999)"
    out = exp.or_(
        exp.Not(this=_func("isfinite", value.copy())),
        value.copy() < sb.string("0001-01-02"),
        bad,
        copy=False,
    )
    present = exp.Not(this=exp.Is(this=value.copy(), expression=exp.null()))
    return _when(exp.and_(present, exp.paren(out), copy=False), _message(name, value, why))


def _message(name: str, value: exp.Expr, why: str) -> exp.Expr:
    """'column <name>: <value, cut to 60 characters><why>' as a text expression."""
    shown = _func("left", sb.cast(value, "VARCHAR"), _number(60))
    head = exp.DPipe(this=sb.string(f"column {name}: "), expression=shown)
    return exp.DPipe(this=head, expression=sb.string(why))


def _when(condition: exp.Expr, then: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=then)])


def _func(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _number(n: int) -> exp.Expr:
    return exp.Literal.number(n)


def _naive_utc(moment: object) -> datetime:
    """The ingestion time as naive UTC (an aware time is converted; text is ISO)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromisoformat(str(moment))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


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
