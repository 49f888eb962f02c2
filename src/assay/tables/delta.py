"""Delta Lake tables in a warehouse folder (or object-store URL), one commit per write.

Every commit carries assay's metadata (`assay.*` keys: run id, fingerprint, interval, inputs,
ingested files), so the Delta log alone can rebuild the catalog's state after a crash.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, SchemaMismatchError
from deltalake.exceptions import TableNotFoundError as DeltaNotFound

from assay.errors import SchemaDriftError, TableNotFoundError, TransientError
from assay.naming import split_name
from assay.sqlbuild import changed_row, keys_match
from assay.tables.casts import to_table_types
from assay.tables.commitmeta import CommitMeta, decode_metadata, encode_metadata
from assay.tables.errors import guards_disk_full
from assay.tables.logcheck import check_newest_commit
from assay.tables.predicates import Predicate, render

if TYPE_CHECKING:
    import pyarrow.dataset as pads

#: Snappy explicitly: measured ~25% faster than delta-rs's default writer settings on the
#: demo's bronze table, for the same file size.
_WRITER = WriterProperties(compression="SNAPPY")


class ConcurrentCommitError(TransientError):
    """A commit made against a snapshot conflicted with a commit made since (another writer
    recorded the same app transaction, or changed what the snapshot read)."""


class WriteMode(StrEnum):
    APPEND = "append"
    OVERWRITE = "overwrite"


@dataclass(frozen=True)
class CommitInfo:
    """One version of a table as `assay history` shows it."""

    version: int
    timestamp: datetime
    operation: str
    rows_added: int | None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def meta(self) -> CommitMeta:
        """assay's metadata of this commit, typed."""
        return CommitMeta.decode(self.metadata)


