"""The fraud example (seeded data arriving in three deliveries) driven only by scheduler
ticks gives the tables of plain `assay run`s after the same deliveries.

(The generator's bytes depend on the deliveries, so the oracle takes the same ones; floats
are compared to 6 decimals: DuckDB sums them in a different order from run to run.)"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import assay
from assay.orchestration.scheduler import Scheduler
from tests.helpers import checksum

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"
sys.path.insert(0, str(EXAMPLE))

import generate  # noqa: E402

N = 20_000
#: Deliveries: data through these days (silver's SQL needs day 45's device_id).
DELIVERIES = (50, 70, 90)


def _copy(root: Path) -> Path:
    root.mkdir()
    shutil.copy(EXAMPLE / "assay.yaml", root)
    shutil.copytree(EXAMPLE / "pipelines", root / "pipelines")
    shutil.copytree(EXAMPLE / "contracts", root / "contracts")
    return root


def _tables(root: Path) -> dict[str, str]:
    project = assay.Project(root)
    return {n: checksum(project.table(n), digits=6) for n in project.warehouse.list_tables()}


def test_scheduled_deliveries_give_the_tables_of_plain_runs(tmp_path: Path) -> None:
    scheduled, plain = _copy(tmp_path / "scheduled"), _copy(tmp_path / "plain")
    lines: list[str] = []
    for day in DELIVERIES:  # files land; the next tick senses and runs them
        generate.generate(scheduled, through_day=day, n_transactions=N)
        report = Scheduler(assay.Project(scheduled), log=lines.append, streams=False).tick()
        assert report.ran and not report.failed, lines
        assert "bronze.transactions" in [r.dataset for r in report.ran]
        generate.generate(plain, through_day=day, n_transactions=N)
        assert assay.Project(plain).run().ok
    idle = Scheduler(assay.Project(scheduled), log=lines.append, streams=False).tick()
    assert idle.ran == []

    assert _tables(scheduled) == _tables(plain)
    assert "gold.card_daily" in _tables(scheduled)
