"""DuckDB semantics in Spark SQL: rewrites of a parsed DuckDB statement, so the Spark SQL
sqlglot generates from it gives DuckDB's answer, not just DuckDB's function names; and
refusals, naming the portable alternative, of what Spark cannot run.

Each rewrite names the DuckDB behaviour it keeps (checked by
tests/engines/test_sql_conformance.py on both engines).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

import sqlglot
from sqlglot import exp

from assay.errors import DefinitionError

Refuse = Callable[[str, str], NoReturn]

#: Functions sqlglot passes through by name that Spark has too (rewritten below).
SPARK_HAS = frozenset({"date_part", "datepart", "now"})


def spark_semantics(statement: Any, where: str | None) -> Any:
    """`statement` (parsed as DuckDB SQL) rewritten for Spark; refuses what has no
    translation."""

    def refuse(construct: str, hint: str) -> NoReturn:
        raise DefinitionError(
            f"cannot translate to spark: Spark SQL has no {construct}",
            where=where,
            hint=f"{hint}, or use a Python transform with engines=['spark']",
        )

    _refuse_by_rule(statement, refuse)
    for select in reversed(list(statement.find_all(exp.Select))):
        if select.args.get("qualify"):
            outer = _eliminate_qualify(select)
            statement = outer if select is statement else statement
    # Children first, so a rewrite sees its arguments already rewritten.
    for node in reversed(list(statement.walk(bfs=False))):
        rewrite = _REWRITES.get(type(node))
        if rewrite is None:
            continue
        new = rewrite(node, refuse)
        if new is not None and new is not node:
            if node is statement:
                statement = new
            else:
                node.replace(new)
    return statement


# -- refusals --------------------------------------------------------------------------------


def _refuse_by_rule(statement: exp.Expression, refuse: Refuse) -> None:
    for union in statement.find_all(exp.Union):
        if union.args.get("by_name"):
            refuse("UNION BY NAME", "select the same columns in the same order in each part")
    if statement.find(exp.Columns):
        refuse("COLUMNS(...) expression", "name the columns")
    if statement.find(exp.Pivot) or isinstance(statement, exp.Pivot):
        refuse("DuckDB PIVOT/UNPIVOT", "aggregate with FILTER (WHERE ...) per value instead")
    if statement.find(exp.SimilarTo):
        refuse("SIMILAR TO", "use regexp_matches(x, '^(...)$')")
    for first in statement.find_all(exp.First, exp.Last):
        if isinstance(first.this, exp.Order):
            refuse("first(... ORDER BY ...)/last(... ORDER BY ...)", "use arg_min/arg_max(x, y)")
    if statement.find(exp.DateBin):
        refuse("time_bucket()", "use date_trunc('hour', t) (or a multiple of its unit)")
    for bracket in statement.find_all(exp.Bracket):
        if any(isinstance(e, exp.Slice) for e in bracket.expressions):
            refuse("list slice [a:b]", "use list_slice(l, a, b)")
    for interval in statement.find_all(exp.Interval):
        unit = interval.unit.name.upper() if interval.unit else ""
        if not isinstance(interval.this, exp.Literal) and unit.rstrip("S") not in _INTERVAL_UNITS:
            refuse(
                f"INTERVAL (expression) {unit or 'without a unit'}",
                "multiply a constant: INTERVAL 1 MINUTE * (expr)",
            )
    for kind in statement.find_all(exp.DataType):
        if kind.this in (exp.DataType.Type.TIME, exp.DataType.Type.TIMETZ):
            refuse("TIME type", "keep the timestamp, or use strftime(t, '%H:%M:%S') for text")


# -- QUALIFY -----------------------------------------------------------------------------------


def _eliminate_qualify(select: exp.Select) -> exp.Select:
    """`SELECT e AS c ... QUALIFY f` as `SELECT * EXCEPT (_w) FROM (SELECT e AS c ..., f AS
    _w ...) AS _t WHERE _w`. DuckDB binds a name in QUALIFY to the input column before a
    SELECT alias: an alias is substituted only where it names no input column (an alias
    computed from a column of its own name, `upper(c) AS c`, leaves `c` the input's)."""
    qualify = select.args["qualify"].this.copy()
    select.set("qualify", None)
    inputs = {c.name for e in select.expressions for c in e.find_all(exp.Column)}
    aliases = {
        e.alias: e.this
        for e in select.expressions
        if isinstance(e, exp.Alias) and e.alias not in inputs
    }
    for column in list(qualify.find_all(exp.Column)):
        if not column.table and column.name in aliases:
            column.replace(aliases[column.name].copy())
    inner = select.copy()
    for arg in ("order", "limit", "offset", "with_"):
        inner.set(arg, None)
    inner.append("expressions", exp.alias_(qualify, "_w"))
    outer = (
        exp.select(exp.Star(except_=[exp.column("_w")]))
        .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("_t"))))
        .where(exp.column("_w"))
    )
    for arg in ("order", "limit", "offset", "with_"):
        if select.args.get(arg) is not None:
            outer.set(arg, select.args[arg])
    select.replace(outer)
    return outer