class Warehouse:
    """The set of Delta tables of a project.

    Example:
        >>> wh = Warehouse("/tmp/wh")
        >>> wh.uri("silver.transactions")
        '/tmp/wh/silver/transactions'
    """

    def __init__(self, root: str, storage_options: Mapping[str, str] | None = None):
        self.root = root.rstrip("/")
        self.storage_options = dict(storage_options or {})
        self._is_local = "://" not in root

    def uri(self, name: str) -> str:
        layer, table = split_name(name)
        return f"{self.root}/{layer}/{table}"

    def exists(self, name: str) -> bool:
        return DeltaTable.is_deltatable(self.uri(name), self.storage_options or None)

    def table(self, name: str, version: int | None = None) -> DeltaTable:
        """The Delta table `name`, at `version` (latest when None)."""
        try:
            return DeltaTable(
                self.uri(name), version=version, storage_options=self.storage_options or None
            )
        except DeltaNotFound as exc:
            raise TableNotFoundError(
                "table does not exist yet", where=name, hint="run `assay run` to build it"
            ) from exc
        except Exception as exc:  # an out-of-range version raises a generic DeltaError
            if version is not None:
                raise TableNotFoundError(
                    f"version {version} does not exist",
                    where=name,
                    hint=f"see `assay history {name}` for the versions",
                ) from exc
            check_newest_commit(name, self.uri(name))  # a torn log: named, not a backtrace
            raise

    def check_log(self, name: str, version: int) -> None:
        """Stop with TornLogError when commit `version`, the newest of `name`'s log, is
        torn (an empty commit file loads as a commit that did nothing)."""
        check_newest_commit(name, self.uri(name), version)

    def version(self, name: str) -> int | None:
        """The latest version of `name`, or None when it does not exist."""
        return self.table(name).version() if self.exists(name) else None

    def schema(self, name: str) -> pa.Schema:
        """The table's latest Arrow schema, from the Delta log alone."""
        return pa.schema(self.table(name).schema().to_arrow())

    def file_actions(self, name: str, version: int | None = None) -> pa.Table:
        """The table's data files with their row counts and min/max statistics."""
        actions = self.table(name, version).get_add_actions(flatten=True)
        # Through the C stream: `pa.table()` would import pandas to sniff the type (~0.2s).
        return pa.RecordBatchReader.from_stream(actions).read_all()

    def transaction_version(self, name: str, app_id: str, version: int | None = None) -> int | None:
        """The version an exactly-once writer recorded for `app_id` (None: never, or no
        table yet)."""
        if not self.exists(name):
            return None
        return self.table(name, version).transaction_version(app_id)

    def added_files(self, name: str, version: int) -> list[str]:
        """URIs of the data files commit `version` added (for append-only tables)."""
        now = set(self.file_actions(name, version)["path"].to_pylist())
        before = set(self.file_actions(name, version - 1)["path"].to_pylist()) if version else set()
        root = self.uri(name)
        return [f"{root}/{path}" for path in sorted(now - before)]

    def dataset(self, name: str, version: int | None = None) -> pads.Dataset:
        """A lazy Arrow dataset over the table (filter and projection push down)."""
        return self.table(name, version).to_pyarrow_dataset()

    def read(self, name: str, version: int | None = None) -> pa.Table:
        return self.dataset(name, version).to_table()

    def list_tables(self) -> list[str]:
        """`layer.name` of every table in a local warehouse, sorted."""
        if not self._is_local or not os.path.isdir(self.root):
            return []
        names = []
        for layer in sorted(os.listdir(self.root)):
            layer_dir = os.path.join(self.root, layer)
            if not os.path.isdir(layer_dir):
                continue
            for table in sorted(os.listdir(layer_dir)):
                if os.path.isdir(os.path.join(layer_dir, table, "_delta_log")):
                    names.append(f"{layer}.{table}")
        return names

    @guards_disk_full
    def write(
        self,
        name: str,
        data: Any,
        *,
        mode: WriteMode,
        metadata: CommitMeta | Mapping[str, Any],
        predicate: Predicate | None = None,
        partition_by: Sequence[str] = (),
        evolve_schema: bool = True,
        app_transactions: Mapping[str, int] | None = None,
        against: DeltaTable | None = None,
    ) -> int:
        """Write `data` (Arrow table or stream) as one commit; return the new version.

        `app_transactions` (app id -> version) are recorded in the same commit, for
        exactly-once writers that resume from `transaction_version`.

        `against`, a snapshot of the table (`table(name)`): commit as a transaction that
        read that snapshot, so a commit made since that recorded any of the same app ids
        (or that conflicts otherwise) makes this one fail with ConcurrentCommitError
        instead of landing: a compare-and-set of the app transactions the caller checked
        in that snapshot.
        """
        uri = self.uri(name)
        data = without_time_of_day(data)
        failures: list[SchemaDriftError] = []  # of a stream's batches, cast as delta-rs reads
        if not (mode is WriteMode.OVERWRITE and predicate is None):  # not a full refresh
            data = self._as_table_types(name, data, against, failures)
        if self._is_local and against is None:
            os.makedirs(uri, exist_ok=True)
        try:
            write_deltalake(  # type: ignore[call-overload, misc]
                uri if against is None else against,
                data,
                mode=mode.value,
                predicate=None if predicate is None else render(predicate, "delta"),
                partition_by=list(partition_by) or None,
                schema_mode=_schema_mode(mode, predicate, evolve_schema),
                storage_options=self.storage_options or None,
                commit_properties=_commit_properties(metadata, app_transactions),
                writer_properties=_WRITER,
            )
        except CommitFailedError as exc:
            raise ConcurrentCommitError(
                f"concurrent commit conflict: {exc}",
                where=name,
                hint="another writer committed to this table at the same time; retry",
            ) from exc
        except SchemaMismatchError as exc:
            raise _mismatch(name, exc) from exc
        except Exception as exc:  # a batch of a stream that did not fit, raised inside delta-rs
            if failures:
                raise failures[0] from exc
            raise
        return against.version() if against is not None else self.table(name).version()

    @guards_disk_full
    def merge(
        self,
        name: str,
        data: pa.Table,
        *,
        keys: Sequence[str],
        metadata: CommitMeta | Mapping[str, Any],
    ) -> int | None:
        """Upsert `data` on `keys`: changed rows update, new rows insert; one commit.

        Returns the new version, or None when no row changed (delta-rs then commits nothing).
        """
        if not self.exists(name):
            return self.write(name, data, mode=WriteMode.OVERWRITE, metadata=metadata)
        table = self.table(name)
        before = table.version()
        data = to_table_types(name, data, pa.schema(table.schema().to_arrow()))
        on = render(keys_match(keys), "delta")
        changed = render(changed_row(data.column_names, keys, self.schema(name).names), "delta")
        try:
            (
                self.table(name)
                .merge(
                    data,
                    predicate=on,
                    source_alias="s",
                    target_alias="t",
                    merge_schema=True,
                    commit_properties=_commit_properties(metadata),
                )
                .when_matched_update_all(predicate=changed)
                .when_not_matched_insert_all()
                .execute()
            )
        except CommitFailedError as exc:
            raise TransientError(f"concurrent commit conflict: {exc}", where=name) from exc
        except SchemaMismatchError as exc:
            raise _mismatch(name, exc) from exc
        after = self.table(name).version()
        return after if after != before else None  # no row changed: no commit

    def _as_table_types(
        self,
        name: str,
        data: Any,
        against: DeltaTable | None,
        failures: list[SchemaDriftError],
    ) -> Any:
        """`data` with the existing table's types where no value is lost (see casts)."""
        if against is None and not self.exists(name):
            return data
        table = against if against is not None else self.table(name)
        return to_table_types(name, data, pa.schema(table.schema().to_arrow()), failures)

    @guards_disk_full
    def delete(
        self,
        name: str,
        predicate_sql: str,
        meta: CommitMeta | Mapping[str, Any] | None = None,
    ) -> DeleteResult:
        """Delete the rows matching `predicate_sql` (SQL over the table's columns, as
        delta-rs parses it) as one commit; none when no row matches.

        The commit carries only `maintenance` metadata (see `maintenance_meta`), so the
        dataset's state decoded from the log (intervals, files ingested, cursor, inputs)
        stays what it was and no run re-ingests or re-runs anything. The Delta log records
        the predicate's text: for values that must not be kept (erasure), use
        `delete_rows`, whose log entry names columns only.

        Example:
            >>> import tempfile
            >>> wh = Warehouse(tempfile.mkdtemp())
            >>> _ = wh.write("bronze.t", pa.table({"a": [1, 2, 3]}), mode=WriteMode.APPEND,
            ...              metadata={})
            >>> wh.delete("bronze.t", "a >= 2").rows_deleted, wh.read("bronze.t").num_rows
            (2, 1)
        """
        if not predicate_sql.strip():
            raise ValueError("an empty predicate would delete every row; pass one")
        table = self.table(name)
        try:
            metrics = table.delete(
                predicate_sql,
                writer_properties=_WRITER,
                commit_properties=_commit_properties(maintenance_meta(meta, "delete")),
            )
        except CommitFailedError as exc:
            raise _conflict(name, exc) from exc
        return _deleted(table, metrics, "num_deleted_rows", "num_added_files", "num_removed_files")

    @guards_disk_full
    def delete_rows(
        self,
        name: str,
        match: pa.Table,
        meta: CommitMeta | Mapping[str, Any] | None = None,
    ) -> DeleteResult:
        """Delete the rows equal to any row of `match` on all of `match`'s columns, as one
        commit (a MERGE whose log entry names the columns, never the values).

        Example:
            >>> import tempfile
            >>> wh = Warehouse(tempfile.mkdtemp())
            >>> _ = wh.write("bronze.t", pa.table({"id": [1, 2, 3]}), mode=WriteMode.APPEND,
            ...              metadata={})
            >>> wh.delete_rows("bronze.t", pa.table({"id": [3, 9]})).rows_deleted
            1
        """
        table = self.table(name)
        if match.num_rows == 0:
            return DeleteResult(None, 0, 0, 0)
        match = to_table_types(name, match, pa.schema(table.schema().to_arrow()))
        on = render(keys_match(match.column_names), "delta")
        try:
            metrics = (
                table.merge(
                    match,
                    predicate=on,
                    source_alias="s",
                    target_alias="t",
                    writer_properties=_WRITER,
                    commit_properties=_commit_properties(maintenance_meta(meta, "delete")),
                )
                .when_matched_delete()
                .execute()
            )
        except CommitFailedError as exc:
            raise _conflict(name, exc) from exc
        return _deleted(
            table,
            metrics,
            "num_target_rows_deleted",
            "num_target_files_added",
            "num_target_files_removed",
        )

    def vacuum(
        self, name: str, retain_hours: float, *, dry_run: bool = False, full: bool = False
    ) -> list[str]:
        """Remove the data files no version newer than `retain_hours` ago references;
        return their paths (relative to the table). `retain_hours=0` is allowed and means
        it: time travel to any version before the newest stops working.

        `full`: also remove files the log never referenced (left by a crashed writer);
        with `retain_hours=0` that would remove a concurrent writer's uncommitted files,
        so use it only when nothing else writes the table.

        This does not look at legal holds (tables sit below governance): every caller
        checks `assay.governance.holds.Holds.active` first.

        Example:
            >>> import tempfile
            >>> wh = Warehouse(tempfile.mkdtemp())
            >>> for rows in ([1], [2]):
            ...     _ = wh.write("bronze.t", pa.table({"a": rows}), mode=WriteMode.OVERWRITE,
            ...                  metadata={})
            >>> len(wh.vacuum("bronze.t", 0))
            1
        """
        if retain_hours < 0:
            raise ValueError(f"retain_hours must be 0 or more, not {retain_hours}")
        root = self.uri(name)

        def run(dry: bool) -> list[str]:
            listed = self.table(name).vacuum(
                retention_hours=int(retain_hours),
                dry_run=dry,
                enforce_retention_duration=False,
                full=full,
                # delta-rs logs VACUUM START and END commits: marked, so planners know
                # they hold no new data.
                commit_properties=_commit_properties(CommitMeta(maintenance="vacuum")),
            )
            return sorted({p.removeprefix(root + "/") for p in listed})

        if not self._is_local:
            return run(dry_run)
        # delta-rs lists a tombstoned file again after it removed it: report only the
        # files that were there before.
        present = [p for p in run(True) if os.path.exists(os.path.join(root, p))]
        if dry_run or not present:
            return present
        run(False)
        return [p for p in present if not os.path.exists(os.path.join(root, p))]

    def maintenance_only(self, name: str, since: int, until: int | None = None) -> bool:
        """Whether every commit of `name` after version `since` (up to `until`, default
        the newest) only removed rows for retention or erasure (`CommitMeta.maintenance`):
        a planner then has no new data to read from it.

        Example:
            >>> import tempfile
            >>> wh = Warehouse(tempfile.mkdtemp())
            >>> _ = wh.write("bronze.t", pa.table({"a": [1, 2]}), mode=WriteMode.APPEND,
            ...              metadata={})
            >>> _ = wh.delete("bronze.t", "a = 2", {"maintenance": "retention"})
            >>> wh.maintenance_only("bronze.t", 0), wh.maintenance_only("bronze.t", -1)
            (True, False)
        """
        latest = self.version(name)
        newest = latest if until is None else until
        if latest is None or newest is None or since < 0 or newest < since:
            return False
        commits = self.history(name, limit=max(latest - since, 0))
        between = [c for c in commits if since < c.version <= newest]
        return len(between) == max(newest - since, 0) and all(c.meta.maintenance for c in between)

    def history(self, name: str, limit: int | None = None) -> list[CommitInfo]:
        """Commits of `name`, newest first, with assay's metadata decoded."""
        out = []
        for entry in self.table(name).history(limit):
            metrics = entry.get("operationMetrics") or {}
            out.append(
                CommitInfo(
                    version=int(entry["version"]),
                    # Naive UTC, as everywhere in assay (the log holds epoch millis).
                    timestamp=datetime.fromtimestamp(entry["timestamp"] / 1000, UTC).replace(
                        tzinfo=None
                    ),
                    operation=str(entry.get("operation", "")),
                    rows_added=_rows_added(metrics),
                    metadata=decode_metadata(entry),
                )
            )
        return out

    def last_commit(self, name: str) -> CommitInfo | None:
        if not self.exists(name):
            return None
        found = self.history(name, limit=1)
        return found[0] if found else None

    def recorded(self, name: str, key: str, at: int | None = None) -> Any:
        """Metadata `key` of the newest commit of `name` (at or before version `at`) that
        recorded it: what a training set saved survives later maintenance commits (an
        erasure's delete, a key rotation) that record nothing of their own."""
        for commit in self.history(name) if self.exists(name) else []:
            if (at is None or commit.version <= at) and key in commit.metadata:
                return commit.metadata[key]
        return None


