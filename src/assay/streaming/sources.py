"""Streaming source declarations: `assay.kafka` and `assay.folder_stream`.

A stream is a bronze dataset like any other (downstream SQL and feature views read its
table), except that `assay run` leaves it alone: `assay stream NAME` runs it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from assay.errors import DefinitionError, UsageError
from assay.features.spec import parse_ttl
from assay.governance.protection import Protection
from assay.naming import split_name
from assay.pipelines.automation import Automation
from assay.pipelines.declare import caller_origin, register
from assay.pipelines.producers import Output, Producer, RunContext, function_fingerprint
from assay.pipelines.spec import DatasetSpec, Kind
from assay.streaming.readers import Committed, FolderReader, KafkaReader, Reader
from assay.streaming.spec import WindowSpec


@dataclass(frozen=True)
class StreamSource(Producer):
    """What every stream shares: record format, event time, identity and batching."""

    format: str
    timestamp: str
    key: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    windows: tuple[WindowSpec, ...] = ()
    max_batch_rows: int = 100_000
    max_batch_seconds: float = 1.0
    max_record_bytes: int = 1_000_000
    #: For format "avro": the `.avsc` file in the project, and whether payloads carry
    #: Confluent's 5-byte schema-registry header.
    avro_schema: str | None = None
    avro_confluent: bool = False
    #: A partition with no event for this long stops holding the watermark back.
    idle_timeout: timedelta = timedelta(seconds=30)
    #: Drop a record whose `dedupe_keys` are already stored with an event time at most
    #: this far from its own (producer re-sends; see dedupe.py).
    dedupe_within: timedelta | None = None
    dedupe_keys: tuple[str, ...] = ()
    is_source = True
    is_stream = True
    #: Whether each source partition keeps its own watermark (else all are one sequence).
    per_partition_watermarks = False

    def produce(self, ctx: RunContext) -> Iterator[Output]:
        raise UsageError(
            f"{ctx.dataset.name} is a stream", hint=f"run it with `assay stream {ctx.dataset.name}`"
        )

    def code_fingerprint(self) -> str:
        return function_fingerprint(None, self.describe())

    def describe(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "timestamp": self.timestamp,
            "key": self.key,
            "columns": dict(self.columns),
            "windows": [w.name for w in self.windows],
            # Only when set: streams declared before keep their fingerprint.
            **(
                {"dedupe": [self.dedupe_within.total_seconds(), *self.dedupe_keys]}
                if self.dedupe_within
                else {}
            ),
        }

    def app_id(self, partition: str) -> str:
        """The Delta app-transaction id under which a partition's offset is recorded."""
        return partition

    def reader(
        self,
        root: str,
        group: str,
        committed: Committed,
        exclusive: bool = False,
        member: str | None = None,
    ) -> Reader:
        """Where records come from. `exclusive`: this process alone reads the stream;
        `member`: else, this process's static group member id."""
        raise NotImplementedError


@dataclass(frozen=True)
class KafkaSource(StreamSource):
    topic: str = ""
    bootstrap_servers: str = "localhost:9092"
    group_id: str | None = None
    consumer_config: Mapping[str, Any] = field(default_factory=dict)
    dead_letter_topic: str | None = None
    per_partition_watermarks = True

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "topic": self.topic}

    def app_id(self, partition: str) -> str:
        return f"kafka:{self.topic}:{partition}"

    def reader(
        self,
        root: str,
        group: str,
        committed: Committed,
        exclusive: bool = False,
        member: str | None = None,
    ) -> Reader:
        config = {
            "bootstrap.servers": self.bootstrap_servers,
            "group.id": self.group_id or group,
            **self.consumer_config,
        }
        if member is not None and "group.instance.id" not in config:
            # Static membership: a restarted member gets its partitions back at once; a
            # member gone for good is replaced after this session timeout.
            config["group.instance.id"] = member
            config.setdefault("session.timeout.ms", 10_000)
        return KafkaReader(
            self.topic, config, lambda p: committed(self.app_id(p)), exclusive=exclusive
        )


