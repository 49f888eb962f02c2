"""The overview's last run of stream datasets, on the fraud example whose live folder stream
took four arrivals: the stream and its window tables show their newest micro-batch commit
(read from the Delta logs with deltalake), not "never"; built datasets keep the catalog's
last run, as `assay status` shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from deltalake import DeltaTable

import assay
from assay.catalog_views.overview import overview

STREAMED = ("bronze.live_transactions", "silver.card_activity_10m", "silver.card_activity_1h")


def _newest_stream_commit(project: assay.Project, name: str) -> dict[str, object]:
    layer, table = name.split(".")
    log = DeltaTable(str(Path(project.root) / "warehouse" / layer / table)).history()
    return next(entry for entry in log if "assay.stream" in entry)  # newest first


def test_streams_show_their_last_micro_batch_as_their_last_run(fraud: assay.Project) -> None:
    rows = {row.name: row for row in overview(fraud.runtime, fraud.status(), fraud.plan()).datasets}
    for name in STREAMED:
        entry = _newest_stream_commit(fraud, name)
        committed = datetime.fromtimestamp(int(entry["timestamp"]) / 1000, UTC)
        assert rows[name].last_run_status == "streamed", name
        assert rows[name].last_run_at == committed.replace(tzinfo=None)
    statuses = {s.name: s for s in fraud.status()}
    for name, row in rows.items():
        if name not in STREAMED:
            assert row.last_run_status == statuses[name].last_status, name
