"""Governance actions under `allow:` (issue 17, finding 5): require_action's answers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from assay.config import ProjectConfig, RoleSettings
from assay.errors import AccessDeniedError, UsageError
from assay.governance.permissions import ACTIONS, require_action, role_of


def _runtime(roles: dict[str, dict[str, object]] | None) -> SimpleNamespace:
    return SimpleNamespace(config=ProjectConfig(name="p", roles=roles or {}))


ROLES: dict[str, dict[str, object]] = {
    "dpo": {"principals": ["dana"], "allow": ["forget", "audit", "hold"]},
    "admin": {"principals": ["root"], "allow": ["*"]},
    "analyst": {"principals": ["ann"], "grants": ["gold.*"]},
}


def test_the_actions_are_the_governance_issues_eight_and_optimize() -> None:
    # Issue 17's eight, and optimize (issue 19: its vacuum deletes files).
    assert set(ACTIONS) == {
        "audit",
        "hold",
        "retention",
        "forget",
        "keys",
        "pii_scan",
        "check",
        "report",
        "optimize",
    }


def test_without_roles_every_action_is_allowed_and_no_role_is_named() -> None:
    for action in ACTIONS:
        assert require_action(_runtime(None), action, principal="anyone") is None


def test_allowed_actions_return_the_role_and_star_allows_all() -> None:
    runtime = _runtime(ROLES)
    assert require_action(runtime, "forget", principal="dana") == "dpo"
    assert all(require_action(runtime, a, principal="root") == "admin" for a in ACTIONS)


def test_an_action_not_allowed_names_principal_role_action_and_hint() -> None:
    with pytest.raises(AccessDeniedError) as caught:
        require_action(_runtime(ROLES), "keys", principal="dana")
    text = str(caught.value)
    assert "'dana'" in text and "'dpo'" in text and "keys" in text
    assert caught.value.hint == "add 'keys' to roles.dpo.allow in assay.yaml"
    assert caught.value.exit_code == 3
    with pytest.raises(AccessDeniedError, match=r"'ann' \(role 'analyst'\) may not check"):
        require_action(_runtime(ROLES), "check", principal="ann")


def test_a_principal_in_no_role_may_take_no_action(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_USER", "mallory")
    for action in ACTIONS:
        with pytest.raises(AccessDeniedError, match=r"'mallory' holds no role") as caught:
            require_action(_runtime(ROLES), action)
        assert action in str(caught.value) and "admin, analyst, dpo" in str(caught.value)
    assert role_of(_runtime(ROLES).config) is None


def test_unknown_actions_and_allow_values_are_refused() -> None:
    with pytest.raises(UsageError, match="unknown governance action 'forgett'"):
        require_action(_runtime(None), "forgett")
    with pytest.raises(ValidationError, match="allow"):
        RoleSettings(principals=["x"], allow=["delete_everything"])  # type: ignore[list-item]
