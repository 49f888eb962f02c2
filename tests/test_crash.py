"""Fault injection: a run killed with SIGKILL at any point, then re-run, leaves exactly the
tables an uninterrupted run leaves (quarantine tables included)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import assay
from tests.helpers import (
    EVENTS_PIPELINES,
    base_env,
    copy_project,
    run_in_subprocess,
    warehouse_checksums,
    with_engine,
    write_project,
)

FILES, LINES, DAYS = 20, 2000, 12


def generate(root: Path) -> Path:
    rng = random.Random(20260101)
    files: dict[str, str | bytes] = dict(EVENTS_PIPELINES)
    for f in range(FILES):
        lines = []
        for i in range(LINES):
            event_id = f * LINES + i
            if i % 400 == 7:
                lines.append(f'{{"event_id": {event_id}, "amount": ')  # malformed
                continue
            day, hour, minute = rng.randrange(DAYS), rng.randrange(24), rng.randrange(60)
            record = {
                "event_id": event_id,
                "user_id": rng.randrange(200),
                "amount": round(rng.uniform(1, 500), 2),
                "event_time": f"2026-01-{day + 1:02d} {hour:02d}:{minute:02d}:00",
            }
            lines.append(json.dumps(record))
        files[f"data/events/part-{f:02d}.jsonl"] = "\n".join(lines) + "\n"
    return write_project(root, files, {"name": "crash"})


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's definitions and data, never run."""
    return generate(tmp_path_factory.mktemp("crash") / "pristine")


@pytest.fixture(scope="module")
def expected(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Checksums of every table after one uninterrupted run, and how long the run took."""
    project = assay.Project(copy_project(pristine, tmp_path_factory.mktemp("crash") / "baseline"))
    began = time.monotonic()
    result = project.run()
    seconds = time.monotonic() - began
    assert result.ok
    sums = warehouse_checksums(project)
    assert sorted(sums) == [
        "bronze.events",
        "gold.user_daily",
        "quarantine.bronze_events",
        "silver.events",
    ]
    assert project.table("quarantine.bronze_events").num_rows == FILES * (LINES // 400)
    assert project.table("bronze.events").num_rows == FILES * LINES - FILES * (LINES // 400)
    return {"checksums": sums, "seconds": seconds}


@pytest.fixture(scope="module")
def spark_expected(
    pristine: Path, tmp_path_factory: pytest.TempPathFactory, spark_jars: str
) -> dict:
    """Checksums after one uninterrupted run on Spark (its sums of BIGINT stay BIGINT where
    DuckDB's become DECIMAL(38, 0): same values, other types)."""
    root = copy_project(pristine, tmp_path_factory.mktemp("crash") / "spark-baseline")
    with_engine(root, "spark")
    project = assay.Project(root)
    assert project.run().ok
    return {"checksums": warehouse_checksums(project)}


def finish_and_compare(root: Path, expected: dict) -> None:
    project = assay.Project(root)
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    assert warehouse_checksums(project) == expected["checksums"]
    assert project.run().commits == 0


@pytest.mark.parametrize(
    "fault", ["after_quarantine:1", "after_commit:1", "after_commit:3", "after_catalog:2"]
)
def test_kill_at_a_fault_point_then_rerun(
    fault: str, pristine: Path, expected: dict, tmp_path: Path
) -> None:
    root = copy_project(pristine, tmp_path / "project")

    crashed = run_in_subprocess(root, env={"ASSAY_FAULT": fault})

    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    finish_and_compare(root, expected)


def test_kill_at_random_moments_then_rerun(pristine: Path, expected: dict, tmp_path: Path) -> None:
    root = copy_project(pristine, tmp_path / "project")
    rng = random.Random(42)
    code = (
        "import sys, assay\n"
        f"project = assay.Project({str(root)!r})\n"
        "print('ready', flush=True)\n"
        "project.run()\n"
    )
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=base_env(),
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, max(0.5, 0.8 * expected["seconds"])))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (-signal.SIGKILL, 0), err  # killed, or done before the kill

    finish_and_compare(root, expected)


@pytest.mark.parametrize("fault", ["after_commit:3", "after_catalog:3"])
def test_on_spark_kill_after_a_spark_commit_then_rerun(
    fault: str, pristine: Path, spark_expected: dict, tmp_path: Path
) -> None:
    """Spark commits the transforms: the commit metadata it writes (userMetadata) is what
    the re-run reads to know which intervals are done, so the end state is the same."""
    root = copy_project(pristine, tmp_path / "project")
    with_engine(root, "spark")

    crashed = run_in_subprocess(root, env={"ASSAY_FAULT": fault}, timeout=600)

    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    finish_and_compare(root, spark_expected)
