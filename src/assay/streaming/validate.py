"""Validating a micro-batch of raw records: parse, cast, check the key, event time and
contract. What fails becomes a dead-letter row, in the one shape of rejected rows
(`assay.pipelines.rejected`: rule, reason, raw record, partition and offset, message key,
run, time); the rest is the batch's good rows, typed like the stream's table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.engines.types import arrow_to_sql
from assay.intervals import utcnow
from assay.pipelines.conform import RAW as CONFORM_RAW
from assay.pipelines.conform import conform, plan_columns
from assay.pipelines.files import parse_jsonl
from assay.pipelines.producers import INGESTED_AT, LINE, SOURCE_FILE
from assay.pipelines.protect import IngestProtection
from assay.pipelines.rejected import DEAD_LETTERS, Rejected
from assay.pipelines.spec import DatasetSpec, SchemaPolicy
from assay.streaming.readers import KEY, NOT_UTF8, OFFSET, PARTITION, RAW, SIZE
from assay.streaming.sources import StreamSource

if TYPE_CHECKING:
    from assay.engines import Engine
    from assay.runtime import Runtime


def dead_letter_name(stream: str) -> str:
    """`deadletter.<layer>_<name>`, the stream's table of rejected records."""
    return DEAD_LETTERS.name(stream)


