"""A corpus of SQL with the column edges expected from reading it (written by hand, not by
running the code): joins, CTEs, window functions, QUALIFY, `* EXCLUDE`, UNION ALL,
subqueries, GROUP BY ALL, CASE, upper-case column names.

Each expectation lists, per output column, (input table, input column, type, subtype).
Conventions the expectations follow (also in assay.lineage.sqlexpr): a JOIN, WHERE,
HAVING, QUALIFY, GROUP BY or ORDER BY reaches every output column of its SELECT and of
the SELECTs that read it; a CASE condition is CONDITIONAL; a window's PARTITION BY and
ORDER BY are WINDOW for the column it computes; a filter inside a CTE stays a FILTER.
"""

from __future__ import annotations

import pytest

from assay.lineage.sql import sql_lineage

SCHEMAS = {
    "s.orders": {
        "order_id": "BIGINT",
        "customer_id": "BIGINT",
        "amount": "DOUBLE",
        "status": "VARCHAR",
        "ordered_at": "TIMESTAMP",
    },
    "s.customers": {
        "customer_id": "BIGINT",
        "name": "VARCHAR",
        "country": "VARCHAR",
        "tier": "VARCHAR",
    },
    "s.items": {"order_id": "BIGINT", "sku": "VARCHAR", "qty": "INT", "price": "DOUBLE"},
    "s.cars": {"Name": "VARCHAR", "Miles_per_Gallon": "DOUBLE", "Origin": "VARCHAR"},
}
ORD, CUS, ITM, CARS = "s.orders", "s.customers", "s.items", "s.cars"
D, X = "DIRECT", "INDIRECT"

