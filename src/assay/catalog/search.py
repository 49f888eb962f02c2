"""Full-text search over the catalog (`assay catalog search`): dataset and registered table
names, descriptions, columns, tags and owners, ranked by the database's own full-text
engine: SQLite FTS5's bm25 by default, PostgreSQL's tsvector and ts_rank when the catalog
is there.

The index is rebuilt from `SearchDocument`s (what the project declares and its tables'
schemas say) whenever it is refreshed; it is derived data, so nothing is lost by that.

Example:
    >>> from assay.catalog import Catalog
    >>> cat = Catalog("sqlite://")
    >>> refresh_index(cat, [
    ...     SearchDocument("silver.flights", "dataset", "Every flight", ("dep_delay",)),
    ...     SearchDocument("silver.penguins", "dataset", "Palmer penguins", ("species",)),
    ... ])
    >>> [(hit.name, hit.field, hit.snippet) for hit in search(cat, "delays")]
    [('silver.flights', 'columns', 'dep_«delay»')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from assay.errors import ProjectError, UsageError

if TYPE_CHECKING:
    from assay.catalog.store import Catalog

#: The searched fields, in the order a match is reported (the first that matches).
FIELDS = ("name", "description", "columns", "tags", "owner")
#: bm25 weights per FTS5 column (kind is stored, not searched): a name match counts most.
_BM25_WEIGHTS = {"name": 10.0, "kind": 0.0, "description": 5.0, "columns": 3.0}
_BM25_WEIGHTS |= {"tags": 2.0, "owner": 2.0}
#: PostgreSQL's four weight classes (ts_rank weighs A 1.0, B 0.4, C 0.2, D 0.1).
_PG_WEIGHTS = {"name": "A", "description": "B", "columns": "C", "tags": "C", "owner": "D"}
#: Markers around matched words in snippets (rare in names and descriptions).
OPEN, CLOSE = "«", "»"
_FTS = "assay_search"
_PG = "assay_search_docs"


@dataclass(frozen=True)
class SearchDocument:
    """What search knows of one dataset or registered table."""

    name: str
    kind: str  # dataset | registered
    description: str | None = None
    columns: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str | None = None

    def texts(self) -> dict[str, str]:
        """The searched text of each field."""
        tags = " ".join(f"{k}={v}" if v else k for k, v in sorted(self.tags.items()))
        return {
            "name": self.name,
            "description": self.description or "",
            "columns": " ".join(self.columns),
            "tags": tags,
            "owner": self.owner or "",
        }


@dataclass(frozen=True)
class SearchHit:
    """One result: `field` is the first field that matched, `snippet` its text around the
    match (matched words between « and »), `rank` higher for better matches."""

    name: str
    kind: str
    field: str
    snippet: str
    rank: float


def _is_postgres(catalog: Catalog) -> bool:
    return catalog.engine.dialect.name == "postgresql"


def _words(text: str) -> list[str]:
    """The words of a query: letters and digits (`dep_delay` is `dep` and `delay`, as the
    index splits it)."""
    return re.findall(r"[^\W_]+", text)


def refresh_index(catalog: Catalog, documents: Iterable[SearchDocument]) -> None:
    """Replace the index with `documents` (one transaction: searches see old or new)."""
    rows = [{"kind": d.kind, **d.texts()} for d in documents]
    postgres = _is_postgres(catalog)
    with catalog.engine.begin() as con:
        _create(con, postgres)
        con.execute(sa.text(f"DELETE FROM {_PG if postgres else _FTS}"))
        if rows:
            con.execute(sa.text(_pg_insert() if postgres else _fts_insert()), rows)


def search(catalog: Catalog, text: str, limit: int = 20) -> list[SearchHit]:
    """Documents matching every word of `text`, best first."""
    words = _words(text)
    if not words:
        raise UsageError(
            f"nothing to search for in {text!r}",
            hint="give words, e.g. `assay catalog search delay`",
        )
    postgres = _is_postgres(catalog)
    with catalog.engine.begin() as con:
        _create(con, postgres)
        if postgres:
            rows = con.execute(sa.text(_pg_query()), {"q": " ".join(words), "n": limit})
        else:
            fts_query = " ".join('"' + w + '"' for w in words)  # quoted: no FTS5 operators
            rows = con.execute(sa.text(_fts_query()), {"q": fts_query, "n": limit})
        return [_hit(row, postgres) for row in rows.mappings()]


def _hit(row: sa.RowMapping, postgres: bool) -> SearchHit:
    """The hit of a result row: its first matched field. FTS5 gives every field a snippet
    (marked where it matched); the PostgreSQL query gives matched fields only (a name such
    as `silver.flights` matches by its words, which its headline does not mark)."""
    for name in FIELDS:
        snippet = row[f"s_{name}"]
        if snippet is not None and (postgres or OPEN in snippet):
            return SearchHit(row["name"], row["kind"], name, snippet, float(row["score"]))
    # A stemmed match the highlighter did not mark: still a hit, shown by its name.
    return SearchHit(row["name"], row["kind"], "name", row["name"], float(row["score"]))


# -- SQLite FTS5 ------------------------------------------------------------------------------


def _create(con: sa.Connection, postgres: bool) -> None:
    if postgres:
        con.execute(
            sa.text(
                f"CREATE TABLE IF NOT EXISTS {_PG} (name TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                + ", ".join(f"{f} TEXT NOT NULL" for f in FIELDS[1:])
                + ", document TSVECTOR NOT NULL)"
            )
        )
        con.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {_PG}_gin ON {_PG} USING GIN (document)"))
    else:
        # porter: `delays` finds `delay`; unicode61 splits `dep_delay` and `silver.flights`.
        try:
            con.execute(
                sa.text(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS {_FTS} USING fts5(name, kind UNINDEXED, "
                    "description, columns, tags, owner, tokenize = 'porter unicode61')"
                )
            )
        except sa.exc.OperationalError as exc:
            if "fts5" not in str(exc):
                raise
            raise ProjectError(
                "this Python's SQLite has no FTS5 full-text module",
                where=str(con.engine.url),
                hint="use a Python whose sqlite3 has FTS5 (python.org and most Linux builds "
                "do), or put the catalog on PostgreSQL (`catalog:` in assay.yaml)",
            ) from exc


def _fts_insert() -> str:
    names = ["name", "kind", *FIELDS[1:]]
    return f"INSERT INTO {_FTS} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"


def _fts_query() -> str:
    columns = ["name", "kind", "description", "columns", "tags", "owner"]
    weights = ", ".join(str(_BM25_WEIGHTS[c]) for c in columns)
    snippets = ", ".join(
        f"snippet({_FTS}, {columns.index(f)}, '{OPEN}', '{CLOSE}', '…', 12) AS s_{f}"
        for f in FIELDS
    )
    # bm25 is lower for better matches: negated, so a higher rank is better on both backends.
    return (
        f"SELECT name, kind, -bm25({_FTS}, {weights}) AS score, {snippets} FROM {_FTS} "
        f"WHERE {_FTS} MATCH :q ORDER BY bm25({_FTS}, {weights}), name LIMIT :n"
    )


# -- PostgreSQL full text ----------------------------------------------------------------------


def _pg_words(column: str) -> str:
    # The default parser reads `silver.flights` as one host name: split it into words.
    return f"regexp_replace({column}, '[^[:alnum:]]+', ' ', 'g')"


def _pg_insert() -> str:
    vector = " || ".join(
        f"setweight(to_tsvector('english', {_pg_words(':' + f)}), '{_PG_WEIGHTS[f]}')"
        for f in FIELDS
    )
    names = ["name", "kind", *FIELDS[1:]]
    values = ", ".join(":" + n for n in names)
    return f"INSERT INTO {_PG} ({', '.join(names)}, document) VALUES ({values}, {vector})"


def _pg_query() -> str:
    options = f"StartSel={OPEN}, StopSel={CLOSE}, MaxWords=12, MinWords=3"
    snippets = ", ".join(
        f"CASE WHEN to_tsvector('english', {_pg_words(f)}) @@ q "
        f"THEN ts_headline('english', {f}, q, '{options}') END AS s_{f}"
        for f in FIELDS
    )
    return (
        f"SELECT name, kind, ts_rank(document, q) AS score, {snippets} "
        f"FROM {_PG}, plainto_tsquery('english', :q) AS q "
        "WHERE document @@ q ORDER BY score DESC, name LIMIT :n"
    )