@dataclass(frozen=True)
class FolderSource(StreamSource):
    path: str = ""

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "path": self.path}

    def app_id(self, partition: str) -> str:
        return f"file:{partition}"

    def reader(
        self,
        root: str,
        group: str,
        committed: Committed,
        exclusive: bool = False,
        member: str | None = None,
    ) -> Reader:
        return FolderReader(root, self.path, lambda p: committed(self.app_id(p)))


def _check_protected_windows(spec: DatasetSpec, producer: StreamSource) -> None:
    """Windows see the masked rows: a dropped column is gone and a masked one is text, so
    only counts (and keys: a token groups as its value does) may use a masked column."""
    masked, dropped = spec.protection.mask, spec.protection.drop
    for win in producer.windows:
        used = [*win.keys, *(a.column for a in win.aggregations if a.column)]
        gone = [c for c in used if c in dropped]
        summed = [
            a.column
            for a in win.aggregations
            if a.column in masked and a.function not in ("count", "count_distinct")
        ]
        if gone or summed:
            raise DefinitionError(
                f"window {win.name} uses {'dropped' if gone else 'masked'} column "
                f"{(gone or summed)[0]!r}",
                where=spec.name,
                hint="windows read the masked rows: count a masked column, or do not mask it",
            )


def _columns(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """One column name or several, as a tuple."""
    return (value,) if isinstance(value, str) else tuple(value or ())


def _declare(name: str, producer: StreamSource, options: Mapping[str, Any]) -> DatasetSpec:
    if producer.format not in ("json", "jsonl", "avro"):
        raise DefinitionError(
            f"unsupported stream format {producer.format!r}", where=name, hint="use json or avro"
        )
    if producer.format == "avro" and not producer.avro_schema:
        raise DefinitionError(
            "an Avro stream needs its schema",
            where=name,
            hint='avro_schema="schemas/events.avsc" (a file in the project)',
        )
    tags = options.get("tags") or {}
    spec = DatasetSpec(
        name=name,
        kind=Kind.APPEND,
        producer=producer,
        time_column=producer.timestamp,
        owner=options.get("owner"),
        tags=dict(tags),
        description=options.get("description"),
        zorder_by=_columns(options.get("zorder_by")),
        origin=caller_origin(3),
        automation=Automation.declare(name, max_lag=options.get("max_lag")),
        protection=Protection.declare(
            name, options.get("mask"), options.get("drop"), options.get("retention")
        ),
    )
    _check_protected_windows(spec, producer)
    for win in producer.windows:
        needed = [*win.keys, *(a.column for a in win.aggregations if a.column)]
        undeclared = [c for c in dict.fromkeys(needed) if c not in producer.columns]
        if undeclared:
            # Their types must be known before the first record that carries them arrives.
            raise DefinitionError(
                f"window {win.name} uses undeclared column(s) {', '.join(undeclared)}",
                where=name,
                hint="declare their types in columns={...}",
            )
        if win.entity is not None:
            from assay.features.spec import FeatureView

            FeatureView(  # registers itself with the project being loaded
                name=split_name(win.name)[1],
                entities=[win.entity],
                source=win.name,
                timestamp="window_end",
                features=[a.name for a in win.aggregations],
                ttl=win.window.size,
                description=f"windows of {name}, kept fresh by `assay stream {name}`",
            )
        register(
            DatasetSpec(
                name=win.name,
                kind=Kind.APPEND,
                producer=WindowOutput(name, win),
                inputs=(name,),
                time_column="window_start",
                owner=options.get("owner"),
                origin=spec.origin,
            )
        )
    return register(spec)


@dataclass(frozen=True)
class WindowOutput(Producer):
    """The table a stream's window writes (by `assay stream`, never by `assay run`)."""

    stream: str
    window: WindowSpec
    is_source = True
    is_stream = True

    def produce(self, ctx: RunContext) -> Iterator[Output]:
        raise UsageError(
            f"{ctx.dataset.name} is written by the stream {self.stream}",
            hint=f"run `assay stream {self.stream}`",
        )

    def code_fingerprint(self) -> str:
        return function_fingerprint(None, self.stream, repr(self.window))


def kafka(
    name: str,
    *,
    topic: str,
    bootstrap_servers: str = "localhost:9092",
    format: str = "json",
    timestamp: str,
    key: str | None = None,
    columns: Mapping[str, str] | None = None,
    windows: Sequence[WindowSpec] = (),
    group_id: str | None = None,
    consumer_config: Mapping[str, Any] | None = None,
    dead_letter_topic: str | None = None,
    avro_schema: str | None = None,
    avro_confluent: bool = False,
    max_batch_rows: int = 100_000,
    max_batch_seconds: float = 1.0,
    max_record_bytes: int = 1_000_000,
    idle_timeout: str | timedelta = "30s",
    dedupe_within: str | timedelta | None = None,
    dedupe_keys: Sequence[str] | None = None,
    owner: str | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    max_lag: int | None = None,
    mask: Mapping[str, str] | None = None,
    drop: Sequence[str] | None = None,
    retention: str | int | None = None,
    zorder_by: Sequence[str] | None = None,
) -> DatasetSpec:
    """Declare a bronze table fed by a Kafka topic, exactly once (run with `assay stream`).

    Args:
        topic, bootstrap_servers: where to read; `consumer_config` adds librdkafka settings.
        format: "json" (one JSON object per message) or "avro" (with `avro_schema`, an
            `.avsc` file in the project; `avro_confluent=True` for payloads framed by a
            schema registry's 5-byte header).
        timestamp: the event-time field (required on every record; windows use it).
        key: a field every record must carry (its identity); records without it are
            dead-lettered.
        columns: SQL types per field (`{"amount": "DOUBLE"}`); values that do not cast are
            dead-lettered with the raw payload, partition, offset and reason.
        windows: event-time window aggregates (`assay.window`) kept by the stream.
        dead_letter_topic: also send dead letters here (headers say why; at least once).
        max_batch_rows, max_batch_seconds: a micro-batch ends at whichever comes first.
        idle_timeout: windows close on the slowest partition's event time; a partition
            with no event for this long stops holding them back.
        max_lag: records the stream may fall behind its source before a `stream_lag`
            alert fires (checked by `assay schedule` on every tick).
        mask, drop, retention: as on `assay.files`: columns masked ("hash", "partial",
            "tokenize", "null") or dropped before anything is written (dead letters
            included; windows see the masked rows), and how long rows are kept.
        dedupe_within: drop producer re-sends, as Spark's dropDuplicatesWithinWatermark:
            a record whose `dedupe_keys` (default: `[key]`) are already stored with an
            event time at most this far from its own (e.g. "10m") is dropped and counted
            as a duplicate, across batches and restarts (the table is the state); one
            further away is kept.
        zorder_by: columns `assay optimize` clusters the table's files on (streams write
            a file per micro-batch, so their tables gain the most from compaction).

    Example:
        >>> import assay
        >>> spec = assay.kafka("bronze.events", topic="events", timestamp="event_time",
        ...                    key="event_id")
        >>> spec.producer.app_id("3")
        'kafka:events:3'
    """
    producer = KafkaSource(
        **_stream_options(
            format,
            timestamp,
            key,
            columns,
            windows,
            max_batch_rows,
            max_batch_seconds,
            max_record_bytes,
            idle_timeout,
            dedupe_within,
            dedupe_keys,
        ),
        topic=topic,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        consumer_config=dict(consumer_config or {}),
        dead_letter_topic=dead_letter_topic,
        avro_schema=avro_schema,
        avro_confluent=avro_confluent,
    )
    options: dict[str, Any] = {"owner": owner, "tags": tags, "description": description}
    options |= {"max_lag": max_lag, "mask": mask, "drop": drop, "retention": retention}
    return _declare(name, producer, options | {"zorder_by": zorder_by})


def folder_stream(
    name: str,
    *,
    path: str,
    timestamp: str,
    format: str = "jsonl",
    key: str | None = None,
    columns: Mapping[str, str] | None = None,
    windows: Sequence[WindowSpec] = (),
    max_batch_rows: int = 100_000,
    max_batch_seconds: float = 1.0,
    max_record_bytes: int = 1_000_000,
    dedupe_within: str | timedelta | None = None,
    dedupe_keys: Sequence[str] | None = None,
    owner: str | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    max_lag: int | None = None,
    mask: Mapping[str, str] | None = None,
    drop: Sequence[str] | None = None,
    retention: str | int | None = None,
    zorder_by: Sequence[str] | None = None,
) -> DatasetSpec:
    """Declare a bronze table fed by JSON-lines files arriving in a folder (no broker).

    Files are read in arrival order, line by line as they grow (only complete lines), and
    each line is delivered exactly once into the table; files must not be rewritten.
    The folder's lines are one sequence for the watermark (in arrival order). Otherwise
    as `assay.kafka`.

    Example:
        >>> import assay
        >>> spec = assay.folder_stream("bronze.events", path="incoming/*.jsonl",
        ...                            timestamp="event_time")
        >>> spec.producer.app_id("incoming/a.jsonl")
        'file:incoming/a.jsonl'
    """
    producer = FolderSource(
        **_stream_options(
            "jsonl" if format in ("json", "jsonl") else format,
            timestamp,
            key,
            columns,
            windows,
            max_batch_rows,
            max_batch_seconds,
            max_record_bytes,
            "30s",
            dedupe_within,
            dedupe_keys,
        ),
        path=path,
    )
    options: dict[str, Any] = {"owner": owner, "tags": tags, "description": description}
    options |= {"max_lag": max_lag, "mask": mask, "drop": drop, "retention": retention}
    return _declare(name, producer, options | {"zorder_by": zorder_by})


def _stream_options(
    format: str,
    timestamp: str,
    key: str | None,
    columns: Mapping[str, str] | None,
    windows: Sequence[WindowSpec],
    max_batch_rows: int,
    max_batch_seconds: float,
    max_record_bytes: int,
    idle_timeout: str | timedelta,
    dedupe_within: str | timedelta | None = None,
    dedupe_keys: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The StreamSource fields every stream declaration shares."""
    where = f"the stream with timestamp={timestamp!r}"
    idle = parse_ttl(idle_timeout)
    if idle is None or idle <= timedelta(0):
        raise DefinitionError(
            f"invalid idle_timeout {idle_timeout!r}",
            where=where,
            hint='a positive duration, e.g. "30s"',
        )
    within, keys = _dedupe(dedupe_within, dedupe_keys, key, where)
    return {
        "format": format,
        "timestamp": timestamp,
        "key": key,
        "columns": _with_timestamp(columns, timestamp),
        "windows": tuple(windows),
        "max_batch_rows": max_batch_rows,
        "max_batch_seconds": max_batch_seconds,
        "max_record_bytes": max_record_bytes,
        "idle_timeout": idle,
        "dedupe_within": within,
        "dedupe_keys": keys,
    }


def _dedupe(
    within: str | timedelta | None, keys: Sequence[str] | None, key: str | None, where: str
) -> tuple[timedelta | None, tuple[str, ...]]:
    """`dedupe_within` as a duration and the columns it compares (default: `key`)."""
    if within is None:
        if keys:
            raise DefinitionError(
                "dedupe_keys without dedupe_within",
                where=where,
                hint='say how far apart re-sends can be: dedupe_within="10m"',
            )
        return None, ()
    try:
        duration = parse_ttl(within)
    except DefinitionError:
        duration = None
    if duration is None or duration <= timedelta(0):
        raise DefinitionError(
            f"invalid dedupe_within {within!r}",
            where=where,
            hint='a positive duration, e.g. "10m"',
        )
    if isinstance(keys, str):
        raise DefinitionError(
            f"dedupe_keys={keys!r} is a string", where=where, hint=f"a list: dedupe_keys=[{keys!r}]"
        )
    chosen = tuple(keys) if keys else ((key,) if key else ())
    if not chosen:
        raise DefinitionError(
            "dedupe_within needs the columns that identify a record",
            where=where,
            hint='declare key="event_id", or dedupe_keys=["event_id", ...]',
        )
    return duration, chosen


def _with_timestamp(columns: Mapping[str, str] | None, timestamp: str) -> dict[str, str]:
    """Event time is always a TIMESTAMP: text that is not one is dead-lettered."""
    out = dict(columns or {})
    out.setdefault(timestamp, "TIMESTAMP")
    return out
