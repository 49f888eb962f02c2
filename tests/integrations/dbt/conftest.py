"""A copy of the fraud example with the dbt project of tests/integrations/dbt/project in
its dbt/ folder (`dbt:` in assay.yaml), on a small seeded data set."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fraud"
DBT_PROJECT = Path(__file__).resolve().parent / "project"
#: Days of data in the first run (past the example's schema change on day 45).
FIRST_DAYS = 50
TRANSACTIONS = 6_000

sys.path.insert(0, str(EXAMPLE))

import generate  # noqa: E402


def require_dbt() -> None:
    """Skip when dbt-duckdb is not installed; fail in CI, which installs the `dbt` extra."""
    try:
        import dbt.adapters.duckdb
        import dbt.cli.main  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("dbt-duckdb is not installed: CI installs 'assay[dbt]'")
        pytest.skip("dbt-duckdb is not installed: pip install 'assay[dbt]'")


MakeFraud = Callable[[Path], Path]


def make_fraud_with_dbt(root: Path) -> Path:
    """The fraud example with the dbt project under `root`, data through FIRST_DAYS."""
    require_dbt()
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLE / "pipelines", root / "pipelines")
    shutil.copytree(EXAMPLE / "contracts", root / "contracts")
    shutil.copytree(DBT_PROJECT, root / "dbt")
    config = (EXAMPLE / "assay.yaml").read_text()
    (root / "assay.yaml").write_text(config + "dbt:\n  project_dir: dbt\n")
    generate.generate(root, through_day=FIRST_DAYS, n_transactions=TRANSACTIONS)
    return root


def generate_through(root: Path, day: int) -> None:
    """Deliver the example's files up to `day` (new days only: earlier files stay)."""
    generate.generate(root, through_day=day, n_transactions=TRANSACTIONS)