# -- rewrites ----------------------------------------------------------------------------------


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _spark(sql: str) -> Any:
    return sqlglot.parse_one(sql, read="spark")


def _s(node: exp.Expression) -> str:
    return node.sql(dialect="spark")


def _dow(node: exp.DayOfWeek, refuse: Refuse) -> exp.Expression:
    """DuckDB: Sunday 0 .. Saturday 6; Spark's dayofweek: Sunday 1 .. Saturday 7."""
    return exp.Paren(
        this=exp.Sub(this=_fn("DAYOFWEEK", node.this), expression=exp.Literal.number(1))
    )


def _isodow(node: exp.DayOfWeekIso, refuse: Refuse) -> exp.Expression:
    """Monday 1 .. Sunday 7 (Spark's weekday: Monday 0)."""
    return exp.Paren(this=exp.Add(this=_fn("WEEKDAY", node.this), expression=exp.Literal.number(1)))


def _dayname(node: exp.Dayname, refuse: Refuse) -> exp.Expression:
    return _fn("DATE_FORMAT", node.this, exp.Literal.string("EEEE"))


def _extract(node: exp.Extract, refuse: Refuse) -> exp.Expression | None:
    part = node.this.name.upper()
    if part in ("DOW", "DAYOFWEEK"):
        return _dow(exp.DayOfWeek(this=node.expression), refuse)
    if part == "ISODOW":
        return _isodow(exp.DayOfWeekIso(this=node.expression), refuse)
    if part in ("SECOND", "SECONDS"):
        return _fn("SECOND", node.expression)  # whole seconds (Spark's EXTRACT: a DECIMAL)
    if part in ("EPOCH",):
        refuse("extract(epoch FROM ...)", "use epoch(t)")
    return None


def _anonymous(node: exp.Anonymous, refuse: Refuse) -> exp.Expression | None:
    """Functions sqlglot passes through by name that Spark has too."""
    name = node.name.lower()
    if name == "now" and not node.expressions:
        return exp.CurrentTimestamp()
    if name in ("date_part", "datepart") and len(node.expressions) == 2:
        part, value = node.expressions
        if isinstance(part, exp.Literal) and part.is_string:
            extract = exp.Extract(this=exp.var(part.this.upper()), expression=value)
            return _extract(extract, refuse) or extract
    return None


