"""The quality page's read model against the catalog's check results (pandas) and the
quarantine Delta tables (deltalake), on the fraud example."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

import assay
from assay.catalog_views.quality_view import quality_view


def _stored(project: assay.Project, table: str) -> pd.DataFrame:
    layer, name = table.split(".")
    return DeltaTable(str(Path(project.root) / "warehouse" / layer / name)).to_pandas()


def test_rule_outcomes_are_the_stored_check_results(fraud: assay.Project) -> None:
    view = quality_view(fraud.runtime)
    stored = pd.read_sql(
        "SELECT dataset, rule, run_id, status FROM assay_check_results ORDER BY id",
        fraud.catalog.engine,
    )
    assert len(view.outcomes) == len(stored) > 0
    assert [(o.dataset, o.rule, o.run_id, o.status) for o in view.outcomes] == list(
        stored.itertuples(index=False, name=None)
    )
    # Latest results: each dataset's newest checking run, every rule of it.
    for dataset, results in view.latest.items():
        mine = stored[stored["dataset"] == dataset]
        newest = mine["run_id"].iloc[-1]
        assert [r.rule for r in results] == mine[mine["run_id"] == newest]["rule"].tolist()


def test_quarantine_by_rule_and_day_matches_the_tables(fraud: assay.Project) -> None:
    view = quality_view(fraud.runtime)
    seen = {(q.dataset, q.rule, q.day): q.rows for q in view.quarantined}
    expected: dict[tuple[str, str, object], int] = {}
    for table in ("quarantine.bronze_transactions", "quarantine.silver_customers"):
        rows = _stored(fraud, table)
        dataset = table.split(".")[1].replace("_", ".", 1)
        days = pd.to_datetime(rows["quarantined_at"]).dt.date
        for (rule, day), n in rows.groupby([rows["rule"], days]).size().items():
            expected[(dataset, rule, day)] = int(n)
    assert {
        k: v for k, v in seen.items() if k[0] in ("bronze.transactions", "silver.customers")
    } == (expected)
    assert sum(expected.values()) > 100  # 3 broken lines a day file, bad emails
    newest = sorted(
        (
            r
            for t in ("quarantine.bronze_transactions", "quarantine.silver_customers")
            for r in _stored(fraud, t)["quarantined_at"]
        ),
        reverse=True,
    )[:20]
    assert [r["quarantined_at"] for r in view.sample] == [
        pd.Timestamp(t).to_pydatetime() for t in newest
    ]
    assert all(r["raw_record"] is not None for r in view.sample)
    assert view.denied == view.withheld == []


def test_a_masked_reader_sees_counts_but_not_raw_records(
    fraud: assay.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = yaml.safe_load((Path(fraud.root) / "assay.yaml").read_text())
    config["roles"] = {
        "analyst": {
            "principals": ["ann"],
            "grants": ["silver.customers", "quarantine.*"],
            "masks": {"*.email": "hash"},
        }
    }
    (Path(fraud.root) / "assay.yaml").write_text(yaml.safe_dump(config))
    try:
        monkeypatch.setenv("ASSAY_USER", "ann")
        view = quality_view(assay.Project(fraud.root).runtime)
    finally:
        del config["roles"]
        (Path(fraud.root) / "assay.yaml").write_text(yaml.safe_dump(config))
    # No grant on bronze.transactions: its quarantine is not shown at all.
    assert "quarantine.bronze_transactions" in view.denied
    assert view.withheld == ["quarantine.silver_customers"]
    stored = _stored(fraud, "quarantine.silver_customers")
    assert sum(q.rows for q in view.quarantined) == len(stored) > 0
    assert view.sample and all("raw_record" not in r for r in view.sample)


def test_an_empty_project_has_nothing_to_show(tmp_path: Path) -> None:
    root = assay.init_project(str(tmp_path))
    view = quality_view(assay.Project(root).runtime)
    assert (view.outcomes, view.quarantined, view.sample) == ([], [], [])
