"""Online stores: the latest feature values per entity, for serving.

Writes are Arrow batches (ingested through ADBC, no Python object per row) upserted by
event time, so a replayed or late batch never overwrites a fresher value. Reads return
each value with its event timestamp; the caller turns that into present / expired.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from assay import sqlbuild as sb
from assay.errors import MissingExtraError, TransientError
from assay.features.spec import FeatureView

EVENT_TS = "__event_ts"  # microseconds since the epoch, UTC


class OnlineStoreUnavailableError(TransientError):
    """The online store cannot be reached (the feature server answers 503)."""


def to_micros(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Timestamps (any unit, any zone) as int64 microseconds since the epoch, UTC."""
    return pc.cast(pc.cast(column, pa.timestamp("us", tz="UTC")), pa.int64())


def from_micros(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1e6, tz=UTC).replace(tzinfo=None)


class OnlineStore(ABC):
    """Where materialized features live for low-latency reads."""

    @abstractmethod
    def write(self, view: FeatureView, rows: pa.Table) -> int:
        """Upsert rows (join keys, features, EVENT_TS); return rows offered."""

    @abstractmethod
    def read(
        self, view: FeatureView, keys: Sequence[tuple[Any, ...]], features: Sequence[str]
    ) -> list[tuple[dict[str, Any], int | None] | None]:
        """Per key tuple: (feature values, event ts micros), or None when missing."""

    @abstractmethod
    def holds(self, view: FeatureView) -> bool:
        """Whether the store holds anything written for the view: False once its file or
        table was deleted or emptied, or the server flushed (materialization then rebuilds
        the view instead of adding only what changed)."""

    def read_many(
        self, requests: Sequence[tuple[FeatureView, Sequence[tuple[Any, ...]], Sequence[str]]]
    ) -> list[list[tuple[dict[str, Any], int | None] | None]]:
        """`read` for several views at once (stores override it to batch round trips)."""
        return [self.read(view, keys, features) for view, keys, features in requests]

    @abstractmethod
    def count_entities(self, view: FeatureView, key: str, values: Collection[str]) -> int:
        """Entities of `view` held whose join key `key` is one of `values` (as text)."""

    @abstractmethod
    def forget_entities(self, view: FeatureView, key: str, values: Collection[str]) -> int:
        """Delete the entities of `view` whose join key `key` is one of `values` (as text),
        leaving nothing of them in the store's files; return how many were held."""


def _sqlite_type(dtype: pa.DataType) -> str:
    if pa.types.is_integer(dtype) or pa.types.is_boolean(dtype):
        return "INTEGER"
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "REAL"
    return "TEXT"


def _storable(rows: pa.Table) -> pa.Table:
    """Types SQLite holds: decimals as doubles, temporal values as ISO text."""
    columns = []
    for field in rows.schema:
        col = rows[field.name]
        if pa.types.is_decimal(field.type):
            col = pc.cast(col, pa.float64())
        elif pa.types.is_temporal(field.type) and field.name != EVENT_TS:
            col = pc.cast(col, pa.string())
        columns.append(col)
    return pa.table(columns, names=rows.column_names)