CASES: dict[str, tuple[str, dict[str, set[tuple[str, str, str, str]]]]] = {
    "copy, compute, rename": (
        "SELECT order_id, amount * 2 AS doubled, upper(status) AS status FROM s.orders",
        {
            "order_id": {(ORD, "order_id", D, "IDENTITY")},
            "doubled": {(ORD, "amount", D, "TRANSFORMATION")},
            "status": {(ORD, "status", D, "TRANSFORMATION")},
        },
    ),
    "join on and where": (
        """SELECT o.order_id, c.name FROM s.orders o
           JOIN s.customers c ON o.customer_id = c.customer_id WHERE c.country = 'GB'""",
        {
            "order_id": {
                (ORD, "order_id", D, "IDENTITY"),
                (ORD, "customer_id", X, "JOIN"),
                (CUS, "customer_id", X, "JOIN"),
                (CUS, "country", X, "FILTER"),
            },
            "name": {
                (CUS, "name", D, "IDENTITY"),
                (ORD, "customer_id", X, "JOIN"),
                (CUS, "customer_id", X, "JOIN"),
                (CUS, "country", X, "FILTER"),
            },
        },
    ),
    "cte, group by, having, order by": (
        """WITH paid AS (SELECT customer_id, amount FROM s.orders WHERE status = 'paid')
           SELECT customer_id, sum(amount) AS total, count(*) AS n FROM paid
           GROUP BY customer_id HAVING sum(amount) > 100 ORDER BY total DESC""",
        {
            "customer_id": {
                (ORD, "customer_id", D, "IDENTITY"),
                (ORD, "status", X, "FILTER"),
                (ORD, "customer_id", X, "GROUP_BY"),
                (ORD, "amount", X, "FILTER"),
                (ORD, "amount", X, "SORT"),
            },
            "total": {
                (ORD, "amount", D, "AGGREGATION"),
                (ORD, "status", X, "FILTER"),
                (ORD, "customer_id", X, "GROUP_BY"),
                (ORD, "amount", X, "FILTER"),
                (ORD, "amount", X, "SORT"),
            },
            "n": {
                (ORD, "status", X, "FILTER"),
                (ORD, "customer_id", X, "GROUP_BY"),
                (ORD, "amount", X, "FILTER"),
                (ORD, "amount", X, "SORT"),
            },
        },
    ),
    "count over a filtered cte keeps the filter": (
        "WITH paid AS (SELECT * FROM s.orders WHERE status = 'paid') "
        "SELECT count(*) AS n FROM paid",
        {"n": {(ORD, "status", X, "FILTER")}},
    ),
    "window function and qualify": (
        """SELECT order_id, amount,
                  sum(amount) OVER (PARTITION BY customer_id ORDER BY ordered_at) AS running
           FROM s.orders
           QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY ordered_at DESC) = 1""",
        {
            "order_id": {
                (ORD, "order_id", D, "IDENTITY"),
                (ORD, "order_id", X, "FILTER"),
                (ORD, "ordered_at", X, "FILTER"),
            },
            "amount": {
                (ORD, "amount", D, "IDENTITY"),
                (ORD, "order_id", X, "FILTER"),
                (ORD, "ordered_at", X, "FILTER"),
            },
            "running": {
                (ORD, "amount", D, "AGGREGATION"),
                (ORD, "customer_id", X, "WINDOW"),
                (ORD, "ordered_at", X, "WINDOW"),
                (ORD, "order_id", X, "FILTER"),
                (ORD, "ordered_at", X, "FILTER"),
            },
        },
    ),
    "named window": (
        """SELECT customer_id, avg(amount) OVER w AS avg_amount FROM s.orders
           WINDOW w AS (PARTITION BY customer_id ORDER BY ordered_at)""",
        {
            "customer_id": {(ORD, "customer_id", D, "IDENTITY")},
            "avg_amount": {
                (ORD, "amount", D, "AGGREGATION"),
                (ORD, "customer_id", X, "WINDOW"),
                (ORD, "ordered_at", X, "WINDOW"),
            },
        },
    ),
    "star exclude": (
        "SELECT * EXCLUDE (status, ordered_at) FROM s.orders",
        {
            "order_id": {(ORD, "order_id", D, "IDENTITY")},
            "customer_id": {(ORD, "customer_id", D, "IDENTITY")},
            "amount": {(ORD, "amount", D, "IDENTITY")},
        },
    ),
    "union all": (
        """SELECT order_id AS id, amount FROM s.orders WHERE status = 'paid'
           UNION ALL SELECT order_id, qty * price FROM s.items""",
        {
            "id": {
                (ORD, "order_id", D, "IDENTITY"),
                (ORD, "status", X, "FILTER"),
                (ITM, "order_id", D, "IDENTITY"),
            },
            "amount": {
                (ORD, "amount", D, "IDENTITY"),
                (ORD, "status", X, "FILTER"),
                (ITM, "qty", D, "TRANSFORMATION"),
                (ITM, "price", D, "TRANSFORMATION"),
            },
        },
    ),
    "derived table and IN subquery": (
        """SELECT t.customer_id, t.spent
           FROM (SELECT customer_id, sum(amount) AS spent FROM s.orders GROUP BY customer_id) AS t
           WHERE t.customer_id IN (SELECT customer_id FROM s.customers WHERE tier = 'gold')""",
        {
            "customer_id": {
                (ORD, "customer_id", D, "IDENTITY"),
                (ORD, "customer_id", X, "GROUP_BY"),
                (ORD, "customer_id", X, "FILTER"),
                (CUS, "customer_id", X, "FILTER"),
                (CUS, "tier", X, "FILTER"),
            },
            "spent": {
                (ORD, "amount", D, "AGGREGATION"),
                (ORD, "customer_id", X, "GROUP_BY"),
                (ORD, "customer_id", X, "FILTER"),
                (CUS, "customer_id", X, "FILTER"),
                (CUS, "tier", X, "FILTER"),
            },
        },
    ),
    "correlated exists": (
        """SELECT c.name FROM s.customers c WHERE EXISTS (
               SELECT 1 FROM s.orders o WHERE o.customer_id = c.customer_id AND o.amount > 100)""",
        {
            "name": {
                (CUS, "name", D, "IDENTITY"),
                (ORD, "customer_id", X, "FILTER"),
                (CUS, "customer_id", X, "FILTER"),
                (ORD, "amount", X, "FILTER"),
            }
        },
    ),
    "group by all with case": (
        """SELECT country, CASE WHEN tier = 'gold' THEN 'vip' ELSE 'regular' END AS segment,
                  count(*) AS customers
           FROM s.customers GROUP BY ALL""",
        {
            "country": {
                (CUS, "country", D, "IDENTITY"),
                (CUS, "country", X, "GROUP_BY"),
                (CUS, "tier", X, "GROUP_BY"),
            },
            "segment": {
                (CUS, "tier", X, "CONDITIONAL"),
                (CUS, "country", X, "GROUP_BY"),
                (CUS, "tier", X, "GROUP_BY"),
            },
            "customers": {(CUS, "country", X, "GROUP_BY"), (CUS, "tier", X, "GROUP_BY")},
        },
    ),
    "case inside an aggregate, aggregate filter": (
        """SELECT customer_id,
                  sum(CASE WHEN status = 'refund' THEN -amount ELSE amount END) AS net,
                  count(*) FILTER (WHERE status = 'paid') AS paid
           FROM s.orders GROUP BY customer_id""",
        {
            "customer_id": {
                (ORD, "customer_id", D, "IDENTITY"),
                (ORD, "customer_id", X, "GROUP_BY"),
            },
            "net": {
                (ORD, "status", X, "CONDITIONAL"),
                (ORD, "amount", D, "AGGREGATION"),
                (ORD, "customer_id", X, "GROUP_BY"),
            },
            "paid": {(ORD, "status", X, "FILTER"), (ORD, "customer_id", X, "GROUP_BY")},
        },
    ),
    "join using and a scalar subquery": (
        """SELECT order_id, customer_id, (SELECT max(amount) FROM s.orders) AS top
           FROM s.orders JOIN s.customers USING (customer_id)""",
        {
            "order_id": {
                (ORD, "order_id", D, "IDENTITY"),
                (ORD, "customer_id", X, "JOIN"),
                (CUS, "customer_id", X, "JOIN"),
            },
            # An inner join's USING key holds the same value on both sides.
            "customer_id": {
                (ORD, "customer_id", D, "IDENTITY"),
                (CUS, "customer_id", D, "IDENTITY"),
                (ORD, "customer_id", X, "JOIN"),
                (CUS, "customer_id", X, "JOIN"),
            },
            "top": {
                (ORD, "amount", D, "AGGREGATION"),
                (ORD, "customer_id", X, "JOIN"),
                (CUS, "customer_id", X, "JOIN"),
            },
        },
    ),
    "upper-case names keep their spelling": (
        "SELECT Name, avg(miles_per_gallon) AS mpg FROM s.cars GROUP BY Name",
        {
            "Name": {(CARS, "Name", D, "IDENTITY"), (CARS, "Name", X, "GROUP_BY")},
            "mpg": {(CARS, "Miles_per_Gallon", D, "AGGREGATION"), (CARS, "Name", X, "GROUP_BY")},
        },
    ),
    "a star over upper-case names": (
        "SELECT * FROM s.cars",
        {
            "Name": {(CARS, "Name", D, "IDENTITY")},
            "Miles_per_Gallon": {(CARS, "Miles_per_Gallon", D, "IDENTITY")},
            "Origin": {(CARS, "Origin", D, "IDENTITY")},
        },
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_corpus(name: str) -> None:
    sql, expected = CASES[name]
    result = sql_lineage(sql, SCHEMAS, name)
    assert result.unresolved == []
    assert list(result.columns) == list(expected)  # every output column, in order
    got = {column: {tuple(u) for u in uses} for column, uses in result.columns.items()}
    assert got == expected


def test_a_column_no_input_has_is_named_unresolved() -> None:
    result = sql_lineage(
        "SELECT o.order_id, nope FROM s.orders o JOIN s.customers c USING (customer_id)",
        SCHEMAS,
    )
    assert any(item.startswith("nope ") for item in result.unresolved), result.unresolved


def test_a_star_over_an_unknown_table_is_named_unresolved() -> None:
    result = sql_lineage("SELECT * FROM s.unknown_table", SCHEMAS)
    assert result.columns == {}
    assert result.unresolved and "input columns unknown" in result.unresolved[0]


def test_sql_that_does_not_parse_says_where() -> None:
    from assay.errors import DefinitionError

    with pytest.raises(DefinitionError, match=r"silver\.bad: the SQL does not parse"):
        sql_lineage("SELECT FROM WHERE (", SCHEMAS, "silver.bad")


def test_a_repeated_output_name_is_named_unresolved() -> None:
    result = sql_lineage(
        "SELECT o.customer_id, c.customer_id FROM s.orders o JOIN s.customers c "
        "ON o.customer_id = c.customer_id",
        SCHEMAS,
    )
    assert "customer_id (output name repeats)" in result.unresolved


def test_distinct_on_filters_rows_and_columns_regex_is_named() -> None:
    # DISTINCT ON (customer_id) keeps one row per customer: like QUALIFY, a filter.
    result = sql_lineage(
        "SELECT DISTINCT ON (customer_id) customer_id, amount FROM s.orders", SCHEMAS
    )
    assert {tuple(u) for u in result.columns["amount"]} == {
        (ORD, "amount", D, "IDENTITY"),
        (ORD, "customer_id", X, "FILTER"),
    }
    dynamic = sql_lineage("SELECT COLUMNS('amount|status') FROM s.orders", SCHEMAS)
    assert dynamic.columns == {}
    assert dynamic.unresolved == ["COLUMNS('amount|status') (columns chosen at run time)"]
