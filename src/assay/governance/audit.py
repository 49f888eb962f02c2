"""The audit log: every read and write through assay, appended to a hash chain.

Each event is one row of `audit_events` in the catalog's database (SQLite or
PostgreSQL), created on first use so the catalog's core schema does not change when
auditing is off. Its `hash` is sha256 over a canonical encoding of the event's fields and
the previous event's hash, so editing, deleting or inserting an event breaks the chain
at that event (`AuditLog.verify`, `assay audit --verify`). A one-row table
`audit_chain_head` keeps the newest event's number and hash, so cutting events off the
end (or adding one there) is seen too.

Whoever can write the database can also recompute every hash and the head: against that,
keep anchors outside it (`AuditLog.head`, `assay audit --head`; checked by
`verify(anchors=...)`, `assay audit --verify --anchor SEQ:HASH`), and/or key the chain:
with `$ASSAY_AUDIT_KEY` set, events are hashed with HMAC-SHA-256 under it from the first
event appended with the key on (the head row's `keyed_from`), so a rewrite without the
key fails `verify`. Once keyed, appending needs the key (an unkeyed event would end the
protection), and so does verifying.

Appends are serialized across threads and processes: on SQLite a write transaction is
taken before the chain head is read (BEGIN IMMEDIATE); on PostgreSQL the chain-head row
is locked (SELECT ... FOR UPDATE). The log never holds data values: queries are stored as
their sha256 (`query_hash`), and erasure proofs as salted hashes.

Example:
    >>> from assay.catalog import Catalog
    >>> log = AuditLog(Catalog("sqlite://"))
    >>> _ = log.append(AuditEvent("write", "silver.orders", principal="alice", rows=3))
    >>> _ = log.append(AuditEvent("read", "silver.orders", principal="bob", allowed=False))
    >>> [(e.seq, e.action, e.principal, e.allowed) for e in log.events()]
    [(1, 'write', 'alice', True), (2, 'read', 'bob', False)]
    >>> log.verify().ok
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from assay.catalog.store import Catalog, create_tables
from assay.errors import AssayError
from assay.governance.audit_chain import (
    GENESIS,
    KEY_ENV,
    ChainKey,
    VerifyResult,
    audit_key,
    canonical_json,
    event_hash,
    query_hash,
    verify_chain,
)
from assay.governance.principal import current_principal
from assay.intervals import utcnow

__all__ = [
    "GENESIS",
    "KEY_ENV",
    "AuditEvent",
    "AuditLog",
    "AuditRecord",
    "VerifyResult",
    "query_hash",
]

_meta = sa.MetaData()

events_table = sa.Table(
    "audit_events",
    _meta,
    # Numbered by the append itself (head + 1) inside the serialized transaction, never
    # by the database, so a gap means an event was removed.
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("time", sa.DateTime, nullable=False, index=True),  # naive UTC
    sa.Column("principal", sa.String(200), nullable=False, index=True),
    sa.Column("role", sa.String(200)),
    sa.Column("action", sa.String(40), nullable=False, index=True),
    sa.Column("dataset", sa.String(300), index=True),
    sa.Column("columns", sa.Text, nullable=False),  # JSON list
    sa.Column("rows", sa.BigInteger),
    sa.Column("query_hash", sa.String(64)),
    sa.Column("allowed", sa.Boolean, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),  # JSON object
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

head_table = sa.Table(
    "audit_chain_head",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # The first event hashed with HMAC under $ASSAY_AUDIT_KEY (None: the chain is plain
    # sha256); every later event is keyed too.
    sa.Column("keyed_from", sa.BigInteger),
)


class AuditLogError(AssayError):
    """The audit log cannot take an event because it was changed outside assay."""


@dataclass(frozen=True)
class AuditEvent:
    """One thing that happened, before it is appended (the log adds time and hashes).

    Attributes:
        action: read, write, delete, erase, retention, vacuum, hold, keys_rotate, ...
        dataset: `layer.name` (or a feature view, or None for project-wide actions).
        principal: who did it (None: `current_principal()` at append time).
        role: the role the principal acted in, when roles apply.
        columns: the columns read or changed.
        rows: rows read, written or deleted.
        query_hash: sha256 of the query text (see `query_hash`), never the text.
        allowed: False for a denied read or action.
        detail: anything else, JSON-serializable, without data values (run id, version,
            reason of a denial, salted hashes of an erasure's subject).
    """

    action: str
    dataset: str | None = None
    principal: str | None = None
    role: str | None = None
    columns: Sequence[str] = ()
    rows: int | None = None
    query_hash: str | None = None
    allowed: bool = True
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """One stored event, as `AuditLog.events` returns it."""

    seq: int
    time: datetime
    principal: str
    role: str | None
    action: str
    dataset: str | None
    columns: tuple[str, ...]
    rows: int | None
    query_hash: str | None
    allowed: bool
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditLog:
    """The audit log in a catalog's database (see the module).

    Args:
        catalog: whose database holds the log (its tables are created on first use).
    """

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.engine = catalog.engine
        self.dialect = self.engine.dialect.name
        # SQLite: the driver must not open transactions itself, so the append can open
        # one with BEGIN IMMEDIATE (the write lock, taken before the head is read).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        create_tables(self.engine, _meta)
        self._ensure_keyed_column()
        self._ensure_head()

    def _ensure_keyed_column(self) -> None:
        """Add `keyed_from` to a head table made before keyed chains existed."""
        found = {c["name"] for c in sa.inspect(self.engine).get_columns(head_table.name)}
        if "keyed_from" in found:
            return
        try:
            with self.engine.begin() as con:
                con.exec_driver_sql(f"ALTER TABLE {head_table.name} ADD COLUMN keyed_from BIGINT")
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):
            pass  # another process added it first

    def _ensure_head(self) -> None:
        """The chain-head row, created once (two processes may race to create it)."""
        with self.engine.connect() as con:
            if con.execute(sa.select(head_table.c.id)).first() is not None:
                return
            # A log with events and no head was changed outside assay: a new head would
            # restart the chain over them. Leave it missing; append and verify say so.
            if con.execute(sa.select(events_table.c.seq).limit(1)).first() is not None:
                return
        try:
            with self.engine.begin() as con:
                con.execute(head_table.insert().values(id=1, seq=0, hash=GENESIS))
        except sa.exc.IntegrityError:
            pass  # another process created it first

    # -- writing --------------------------------------------------------------------------

    def append(self, event: AuditEvent) -> AuditRecord:
        """Append `event` at the end of the chain and return it as stored.

        Safe from several threads and processes at once: the chain head is read and moved
        inside one serialized transaction.
        """
        values: dict[str, Any] = {
            "principal": event.principal or current_principal(),
            "role": event.role,
            "action": event.action,
            "dataset": event.dataset,
            "columns": canonical_json(list(event.columns)),
            "rows": event.rows,
            "query_hash": event.query_hash,
            "allowed": bool(event.allowed),
            "detail": canonical_json(dict(event.detail)),
        }
        if self.dialect == "sqlite":
            return self._append_sqlite(values)
        with self.engine.begin() as con:
            return self._append_locked(con, values, lock=True)

    def _append_sqlite(self, values: dict[str, Any]) -> AuditRecord:
        with self._autocommit.connect() as con:
            # Concurrent appends wait for the write lock rather than fail after 5 s.
            con.exec_driver_sql("PRAGMA busy_timeout = 30000")
            con.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                record = self._append_locked(con, values, lock=False)
            except BaseException:
                con.exec_driver_sql("ROLLBACK")
                raise
            con.exec_driver_sql("COMMIT")
            return record

    def _append_locked(self, con: sa.Connection, values: dict[str, Any], lock: bool) -> AuditRecord:
        columns = (head_table.c.seq, head_table.c.hash, head_table.c.keyed_from)
        query = sa.select(*columns).where(head_table.c.id == 1)
        head = con.execute(query.with_for_update() if lock else query).first()
        if head is None:
            raise AuditLogError(
                "the audit log's chain head is missing while the log holds events: "
                "it was changed outside assay",
                where="audit_chain_head",
                hint="run `assay audit --verify`, then restore the catalog database from a backup",
            )
        seq, prev_hash = int(head.seq) + 1, str(head.hash)
        key, keyed_from = _append_key(head.keyed_from, seq)
        # Stamped under the lock, so times never go backwards along the chain.
        values = {**values, "time": utcnow()}
        digest = event_hash(values, prev_hash, key)
        con.execute(
            events_table.insert().values(seq=seq, prev_hash=prev_hash, hash=digest, **values)
        )
        moved = {"seq": seq, "hash": digest, "keyed_from": keyed_from}
        con.execute(head_table.update().where(head_table.c.id == 1).values(**moved))
        return _record({**values, "seq": seq, "prev_hash": prev_hash, "hash": digest})

    # -- reading --------------------------------------------------------------------------

    def events(
        self,
        principal: str | None = None,
        dataset: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        denied: bool | None = None,
    ) -> list[AuditRecord]:
        """Stored events, oldest first; with `limit`, the newest `limit` of those matching.

        Args:
            principal: only this principal's events.
            dataset: only events on this dataset.
            action: only this action (read, write, ...).
            since: only events at or after this naive UTC time.
            limit: at most this many (the newest).
            denied: True: only denied events; False: only allowed ones.
        """
        table = events_table
        query = sa.select(table).order_by(table.c.seq.desc())
        conditions = {
            table.c.principal: principal,
            table.c.dataset: dataset,
            table.c.action: action,
        }
        for column, wanted in conditions.items():
            if wanted is not None:
                query = query.where(column == wanted)
        if since is not None:
            query = query.where(table.c.time >= since)
        if denied is not None:
            query = query.where(table.c.allowed == (not denied))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as con:
            return [_record(dict(row)) for row in con.execute(query).mappings()][::-1]

    def count(self) -> int:
        """How many events the log holds."""
        with self.engine.connect() as con:
            found = con.execute(sa.select(sa.func.count()).select_from(events_table)).scalar()
            return int(found or 0)

    def head(self) -> tuple[int, str]:
        """The chain's head as (seq, hash): keep it outside the database as an anchor
        (`verify(anchors=...)` then finds a chain rewritten since).

        Example:
            >>> from assay.catalog import Catalog
            >>> AuditLog(Catalog("sqlite://")).head() == (0, GENESIS)
            True
        """
        with self.engine.connect() as con:
            head = con.execute(sa.select(head_table.c.seq, head_table.c.hash)).first()
        if head is None:
            raise AuditLogError(
                "the audit log's chain head is missing: it was changed outside assay",
                where="audit_chain_head",
                hint="run `assay audit --verify`, then restore the catalog database from a backup",
            )
        return int(head.seq), str(head.hash)

    def keyed_from(self) -> int | None:
        """The first event hashed with HMAC under `$ASSAY_AUDIT_KEY` (None: plain chain)."""
        with self.engine.connect() as con:
            found = con.execute(sa.select(head_table.c.keyed_from)).scalar()
        return None if found is None else int(found)

    def verify(self, anchors: Mapping[int, str] | None = None) -> VerifyResult:
        """Recompute the chain; the result names the first broken link, if any.

        Args:
            anchors: seq -> hash pairs kept outside the database (`head()` at some
                earlier time): each must still be the hash of that event.

        Raises:
            AuditLogError: the chain is keyed and `$ASSAY_AUDIT_KEY` is not set.
        """
        with self.engine.connect() as con:
            head = con.execute(
                sa.select(head_table.c.seq, head_table.c.hash, head_table.c.keyed_from)
            ).first()
            keyed_from = None if head is None or head.keyed_from is None else int(head.keyed_from)
            key = audit_key()
            if keyed_from is not None and key is None:
                raise AuditLogError(
                    f"the audit log is keyed from event {keyed_from} on: it cannot be "
                    f"verified without the key",
                    where="audit_chain_head",
                    hint=f"set {KEY_ENV} to the key the log was written with",
                )
            # Streamed: a long log is checked without holding it all in memory.
            query = sa.select(events_table).order_by(events_table.c.seq)
            rows = con.execution_options(stream_results=True, yield_per=5000).execute(query)
            return verify_chain(
                (dict(row) for row in rows.mappings()),
                None if head is None else int(head.seq),
                None if head is None else str(head.hash),
                ChainKey(key, keyed_from),
                anchors,
            )


def _append_key(keyed_from: int | None, seq: int) -> tuple[bytes | None, int | None]:
    """The key event `seq` is hashed under and the head's `keyed_from` after it: the
    chain becomes keyed at the first append with `$ASSAY_AUDIT_KEY` set, and stays so."""
    key = audit_key()
    if key is not None:
        return key, seq if keyed_from is None else int(keyed_from)
    if keyed_from is None:
        return None, None
    raise AuditLogError(
        f"the audit log is keyed (HMAC-SHA-256) from event {keyed_from} on, and "
        f"{KEY_ENV} is not set: an event without the key would end that protection",
        where="audit_chain_head",
        hint=f"set {KEY_ENV} for every process that reads or writes through assay",
    )


def _record(row: Mapping[str, Any]) -> AuditRecord:
    columns, detail = row["columns"], row["detail"]
    return AuditRecord(
        seq=int(row["seq"]),
        time=row["time"],
        principal=row["principal"],
        role=row["role"],
        action=row["action"],
        dataset=row["dataset"],
        columns=tuple(json.loads(columns)) if isinstance(columns, str) else tuple(columns),
        rows=None if row["rows"] is None else int(row["rows"]),
        query_hash=row["query_hash"],
        allowed=bool(row["allowed"]),
        detail=json.loads(detail) if isinstance(detail, str) else dict(detail),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
