"""A model's table records its trainings, not columns derived from its inputs: its
lineage is by table (labels and feature sources -> models.<name>), with no warning on
every command, while a plain Python transform without lineage= still warns."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import assay
from assay.lineage import build_lineage
from tests.helpers import write_project
from tests.ml.test_model_penguins import FEATURES, MODELS, SOURCE

TRANSFORM = """
import assay

@assay.transform("silver.heavy", inputs=["bronze.penguins"])
def heavy(ctx):
    return ctx.read("bronze.penguins")
"""


def test_a_model_has_table_lineage_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = write_project(
        tmp_path,
        {
            "pipelines/penguins.py": SOURCE,
            "pipelines/heavy.py": TRANSFORM,
            "features/penguins.py": FEATURES,
            "models/penguins.py": MODELS,
        },
    )
    with caplog.at_level(logging.WARNING):
        graph = build_lineage(assay.Project(root).runtime)
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("lineage:")]
    assert not [w for w in warned if "models." in w], warned
    assert not [d for d, _ in graph.unresolved if d.startswith("models.")]
    # The transform beside it still warns: the check is of models, not of all Python.
    assert any("silver.heavy" in w and "lineage by table only" in w for w in warned), warned
    into_model = {
        (e.source.name, e.target.name) for e in graph.edges if e.target.name.startswith("models.")
    }
    assert ("bronze.penguins", "models.penguin_sex") in into_model
    assert ("bronze.penguins", "models.penguin_mass") in into_model