class RecordValidator:
    """Splits raw records into good rows and dead letters, for one stream.

    Example: ``good, dead = RecordValidator(runtime, spec, engine, run_id).split(records)``
    """

    def __init__(self, runtime: Runtime, spec: DatasetSpec, engine: Engine, run_id: str):
        assert isinstance(spec.producer, StreamSource)
        self.runtime = runtime
        self.spec = spec
        self.source: StreamSource = spec.producer
        self.wh = runtime.warehouse
        self.engine = engine
        self.run_id = run_id
        #: Masks and drops at ingest (None: the stream declares none).
        self.shield = IngestProtection.for_spec(spec, runtime.root)
        self.avro_schema = None
        if self.source.format == "avro":
            from assay.streaming.avro import load_schema

            self.avro_schema = load_schema(Path(runtime.root), str(self.source.avro_schema))

    def split(self, records: pa.Table) -> tuple[pa.Table, pa.Table]:
        """Good rows (typed, with _partition, _offset, _ingested_at) and dead letters."""
        now = utcnow()
        dead: list[dict[str, Any]] = []
        too_big = pc.greater(records[SIZE], self.source.max_record_bytes)
        if pc.any(too_big).as_py():
            for r in records.filter(too_big).to_pylist():
                dead.append(
                    self.dead(
                        r,
                        "oversize",
                        f"payload of {r[SIZE]} bytes is over {self.source.max_record_bytes}",
                        preview=True,
                    )
                )
        empty = pc.equal(pc.utf8_trim_whitespace(records[RAW]), "")
        if pc.any(empty).as_py():
            for r in records.filter(empty).to_pylist():
                dead.append(
                    self.dead(r, "empty_record", "empty payload (a blank line or a tombstone)")
                )
        all_records = records
        if dead:
            records = records.filter(pc.invert(pc.or_(too_big, empty)))
        if self.source.format == "avro":
            from assay.streaming.avro import decode

            records, undecodable = decode(records, self.avro_schema, self.source.avro_confluent)
            dead += [self.dead(r, "malformed_record", r["reason"]) for r in undecodable]
        lines = pa.table(
            {
                SOURCE_FILE: records[PARTITION],
                LINE: records[OFFSET],
                CONFORM_RAW: records[RAW],
                NOT_UTF8: records[NOT_UTF8],
            }
        )
        if not pc.any(records[NOT_UTF8]).as_py():
            lines = lines.drop_columns([NOT_UTF8])
        batch = parse_jsonl(self.engine, lines)
        dead += [
            self.dead(
                {PARTITION: r["source_file"], OFFSET: r["line"], RAW: r["raw_record"]},
                r["rule"],
                r["reason"],
            )
            for r in batch.rejects
        ]
        table_types = self._table_types()
        # A stream never stops on drift: a column missing from a batch is null, a value
        # that does not cast to the table's type is a dead letter, a new column is added.
        declared = dict(self.source.columns)
        if self.shield is not None:  # masked columns are cast as they were before masking
            table_types, declared = self.shield.planning_types(
                table_types, batch.observed, declared
            )
        observed = {c: (table_types or {}).get(c, t) for c, t in batch.observed.items()}
        plan = plan_columns(
            self.spec.name, observed, table_types, declared, SchemaPolicy.EVOLVE, False
        )
        good, bad = conform(
            self.engine, batch.table, observed, plan, now, batch.source_sql, batch.text_values
        )
        if self.shield is not None:
            good = self.shield.apply(good)
        dead += [
            self.dead(
                {PARTITION: r[SOURCE_FILE], OFFSET: r[LINE], RAW: r[CONFORM_RAW]},
                "cast",
                r["__reason"],
            )
            for r in bad.to_pylist()
        ]
        good, missing = self._required(good)
        dead += missing
        good, rejected = self._contract(good)
        dead += rejected
        good = good.rename_columns(
            [{SOURCE_FILE: PARTITION, LINE: OFFSET}.get(c, c) for c in good.column_names]
        )
        keys = (
            {
                (r[PARTITION], r[OFFSET]): r[KEY]
                for r in all_records.select([PARTITION, OFFSET, KEY]).to_pylist()
            }
            if dead
            else {}
        )
        if self.shield is not None:  # no clear value of a masked column in dead letters
            dead = self.shield.rejects(dead)
        dead.sort(key=lambda row: (row[PARTITION], row[OFFSET]))  # in arrival order
        letters = [
            Rejected(
                r["rule"],
                r["reason"],
                r["raw_record"],
                r[PARTITION],
                r[OFFSET],
                record_key=keys.get((r[PARTITION], r[OFFSET])),
            )
            for r in dead
        ]
        # The one shape of rejected rows, in the dead-letter family's layout.
        return good, DEAD_LETTERS.table(letters, self.spec.name, self.run_id, now)

    def _required(self, good: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
        """Rows without the declared key or event time cannot be placed: dead letters."""
        required = [c for c in (self.source.key, self.source.timestamp) if c]
        checks = [c for c in required if c in good.column_names]
        absent = [c for c in required if c not in good.column_names]
        if absent and good.num_rows:
            missing_mask = pa.array([True] * good.num_rows)
        elif checks:
            missing_mask = pc.is_null(good[checks[0]])
            for c in checks[1:]:
                missing_mask = pc.or_(missing_mask, pc.is_null(good[c]))
        else:
            return good, []
        if not pc.any(missing_mask).as_py():
            return good, []
        dead = []
        for r in good.filter(missing_mask).to_pylist():
            gone = [c for c in required if r.get(c) is None]
            dead.append(
                self.dead(
                    {PARTITION: r[SOURCE_FILE], OFFSET: r[LINE], RAW: _as_json(r)},
                    "missing_field",
                    f"record has no {' or '.join(gone)}",
                )
            )
        return good.filter(pc.invert(missing_mask)), dead

    def _contract(self, good: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
        contracts = self.runtime.contracts.get(self.spec.name)
        if not contracts or not good.num_rows:
            return good, []
        from assay.catalog.store import record_checks
        from assay.contracts.enforce import enforce, rows_as_json

        result = enforce(self.engine, contracts, good)
        record_checks(self.runtime.catalog, self.run_id, result.results, {})
        rows = result.rejected
        raws = rows_as_json(rows) if rows.num_rows else []
        dead = [
            self.dead(
                {PARTITION: r[SOURCE_FILE], OFFSET: r[LINE], RAW: raw},
                reason.split(":", 1)[0],
                reason,
            )
            for r, raw, reason in zip(rows.to_pylist(), raws, result.reasons, strict=True)
        ]
        return result.good, dead

    def dead(
        self, record: dict[str, Any], rule: str, reason: str, preview: bool = False
    ) -> dict[str, Any]:
        raw = record.get(RAW)
        if preview and raw is not None:
            raw = raw[:1000]  # an oversize payload is kept as a preview, not in full
        return {
            PARTITION: record[PARTITION],
            OFFSET: record[OFFSET],
            "raw_record": raw,
            "rule": rule,
            "reason": reason,
        }

    def _table_types(self) -> dict[str, str] | None:
        if not self.wh.exists(self.spec.name):
            return None
        skip = {PARTITION, OFFSET, INGESTED_AT}
        return {
            f.name: arrow_to_sql(f.type)
            for f in self.wh.schema(self.spec.name)
            if f.name not in skip
        }


def _as_json(row: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in row.items() if not k.startswith("_")}, default=str)
