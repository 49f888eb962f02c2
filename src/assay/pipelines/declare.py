"""The declaration API users write in `pipelines/*.py`: files, source, transform, sql_table.

Declarations build immutable `DatasetSpec`s and register them with the project being
loaded; outside a project load they are simply built and returned (useful in tests).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any, TypeVar

from assay.errors import DefinitionError
from assay.governance.protection import Protection
from assay.intervals import Grain, to_naive_utc
from assay.pipelines.automation import Automation
from assay.pipelines.files import FileSource, Format
from assay.pipelines.sources import PythonSource, SqlTableSource
from assay.pipelines.spec import DatasetSpec, Kind, SchemaPolicy, time_column_hint
from assay.pipelines.transforms import PythonTransform

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

#: Everything declared while a project file loads: datasets, entities, feature views...
_collector: ContextVar[list[Any] | None] = ContextVar("assay_collector", default=None)


@contextmanager
def collecting() -> Iterator[list[Any]]:
    """Collect every dataset declared while the block runs (used by the project loader)."""
    found: list[Any] = []
    token = _collector.set(found)
    try:
        yield found
    finally:
        _collector.reset(token)


def register(declared: T) -> T:
    """Record a declaration with the project being loaded (no-op outside a load)."""
    found = _collector.get()
    if found is not None:
        found.append(declared)
    return declared


def caller_origin(depth: int = 2) -> str:
    """`file:line` of the user code `depth` frames up that declared something (errors and
    `assay plan` point there). `sys._getframe`, not `inspect.stack()`, which reads the
    source lines of every frame on the stack for each declaration."""
    frame = sys._getframe(depth)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _common(**options: Any) -> dict[str, Any]:
    out = {k: v for k, v in options.items() if v is not None}
    for key in ("keys", "partition_by", "zorder_by", "inputs"):
        if key in out:
            value = out[key]
            out[key] = (value,) if isinstance(value, str) else tuple(value)
    if "tags" in out:
        tags = out["tags"]
        out["tags"] = {t: "true" for t in tags} if isinstance(tags, list | tuple) else dict(tags)
    if "grain" in out:
        out["grain"] = _enum(Grain, out["grain"], "grain")
    if "schema_policy" in out:
        out["schema_policy"] = _enum(SchemaPolicy, out["schema_policy"], "schema_policy")
    if "start" in out:
        out["start"] = to_naive_utc(_parse_date(out["start"]))
    return out


def _automation(name: str, **options: Any) -> Automation:
    """The declaration's schedule, SLA and limits, parsed (errors name the dataset)."""
    return Automation.declare(f"{name} ({caller_origin(3)})", **options)


