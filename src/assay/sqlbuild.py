"""SQL that assay generates, built as sqlglot expressions and rendered per dialect.

Names and values never reach SQL text by f-strings or `str.replace`: an identifier is an
`exp.Identifier` marked quoted, a value an `exp.Literal` (or a CAST of one), and sqlglot
writes the quoting and escaping each dialect wants. Any column name works, including
quotes, backticks, spaces, unicode, keywords and `a"; DROP TABLE x; --`.

Dialects, by the name assay uses for the writer or engine that runs the SQL:
`duckdb`, `spark`, `sqlite` (the local online store) and `delta` (delta-rs predicates,
parsed by DataFusion, which reads ANSI quoting).

Example:
    >>> from datetime import datetime
    >>> import pyarrow as pa
    >>> p = time_range("day", datetime(2024, 1, 1), datetime(2024, 1, 2), pa.date32())
    >>> print(render(p, "delta"))
    "day" >= '2024-01-01' AND "day" < '2024-01-02'
    >>> print(render(in_list("_source_file", ["data/batch_key_1.jsonl"]), "spark"))
    `_source_file` IN ('data/batch_key_1.jsonl')
    >>> print(render(column('a"; DROP TABLE x; --'), "duckdb"))
    "a""; DROP TABLE x; --"
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

import pyarrow as pa
from sqlglot import exp

#: A predicate as an expression, or as SQL text already written for the writer.
Predicate = exp.Expr | str
#: A value `literal` writes: text, numbers, booleans, dates, times and NULL.
Value = str | int | float | bool | Decimal | date | datetime | None

#: sqlglot dialect of each writer or engine. delta-rs parses predicates with DataFusion,
#: whose quoting is ANSI (double-quoted names, doubled single quotes): postgres renders it.
DIALECTS = {"duckdb": "duckdb", "spark": "spark", "sqlite": "sqlite", "delta": "postgres"}


def identifier(name: str) -> exp.Identifier:
    """A quoted identifier: any text is one name, whatever characters it holds.

    Example:
        >>> render(identifier("select"), "duckdb"), render(identifier("a`b"), "spark")
        ('"select"', '`a``b`')
    """
    return exp.to_identifier(name, quoted=True)


def column(name: str, table: str | None = None) -> exp.Column:
    """A quoted column reference, optionally qualified by a table or alias.

    Dots are part of the name, never a path: `column("a.b")` is the one column `a.b`.

    Example:
        >>> render(column("card id", table="t"), "duckdb")
        '"t"."card id"'
        >>> render(column("a.b"), "spark")
        '`a.b`'
    """
    return exp.Column(this=identifier(name), table=identifier(table) if table else None)


def columns(names: Iterable[str], table: str | None = None) -> list[exp.Expr]:
    """Quoted column references for a select list, a key list or an insert's column list.

    Example:
        >>> render_list(columns(["id", "ts"]), "sqlite")
        '"id", "ts"'
    """
    return [column(n, table) for n in names]


def table(name: str, schema: str | None = None) -> exp.Table:
    """A quoted table reference, in `schema` when given. Dots are part of the name: split
    `layer.name` first (`assay.naming.split_name`) and pass the layer as the schema.

    Example:
        >>> render(table("card day", schema="silver"), "duckdb"), render(table("a.b"), "sqlite")
        ('"silver"."card day"', '"a.b"')
    """
    return exp.Table(this=identifier(name), db=identifier(schema) if schema else None)


def literal(value: Value) -> exp.Expr:
    """A SQL literal: text (quotes escaped per dialect), numbers, booleans, NULL, and dates
    and times as a CAST of their ISO text (aware times are written in UTC as TIMESTAMPTZ).

    Example:
        >>> [render(literal(v), "duckdb") for v in ("it's", 3, 2.5, True, None)]
        ["'it''s'", '3', '2.5', 'TRUE', 'NULL']
        >>> print(render(literal("it's"), "spark"))
        'it\\'s'
        >>> render(literal(datetime(2024, 1, 2, 3, 4, 5)), "duckdb")
        "CAST('2024-01-02 03:04:05' AS TIMESTAMP)"
        >>> render(literal(date(2024, 1, 2)), "spark")
        "CAST('2024-01-02' AS DATE)"
    """
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int | float | Decimal):
        return exp.Literal.number(str(value) if isinstance(value, Decimal) else repr(value))
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            text = value.astimezone(UTC).isoformat(" ")
            return exp.cast(exp.Literal.string(text), exp.DataType.Type.TIMESTAMPTZ)
        return exp.cast(exp.Literal.string(value.isoformat(" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    return exp.Literal.string(str(value))


def string(text: str) -> exp.Literal:
    """A text literal (the escape that the old `_lit` helpers did by hand).

    Example:
        >>> render(string("a'b"), "duckdb")
        "'a''b'"
    """
    return exp.Literal.string(text)


def in_list(name: str | exp.Expr, values: Iterable[Value]) -> exp.Expr:
    """Rows whose column (or expression) is one of `values`, sorted and without repeats so
    the same set always renders the same SQL.

    Example:
        >>> print(render(in_list("k", ["b", "a'", "b"]), "duckdb"))
        "k" IN ('a''', 'b')
    """
    target = column(name) if isinstance(name, str) else name
    unique = sorted(set(values), key=lambda v: (v is None, str(type(v)), v if v is not None else 0))
    return target.isin(*(literal(v) for v in unique))


def time_range(
    name: str, start: datetime, end: datetime, kind: pa.DataType | None = None
) -> exp.Expr:
    """Rows of column `name` in `[start, end)` (naive UTC bounds), for a column of `kind`.

    The bounds are text literals, which delta-rs, Spark and DuckDB all cast to the column's
    type; the text is chosen by that type so that a DATE, TIMESTAMP or TIMESTAMPTZ column
    selects exactly the rows of `[start, end)` in UTC.

    Example:
        >>> p = time_range("ts", datetime(2024, 1, 1, 6), datetime(2024, 1, 2))
        >>> render(p, "spark")
        "`ts` >= '2024-01-01 06:00:00' AND `ts` < '2024-01-02 00:00:00'"
        >>> p = time_range("d", datetime(2024, 1, 1, 6), datetime(2024, 1, 2), pa.date32())
        >>> print(render(p, "delta"))  # a date is in range when its midnight is
        "d" >= '2024-01-02' AND "d" < '2024-01-02'
    """
    col = column(name)
    low, high = _bound(start, kind), _bound(end, kind)
    return exp.and_(
        col >= exp.Literal.string(low), col.copy() < exp.Literal.string(high), copy=False
    )


def keys_match(keys: Iterable[str], left: str = "t", right: str = "s") -> exp.Expr:
    """A merge's ON condition: every key of the `left` row equals the `right` row's.

    Example:
        >>> print(render(keys_match(["id", 'we"ird']), "delta"))
        "t"."id" = "s"."id" AND "t"."we""ird" = "s"."we""ird"
    """
    return exp.and_(*(column(k, left).eq(column(k, right)) for k in keys), copy=False)


def changed_row(
    columns: Iterable[str],
    keys: Iterable[str],
    target_columns: Iterable[str],
    left: str = "t",
    right: str = "s",
) -> exp.Expr:
    """When a merge updates a matched row: a shared non-key column differs (NULLs equal),
    or the `right` (source) row brings a value in a column the `left` (target) lacks.

    Example:
        >>> print(render(changed_row(["id", "a", "new"], ["id"], ["id", "a"]), "spark"))
        NOT (`t`.`a` IS NOT DISTINCT FROM `s`.`a`) OR NOT `s`.`new` IS NULL
        >>> print(render(changed_row(["id"], ["id"], ["id"]), "delta"))
        FALSE
    """
    held, key_set = set(target_columns), set(keys)
    changes = [
        exp.not_(exp.paren(exp.NullSafeEQ(this=column(c, left), expression=column(c, right))))
        if c in held
        else exp.not_(exp.Is(this=column(c, right), expression=exp.null()))
        for c in columns
        if c not in key_set
    ]
    return exp.or_(*changes, copy=False) if changes else exp.false()


def cast(value: exp.Expr, to: str, safe: bool = False) -> exp.Expr:
    """CAST (or TRY_CAST with `safe`) of an expression to a type written in DuckDB's SQL.

    Example:
        >>> render(cast(column("x y"), "DECIMAL(10,2)", safe=True), "duckdb")
        'TRY_CAST("x y" AS DECIMAL(10, 2))'
    """
    kind = _data_type(to).copy()
    return exp.TryCast(this=value, to=kind) if safe else exp.Cast(this=value, to=kind)


@lru_cache(maxsize=512)
def _data_type(text: str) -> exp.DataType:
    # Parsing a type is the slow part of a cast: a batch casts the same few types often.
    return exp.DataType.build(text, dialect="duckdb", udt=True)


def render(expression: Predicate, dialect: str, copy: bool = True) -> str:
    """The expression as SQL text for `dialect` (a key of `DIALECTS`); text passes as is.

    `copy=False` lets the dialect's rewrites work on `expression` itself instead of a copy
    (faster for a large tree built only to be rendered once).

    Example:
        >>> render(column("n") > literal(1), "sqlite")
        '"n" > 1'
    """
    if isinstance(expression, str):
        return expression
    return expression.sql(dialect=DIALECTS[dialect], copy=copy)


def render_list(expressions: Iterable[exp.Expr], dialect: str) -> str:
    """Expressions rendered and joined by commas (a select or column list).

    Example:
        >>> render_list([column("a"), literal("b")], "spark")
        "`a`, 'b'"
    """
    return ", ".join(render(e, dialect) for e in expressions)


def quote(name: str, dialect: str = "duckdb") -> str:
    """A column name as quoted SQL identifier text for `dialect`.

    Example:
        >>> print(quote("card id"))
        "card id"
        >>> print(quote('a"b'), quote("a`b", "spark"))
        "a""b" `a``b`
    """
    return render(identifier(name), dialect)


def _bound(moment: datetime, kind: pa.DataType | None) -> str:
    if kind is not None and pa.types.is_date(kind):
        # A date d is in [start, end) exactly when d >= the first midnight at or after
        # start, and likewise for end: round the bounds up to whole days.
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if day != moment:
            day += timedelta(days=1)
        return day.date().isoformat()
    # Text without an offset is read as UTC by every writer, for zoned and naive columns.
    return moment.isoformat(" ")


#: What a `$name` placeholder of a `template` is replaced by: one expression, or several
#: (spliced into the list that holds the placeholder's item).
Part = exp.Expr | list[exp.Expr]


def template(sql: str, **parts: Part) -> exp.Expr:
    """Constant DuckDB SQL whose `$name` placeholders are replaced by expressions.

    The SQL text is parsed once (and cached); names and values only ever arrive as
    expressions. A list replaces the list item that holds its placeholder by one copy of
    that item per expression: `$keys IS NOT NULL` in a select list becomes one such item
    per key. A query in parentheses (`FROM ($rows) AS r`) is a subquery. An expression
    that is in no tree yet becomes part of the result (not copied): build a fresh one, or
    one already placed elsewhere, which is copied.

    Example:
        >>> t = template("SELECT $keys, max($ts) AS m FROM t GROUP BY $keys",
        ...              keys=columns(["a b", "c"]), ts=column('t"s'))
        >>> print(render(t, "duckdb"))
        SELECT "a b", "c", MAX("t""s") AS m FROM t GROUP BY "a b", "c"
    """
    tree = _template(sql).copy()
    for node in list(tree.find_all(exp.Placeholder)):
        value = parts[node.name]
        if isinstance(value, exp.Expr):
            target: exp.Expr = node
            if isinstance(value, exp.Query) and isinstance(node.parent, exp.Table):
                target = node.parent  # `($rows)`: the subquery itself, not a table of it
            target.replace(_adopt(value))
            continue
        item: exp.Expr = node
        while item.index is None and item.parent is not None:
            item = item.parent
        holder, key, at = item.parent, item.arg_key, item.index
        if holder is None or at is None or key is None:
            raise ValueError(f"placeholder ${node.name} is not in a list: pass one expression")
        copies = []
        for part in value:
            copy = item.copy()
            hole = next(p for p in copy.find_all(exp.Placeholder) if p.name == node.name)
            if hole is copy:
                copy = _adopt(part)
            else:
                hole.replace(_adopt(part))
            copies.append(copy)
        items = list(holder.args[key])
        holder.set(key, items[:at] + copies + items[at + 1 :])
    return tree


def _adopt(part: exp.Expr) -> exp.Expr:
    # A part in no tree yet is taken as it is (copying a large subquery is the slow part
    # of building); one already placed, in this tree or another, is copied.
    return part if part.parent is None else part.copy()


@lru_cache(maxsize=256)
def _template(sql: str) -> exp.Expr:
    import sqlglot

    return sqlglot.parse_one(sql, read="duckdb")


def fragment(sql: str) -> exp.Expr:
    """SQL written by a user (DuckDB dialect), parsed into an expression to embed whole.

    Example:
        >>> render(fragment("sum(amount) FILTER (WHERE ok)"), "duckdb")
        'SUM(amount) FILTER(WHERE ok)'
    """
    return _template(sql).copy()


def utc_timestamp(value: exp.Expr, kind: pa.DataType) -> exp.Expr:
    """A timestamp (or date) as a naive UTC TIMESTAMP, whatever zone a `kind` column has.

    Example:
        >>> render(utc_timestamp(column("ts"), pa.timestamp("us", "Europe/Paris")), "duckdb")
        'CAST(("ts") AT TIME ZONE \\'UTC\\' AS TIMESTAMP)'
        >>> render(utc_timestamp(column("d"), pa.date32()), "spark")
        'CAST(`d` AS TIMESTAMP)'
    """
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        value = exp.AtTimeZone(this=exp.paren(value), zone=string("UTC"))
    return exp.cast(value, exp.DataType.Type.TIMESTAMP)


def micros(count: int) -> exp.Interval:
    """An interval of `count` microseconds.

    Example:
        >>> render(column("t") + micros(1_500_000), "duckdb")
        '"t" + INTERVAL \\'1500000\\' MICROSECONDS'
    """
    return exp.Interval(this=exp.Literal.string(str(count)), unit=exp.var("MICROSECONDS"))


def field(struct: exp.Expr | str, name: str, table: str | None = None) -> exp.Column:
    """Field `name` of a struct column (`table.struct."name"`).

    Example:
        >>> render(field("hit", "a b", table="fv0"), "duckdb")
        'fv0.hit."a b"'
    """
    holder = exp.to_identifier(struct) if isinstance(struct, str) else struct
    return exp.Column(
        this=identifier(name), table=holder, db=exp.to_identifier(table) if table else None
    )


def struct(fields: Iterable[tuple[str, exp.Expr]]) -> exp.Struct:
    """A struct of named values (DuckDB's `struct_pack(name := value, ...)`).

    Example:
        >>> render(struct([("a b", column("x"))]), "duckdb")
        '{\\'a b\\': "x"}'
    """
    return exp.Struct(
        expressions=[exp.PropertyEQ(this=identifier(n), expression=v) for n, v in fields]
    )
