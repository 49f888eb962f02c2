"""A small served project for server tests: events of users 0-49 on 2026-01-01..03, gold
daily features (view user_daily, service model) materialized as of 2026-01-05."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import assay
from tests.features.test_training_sets import FEATURES, GOLD
from tests.helpers import EVENTS_INGEST, event, jsonl, write_project

KEY = "s3cret-key-for-the-tests"
HEADERS = {"X-API-Key": KEY}
MATERIALIZED = datetime(2026, 1, 5)


def build(root: Path, config: dict[str, Any], materialize: bool = True) -> assay.Project:
    """Write, run and (unless told not to) materialize the project with `config` as
    assay.yaml settings. User u's amount on day 3 is 3 + u."""
    data = jsonl(
        event(d * 100 + u, u, float(d + u), f"2026-01-{d:02d} 12:00:00")
        for d in range(1, 4)
        for u in range(50)
    )
    write_project(
        root,
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/gold.sql": GOLD,
            "features/users.py": FEATURES.replace("{ttl}", "3650d"),
            "data/events/a.jsonl": data,
        },
        config,
    )
    project = assay.Project(root)
    assert project.run().ok
    if materialize:
        project.features.materialize(end=MATERIALIZED)
    return project
