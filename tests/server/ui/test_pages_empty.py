"""The runs, quality, features and streams pages of a project that never ran (`assay init`'s
demo, nothing built) and of one with no datasets at all: each says in a sentence what to
do, with no error in the browser and no chart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import assay
from assay.server.auth import hash_key
from tests.server.ui.conftest import KEYS
from tests.server.ui.pages_helpers import serve_project, signed_in

#: Each page and the sentence it shows when there is nothing yet.
EMPTY = {
    "/runs": ("#no-runs", "assay run"),
    "/quality": ("#no-checks", "assay check"),
    "/features": ("#no-features", "FeatureView"),
    "/streams": ("#no-streams", "assay stream NAME"),
}


def _with_key(root: Path) -> Path:
    config = yaml.safe_load((root / "assay.yaml").read_text()) or {}
    config["server"] = {"api_keys": {"admin": hash_key(KEYS["admin"])}}
    (root / "assay.yaml").write_text(yaml.safe_dump(config))
    return root


@pytest.fixture(scope="module", params=["never_ran", "no_datasets"])
def empty_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "never_ran":
        assay.init_project(str(root))
    else:
        (root / "assay.yaml").write_text(yaml.safe_dump({"name": "empty"}))
    yield from serve_project(_with_key(root))


@pytest.mark.parametrize("path", sorted(EMPTY))
def test_an_empty_page_says_what_to_do(browser: Any, empty_url: str, path: str) -> None:
    selector, words = EMPTY[path]
    with signed_in(browser, empty_url) as ui:
        response = ui.goto(path)
        assert response.status == 200
        assert words in ui.page.locator(selector).inner_text()
        assert ui.chart_marks() == []