class SQLiteOnlineStore(OnlineStore):
    """The embedded default: one table per view, keyed by the view's join keys.

    Example:
        >>> import tempfile
        >>> store = SQLiteOnlineStore(tempfile.mkdtemp() + "/online.db")
        >>> store.path.endswith("online.db")
        True
    """

    def __init__(self, path: str):
        self.path = path
        self._con = sqlite3.connect(path, check_same_thread=False)
        self._inode = _inode(path)
        # One connection serves every thread of the feature server: one statement at a time.
        self._lock = threading.Lock()

    def _current(self) -> sqlite3.Connection:
        """The connection, reopened if the file was deleted or replaced since it was opened:
        an open connection would go on reading (and writing) the deleted file, so a running
        server would never see the store rebuilt. Call with the lock held."""
        inode = _inode(self.path)
        if inode is None or inode != self._inode:
            self._con.close()
            self._con = sqlite3.connect(self.path, check_same_thread=False)
            self._inode = _inode(self.path)
        return self._con

    def holds(self, view: FeatureView) -> bool:
        with self._lock:
            con = self._current()
            if not _has_table(con, self._table(view)):
                return False
            return con.execute(_any_row_sql(self._table(view))).fetchone() is not None

    def _table(self, view: FeatureView) -> str:
        return f"fv_{view.name}"

    def _ensure(self, view: FeatureView, schema: pa.Schema) -> None:
        columns: list[exp.Expr] = [
            exp.ColumnDef(this=sb.identifier(f.name), kind=exp.DataType.build(_sqlite_type(f.type)))
            for f in schema
        ]
        key = exp.PrimaryKey(expressions=[sb.identifier(k) for k in view.join_keys])
        table = exp.Schema(this=sb.table(self._table(view)), expressions=[*columns, key])
        create = exp.Create(this=table, kind="TABLE", exists=True)
        self._con.execute(sb.render(create, "sqlite"))

    def write(self, view: FeatureView, rows: pa.Table) -> int:
        try:
            import adbc_driver_sqlite.dbapi as adbc
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise MissingExtraError("adbc-driver-sqlite", "sqlite") from exc
        rows = _storable(rows)
        with self._lock:
            self._current()
            self._ensure(view, rows.schema)
        # Arrow goes in through ADBC, into a separate staging file: ADBC links its own SQLite
        # library, and two copies of SQLite must never share one database file's locks.
        stage_path = f"{self.path}.stage-{view.name}"
        with adbc.connect(stage_path) as con:
            cur = con.cursor()
            cur.adbc_ingest("stage", rows, mode="replace")
            con.commit()
        with self._lock:
            self._upsert(view, rows, stage_path)
        return rows.num_rows

    def _upsert(self, view: FeatureView, rows: pa.Table, stage_path: str) -> None:
        sql = _upsert_sql(self._table(view), tuple(rows.column_names), tuple(view.join_keys))
        self._con.execute("ATTACH DATABASE ? AS staged", (stage_path,))
        try:
            with self._con:
                self._con.execute(sql)
        finally:
            self._con.execute("DETACH DATABASE staged")
            os.remove(stage_path)

    def read(
        self, view: FeatureView, keys: Sequence[tuple[Any, ...]], features: Sequence[str]
    ) -> list[tuple[dict[str, Any], int | None] | None]:
        with self._lock:
            self._current()
            return self._read(view, keys, features)

    def count_entities(self, view: FeatureView, key: str, values: Collection[str]) -> int:
        return self._entities(view, key, values, delete=False)

    def forget_entities(self, view: FeatureView, key: str, values: Collection[str]) -> int:
        """Delete the rows, then VACUUM: SQLite keeps deleted rows' bytes in free pages
        until the file is rebuilt, and an erasure must leave none in the file."""
        held = self._entities(view, key, values, delete=True)
        if held:
            with self._lock:
                self._current().execute("VACUUM")
        return held

    def _entities(self, view: FeatureView, key: str, values: Collection[str], delete: bool) -> int:
        table = self._table(view)
        params = _key_values(values)
        with self._lock:
            con = self._current()
            if not params or not _has_table(con, table):
                return 0
            where = exp.In(this=sb.column(key), expressions=[exp.Placeholder() for _ in params])
            count = exp.select(exp.Count(this=exp.Star())).from_(sb.table(table)).where(where)
            held = int(con.execute(sb.render(count, "sqlite"), params).fetchone()[0])
            if delete and held:
                with con:
                    con.execute(sb.render(exp.delete(sb.table(table), where), "sqlite"), params)
            return held

    def _read(
        self, view: FeatureView, keys: Sequence[tuple[Any, ...]], features: Sequence[str]
    ) -> list[tuple[dict[str, Any], int | None] | None]:
        table = self._table(view)
        if not keys or not _has_table(self._con, table):
            return [None] * len(keys)
        found: dict[tuple[Any, ...], tuple[dict[str, Any], int | None]] = {}
        width = len(view.join_keys)
        for start in range(0, len(keys), 400):
            chunk = keys[start : start + 400]
            params = [v for key in chunk for v in key]
            sql = _read_sql(table, tuple(view.join_keys), tuple(features), len(chunk))
            for row in self._con.execute(sql, params):
                found[tuple(row[:width])] = (
                    dict(zip(features, row[width:-1], strict=True)),
                    row[-1],
                )
        return [found.get(tuple(k)) for k in keys]


def _key_values(values: Collection[str]) -> list[Any]:
    """Each value as text and, when it is one, as a number: SQLite compares an INTEGER
    key with an integer, a TEXT key with text."""
    out: list[Any] = []
    for value in values:
        out.append(value)
        try:
            out.append(int(value))
        except ValueError:
            continue
    return out