@dataclass(frozen=True)
class DeleteResult:
    """What a delete did: the new version (None: nothing matched, nothing committed), the
    rows deleted, the data files it wrote (the kept rows of rewritten files) and the files
    it removed from the table (still on disk until a vacuum)."""

    version: int | None
    rows_deleted: int
    files_added: int
    files_removed: int


def maintenance_meta(meta: CommitMeta | Mapping[str, Any] | None, default: str) -> CommitMeta:
    """The metadata of a commit that only removes rows: `meta`'s `maintenance` reason
    (else `default`) and extra keys (who, why); keys that would change the dataset's state
    (intervals, files, cursor, inputs, fingerprint, reset) are refused.

    Example:
        >>> maintenance_meta({"maintenance": "retention", "by": "ana"}, "delete").encode()
        {'maintenance': 'retention', 'by': 'ana'}
    """
    typed = meta if isinstance(meta, CommitMeta) else CommitMeta.decode(meta or {})
    stateful = [
        key
        for key in ("fingerprint", "inputs", "intervals", "files", "cursor", "content_hash")
        if getattr(typed, key) is not None
    ]
    if stateful or typed.reset:
        raise ValueError(
            f"a delete's metadata may not set {', '.join(stateful or ['reset'])}: "
            "it would change what the dataset's runs recorded"
        )
    return replace(typed, maintenance=typed.maintenance or default)


