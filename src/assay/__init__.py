"""assay: a data platform for AI-ready data.

Declare datasets in a project folder and let assay refine them through bronze, silver and
gold Delta tables, idempotently and incrementally.

Example:
    >>> import assay
    >>> spec = assay.files("bronze.events", path="data/*.jsonl", format="jsonl")
    >>> spec.layer
    'bronze'
"""

from assay.errors import AssayError
from assay.pipelines.declare import files, source, sql_table, transform
from assay.project import Project
from assay.scaffold import init_project

__all__ = ["AssayError", "Project", "files", "init_project", "source", "sql_table", "transform"]
__version__ = "0.1.0"
