"""Legal holds: add, remove, globs, history, concurrency of two adds, and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.catalog import Catalog
from assay.cli.main import app
from assay.errors import UsageError
from assay.governance.audit import AuditLog
from assay.governance.holds import HeldError, Holds
from tests.governance.flights_project import flights_project


@pytest.fixture
def holds(tmp_path: Path) -> Holds:
    return Holds(Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"))


def test_add_active_remove_and_history(holds: Holds) -> None:
    placed = holds.add("silver.flights", "case 2026-114", "dpo")
    assert (placed.pattern, placed.reason, placed.held_by) == (
        "silver.flights",
        "case 2026-114",
        "dpo",
    )
    assert holds.active("silver.flights") == placed
    assert holds.active("bronze.flights") is None
    released = holds.remove("silver.flights", "counsel")
    assert released.released_by == "counsel" and released.released_at is not None
    assert holds.active("silver.flights") is None
    assert holds.all() == []
    assert [h.pattern for h in holds.all(include_released=True)] == ["silver.flights"]


def test_globs_cover_datasets_and_removal_names_the_glob(holds: Holds) -> None:
    holds.add("silver.*", "regulator request 7", "dpo")
    assert holds.active("silver.flights").pattern == "silver.*"  # type: ignore[union-attr]
    assert holds.active("gold.flights") is None
    with pytest.raises(UsageError, match=r"held through silver\.\*"):
        holds.remove("silver.flights", "dpo")
    with pytest.raises(HeldError, match=r"vacuum refused.*regulator request 7"):
        holds.check("silver.flights", "vacuum")
    holds.check("gold.flights", "vacuum")  # not held: no error


def test_a_hold_needs_a_reason_and_a_dataset_name(holds: Holds) -> None:
    with pytest.raises(UsageError, match="needs a reason") as caught:
        holds.add("silver.flights", "   ", "dpo")
    assert caught.value.where == "silver.flights"
    with pytest.raises(UsageError, match="not a dataset name"):
        holds.add("flights", "case 1", "dpo")
    with pytest.raises(UsageError, match="no legal hold"):
        holds.remove("silver.flights", "dpo")


def test_a_second_add_of_the_same_name_is_refused_across_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    first, second = Holds(Catalog(url)), Holds(Catalog(url))  # two processes' views
    first.add("gold.*", "case 1", "ana")
    with pytest.raises(UsageError, match=r"already held .* by ana: case 1"):
        second.add("gold.*", "case 2", "bob")
    assert [h.reason for h in second.all()] == ["case 1"]


def test_cli_add_list_remove_with_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = flights_project(tmp_path / "p")
    monkeypatch.setenv("ASSAY_USER", "dpo@example.org")
    runner = CliRunner()
    args = ["--project", str(root)]
    missing = runner.invoke(app, ["hold", "add", "silver.flights", *args])
    assert missing.exit_code != 0 and "needs a reason" in missing.output
    added = runner.invoke(app, ["hold", "add", "silver.*", "--reason", "case 9", *args])
    assert added.exit_code == 0, added.output
    assert "silver.flights" in added.output and "dpo@example.org" in added.output
    listed = runner.invoke(app, ["hold", "list", *args])
    assert "silver.*" in listed.output and "case 9" in listed.output
    removed = runner.invoke(app, ["hold", "remove", "silver.*", *args])
    assert removed.exit_code == 0, removed.output
    assert "No legal holds." in runner.invoke(app, ["hold", "list", *args]).output
    import assay

    events = AuditLog(assay.Project(root).catalog).events()
    assert [(e.action, e.dataset, e.principal) for e in events] == [
        ("hold", "silver.*", "dpo@example.org"),
        ("hold_remove", "silver.*", "dpo@example.org"),
    ]
