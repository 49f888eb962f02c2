"""Helpers shared by the tests: writing projects, content checksums, catalog access."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
import yaml

#: Columns whose values legitimately differ between two runs over the same input.
VOLATILE = frozenset({"run_id", "_ingested_at", "quarantined_at", "rejected_at"})


def write_project(
    root: Path,
    files: Mapping[str, str | bytes],
    config: Mapping[str, object] | str | None = None,
) -> Path:
    """Write assay.yaml and `files` (relative path -> text or bytes) under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    settings: dict[str, object] = {"name": root.name}
    if isinstance(config, str):
        settings.update(yaml.safe_load(config) or {})
    elif config:
        settings.update(config)
    (root / "assay.yaml").write_text(yaml.safe_dump(settings))
    write_files(root, files)
    return root


def with_engine(root: Path, engine: str) -> None:
    """Set `engine:` in the project's assay.yaml."""
    path = root / "assay.yaml"
    settings = yaml.safe_load(path.read_text()) or {}
    settings["engine"] = engine
    path.write_text(yaml.safe_dump(settings))


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(textwrap.dedent(content).lstrip("\n"))


def jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def rows(table: pa.Table, exclude: Iterable[str] = VOLATILE) -> list[dict[str, Any]]:
    """Rows as dicts without the volatile columns, sorted by their values in column order
    (nulls last)."""
    drop = set(exclude)
    out = [{k: v for k, v in r.items() if k not in drop} for r in table.to_pylist()]
    return sorted(
        out, key=lambda r: tuple((v is None, v if v is not None else 0) for v in r.values())
    )


def checksum(table: pa.Table, exclude: Iterable[str] = VOLATILE, digits: int | None = None) -> str:
    """An order-insensitive checksum of a table's columns, types and rows; with `digits`,
    floats are rounded first (engines sum floats in different orders)."""
    drop = set(exclude)
    schema = sorted((f.name, str(f.type)) for f in table.schema if f.name not in drop)

    def value(v: Any) -> Any:
        return round(v, digits) if digits is not None and isinstance(v, float) else v

    lines = sorted(
        repr(sorted((k, value(v)) for k, v in r.items() if k not in drop))
        for r in table.to_pylist()
    )
    digest = hashlib.sha256(repr(schema).encode())
    for line in lines:
        digest.update(line.encode())
    return f"{len(lines)}:{digest.hexdigest()[:16]}"


def warehouse_checksums(project: Any) -> dict[str, str]:
    """checksum() of every table in the project's warehouse, quarantine tables included."""
    return {name: checksum(project.table(name)) for name in project.warehouse.list_tables()}


def versions(project: Any) -> dict[str, int | None]:
    return {name: project.warehouse.version(name) for name in project.warehouse.list_tables()}


def catalog_rows(project: Any, table: str, **where: Any) -> list[dict[str, Any]]:
    """Rows of one catalog table (assay_intervals, assay_runs...) as dicts."""
    meta = sa.MetaData()
    tbl = sa.Table(table, meta, autoload_with=project.catalog.engine)
    query = sa.select(tbl)
    for column, value in where.items():
        query = query.where(tbl.c[column] == value)
    with project.catalog.engine.connect() as con:
        return [dict(r) for r in con.execute(query).mappings()]


def copy_project(src: Path, dst: Path) -> Path:
    """Copy a project's definitions and data, without its warehouse or catalog."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("warehouse", ".assay"))
    return dst


def run_in_subprocess(
    root: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`assay.Project(root).run()` in a fresh interpreter; returns the CompletedProcess."""
    code = f"import assay; assay.Project({str(root)!r}).run()"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "ASSAY_FAULT"}


# -- a small event pipeline used by several test modules ------------------------------------

EVENTS_INGEST = """
import assay

events = assay.files(
    "bronze.events",
    path="data/events/*.jsonl",
    format="jsonl",
    columns={
        "event_id": "BIGINT",
        "user_id": "BIGINT",
        "amount": "DOUBLE",
        "event_time": "TIMESTAMP",
    },
    time_column="event_time",
)
"""

EVENTS_SILVER = """
-- name: silver.events
-- kind: incremental
-- time_column: event_time
-- grain: day
SELECT event_id, user_id, amount, event_time
FROM {{ ref('bronze.events') }}
WHERE event_time >= {{ start }} AND event_time < {{ end }}
"""

EVENTS_GOLD = """
-- name: gold.user_daily
-- kind: full
SELECT user_id, CAST(event_time AS DATE) AS day, count(*) AS events,
       sum(CAST(round(amount * 100) AS BIGINT)) AS cents
FROM {{ ref('silver.events') }}
GROUP BY ALL
"""

EVENTS_PIPELINES = {
    "pipelines/ingest.py": EVENTS_INGEST,
    "pipelines/silver_events.sql": EVENTS_SILVER,
    "pipelines/gold_user_daily.sql": EVENTS_GOLD,
}


def event(event_id: int, user_id: int, amount: float, when: str) -> dict[str, Any]:
    return {"event_id": event_id, "user_id": user_id, "amount": amount, "event_time": when}
