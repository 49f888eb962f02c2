"""A full disk, for real: `assay run` in a process whose files may not grow past a limit
(RLIMIT_FSIZE, so writes fail with EFBIG as they do with ENOSPC on a full disk). Writing a
Delta table or the SQLite catalog then fails with one line naming what was being written
and exit code 1, nothing is half-committed, and a re-run with room finishes the work
(before: a DeltaError or sqlite3 OperationalError with their tracebacks)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import assay
from tests.hardening.cli_errors import invoke, run_process, scaffold

HEADER = "order_id,customer_id,amount,ordered_at\n"


@pytest.fixture
def built(tmp_path: Path) -> Path:
    root = scaffold(tmp_path / "shop")
    outcome = invoke("run", "--project", str(root))
    assert outcome.exit_code == 0, outcome.output
    return root


def versions(root: Path) -> dict[str, int | None]:
    project = assay.Project(root)
    return {name: project.warehouse.version(name) for name in project.dag.specs}


def test_a_full_disk_while_writing_a_delta_table(built: Path) -> None:
    rows = random.Random(7)
    (built / "data" / "orders" / "2026-01-03.csv").write_text(
        HEADER
        + "".join(
            f"{10 + i},{rows.randint(1, 2)},{rows.random() * 100:.6f},2026-01-03 10:00:00\n"
            for i in range(200_000)
        )
    )
    before = versions(built)
    outcome = run_process("run", "--project", str(built), file_size_limit=1_000_000)
    assert outcome.exit_code == 1, outcome.output
    assert "Traceback" not in outcome.output, outcome.output
    assert (
        "FAILED bronze.orders: disk full while writing table bronze.orders (File too large); "
        "nothing was committed (hint: free space and re-run)"
    ) in outcome.flat
    assert versions(built) == before
    again = invoke("run", "--project", str(built))
    assert again.exit_code == 0, again.output
    assert assay.Project(built).table("bronze.orders").num_rows == 4 + 200_000 - 1  # 1 bad


def test_a_full_disk_while_writing_the_catalog(built: Path) -> None:
    days = 1000
    (built / "data" / "orders" / "2026-01-03.csv").write_text(
        HEADER
        + "".join(
            f"{10 + i},1,1.5,{datetime(2020, 1, 1) + timedelta(days=i)}\n" for i in range(days)
        )
    )
    db = built / ".assay" / "catalog.db"
    outcome = run_process("run", "--project", str(built), file_size_limit=db.stat().st_size)
    assert outcome.exit_code == 1, outcome.output
    assert "Traceback" not in outcome.output, outcome.output
    assert f"disk full while writing catalog database {db} (disk I/O error)" in outcome.flat
    assert "hint: free space and re-run" in outcome.flat
    again = invoke("run", "--project", str(built))
    assert again.exit_code == 0, again.output
    project = assay.Project(built)
    done = project.intervals("silver.orders")
    assert {i.start.date() for i in done} >= {
        (datetime(2020, 1, 1) + timedelta(days=i)).date() for i in range(days)
    }
    assert project.table("silver.orders").num_rows == 3 + days
