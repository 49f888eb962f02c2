"""Avro payloads with a schema held in the project (`.avsc`), decoded with fastavro.

Decoded records become JSON text so they go through the same casting, key and contract
checks as JSON streams; a payload that does not decode is a dead letter."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.errors import DefinitionError
from assay.streaming.readers import NOT_UTF8, OFFSET, PARTITION, PAYLOAD, RAW

#: Confluent's wire format: magic byte 0 and a 4-byte schema id before the Avro body.
CONFLUENT_HEADER = 5


def load_schema(root: Path, path: str) -> Any:
    """Parse the project's `.avsc` file; errors name the file."""
    import fastavro

    full = root / path
    try:
        return fastavro.parse_schema(json.loads(full.read_text()))
    except FileNotFoundError:
        raise DefinitionError(f"Avro schema {path} not found", where=str(root)) from None
    except (ValueError, fastavro.schema.SchemaParseException) as exc:
        raise DefinitionError(f"invalid Avro schema: {exc}", where=str(full)) from exc


def _plain(value: Any) -> Any:
    """JSON for what fastavro returns: times as naive UTC ISO text, bytes as base64."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def decode(
    records: pa.Table, schema: Any, confluent: bool
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Records with RAW as JSON text of the decoded payload, and the ones that failed
    (partition, offset, payload preview, reason)."""
    import fastavro

    texts: list[str | None] = []
    failed: list[dict[str, Any]] = []
    partitions, offsets = records[PARTITION].to_pylist(), records[OFFSET].to_pylist()
    for partition, offset, payload in zip(
        partitions, offsets, records[PAYLOAD].to_pylist(), strict=True
    ):
        try:
            body = payload
            if confluent:
                if len(payload) < CONFLUENT_HEADER or payload[0] != 0:
                    raise ValueError("no Confluent wire-format header (magic byte 0)")
                body = payload[CONFLUENT_HEADER:]
            stream = io.BytesIO(body)
            record = fastavro.schemaless_reader(stream, schema, None)
            if stream.tell() != len(body):
                raise ValueError(f"{len(body) - stream.tell()} trailing byte(s) after the record")
            texts.append(json.dumps(record, default=_plain))
        except Exception as exc:  # any decoding failure is a dead letter
            texts.append(None)
            failed.append(
                {
                    PARTITION: partition,
                    OFFSET: offset,
                    RAW: base64.b64encode(payload[:750]).decode(),
                    "reason": f"payload is not Avro of the declared schema: {exc}",
                }
            )
    decoded = pa.array(texts, pa.large_string())
    ok = pc.is_valid(decoded)
    out = records.set_column(records.schema.get_field_index(RAW), RAW, decoded)
    out = out.set_column(
        out.schema.get_field_index(NOT_UTF8), NOT_UTF8, pa.array([False] * len(texts))
    )
    return out.filter(ok), failed