def _strings(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _enum(cls: Any, value: Any, what: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise DefinitionError(f"invalid {what} {value!r}", hint=f"use one of: {choices}") from None


def _parse_date(value: Any) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise DefinitionError(f"invalid date {value!r}", hint="use YYYY-MM-DD") from None


def files(
    name: str,
    path: str,
    format: Format,
    *,
    columns: Mapping[str, str] | None = None,
    derive: Mapping[str, str] | None = None,
    time_column: str | None = None,
    schema_policy: str = "evolve",
    allow_widening: bool = False,
    delimiter: str = ",",
    null_values: Sequence[str] | None = None,
    owner: str | None = None,
    tags: Mapping[str, str] | Sequence[str] | None = None,
    description: str | None = None,
    partition_by: Sequence[str] | None = None,
    zorder_by: Sequence[str] | None = None,
    schedule: str | None = None,
    catchup: int | None = None,
    sla: str | None = None,
    max_duration: str | float | None = None,
    max_quarantined: str | float | None = None,
    mask: Mapping[str, str] | None = None,
    drop: Sequence[str] | None = None,
    retention: str | int | None = None,
) -> DatasetSpec:
    """Declare a bronze dataset fed by files matching a glob.

    Args:
        name: the table, as `layer.name`.
        path: a glob relative to the project folder (`**` recurses).
        format: "csv", "jsonl" or "parquet".
        columns: optional SQL types per column (`{"amount": "DOUBLE"}`); values that do not
            cast are quarantined. Undeclared columns get types inferred from the data.
        derive: columns computed at ingest, name -> SQL expression (DuckDB dialect) over
            the file's columns, e.g. `{"period_start": "make_date(year, 1, 1)"}` turns a
            year number into a DATE that can be a time column. A derived column replaces a
            file column of the same name.
        time_column: the event-time column downstream incremental datasets slice on: a
            DATE, TIMESTAMP or TIMESTAMPTZ column (derive one from a year number).
        schema_policy: "evolve" (default), "freeze", "discard" or "quarantine".
        allow_widening: when values need a wider type than the table's column (integers
            that became decimals), rewrite the table with the wider type instead of failing.
        null_values: CSV fields read as null (default: pyarrow's list: "", NA, N/A, NULL,
            null, NaN, nan, #N/A...). Namibia's country code is NA: `null_values=[""]` keeps
            it as text.
        schedule: when `assay schedule` runs it: a cron expression or preset (`@hourly`),
            or "on_arrival" (new or changed files in the glob). Transforms also take
            "on_upstream". See `assay.pipelines.automation`.
        catchup, sla, max_duration, max_quarantined: missed cron ticks run after downtime,
            the freshness deadline ("interval done by 06:00 UTC", "within 2h"), the run
            time that alerts ("15m") and the share of a batch that may be quarantined
            ("1%"; above it the batch is blocked). Every declaration takes them.
        mask, drop: protection at ingest: column -> "null", "hash", "partial" or
            "tokenize" (an HMAC token under the project's key), and columns never written.
        retention: how long rows are kept by the time column ("400d"); `assay retention
            apply` deletes older ones. Every declaration takes it.
        zorder_by: columns `assay optimize` clusters the table's files on (z-order), so
            filters on them read fewer files: the columns queries filter by, e.g.
            `zorder_by=["card_id"]`. Every declaration takes it (SQL header:
            `-- zorder_by: card_id`).

    Example:
        >>> import assay
        >>> spec = assay.files("bronze.tx", path="data/*.jsonl", format="jsonl")
        >>> spec.kind.value
        'append'
    """
    where = f"{name} ({caller_origin()})"
    _check_files_arguments(where, name, path, columns, derive, time_column)
    automation = _automation(
        name,
        schedule=schedule,
        catchup=catchup,
        sla=sla,
        max_duration=max_duration,
        max_quarantined=max_quarantined,
    )
    opts = _common(
        owner=owner,
        tags=tags,
        description=description,
        time_column=time_column,
        schema_policy=schema_policy,
        partition_by=partition_by,
        zorder_by=zorder_by,
    )
    try:
        producer = FileSource(
            path=path,
            format=format,
            columns=dict(columns or {}),
            csv_delimiter=delimiter,
            null_values=None if null_values is None else tuple(null_values),
            schema_policy=opts["schema_policy"],
            derive=dict(derive or {}),
        )
    except DefinitionError as exc:
        raise DefinitionError(exc.message, where=where, hint=exc.hint) from None
    _check_declared_time_type(where, time_column, dict(columns or {}))
    return register(
        DatasetSpec(
            name=name,
            kind=Kind.APPEND,
            producer=producer,
            origin=caller_origin(),
            allow_widening=allow_widening,
            automation=automation,
            protection=Protection.declare(name, mask, drop, retention),
            **opts,
        )
    )


#: DuckDB type names sqlglot does not parse (from `duckdb_types()`), still valid in `columns=`.
_DUCKDB_ONLY_TYPES = {"GUID", "OID", "UINT8", "UINT16", "UINT32", "UINT64", "VARINT"}
_TYPE_HINT = "use a DuckDB type such as BIGINT, DOUBLE, DECIMAL(18, 2), VARCHAR, DATE or TIMESTAMP"


def _check_files_arguments(
    where: str, name: Any, path: Any, columns: Any, derive: Any, time_column: Any
) -> None:
    """Refuse arguments of the wrong kind when the project loads, naming the argument
    (they would otherwise fail later, deep inside a run, without saying where)."""
    _require_text(where, "name", name, "name='bronze.orders'")
    _require_text(where, "path", path, "path='data/orders/*.csv'")
    if time_column is not None:
        _require_text(where, "time_column", time_column, "time_column='event_time'")
    for argument, mapping, example in (
        ("columns", columns, "columns={'amount': 'DOUBLE'}"),
        ("derive", derive, "derive={'period_start': 'make_date(year, 1, 1)'}"),
    ):
        if mapping is not None and not isinstance(mapping, Mapping):
            raise DefinitionError(
                f"{argument}= must be a dict, not {_kind(mapping)}", where=where, hint=example
            )
        for key, value in (mapping or {}).items():
            _require_text(where, f"a key of {argument}=", key, example)
            _require_text(where, f"{argument}[{key!r}]", value, example)
    for column, declared in (columns or {}).items():
        _check_type(where, column, declared)


def _check_type(where: str, column: str, declared: str) -> None:
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    if declared.split("(")[0].split("[")[0].strip().upper() in _DUCKDB_ONLY_TYPES:
        return
    try:
        exp.DataType.build(declared, dialect="duckdb")
    except (SqlglotError, ValueError):
        raise DefinitionError(
            f"columns[{column!r}]: {declared!r} is not a SQL type", where=where, hint=_TYPE_HINT
        ) from None


def _require_text(where: str, what: str, value: Any, example: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(
            f"{what} must be a non-empty string, not {_kind(value)}",
            where=where,
            hint=f"e.g. {example}",
        )


def _kind(value: Any) -> str:
    """`5 (int)`: the value and its type, short, for an error message."""
    text = repr(value)
    return f"{text if len(text) <= 40 else text[:37] + '...'} ({type(value).__name__})"


def _check_declared_time_type(where: str, column: str | None, columns: dict[str, str]) -> None:
    """A time column declared with a non-time type is refused when the project loads."""
    declared = columns.get(column or "", "").upper()
    if not declared or declared.startswith(("DATE", "TIMESTAMP")):
        return
    raise DefinitionError(
        f"time column {column!r} is declared {declared}, not a DATE or TIMESTAMP",
        where=where,
        hint=time_column_hint(column or ""),
    )


def source(
    name: str,
    *,
    keys: Sequence[str] | None = None,
    schema_policy: str = "evolve",
    time_column: str | None = None,
    owner: str | None = None,
    tags: Mapping[str, str] | Sequence[str] | None = None,
    description: str | None = None,
    partition_by: Sequence[str] | None = None,
    zorder_by: Sequence[str] | None = None,
    schedule: str | None = None,
    catchup: int | None = None,
    sla: str | None = None,
    max_duration: str | float | None = None,
    max_quarantined: str | float | None = None,
    mask: Mapping[str, str] | None = None,
    drop: Sequence[str] | None = None,
    retention: str | int | None = None,
) -> Callable[[F], F]:
    """Declare a bronze dataset produced by a Python function `f(ctx)`.

    The function returns or yields Arrow tables, pandas or polars DataFrames, or dicts.
    With `keys`, rows are merged (upserted) on them; without, the table is replaced when
    the content changed, and nothing is committed when it did not.

    Example:
        >>> import assay
        >>> @assay.source("bronze.customers", keys=["customer_id"])
        ... def customers(ctx):
        ...     return [{"customer_id": 1, "name": "Ada"}]
        >>> customers.dataset.kind.value
        'merge'
    """

    automation = _automation(
        name,
        schedule=schedule,
        catchup=catchup,
        sla=sla,
        max_duration=max_duration,
        max_quarantined=max_quarantined,
    )

    def decorate(func: F) -> F:
        opts = _common(
            keys=keys,
            owner=owner,
            tags=tags,
            time_column=time_column,
            schema_policy=schema_policy,
            description=description or inspect.getdoc(func),
            partition_by=partition_by,
            zorder_by=zorder_by,
        )
        kind = Kind.MERGE if keys else Kind.FULL
        spec = DatasetSpec(
            name=name,
            kind=kind,
            producer=PythonSource(func),
            origin=caller_origin(),
            automation=automation,
            protection=Protection.declare(name, mask, drop, retention),
            **opts,
        )
        func.dataset = register(spec)  # type: ignore[attr-defined]
        return func

    return decorate


def transform(
    name: str,
    *,
    inputs: Sequence[str],
    kind: str = "full",
    time_column: str | None = None,
    grain: str = "day",
    start: str | date | None = None,
    lookback: int = 0,
    batch_size: int | None = None,
    keys: Sequence[str] | None = None,
    as_arrow: bool = False,
    engines: Sequence[str] | None = None,
    owner: str | None = None,
    tags: Mapping[str, str] | Sequence[str] | None = None,
    description: str | None = None,
    partition_by: Sequence[str] | None = None,
    zorder_by: Sequence[str] | None = None,
    lineage: Mapping[str, Sequence[str]] | None = None,
    schedule: str | None = None,
    catchup: int | None = None,
    sla: str | None = None,
    max_duration: str | float | None = None,
    max_quarantined: str | float | None = None,
    retention: str | int | None = None,
) -> Callable[[F], F]:
    """Declare a dataset computed by a Python function `f(ctx, *inputs)`.

    Inputs arrive as the engine's relations, in the order of `inputs`: DuckDB relations,
    or Spark DataFrames on Spark. `engines` names the engines the function supports
    (default: DuckDB only); `ctx.sql("...")` runs SQL over the inputs on whichever engine
    runs it. With `as_arrow=True` inputs are Arrow tables and any engine runs it.
    Incremental transforms see `ctx.start`/`ctx.end` and their output is limited to that
    interval. `lineage` declares where output columns come from, for `assay lineage`
    (Python code is otherwise traced by table): `{"amount_sum": ["silver.tx.amount"]}`.

    Example:
        >>> import assay
        >>> @assay.transform("gold.card_daily", inputs=["silver.transactions"])
        ... def card_daily(ctx, transactions):
        ...     return transactions.aggregate("card_id, count(*) AS n")
        >>> card_daily.dataset.inputs
        ('silver.transactions',)
    """

    automation = _automation(
        name,
        schedule=schedule,
        catchup=catchup,
        sla=sla,
        max_duration=max_duration,
        max_quarantined=max_quarantined,
    )

    def decorate(func: F) -> F:
        opts = _common(
            inputs=inputs,
            time_column=time_column,
            grain=grain,
            start=start,
            keys=keys,
            owner=owner,
            tags=tags,
            partition_by=partition_by,
            zorder_by=zorder_by,
            description=description or inspect.getdoc(func),
        )
        spec = DatasetSpec(
            name=name,
            kind=_enum(Kind, kind, "kind"),
            lookback=lookback,
            batch_size=None if batch_size is None else max(1, batch_size),
            producer=PythonTransform(
                func,
                as_relations=not as_arrow,
                engines=None if as_arrow and engines is None else tuple(engines or ("duckdb",)),
                lineage={out: _strings(ins) for out, ins in (lineage or {}).items()},
            ),
            origin=caller_origin(),
            automation=automation,
            protection=Protection.declare(name, retention=retention),
            **opts,
        )
        func.dataset = register(spec)  # type: ignore[attr-defined]
        return func

    return decorate


def sql_table(
    name: str,
    *,
    url: str,
    table: str,
    cursor: str | None = None,
    keys: Sequence[str] | None = None,
    schema_policy: str = "evolve",
    columns: Sequence[str] | None = None,
    db_schema: str | None = None,
    zorder_by: Sequence[str] | None = None,
    owner: str | None = None,
    tags: Mapping[str, str] | Sequence[str] | None = None,
    description: str | None = None,
    schedule: str | None = None,
    catchup: int | None = None,
    sla: str | None = None,
    max_duration: str | float | None = None,
    max_quarantined: str | float | None = None,
    mask: Mapping[str, str] | None = None,
    drop: Sequence[str] | None = None,
    retention: str | int | None = None,
) -> DatasetSpec:
    """Declare a bronze dataset copied from a database table through SQLAlchemy.

    With `cursor` (an `updated_at`-style column) each run reads only rows changed since the
    last run; with `keys` those rows are merged, which is change data capture for tables
    that update in place.

    Example:
        >>> import assay
        >>> spec = assay.sql_table("bronze.accounts", url="sqlite://", table="accounts",
        ...                        cursor="updated_at", keys=["id"])
        >>> spec.kind.value
        'merge'
    """
    automation = _automation(
        name,
        schedule=schedule,
        catchup=catchup,
        sla=sla,
        max_duration=max_duration,
        max_quarantined=max_quarantined,
    )
    opts = _common(
        keys=keys,
        owner=owner,
        tags=tags,
        description=description,
        schema_policy=schema_policy,
        zorder_by=zorder_by,
    )
    producer = SqlTableSource(
        url=url, table=table, cursor=cursor, columns=tuple(columns or ()), db_schema=db_schema
    )
    kind = Kind.MERGE if keys else (Kind.APPEND if cursor else Kind.FULL)
    return register(
        DatasetSpec(
            name=name,
            kind=kind,
            producer=producer,
            origin=caller_origin(),
            automation=automation,
            protection=Protection.declare(name, mask, drop, retention),
            **opts,
        )
    )