_UNITS = {
    **{u: u for u in ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND")},
    **{u + "S": u for u in ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND")},
    "MILLISECOND": "MILLISECOND", "MILLISECONDS": "MILLISECOND", "MS": "MILLISECOND",
    "MICROSECOND": "MICROSECOND", "MICROSECONDS": "MICROSECOND", "US": "MICROSECOND",
}  # fmt: skip


def _date_diff(node: exp.DateDiff, refuse: Refuse) -> exp.Expression:
    """DuckDB counts the unit boundaries crossed (10:59 to 11:01 is 1 hour): the
    difference of the two times truncated to the unit."""
    unit = node.unit.name.upper() if node.unit else "DAY"
    unit = _UNITS.get(unit, unit)
    if unit not in _UNITS.values():
        refuse(f"date_diff unit {unit!r}", "use one of " + ", ".join(sorted(set(_UNITS.values()))))
    start, end = node.expression, node.this
    trunc = [_fn("DATE_TRUNC", exp.Literal.string(unit), t) for t in (start, end)]
    return _fn("TIMESTAMPDIFF", exp.var(unit), *trunc)


def _log(node: exp.Log, refuse: Refuse) -> exp.Expression | None:
    """DuckDB's one-argument log is base 10 (Spark's: natural)."""
    if node.expression is None:
        return _fn("LOG10", node.this)
    return None


_INTEGERS = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
}
_TEXT = {exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR}


def _cast(node: exp.Cast, refuse: Refuse) -> exp.Expression | None:
    """DuckDB rounds a number cast to an integer (doubles half to even, decimals half away
    from zero) where Spark truncates: round first, by the operand's type (typeof() is
    constant, so Spark folds the CASE)."""
    if node.to.this not in _INTEGERS:
        return None
    value = node.this
    if isinstance(value, exp.Literal) and value.is_string:
        return None
    if isinstance(value, exp.Cast) and value.to.this in _TEXT | _INTEGERS:
        return None
    v, to = _s(value), _s(node.to)
    # Each branch casts on its own, so text is cast directly (not through a double);
    # the dead branches fold away before anything runs.
    return _spark(
        f"CASE WHEN TYPEOF({v}) IN ('double', 'float') THEN CAST(BROUND({v}) AS {to}) "
        f"WHEN TYPEOF({v}) LIKE 'decimal%' THEN CAST(ROUND({v}) AS {to}) "
        f"ELSE CAST({v} AS {to}) END"
    )


def _regexp_replace(node: exp.RegexpReplace, refuse: Refuse) -> exp.Expression:
    """DuckDB replaces the first match unless the options say 'g', and writes groups as
    \\1 in the replacement (Java: $1)."""
    options = node.args.get("modifiers")
    if options is not None and not (isinstance(options, exp.Literal) and options.is_string):
        refuse("regexp_replace with computed options", "write the options as a literal")
    flags = options.this if options is not None else ""
    if set(flags) - set("gic"):
        refuse(f"regexp_replace option(s) {flags!r}", "use only 'g', 'i' or 'c'")
    replacement = node.args.get("replacement")
    if not (isinstance(replacement, exp.Literal) and replacement.is_string):
        refuse("regexp_replace with a computed replacement", "write the replacement as a literal")
    everywhere = "g" in flags
    case = "(?i)" if "i" in flags and "c" not in flags.split("i")[-1] else ""
    shift = 0 if everywhere else 2
    java = _java_replacement(replacement.this, shift)
    pattern = node.expression
    if everywhere:
        regex: exp.Expression = (
            exp.Concat(expressions=[exp.Literal.string(case), pattern]) if case else pattern
        )
    else:
        java = "$1" + java
        regex = exp.Concat(
            expressions=[
                exp.Literal.string(case + r"^([\s\S]*?)("),
                pattern,
                exp.Literal.string(")"),
            ]
        )
    return _fn("REGEXP_REPLACE", node.this, regex, exp.Literal.string(java))


def _java_replacement(re2: str, shift: int) -> str:
    """An RE2 replacement (\\0-\\9 groups, \\\\ a backslash) as a Java one ($n, \\$)."""
    out = []
    i = 0
    while i < len(re2):
        c = re2[i]
        if c == "\\" and i + 1 < len(re2):
            nxt = re2[i + 1]
            if nxt.isdigit():
                out.append(f"${int(nxt) + shift}")
            else:
                out.append("\\" + nxt if nxt in "\\$" else nxt)
            i += 2
            continue
        out.append("\\$" if c == "$" else c)
        i += 1
    return "".join(out)


def _over(call: exp.Expression, new: exp.Expression) -> exp.Expression:
    """`new` with the FILTER and OVER clauses that wrap the aggregate `call`."""
    parent = call.parent
    if isinstance(parent, exp.Filter | exp.Window) and parent.this is call:
        wrapper = parent.copy()
        wrapper.set("this", new)
        return _over(parent, wrapper)
    return new


def _outermost(call: exp.Expression) -> exp.Expression:
    node = call
    while isinstance(node.parent, exp.Filter | exp.Window) and node.parent.this is node:
        node = node.parent
    return node


def _replace_call(call: exp.Expression, new: exp.Expression) -> exp.Expression:
    """Replace the aggregate `call` with all its FILTER/OVER, by `new` (which uses `_over`)."""
    outer = _outermost(call)
    if outer is not call:
        outer.replace(new)
        return call  # already placed
    return new


def _array_agg(node: exp.ArrayAgg, refuse: Refuse) -> exp.Expression | None:
    """DuckDB's list()/array_agg keep NULLs and honour ORDER BY; collect_list drops NULLs
    and any order: collect structs (never NULL), sort them, take the values."""
    if node.args.get("distinct") or isinstance(node.this, exp.Distinct):
        return None
    value, order = node.this, None
    if isinstance(value, exp.Order):
        order, value = value, value.this
    keys = list(order.expressions) if order is not None else []
    fields = ", ".join(
        [f"'v', {_s(value)}"] + [f"'k{i}', {_s(k.this)}" for i, k in enumerate(keys)]
    )
    agg = _over(node, _spark(f"COLLECT_LIST(NAMED_STRUCT({fields}))"))
    body = _s(agg)
    if keys:
        body = f"ARRAY_SORT({body}, (l, r) -> {_comparator(keys)})"
    return _replace_call(node, _spark(f"TRANSFORM({body}, s -> s.v)"))


def _comparator(keys: list[exp.Ordered]) -> str:
    """A Spark array_sort comparator for DuckDB's ORDER BY (NULLS LAST by default)."""
    cases = []
    for i, key in enumerate(keys):
        lo, hi = ("1", "-1") if key.args.get("desc") else ("-1", "1")
        nulls_first = bool(key.args.get("nulls_first")) and key.args.get("nulls_first") is True
        n_l, n_r = ("-1", "1") if nulls_first else ("1", "-1")
        f = f"k{i}"
        cases.append(
            f"CASE WHEN l.{f} IS NULL AND r.{f} IS NULL THEN 0 WHEN l.{f} IS NULL THEN {n_l} "
            f"WHEN r.{f} IS NULL THEN {n_r} WHEN l.{f} < r.{f} THEN {lo} "
            f"WHEN l.{f} > r.{f} THEN {hi} ELSE 0 END"
        )
    return "COALESCE(" + ", ".join(f"NULLIF({case}, 0)" for case in cases) + ", 0)"


def _within_group(node: exp.WithinGroup, refuse: Refuse) -> exp.Expression | None:
    """percentile_cont/_disc(q) WITHIN GROUP (ORDER BY x): exact on both engines (sqlglot
    would write Spark's percentile_approx)."""
    func, order = node.this, node.expression
    if not isinstance(order, exp.Order) or len(order.expressions) != 1:
        return None
    key = order.expressions[0]
    if isinstance(func, exp.PercentileCont):
        if key.args.get("desc"):
            return _fn(
                "PERCENTILE", key.this, exp.Sub(this=exp.Literal.number(1), expression=func.this)
            )
        return _fn("PERCENTILE", key.this, func.this)
    if isinstance(func, exp.PercentileDisc):
        node.set("this", _fn("PERCENTILE_DISC", func.this))
        return node
    return None


def _quantile(
    node: exp.PercentileCont | exp.PercentileDisc, refuse: Refuse
) -> exp.Expression | None:
    """quantile_cont(x, q) -> percentile(x, q); quantile_disc(x, q) -> percentile_disc."""
    if isinstance(node.parent, exp.WithinGroup) or node.expression is None:
        return None
    if isinstance(node, exp.PercentileCont):
        return _fn("PERCENTILE", node.this, node.expression)
    order = exp.Order(expressions=[exp.Ordered(this=node.this, nulls_first=False)])
    return exp.WithinGroup(this=_fn("PERCENTILE_DISC", node.expression), expression=order)


def _median(node: exp.Median, refuse: Refuse) -> exp.Expression:
    return _fn("PERCENTILE", node.this, exp.Literal.number(0.5))


def _moments(node: exp.Kurtosis | exp.Skewness, refuse: Refuse) -> exp.Expression:
    """DuckDB's kurtosis and skewness are the bias-corrected sample statistics (pandas'
    kurt and skew); Spark's are the population ones: correct them by the count."""
    x = _s(node.this)
    spark_func = "KURTOSIS" if isinstance(node, exp.Kurtosis) else "SKEWNESS"
    g = _s(_over(node, _spark(f"{spark_func}({x})")))
    n = f"CAST({_s(_over(node, _spark(f'COUNT({x})')))} AS DOUBLE)"
    if isinstance(node, exp.Kurtosis):
        sql = (
            f"CASE WHEN {n} > 3 THEN "
            f"(({n} + 1) * {g} + 6) * ({n} - 1) / (({n} - 2) * ({n} - 3)) END"
        )
    else:
        sql = f"CASE WHEN {n} > 2 THEN {g} * SQRT({n} * ({n} - 1)) / ({n} - 2) END"
    return _replace_call(node, _spark(sql))


def _avg(node: exp.Avg, refuse: Refuse) -> exp.Expression:
    """DuckDB averages into a DOUBLE at full precision (Spark keeps a DECIMAL, with 4 more
    digits): average the values as doubles."""
    node.set("this", exp.cast(node.this, exp.DataType.build("DOUBLE")))
    return node


def _divide(node: exp.Div, refuse: Refuse) -> exp.Expression:
    """DuckDB's `/` divides numbers into a DOUBLE, decimals too (Spark keeps a DECIMAL),
    and by zero as IEEE does: ±inf by the signs of both (a divisor of -0.0 too), NaN for
    0/0 (Spark's ANSI mode fails the query, and its non-ANSI mode gives NULL). NULL stays
    NULL; `//` and `%` of integers or decimals by zero fail on both (`%` of floating-point
    numbers is refused: see spark/check.py)."""
    if isinstance(node.this, exp.Interval) or node.find(exp.Interval):
        return node
    dividend = exp.cast(node.this, exp.DataType.build("DOUBLE"))
    divisor = node.expression
    node.set("this", dividend)
    # The sign of a zero divisor counts too (1 / -0.0 is -inf); Spark's text of -0.0 is
    # the one place it shows (its atan2 and comparisons treat -0.0 as 0.0).
    text = exp.cast(divisor.copy(), exp.DataType.build("STRING"))
    negative = _fn("STARTSWITH", text, exp.Literal.string("-"))
    infinity = exp.cast(exp.Literal.string("Infinity"), exp.DataType.build("DOUBLE"))
    signed = exp.Case(ifs=[exp.If(this=negative, true=exp.Neg(this=infinity))], default=infinity)
    by_zero = exp.Mul(this=dividend.copy(), expression=signed)  # ±inf, NaN for 0 and NaN
    zero = exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0))
    return exp.Paren(this=exp.Case(ifs=[exp.If(this=zero, true=by_zero)], default=node.copy()))