def _deleted(
    table: DeltaTable, metrics: Mapping[str, Any], rows: str, added: str, removed: str
) -> DeleteResult:
    deleted = int(metrics.get(rows) or 0)
    files_removed = int(metrics.get(removed) or 0)
    committed = deleted > 0 or files_removed > 0
    if committed:
        table.update_incremental()
    return DeleteResult(
        version=table.version() if committed else None,
        rows_deleted=deleted,
        files_added=int(metrics.get(added) or 0),
        files_removed=files_removed,
    )


def _conflict(name: str, exc: Exception) -> ConcurrentCommitError:
    return ConcurrentCommitError(
        f"concurrent commit conflict: {exc}",
        where=name,
        hint="another writer committed to this table at the same time; retry",
    )


def _mismatch(name: str, exc: Exception) -> SchemaDriftError:
    return SchemaDriftError(
        f"the rows do not match the table's schema: {exc}",
        where=name,
        hint="cast the column in the dataset to the table's type, or rebuild the table with "
        f"a full refresh (`assay run --full-refresh {name}`)",
    )


def without_time_of_day(data: Any) -> Any:
    """Delta has no TIME type: a time of day is stored as its text, as DuckDB writes it
    (`10:30:00`, `22:30:15.00025`), which sorts like the time. Other data passes untouched.

    Example:
        >>> from datetime import time
        >>> t = pa.table({"t": [time(10, 30), time(22, 30, 15, 250)]})
        >>> without_time_of_day(t).column("t").to_pylist()
        ['10:30:00', '22:30:15.00025']
    """
    schema = getattr(data, "schema", None)
    if schema is None or not any(pa.types.is_time(f.type) for f in schema):
        return data
    target = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_time(f.type) else f for f in schema]
    )
    if isinstance(data, pa.Table):
        return pa.Table.from_batches([_time_as_text(b, target) for b in data.to_batches()], target)
    return pa.RecordBatchReader.from_batches(target, (_time_as_text(b, target) for b in data))