def _any_row_sql(table: str) -> str:
    return sb.render(exp.select(exp.Literal.number(1)).from_(sb.table(table)).limit(1), "sqlite")


@lru_cache(maxsize=256)
def _upsert_sql(table: str, names: tuple[str, ...], keys: tuple[str, ...]) -> str:
    """Insert the staged rows; on a key already held, take the staged values only when
    they are not older (versioned by event time: an older row never replaces a fresher one).

    Example:
        >>> sql = _upsert_sql("fv_v", ("k", "f", EVENT_TS), ("k",))
        >>> print(sql)  # doctest: +NORMALIZE_WHITESPACE
        INSERT INTO "fv_v" ("k", "f", "__event_ts") SELECT "k", "f", "__event_ts"
        FROM "staged"."stage" WHERE TRUE ON CONFLICT("k") DO UPDATE SET "f" = "excluded"."f",
        "__event_ts" = "excluded"."__event_ts" WHERE "excluded"."__event_ts" >= "fv_v"."__event_ts"
    """
    # `WHERE TRUE` lets SQLite tell the upsert's ON from a join's ON (its documented parse).
    staged = exp.select(*sb.columns(names)).from_(sb.table("stage", "staged")).where(exp.true())
    insert = exp.insert(staged, sb.table(table), columns=[sb.identifier(n) for n in names])
    updates = [sb.column(n).eq(sb.column(n, "excluded")) for n in names if n not in keys]
    fresher = sb.column(EVENT_TS, "excluded") >= sb.column(EVENT_TS, table)
    conflict = exp.OnConflict(
        conflict_keys=[sb.identifier(k) for k in keys],
        action=exp.var("DO UPDATE"),
        expressions=updates,
        where=exp.Where(this=fresher),
    )
    insert.set("conflict", conflict)
    return sb.render(insert, "sqlite")


@lru_cache(maxsize=256)
def _read_sql(table: str, keys: tuple[str, ...], features: tuple[str, ...], count: int) -> str:
    """Select `features` and the event time of `count` key tuples, bound as `?` marks
    (cached: the feature server asks the same shape again and again).

    Example:
        >>> print(_read_sql("fv_v", ("k",), ("f",), 2))
        SELECT "k", "f", "__event_ts" FROM "fv_v" WHERE ("k") IN (VALUES (?), (?))
    """
    marks = [exp.Tuple(expressions=[exp.Placeholder() for _ in keys]) for _ in range(count)]
    wanted = exp.In(
        this=exp.Tuple(expressions=sb.columns(keys)), expressions=[exp.Values(expressions=marks)]
    )
    select = exp.select(*sb.columns([*keys, *features, EVENT_TS])).from_(sb.table(table))
    return sb.render(select.where(wanted), "sqlite")


def _inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _has_table(con: sqlite3.Connection, table: str) -> bool:
    found = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
    ).fetchone()
    return found is not None


#: Writes a view's fields into an entity's hash only if they are not older than what is
#: there (KEYS[1]: hash; ARGV: ts field, ts, then field/value pairs).
_VERSIONED_HSET = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(current) <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 3))
  return 1