_LISTS = (exp.ArrayAgg, exp.Array, exp.Split, exp.RegexpSplit, exp.ArrayConcat, exp.Transform)


#: Units of `INTERVAL (expr) unit` that Spark multiplies (singular).
_INTERVAL_UNITS = frozenset({"SECOND", "MINUTE", "HOUR", "DAY", "MONTH", "YEAR"})


def _interval(node: exp.Interval, refuse: Refuse) -> exp.Expression | None:
    """`INTERVAL (expr) unit` is that many whole units in DuckDB (the number truncated
    toward zero, text cast): Spark has no such literal, so one unit times the number."""
    if isinstance(node.this, exp.Literal):
        return None
    number = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
    unit = node.unit.name.upper().rstrip("S") if node.unit else ""
    one = exp.Interval(this=exp.Literal.string("1"), unit=exp.var(unit))
    whole = exp.cast(number.copy(), exp.DataType.build("BIGINT"))  # Spark truncates too
    return exp.Paren(this=exp.Mul(this=whole, expression=one))


def _length(node: exp.Length, refuse: Refuse) -> exp.Expression | None:
    """len(list) is Spark's size (length takes text)."""
    arg = node.this
    return _fn("SIZE", arg) if isinstance(arg, _LISTS) else None


def _grouping(node: exp.Grouping, refuse: Refuse) -> exp.Expression | None:
    """grouping(a, b) is a bit mask of several columns: Spark's grouping_id."""
    if len(node.expressions) > 1:
        return _fn("GROUPING_ID", *node.expressions)
    return None


