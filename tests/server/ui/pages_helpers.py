"""Helpers of the runs, quality, features and streams pages' browser tests: a copy of the
UI tests' project to change (a failed run, a stream fed), built as the project's builder
(roles are on), served on its own port, and a signed-in page that fails on any problem."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import assay
from assay.server.ui.app import create_ui_app
from tests.server.ui.conftest import BUILDER, KEYS, UiPage, _watch, serve, sign_in


@contextlib.contextmanager
def as_builder() -> Iterator[None]:
    """Act as the user the test project is built by (its roles grant it everything)."""
    previous = os.environ.get("ASSAY_USER")
    os.environ["ASSAY_USER"] = BUILDER
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ASSAY_USER", None)
        else:
            os.environ["ASSAY_USER"] = previous


def copy_project(project: assay.Project, target: Path) -> Path:
    """A copy of `project`'s folder (catalog and warehouse included) at `target`."""
    shutil.copytree(project.root, target)
    return target


def serve_project(root: Path) -> Iterator[str]:
    """The UI of the project at `root`, served until the generator closes; its URL."""
    yield from serve(create_ui_app(assay.Project(root)))


@contextlib.contextmanager
def signed_in(browser: Any, url: str, key_name: str = "admin") -> Iterator[UiPage]:
    """A page signed in with the key named; fails on any problem the browser saw."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    ui = _watch(context.new_page(), url)
    sign_in(ui.page, url, KEYS[key_name])
    try:
        yield ui
        problems = ui.problems()
        assert not problems, "the browser saw problems:\n" + "\n".join(problems)
    finally:
        context.close()
