"""The runtime: what every workflow (runs, streams, features) needs from a project.

`Project` loads assay.yaml and the definitions and builds one `Runtime`; the workflows
below it (pipelines, streaming, features) take this object and never import `Project`.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> runtime = assay.Project(root).runtime
    >>> "gold.daily_totals" in runtime.dag.order()
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from assay.catalog import Catalog
from assay.config import ProjectConfig
from assay.contracts import Contract
from assay.engines import Engine
from assay.pipelines.dag import Dag
from assay.tables import Warehouse


@dataclass
class Runtime:
    """Everything a run needs from the project."""

    root: str
    config: ProjectConfig
    dag: Dag
    warehouse: Warehouse
    engine: Engine
    catalog: Catalog
    #: Contracts by the dataset they bind to.
    contracts: Mapping[str, Sequence[Contract]] = field(default_factory=dict)
    #: The embedded DuckDB engine (the same object as `engine` when that is DuckDB). Work on
    #: data already in this process runs here: sources read files and databases with
    #: DuckDB's readers, and commits check their Arrow batch in-process rather than ship it
    #: back to a cluster.
    local_engine: Engine | None = None

    @property
    def local(self) -> Engine:
        return self.local_engine or self.engine