def _full_match(node: exp.RegexpFullMatch, refuse: Refuse) -> exp.Expression:
    anchored = exp.Concat(
        expressions=[exp.Literal.string("^(?:"), node.expression, exp.Literal.string(")$")]
    )
    return exp.RegexpLike(this=node.this, expression=anchored)


#: strftime codes (DuckDB) -> Java DateTimeFormatter patterns (Spark's date_format).
_STRFTIME = {
    "Y": "yyyy", "y": "yy", "m": "MM", "-m": "M", "d": "dd", "-d": "d", "H": "HH", "-H": "H",
    "I": "hh", "-I": "h", "M": "mm", "-M": "m", "S": "ss", "-S": "s", "f": "SSSSSS",
    "j": "DDD", "-j": "D", "b": "MMM", "h": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE",
    "p": "a", "%": "'%'",
}  # fmt: skip
_CODE = re.compile(r"%(-?.)")


def _strftime(node: exp.TimeToStr, refuse: Refuse) -> exp.Expression:
    fmt = node.args.get("format")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        refuse("strftime with a computed format", "write the format as a literal")
    out, last = [], 0
    for match in _CODE.finditer(fmt.this):
        text = fmt.this[last : match.start()]
        if text:
            out.append("'" + text.replace("'", "''") + "'")
        code = match.group(1)
        if code not in _STRFTIME:
            refuse(
                f"strftime code %{code}",
                "use week(t) for week numbers, isodow(t) or dayofweek(t) for days of the week",
            )
        out.append(_STRFTIME[code])
        last = match.end()
    if fmt.this[last:]:
        out.append("'" + fmt.this[last:].replace("'", "''") + "'")
    return _fn("DATE_FORMAT", node.this, exp.Literal.string("".join(out)))


