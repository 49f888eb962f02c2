"""Roles are checked when the project loads, before any read: a principal in two roles,
or a row filter that does not parse, fails there, naming what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

import assay
from assay.errors import ProjectError
from tests.helpers import write_project


def test_a_principal_in_two_roles_fails_when_the_project_loads(tmp_path: Path) -> None:
    roles = {
        "analyst": {"principals": ["ann"], "grants": ["gold.*"]},
        "auditor": {"principals": ["ann"], "grants": ["*"]},
    }
    root = write_project(tmp_path / "p", {}, {"roles": roles})
    with pytest.raises(ProjectError, match=r"'ann' is in two roles: 'analyst' and 'auditor'"):
        assay.Project(root)


def test_a_row_filter_that_does_not_parse_fails_when_the_project_loads(tmp_path: Path) -> None:
    roles = {"fr": {"principals": ["ann"], "grants": ["*"], "row_filters": {"*": "country = ("}}}
    root = write_project(tmp_path / "p", {}, {"roles": roles})
    with pytest.raises(ProjectError, match=r"roles\.fr\.row_filters"):
        assay.Project(root)