def _time_as_text(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    columns = []
    for column in batch.columns:
        if pa.types.is_time(column.type):
            text = pc.replace_substring_regex(column.cast(pa.string()), r"(\.\d*?)0+$", r"\1")
            column = pc.replace_substring_regex(text, r"\.$", "")
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=target)


def _rows_added(metrics: Mapping[str, Any]) -> int | None:
    """Rows a commit added, named by delta-rs (snake case) or Spark (camel case, text)."""
    for key in (
        "num_added_rows",
        "num_target_rows_inserted",
        "numOutputRows",
        "numTargetRowsInserted",
    ):
        if metrics.get(key) is not None:
            return int(metrics[key])
    return None


def _schema_mode(mode: WriteMode, predicate: Predicate | None, evolve: bool) -> str | None:
    # A whole-table overwrite replaces the schema too (a full refresh); partial writes
    # (append, replace-where) may only add columns, and only when the policy evolves.
    if mode is WriteMode.OVERWRITE and predicate is None:
        return "overwrite"
    return "merge" if evolve else None


def _commit_properties(
    metadata: CommitMeta | Mapping[str, Any], app_transactions: Mapping[str, int] | None = None
) -> CommitProperties:
    encoded = encode_metadata(metadata)
    transactions = [Transaction(app, int(v)) for app, v in (app_transactions or {}).items()]
    return CommitProperties(custom_metadata=encoded, app_transactions=transactions or None)