def _list_distinct(node: exp.ArrayDistinct, refuse: Refuse) -> exp.Expression:
    """DuckDB's list_distinct drops NULLs; Spark's array_distinct keeps one."""
    return _spark(f"ARRAY_DISTINCT(FILTER({_s(node.this)}, v -> v IS NOT NULL))")


def _has_any(node: exp.ArrayOverlaps, refuse: Refuse) -> exp.Expression:
    """DuckDB's list_has_any (`&&`) ignores NULL elements (false, not Spark's NULL, when
    only NULLs could match) and compares numbers of different types (Spark's
    arrays_overlap wants one element type; array_contains widens)."""
    a, b = _s(node.this), _s(node.expression)
    return _spark(
        f"EXISTS(FILTER({a}, v -> v IS NOT NULL), "
        f"v -> ARRAY_CONTAINS(FILTER({b}, w -> w IS NOT NULL), v))"
    )


def _contains(node: exp.ArrayContains, refuse: Refuse) -> exp.Expression:
    """DuckDB's list_contains ignores NULL elements (false, not Spark's NULL, without a
    match)."""
    return _spark(
        f"ARRAY_CONTAINS(FILTER({_s(node.this)}, v -> v IS NOT NULL), {_s(node.expression)})"
    )


# Each function takes its own node type: the values are typed by their shared result.
_REWRITES: dict[type, Callable[..., exp.Expression | None]] = {
    exp.ArrayContains: _contains,
    exp.ArrayDistinct: _list_distinct,
    exp.ArrayOverlaps: _has_any,
    exp.DayOfWeek: _dow,
    exp.DayOfWeekIso: _isodow,
    exp.Dayname: _dayname,
    exp.Extract: _extract,
    exp.Anonymous: _anonymous,
    exp.DateDiff: _date_diff,
    exp.Log: _log,
    exp.Cast: _cast,
    exp.RegexpReplace: _regexp_replace,
    exp.ArrayAgg: _array_agg,
    exp.WithinGroup: _within_group,
    exp.PercentileCont: _quantile,
    exp.PercentileDisc: _quantile,
    exp.Median: _median,
    exp.Kurtosis: _moments,
    exp.Skewness: _moments,
    exp.Avg: _avg,
    exp.Div: _divide,
    exp.Length: _length,
    exp.Interval: _interval,
    exp.Grouping: _grouping,
    exp.Week: lambda node, refuse: _fn("WEEKOFYEAR", node.this),  # ISO weeks on both
    exp.RegexpFullMatch: _full_match,
    exp.TimeToStr: _strftime,
}