end
return 0
"""


class RedisOnlineStore(OnlineStore):
    """Redis: one hash per entity holding every view's features for it (`view:feature`
    fields, JSON values, plus `view:__event_ts`), so an entity's views are one lookup.

    The set `PREFIX:__views__` names the views written, so a flushed server (or a database
    emptied some other way) is noticed and rebuilt by the next materialization.
    """

    def __init__(self, url: str, prefix: str = "assay"):
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise MissingExtraError("redis", "redis") from exc
        # A host that drops packets fails in seconds, not after the system's TCP timeout.
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5)
        self.prefix = prefix
        self._script = self.client.register_script(_VERSIONED_HSET)
        # Entity keys are `PREFIX:ENTITIES:[...]`: this one cannot be mistaken for one.
        self._views_key = f"{prefix}:__views__"

    def holds(self, view: FeatureView) -> bool:
        with self._reachable():
            return bool(self.client.sismember(self._views_key, view.name))

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """Connection failures as OnlineStoreUnavailableError naming the store."""
        import redis

        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # The URL may carry a password: name the host only.
            host = self.client.connection_pool.connection_kwargs.get("host", "?")
            port = self.client.connection_pool.connection_kwargs.get("port", "?")
            raise OnlineStoreUnavailableError(
                f"the Redis online store at {host}:{port} cannot be reached: {exc}",
                hint="check that Redis is running and online_store.url in assay.yaml",
            ) from exc

    def _key(self, view: FeatureView, values: Sequence[Any]) -> str:
        entities = "+".join(e.name for e in view.entities)
        return f"{self.prefix}:{entities}:" + json.dumps(list(values), default=str)

    def write(self, view: FeatureView, rows: pa.Table) -> int:
        rows = _storable(rows)
        keys = list(zip(*(rows[k].to_pylist() for k in view.join_keys), strict=True))
        stamps = rows[EVENT_TS].to_pylist()
        columns = {f: rows[f].to_pylist() for f in view.features if f in rows.column_names}
        ts_field = f"{view.name}:{EVENT_TS}"
        pipe = self.client.pipeline(transaction=False)
        with self._reachable():
            for i, key in enumerate(keys):
                pairs: list[Any] = []
                for feature, values in columns.items():
                    pairs += [f"{view.name}:{feature}", json.dumps(values[i])]
                self._script(
                    keys=[self._key(view, key)], args=[ts_field, stamps[i], *pairs], client=pipe
                )
                if i % 5000 == 4999:
                    pipe.execute()
            if keys:
                pipe.sadd(self._views_key, view.name)
            pipe.execute()
        return rows.num_rows

    def read(
        self, view: FeatureView, keys: Sequence[tuple[Any, ...]], features: Sequence[str]
    ) -> list[tuple[dict[str, Any], int | None] | None]:
        return self.read_many([(view, keys, features)])[0]

    def read_many(
        self, requests: Sequence[tuple[FeatureView, Sequence[tuple[Any, ...]], Sequence[str]]]
    ) -> list[list[tuple[dict[str, Any], int | None] | None]]:
        """Every view of every entity in one pipelined round trip."""
        pipe = self.client.pipeline(transaction=False)
        for view, keys, features in requests:
            fields = [f"{view.name}:{f}" for f in features] + [f"{view.name}:{EVENT_TS}"]
            for key in keys:
                pipe.hmget(self._key(view, key), fields)
        with self._reachable():
            replies = iter(pipe.execute())
        out = []
        for _view, keys, features in requests:
            out.append([_decode(next(replies), features) for _ in keys])
        return out

    def count_entities(self, view: FeatureView, key: str, values: Collection[str]) -> int:
        return len(self._entity_keys(view, key, values))

    def forget_entities(self, view: FeatureView, key: str, values: Collection[str]) -> int:
        """Delete `view`'s fields from each entity's hash (it holds every view's features
        of the entity), and the hash itself once no view's field is left in it."""
        found = self._entity_keys(view, key, values)
        prefix = f"{view.name}:"
        with self._reachable():
            for name in found:
                fields = self.client.hkeys(name)
                mine = [f for f in fields if _text(f).startswith(prefix)]
                if len(mine) == len(fields):
                    self.client.delete(name)
                elif mine:
                    self.client.hdel(name, *mine)
        return len(found)

    def _entity_keys(self, view: FeatureView, key: str, values: Collection[str]) -> list[str]:
        """Hashes of `view`'s entities whose `key` component is one of `values` and that
        hold the view's fields (SCAN over the entities' prefix: a key may be one of several
        join keys)."""
        position = list(view.join_keys).index(key)
        entities = "+".join(e.name for e in view.entities)
        wanted = set(values)
        candidates = []
        with self._reachable():
            for raw in self.client.scan_iter(match=f"{self.prefix}:{entities}:*", count=1000):
                name = raw.decode() if isinstance(raw, bytes) else str(raw)
                parts = json.loads(name[len(self.prefix) + len(entities) + 2 :])
                if str(parts[position]) in wanted:
                    candidates.append(name)
            pipe = self.client.pipeline(transaction=False)
            for name in candidates:
                pipe.hexists(name, f"{view.name}:{EVENT_TS}")
            held = pipe.execute() if candidates else []
        return [name for name, there in zip(candidates, held, strict=True) if there]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(values: list[Any], features: Sequence[str]) -> tuple[dict[str, Any], int | None] | None:
    if values[-1] is None:
        return None
    decoded = {
        f: json.loads(v) if v is not None else None
        for f, v in zip(features, values[:-1], strict=True)
    }
    return decoded, int(values[-1])
