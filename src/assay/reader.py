"""The one read path: every read a user triggers resolves `layer.name[@version]` here.

`assay sql` and `assay show`, `Project.table` and `Project.sql`, training sets (and the
files `assay features training-set` writes from them), online reads, the feature server
and `assay contract infer` all read through one `Reader` (`runtime.reader`). Pipeline
runs, streams, checks and materialization read their inputs as part of writing or
checking a table; they are not user reads.

Every read first passes `Reader.resolve` (online reads, which never touch the warehouse,
pass `Reader.announce`): the name is checked (an unknown table is an error that names it
and says how to build it), the version is pinned, and a `Read` saying what is read, at
which version and what for is handed to the reader's listeners. That is the seam where
governance (access control, column masks, row filters, the audit log) and the lineage of
reads hook in, once for every surface: a listener sees every read and may refuse one by
raising an `AssayError`.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> project = assay.Project(root)
    >>> _ = project.run()
    >>> reader = project.runtime.reader
    >>> seen = []
    >>> reader.listen(seen.append)
    >>> reader.table("gold.daily_totals@0").num_rows > 0
    True
    >>> seen[0].table, seen[0].version, seen[0].purpose
    ('gold.daily_totals', 0, 'table')
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.engines import Engine, TableRef
from assay.errors import TableNotFoundError, UsageError

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from assay.features.online import OnlineStore
    from assay.features.spec import FeatureView
    from assay.tables import Warehouse

#: An online read: the view, the entities' key tuples and the features wanted.
OnlineRequest = tuple["FeatureView", Sequence[tuple[Any, ...]], Sequence[str]]
#: Per key tuple: (feature values, event time in microseconds), or None when missing.
OnlineAnswer = list[tuple[dict[str, Any], int | None] | None]


@dataclass(frozen=True)
class Read:
    """One read a user triggered, as the reader's listeners see it.

    Attributes:
        table: `layer.name` of the table read (for an online read, the view's source).
        version: the table version read (None for online reads: the store keeps only
            each entity's latest values).
        purpose: `table` (a table or its first rows), `sql`, `training`, `online`, or
            `profile` (`assay contract infer`, whose observed values go into a file).
        columns: the columns read (None: all).
    """

    table: str
    version: int | None
    purpose: str
    columns: tuple[str, ...] | None = None


def split_version(name: str, version: int | None = None) -> tuple[str, int | None]:
    """`layer.name@version` as (`layer.name`, version); `version` when the name has none.

    Example:
        >>> split_version("silver.orders@3"), split_version("silver.orders", 2)
        (('silver.orders', 3), ('silver.orders', 2))
    """
    base, at, text = name.partition("@")
    if not at:
        return name, version
    if not text.isdigit():
        raise UsageError(
            f"invalid table version {text!r} in {name!r}", hint="use layer.name@VERSION, e.g. @3"
        )
    if version is not None and version != int(text):
        raise UsageError(
            f"{name!r} names version {text} and version {version} was asked for",
            hint="give the version once",
        )
    return base, int(text)


class Reader:
    """Resolves table names to data for every read a user triggers (see the module).

    Args:
        warehouse: where the tables are.
        engine: where SQL runs.
        online_store: gives the online store, for online reads (opened when first used).
        declared: the datasets the project declares (an unknown table's error tells a
            declared but unbuilt one from a misspelt one).
    """

    def __init__(
        self,
        warehouse: Warehouse,
        engine: Engine,
        online_store: Callable[[], OnlineStore] | None = None,
        declared: Collection[str] = (),
    ):
        self.warehouse = warehouse
        self.engine = engine
        self._online_store = online_store
        self.declared = frozenset(declared)
        self._listeners: list[Callable[[Read], None]] = []

    def listen(self, listener: Callable[[Read], None]) -> None:
        """Call `listener` with every `Read` before its data is read; an `AssayError` it
        raises refuses the read."""
        self._listeners.append(listener)

    # -- the seam -------------------------------------------------------------------------

    def resolve(
        self,
        name: str,
        version: int | None = None,
        purpose: str = "table",
        columns: Sequence[str] | None = None,
    ) -> tuple[Read, DeltaTable]:
        """The one place a table read is decided: check `name` (`layer.name[@version]`),
        pin its version, announce the `Read`; return it and the table at that version."""
        name, version = split_version(name, version)
        table = self._open(name, version)
        read = Read(name, table.version(), purpose, tuple(columns) if columns else None)
        self.announce(read)
        return read, table

    def announce(self, read: Read) -> None:
        """Hand `read` to every listener (the hook for governance and read lineage)."""
        for listener in self._listeners:
            listener(read)

    def unknown(self, name: str) -> TableNotFoundError:
        """The error for a table that does not exist: names it and says what to do."""
        if name in self.declared:
            return TableNotFoundError(
                "the table is not built yet",
                where=name,
                hint="build it with `assay run` (a stream with `assay stream`)",
            )
        tables = self.warehouse.list_tables()
        return TableNotFoundError(
            "no such table",
            where=name,
            hint=f"tables: {', '.join(tables)}" if tables else "none yet; run `assay run`",
        )

    def _open(self, name: str, version: int | None) -> DeltaTable:
        try:
            return self.warehouse.table(name, version)
        except TableNotFoundError:
            if version is not None and self.warehouse.exists(name):
                raise  # the table is there, the version is not: the warehouse says which
            raise self.unknown(name) from None

    # -- reads ----------------------------------------------------------------------------

    def table(
        self, name: str, version: int | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """Table `name` (`layer.name[@version]`) as Arrow, at `version` (latest by default)."""
        _, table = self.resolve(name, version, "table", columns)
        return table.to_pyarrow_dataset().to_table(columns=list(columns) if columns else None)

    def head(self, name: str, limit: int, version: int | None = None) -> tuple[pa.Table, int]:
        """The first `limit` rows of table `name` and the version they are from."""
        read, table = self.resolve(name, version, "table")
        return table.to_pyarrow_dataset().head(limit), int(read.version or 0)

    def source(
        self,
        name: str,
        version: int | None = None,
        purpose: str = "training",
        columns: Sequence[str] | None = None,
    ) -> tuple[TableRef, pa.Schema]:
        """Table `name` as an engine source pinned to its version, and its schema: for
        reads that run on the engine (training sets, profiles)."""
        read, table = self.resolve(name, version, purpose, columns)
        return TableRef(read.table, read.version), pa.schema(table.schema().to_arrow())

    def sql(self, query: str, engine: Engine | None = None) -> pa.Table:
        """Run `query` (DuckDB's dialect, translated on Spark) where tables are
        `layer.name`; each table it reads is resolved (at its latest version)."""
        sources = {}
        for name in referenced_tables(query):
            read, _ = self.resolve(name, None, "sql")
            sources[name] = TableRef(name, read.version)
        return (engine or self.engine).query(query, sources)

    def online(self, requests: Sequence[OnlineRequest]) -> list[OnlineAnswer]:
        """Latest feature values from the online store, for several views at once (on
        Redis, one round trip); each view's read is announced with its source table."""
        if self._online_store is None:
            raise UsageError("this reader has no online store")
        for view, _, features in requests:
            self.announce(Read(view.source, None, "online", tuple(features)))
        return self._online_store().read_many(requests)


def referenced_tables(query: str) -> list[str]:
    """The tables `layer.name` a query reads, each once (CTE names and unqualified names,
    such as DuckDB's table functions, aside).

    Example:
        >>> referenced_tables("WITH t AS (SELECT * FROM silver.a) SELECT * FROM t, gold.b")
        ['gold.b', 'silver.a']
    """
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse(query, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise UsageError(f"cannot parse the query: {exc}") from exc
    ctes = {cte.alias for stmt in tree if stmt for cte in stmt.find_all(exp.CTE)}
    names = []
    for stmt in tree:
        for table in stmt.find_all(exp.Table) if stmt else []:
            if table.db and table.name not in ctes:
                names.append(f"{table.db}.{table.name}")
    return list(dict.fromkeys(names))
