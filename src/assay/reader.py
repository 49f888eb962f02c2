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

With `roles:` in assay.yaml the reader holds an access policy (assay.governance.access):
each read is decided for the current principal's role (assay.governance.principal), and
the engines read governed sources (assay.engines.base.GovernedRef) that show masked
values and filtered rows, so SQL, table reads, training sets and online reads all see the
same thing. A denied read raises AccessDeniedError and returns nothing. Observers
(`Reader.observe`) hear of every finished read and every denied one (`ReadOutcome`): the
audit log is one.

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

import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.engines import Engine, TableRef
from assay.engines.base import GovernedRef, Source
from assay.errors import AccessDeniedError, TableNotFoundError, UsageError

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from assay.features.online import OnlineStore
    from assay.features.spec import FeatureView
    from assay.governance.access import AccessPolicy, TableAccess
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


@dataclass(frozen=True)
class ReadOutcome:
    """How a read ended, as `Reader.observe` callbacks see it (the audit log's input).

    Attributes:
        read: the read (its `columns`: those the read touched, where known).
        principal: who read (assay.governance.principal).
        role: the principal's role (None without `roles:`, or when it holds none).
        rows: rows returned (None for a denied read).
        allowed: False when the read was denied.
        reason: why it was denied.
        query_hash: SHA-256 (hex) of the SQL text, for SQL reads.
    """

    read: Read
    principal: str
    role: str | None
    rows: int | None
    allowed: bool = True
    reason: str | None = None
    query_hash: str | None = None


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
        policy: the access policy (None without `roles:`: every read allowed, unmasked).
    """

    def __init__(
        self,
        warehouse: Warehouse,
        engine: Engine,
        online_store: Callable[[], OnlineStore] | None = None,
        declared: Collection[str] = (),
        policy: AccessPolicy | None = None,
    ):
        self.warehouse = warehouse
        self.engine = engine
        self._online_store = online_store
        self.declared = frozenset(declared)
        self.policy = policy
        self._listeners: list[Callable[[Read], None]] = []
        self._observers: list[Callable[[ReadOutcome], None]] = []
        self._local: Engine | None = None

    def observe(self, callback: Callable[[ReadOutcome], None]) -> None:
        """Call `callback` with the `ReadOutcome` of every finished or denied read."""
        self._observers.append(callback)

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
        read, table = self.resolve(name, version, "table", columns)
        wanted = list(columns) if columns else None
        with self._deciding([read]) as decision:
            access = decision.access(read, table, wanted)
            if access is None or access.is_open:
                with _vacuumed(read):
                    data = table.to_pyarrow_dataset().to_table(columns=wanted)
            else:
                data = self._governed_select(read, table, access, wanted, None)
            decision.rows = data.num_rows
        return data

    def head(self, name: str, limit: int, version: int | None = None) -> tuple[pa.Table, int]:
        """The first `limit` rows of table `name` and the version they are from."""
        read, table = self.resolve(name, version, "table")
        with self._deciding([read]) as decision:
            access = decision.access(read, table, None)
            if access is None or access.is_open:
                with _vacuumed(read):
                    data = table.to_pyarrow_dataset().head(limit)
            else:
                data = self._governed_select(read, table, access, None, limit)
            decision.rows = data.num_rows
        return data, int(read.version or 0)

    def source(
        self,
        name: str,
        version: int | None = None,
        purpose: str = "training",
        columns: Sequence[str] | None = None,
    ) -> tuple[Source, pa.Schema]:
        """Table `name` as an engine source pinned to its version, and its schema: for
        reads that run on the engine (training sets, profiles). Under roles, the source
        is governed (a GovernedRef) and the schema is what it shows."""
        read, table = self.resolve(name, version, purpose, columns)
        ref = TableRef(read.table, read.version)
        schema = pa.schema(table.schema().to_arrow())
        with self._deciding([read]) as decision:
            access = decision.access(read, table, list(columns) if columns else None)
            if access is not None and not access.is_open:
                governed = self._govern(ref, schema, access)
                return governed, governed.schema
        return ref, schema

    def sql(self, query: str, engine: Engine | None = None) -> pa.Table:
        """Run `query` (DuckDB's dialect, translated on Spark) where tables are
        `layer.name`; each table it reads is resolved (at its latest version)."""
        names = referenced_tables(query)
        digest = hashlib.sha256(query.encode()).hexdigest()
        if self.policy is None:
            reads = [self.resolve(name, None, "sql")[0] for name in names]
            with self._deciding(reads, digest) as decision:
                sources: dict[str, Source] = {r.table: TableRef(r.table, r.version) for r in reads}
                result = (engine or self.engine).query(query, sources)
                decision.rows = result.num_rows
            return result
        # Under roles the query's shape is checked before any table is opened.
        with self._deciding([Read(name, None, "sql") for name in names], digest) as decision:
            from assay.governance.access_sql import checked_query

            tree = checked_query(query)
            resolved = [self.resolve(name, None, "sql") for name in names]
            decision.reads = [read for read, _ in resolved]
            sources = self._governed_sources(decision, tree, resolved)
            result = (engine or self.engine).query(query, sources)
            decision.rows = result.num_rows
        return result

    def online(self, requests: Sequence[OnlineRequest]) -> list[OnlineAnswer]:
        """Latest feature values from the online store, for several views at once (on
        Redis, one round trip); each view's read is announced with its source table.
        Under roles, features from masked columns come back masked, from denied ones
        are refused, and entities a row filter hides come back missing."""
        if self._online_store is None:
            raise UsageError("this reader has no online store")
        reads = [
            Read(view.source, None, "online", tuple(features)) for view, _, features in requests
        ]
        for read in reads:
            self.announce(read)
        with self._deciding(reads) as decision:
            if self.policy is None:
                answers = self._online_store().read_many(requests)
            else:
                answers = self._governed_online(decision, requests)
            decision.rows = sum(hit is not None for answer in answers for hit in answer)
        return answers

    # -- governance -----------------------------------------------------------------------

    @contextmanager
    def _deciding(self, reads: Sequence[Read], query_hash: str | None = None) -> Iterator[Decision]:
        """Decide `reads` for the current principal, and tell the observers how they ended
        (a denial is reported, then raised)."""
        decision = Decision(self, reads, query_hash)
        try:
            decision.take_role()
            yield decision
        except AccessDeniedError as exc:
            decision.report(allowed=False, reason=str(exc))
            raise
        decision.report(allowed=True)

    def _govern(self, ref: TableRef, schema: pa.Schema, access: TableAccess) -> GovernedRef:
        assert self.policy is not None
        return access.governed(ref, schema, self.policy.keys([access]))

    def _governed_select(
        self,
        read: Read,
        table: DeltaTable,
        access: TableAccess,
        columns: Sequence[str] | None,
        limit: int | None,
    ) -> pa.Table:
        """A table read under a policy that changes it: the governed rows, on the embedded
        engine (the rows come to this process anyway)."""
        from assay.sqlbuild import quote

        schema = pa.schema(table.schema().to_arrow())
        governed = self._govern(TableRef(read.table, read.version), schema, access)
        listed = ", ".join(quote(c, "duckdb") for c in columns) if columns else "*"
        layer, _, name = read.table.partition(".")
        sql = f"SELECT {listed} FROM {quote(layer, 'duckdb')}.{quote(name, 'duckdb')}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self.local_engine.query(sql, {read.table: governed})

    def _governed_sources(
        self, decision: Decision, tree: Any, resolved: Sequence[tuple[Read, DeltaTable]]
    ) -> dict[str, Source]:
        """Each table the query (`tree`, its checked parse) reads as the role sees it,
        once the columns it reads are allowed."""
        from assay.governance.access_sql import columns_read

        schemas = {read.table: pa.schema(t.schema().to_arrow()) for read, t in resolved}
        accesses = {read.table: decision.access(read, t, ()) for read, t in resolved}
        touched = columns_read(tree, schemas)
        for table, access in accesses.items():
            assert access is not None
            if touched is None and access.denied:
                raise access.denial(next(iter(access.denied)), unsure=True)
            if touched is not None:
                access.check_columns(sorted(touched[table]), schemas[table])
        decision.touched = touched
        sources: dict[str, Source] = {}
        for read, _ in resolved:
            access = accesses[read.table]
            ref = TableRef(read.table, read.version)
            assert access is not None
            sources[read.table] = (
                ref if access.is_open else self._govern(ref, schemas[read.table], access)
            )
        return sources

    def _governed_online(
        self, decision: Decision, requests: Sequence[OnlineRequest]
    ) -> list[OnlineAnswer]:
        """Online answers as the role may see them (see assay.governance.access_online)."""
        from assay.governance.access_online import hide_filtered, masked_answer, source_column

        assert self._online_store is not None and self.policy is not None
        opened = []
        for (view, _, features), read in zip(requests, decision.reads, strict=True):
            table = self._open(view.source, None)
            columns = [c for c in (source_column(view, f) for f in features) if c is not None]
            access = decision.access(read, table, columns)
            assert access is not None
            opened.append((table, access))
        answers = self._online_store().read_many(requests)
        keys = self.policy.keys([access for _, access in opened])
        out = []
        for (view, entity_keys, features), (table, access), answer in zip(
            requests, opened, answers, strict=True
        ):
            if access.row_filter:
                schema = pa.schema(table.schema().to_arrow())
                answer = hide_filtered(
                    self.local_engine, view, entity_keys, access, answer, table.version(), schema
                )
            out.append(masked_answer(view, features, access, answer, keys))
        return out

    @property
    def local_engine(self) -> Engine:
        """The embedded engine, for governed reads whose rows come to this process."""
        if self.engine.name == "duckdb":
            return self.engine
        if self._local is None:
            from assay.engines import get_engine

            self._local = get_engine("duckdb", self.warehouse)
        return self._local


class Decision:
    """One read being decided: the principal, its role, and the outcome to report.

    Attributes:
        rows: rows returned, set by the read once it has them.
        touched: the columns each table's read touched, where known.
    """

    def __init__(self, reader: Reader, reads: Sequence[Read], query_hash: str | None):
        self.reader = reader
        self.reads = list(reads)
        self.query_hash = query_hash
        self.rows: int | None = None
        self.touched: Mapping[str, Collection[str]] | None = None
        self.principal: str | None = None
        self.role: str | None = None
        if reader.policy is not None or reader._observers:
            from assay.governance.principal import current_principal

            self.principal = current_principal()

    def take_role(self) -> None:
        """The principal's role under the policy (AccessDeniedError when it has none)."""
        if self.reader.policy is not None:
            assert self.principal is not None
            self.role = self.reader.policy.role_of(self.principal)

    def access(
        self, read: Read, table: DeltaTable, columns: Sequence[str] | None
    ) -> TableAccess | None:
        """What the role sees of `read`'s table; checks `columns` (None: all; empty: none
        yet) against its denied columns. None without a policy."""
        policy = self.reader.policy
        if policy is None:
            return None
        assert self.role is not None
        schema = pa.schema(table.schema().to_arrow())
        access = policy.table(self.role, read.table, schema)
        if columns is None or columns:
            access.check_columns(columns, schema)
        return access

    def report(self, allowed: bool, reason: str | None = None) -> None:
        observers = self.reader._observers
        if not observers:
            return
        for read in self.reads:
            if self.touched is not None and read.table in self.touched:
                read = replace(read, columns=tuple(sorted(self.touched[read.table])))
            outcome = ReadOutcome(
                read,
                self.principal or "",
                self.role,
                self.rows if allowed else None,
                allowed,
                reason,
                self.query_hash,
            )
            for observer in observers:
                observer(outcome)


@contextmanager
def _vacuumed(read: Read) -> Iterator[None]:
    """A version whose data files a vacuum removed (retention, erasure) is an error that
    says so, not a missing-file traceback."""
    try:
        yield
    except FileNotFoundError:
        raise TableNotFoundError(
            f"version {read.version}'s data files are gone: a vacuum removed them",
            where=read.table,
            hint=f"read a later version; `assay history {read.table}` lists them "
            "(`assay retention apply` and `assay forget --purge-history` vacuum)",
        ) from None


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
