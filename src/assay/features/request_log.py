"""Sampled logging of served feature vectors to the Delta table `logs.feature_requests`.

One row per entity and feature of a sampled request (long format, so any mix of features
fits one schema): request id and time, the entity's keys as JSON, the `view:feature`
reference, the served value (as JSON, and as a number when it is one), its event timestamp
and status. Rows are buffered and appended in one commit every `flush_seconds` (and when the
server stops), so logging never adds a table write to a request.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from assay.intervals import utcnow
from assay.tables import Warehouse, WriteMode

TABLE = "logs.feature_requests"
SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("requested_at", pa.timestamp("us")),
        ("service", pa.string()),
        ("entity", pa.string()),
        ("feature", pa.string()),
        ("value", pa.string()),
        ("value_number", pa.float64()),
        ("event_timestamp", pa.timestamp("us")),
        ("status", pa.string()),
    ]
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    return float(value) if isinstance(value, int | float) else None


class RequestLog:
    """Samples requests and appends their vectors to `logs.feature_requests`.

    Example:
        >>> import tempfile
        >>> from assay.tables import Warehouse
        >>> log = RequestLog(Warehouse(tempfile.mkdtemp()), sample_rate=1.0)
        >>> log.record([{"card_id": 1}], ["card:txn_count"], ["txn_count"],
        ...            [{"txn_count": {"value": 3, "event_timestamp": None, "status": "present"}}])
        True
        >>> log.flush()
        1
    """

    def __init__(self, warehouse: Warehouse, sample_rate: float, flush_seconds: float = 5.0):
        self.warehouse = warehouse
        self.sample_rate = sample_rate
        self.flush_seconds = flush_seconds
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(
        self,
        entities: Sequence[Mapping[str, Any]],
        refs: Sequence[str],
        outputs: Sequence[str],
        vectors: Sequence[Mapping[str, Mapping[str, Any]]],
        service: str | None = None,
        requested_at: datetime | None = None,
    ) -> bool:
        """Log one request if it is sampled; return whether it was."""
        if self.sample_rate <= 0 or random.random() >= self.sample_rate:
            return False
        request_id, at = uuid.uuid4().hex, requested_at or utcnow()
        rows = [
            {
                "request_id": request_id,
                "requested_at": at,
                "service": service,
                "entity": json.dumps(dict(entity), sort_keys=True),
                "feature": ref,
                "value": json.dumps(vector[name]["value"]),
                "value_number": _number(vector[name]["value"]),
                "event_timestamp": vector[name]["event_timestamp"],
                "status": vector[name]["status"],
            }
            for entity, vector in zip(entities, vectors, strict=True)
            for ref, name in zip(refs, outputs, strict=True)
        ]
        with self._lock:
            self._rows.extend(rows)
        return True

    def flush(self) -> int:
        """Append buffered rows in one commit; return how many."""
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            self.warehouse.write(
                TABLE,
                pa.Table.from_pylist(rows, schema=SCHEMA),
                mode=WriteMode.APPEND,
                metadata={"operation": "log feature requests"},
            )
        return len(rows)

    def start(self) -> None:
        """Flush every `flush_seconds` in a background thread until `stop`."""
        if self._thread is None and self.sample_rate > 0:
            self._thread = threading.Thread(
                target=self._loop, name="assay-request-log", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the background thread and flush what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()
