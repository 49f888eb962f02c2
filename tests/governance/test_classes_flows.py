"""Which input columns' values reach each output column of a query: what classification
follows. Expected answers are read off each query (a value flows unless only counted or
hashed; filters, joins and conditions carry none)."""

from __future__ import annotations

import pytest

from assay.governance.pii_flows import declared_flows, same_name_flows, sql_flows

INPUTS = {"s.c": ["id", "email", "phone", "country"], "s.o": ["id", "amount", "email"]}

CASES = [
    (
        "SELECT email FROM s.c UNION ALL SELECT email FROM s.o",
        {"email": [("s.c", "email"), ("s.o", "email")]},
    ),
    (
        "SELECT c.id, o.amount FROM s.c c JOIN s.o o ON c.email = o.email",
        {"id": [("s.c", "id")], "amount": [("s.o", "amount")]},
    ),
    (
        "SELECT string_agg(email, ',') AS emails, count(*) FILTER (WHERE email LIKE '%x') AS n,"
        " count(email) OVER (PARTITION BY country) AS w, max(email) OVER () AS mw FROM s.c",
        {"emails": [("s.c", "email")], "n": [], "w": [], "mw": [("s.c", "email")]},
    ),
    (
        "SELECT (SELECT max(email) FROM s.o) AS m, id FROM s.c",
        {"m": [("s.o", "email")], "id": [("s.c", "id")]},
    ),
    (
        "SELECT CASE WHEN email IS NULL THEN 0 ELSE 1 END AS has_email,"
        " coalesce(phone, email) AS contact FROM s.c",
        {"has_email": [], "contact": [("s.c", "phone"), ("s.c", "email")]},
    ),
    (
        "SELECT md5(lower(email)) AS k, sha256(email || phone) AS k2,"
        " CAST(hash(email) AS VARCHAR) AS k3, approx_count_distinct(email) AS a FROM s.c",
        {"k": [], "k2": [], "k3": [], "a": []},
    ),
    (
        "SELECT * EXCLUDE (email) FROM s.c",
        {"id": [("s.c", "id")], "phone": [("s.c", "phone")], "country": [("s.c", "country")]},
    ),
    (
        "WITH t AS (SELECT email AS e FROM s.c) SELECT upper(e) AS shout, count(e) AS n FROM t "
        "GROUP BY 1",
        {"shout": [("s.c", "email")], "n": []},
    ),
]


@pytest.mark.parametrize(("sql", "expected"), CASES)
def test_value_flows(sql: str, expected: dict[str, list[tuple[str, str]]]) -> None:
    assert sql_flows(sql, INPUTS, "test") == expected


def test_python_datasets_flow_by_declaration_or_by_name() -> None:
    assert declared_flows({"n": ["s.c.email", "elsewhere.t.x"]}, ["s.c"]) == {
        "n": [("s.c", "email")]
    }
    assert same_name_flows(INPUTS, ["email", "total"]) == {
        "email": [("s.c", "email"), ("s.o", "email")],
        "total": [],
    }
