"""assay: a data platform for AI-ready data.

Declare datasets in a project folder and let assay refine them through bronze, silver and
gold Delta tables, idempotently and incrementally.

Example:
    >>> import assay
    >>> spec = assay.files("bronze.events", path="data/*.jsonl", format="jsonl")
    >>> spec.layer
    'bronze'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.errors import AssayError
    from assay.features.spec import Entity, FeatureService, FeatureView
    from assay.ml.declare import model
    from assay.pipelines.declare import files, source, sql_table, transform
    from assay.project import Project
    from assay.scaffold import init_project
    from assay.streaming.sources import folder_stream, kafka
    from assay.streaming.spec import hopping, sliding, tumbling, window

__all__ = [
    "Aggregation",
    "AssayError",
    "Entity",
    "FeatureService",
    "FeatureView",
    "Project",
    "files",
    "folder_stream",
    "hopping",
    "init_project",
    "kafka",
    "model",
    "sliding",
    "source",
    "sql_table",
    "transform",
    "tumbling",
    "window",
]
__version__ = "0.1.0"

# Public names resolve on first use, so `assay --help` does not pay for pyarrow and deltalake.
_LAZY = {
    "Aggregation": "assay.features.spec",
    "AssayError": "assay.errors",
    "Entity": "assay.features.spec",
    "FeatureService": "assay.features.spec",
    "FeatureView": "assay.features.spec",
    "Project": "assay.project",
    "files": "assay.pipelines.declare",
    "source": "assay.pipelines.declare",
    "sql_table": "assay.pipelines.declare",
    "transform": "assay.pipelines.declare",
    "model": "assay.ml.declare",
    "init_project": "assay.scaffold",
    "kafka": "assay.streaming.sources",
    "folder_stream": "assay.streaming.sources",
    "window": "assay.streaming.spec",
    "tumbling": "assay.streaming.spec",
    "hopping": "assay.streaming.spec",
    "sliding": "assay.streaming.spec",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'assay' has no attribute {name!r}")
