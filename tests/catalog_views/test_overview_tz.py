"""A dataset whose time column is TIMESTAMPTZ: the overview's freshness is naive UTC like
every other time it compares (one such dataset once broke the whole page)."""

from __future__ import annotations

from datetime import UTC, datetime

import assay
from assay.catalog_views.overview import freshness
from assay.intervals import utcnow
from assay.server.ui.web import ago
from tests.conftest import MakeProject

SOURCE = """
import assay
from datetime import datetime, UTC
import pyarrow as pa

@assay.source("bronze.events", time_column="at")
def events(ctx):
    at = [datetime(2026, 1, 1, 8, tzinfo=UTC), datetime(2026, 1, 2, 9, 30, tzinfo=UTC)]
    return pa.table({"at": pa.array(at, pa.timestamp("us", tz="UTC")), "n": [1, 2]})
"""


def test_freshness_of_a_zoned_time_column_is_naive_utc(make_project: MakeProject) -> None:
    project = assay.Project(make_project({"pipelines/events.py": SOURCE}))
    assert project.run().ok
    newest, by = freshness(project.runtime, project.dag["bronze.events"])
    assert (newest, by) == (datetime(2026, 1, 2, 9, 30), "data")
    assert ago(newest, utcnow()).endswith("ago")
    assert datetime(2026, 1, 2, 9, 30, tzinfo=UTC).replace(tzinfo=None) == newest
