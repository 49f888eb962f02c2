"""assay's commit metadata and the per-dataset state folded from it: typed, one codec.

Every data commit carries `assay.*` keys in the Delta log (run id, fingerprint, input
versions, intervals or files written, cursor, content hash). `CommitMeta` is one commit's
keys as a typed object; `DatasetState` is what the newest commits of a table say together
(what makes a re-run idempotent). Both are encoded and decoded here only, next to the log
reader, so the keys on disk stay the ones older versions wrote.

Example:
    >>> from datetime import datetime
    >>> from assay.intervals import Interval
    >>> day = Interval(datetime(2026, 1, 1), datetime(2026, 1, 2))
    >>> meta = CommitMeta(run_id="r1", fingerprint="f1", inputs={"bronze.x": 3}, intervals=(day,))
    >>> meta.encode()["intervals"]
    ['2026-01-01T00:00:00/2026-01-02T00:00:00']
    >>> CommitMeta.decode(meta.encode()) == meta
    True
    >>> DatasetState().folded(meta, version=7).inputs
    {'bronze.x': 3}
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from assay.intervals import Interval

META_PREFIX = "assay."

#: The keys `CommitMeta` has fields for; any other key rides along in `extra`.
_TYPED_KEYS = (
    "run_id",
    "fingerprint",
    "inputs",
    "intervals",
    "files",
    "cursor",
    "content_hash",
    "reset",
    "maintenance",
)


@dataclass(frozen=True)
class FileStamp:
    """A source file as ingested: its path (relative to the project) and what identifies
    its content (size and modification time), so a changed file is read again.

    Example:
        >>> FileStamp.decode({"path": "data/a.csv", "size": 10, "mtime_ns": 5}).encode()
        {'path': 'data/a.csv', 'size': 10, 'mtime_ns': 5}
    """

    path: str
    size: int
    mtime_ns: int

    def encode(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "mtime_ns": self.mtime_ns}

    @classmethod
    def decode(cls, value: Mapping[str, Any]) -> FileStamp:
        return cls(str(value["path"]), int(value["size"]), int(value["mtime_ns"]))


@dataclass(frozen=True)
class CommitMeta:
    """assay's metadata of one commit. None (or False) means the commit did not say.

    Attributes:
        run_id: the run that made the commit.
        fingerprint: the code fingerprint of the dataset that wrote the data.
        inputs: the versions of the input tables the data was computed from.
        intervals: the intervals this commit wrote (incremental datasets): they are done.
        files: the source files this commit ingested (file sources).
        cursor: the last cursor value read (database sources), a JSON value.
        content_hash: the checksum of a full or merge table's content as written.
        reset: True when the commit replaced the whole table (a full refresh): what the
            log said before it no longer holds.
        maintenance: why a commit that is no run's write changed the table (`retention`,
            `erasure`, `delete`): it removed rows only, so what the runs said still holds
            (no interval, file or cursor changes), and a planner may tell it from new data.
        extra: any other keys (streams, widened columns, replays, training sets), kept as
            they were written.
    """

    run_id: str | None = None
    fingerprint: str | None = None
    inputs: Mapping[str, int] | None = None
    intervals: tuple[Interval, ...] | None = None
    files: tuple[FileStamp, ...] | None = None
    cursor: Any = None
    content_hash: str | None = None
    reset: bool = False
    maintenance: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def encode(self) -> dict[str, Any]:
        """The metadata as the keys (without the `assay.` prefix) and JSON values that
        the log holds."""
        out: dict[str, Any] = {}
        if self.run_id is not None:
            out["run_id"] = self.run_id
        if self.fingerprint is not None:
            out["fingerprint"] = self.fingerprint
        if self.inputs is not None:
            out["inputs"] = dict(self.inputs)
        if self.intervals is not None:
            out["intervals"] = [i.key() for i in self.intervals]
        if self.files is not None:
            out["files"] = [f.encode() for f in self.files]
        if self.cursor is not None:
            out["cursor"] = self.cursor
        if self.content_hash is not None:
            out["content_hash"] = self.content_hash
        if self.reset:
            out["reset"] = True
        if self.maintenance is not None:
            out["maintenance"] = self.maintenance
        return {**out, **{k: v for k, v in self.extra.items() if k not in _TYPED_KEYS}}

    @classmethod
    def decode(cls, metadata: Mapping[str, Any]) -> CommitMeta:
        """The typed metadata of decoded log keys (`CommitInfo.metadata`); keys an older
        version wrote decode the same way."""
        intervals = metadata.get("intervals")
        files = metadata.get("files")
        inputs = metadata.get("inputs")
        return cls(
            run_id=metadata.get("run_id"),
            fingerprint=metadata.get("fingerprint"),
            inputs=None if inputs is None else {str(k): int(v) for k, v in inputs.items()},
            intervals=None if intervals is None else tuple(Interval.parse(k) for k in intervals),
            files=None if files is None else tuple(FileStamp.decode(f) for f in files),
            cursor=metadata.get("cursor"),
            content_hash=metadata.get("content_hash"),
            reset=_truthy(metadata.get("reset")),
            maintenance=metadata.get("maintenance"),
            extra={k: v for k, v in metadata.items() if k not in _TYPED_KEYS},
        )


def _truthy(value: Any) -> bool:
    # Spark's commits carry every value as text: "true" is what json.dumps(True) wrote.
    return value is True or value == "true"


@dataclass(frozen=True)
class DatasetState:
    """What a dataset's table says about itself: the newest commits' metadata folded
    together (and, for file sources, the files ingested so far).

    Example:
        >>> state = DatasetState.from_json({"fingerprint": "f1", "version": 3})
        >>> state.fingerprint, state.version, state.inputs
        ('f1', 3, {})
        >>> state.to_json()
        {'fingerprint': 'f1', 'version': 3}
    """

    #: The table version these values were read at (None: no commit seen).
    version: int | None = None
    fingerprint: str | None = None
    inputs: Mapping[str, int] = field(default_factory=dict)
    cursor: Any = None
    content_hash: str | None = None
    run_id: str | None = None
    #: Files ingested: path -> (size, mtime_ns); filled for file sources only.
    ingested: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def folded(self, meta: CommitMeta, version: int) -> DatasetState:
        """The state after commit `version` with metadata `meta`; a replacing commit
        (`reset`) starts from nothing. Keys the commit did not write keep their values."""
        base = DatasetState() if meta.reset else self
        changes: dict[str, Any] = {"version": version}
        for key in ("fingerprint", "cursor", "content_hash", "run_id"):
            if (value := getattr(meta, key)) is not None:
                changes[key] = value
        if meta.inputs is not None:
            changes["inputs"] = dict(meta.inputs)
        return replace(base, **changes)

    def with_ingested(self, ingested: Mapping[str, tuple[int, int]]) -> DatasetState:
        return replace(self, ingested=dict(ingested))

    def to_json(self) -> dict[str, Any]:
        """The state as the catalog stores it (the files ingested are kept apart)."""
        out: dict[str, Any] = {}
        for key in ("fingerprint", "cursor", "content_hash", "run_id"):
            if (value := getattr(self, key)) is not None:
                out[key] = value
        if self.inputs:
            out["inputs"] = dict(self.inputs)
        if self.version is not None:
            out["version"] = self.version
        return out

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DatasetState:
        """A state stored by `to_json` (or by an older version as a plain dict)."""
        return cls(
            version=value.get("version"),
            fingerprint=value.get("fingerprint"),
            inputs={str(k): int(v) for k, v in (value.get("inputs") or {}).items()},
            cursor=value.get("cursor"),
            content_hash=value.get("content_hash"),
            run_id=value.get("run_id"),
        )


def encode_metadata(metadata: CommitMeta | Mapping[str, Any]) -> dict[str, str]:
    """assay's commit metadata as the commit log stores it: `assay.key` -> text.

    Example:
        >>> encode_metadata({"run_id": "r1", "intervals": ["2026-01-01"]})
        {'assay.run_id': 'r1', 'assay.intervals': '["2026-01-01"]'}
    """
    plain = metadata.encode() if isinstance(metadata, CommitMeta) else metadata
    return {
        f"{META_PREFIX}{key}": value if isinstance(value, str) else json.dumps(value, default=str)
        for key, value in plain.items()
    }


def decode_metadata(entry: Mapping[str, Any]) -> dict[str, Any]:
    """assay's metadata of a commit's log entry: delta-rs's custom keys, or the
    `userMetadata` of a commit Spark wrote (`{"assay": {...}}`, see
    assay.engines.spark.writer).

    Example:
        >>> decode_metadata({"assay.run_id": "r1", "assay.inputs": '{"a.b": 2}', "x": 1})
        {'run_id': 'r1', 'inputs': {'a.b': 2}}
    """
    decoded: dict[str, Any] = {}
    items = dict(entry)
    user = entry.get("userMetadata")
    if isinstance(user, str) and user.startswith('{"assay"'):
        with contextlib.suppress(json.JSONDecodeError, AttributeError):
            items.update(json.loads(user)["assay"])
    for key, value in items.items():
        if not key.startswith(META_PREFIX):
            continue
        short = key[len(META_PREFIX) :]
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        decoded[short] = value
    return decoded
