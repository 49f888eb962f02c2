"""The runtime: what every workflow (runs, streams, features) needs from a project.

`Project` loads assay.yaml and the definitions and builds one `Runtime`; the workflows
below it (pipelines, streaming, features) take this object and never import `Project`.
It holds the project's settings and the shared services: the warehouse, the engines, the
catalog, the contracts, the online store, and the one reader every user read goes through.
The catalog, the online store and the reader are made on first use, so opening a project
to read a table creates no catalog database.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> runtime = assay.Project(root).runtime
    >>> "gold.daily_totals" in runtime.dag.order()
    True
    >>> runtime.state_dir.name
    '.assay'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from assay.catalog import Catalog
from assay.config import ProjectConfig
from assay.contracts import Contract
from assay.engines import Engine
from assay.errors import UsageError
from assay.pipelines.dag import Dag
from assay.reader import Reader, ReadOutcome
from assay.tables import Warehouse

if TYPE_CHECKING:
    from assay.features.online import OnlineStore
    from assay.features.spec import FeatureView

#: The project's own state (catalog, online store, locks), under its root.
STATE_DIR = ".assay"


class Runtime:
    """Everything a run, a stream or a feature workflow needs from the project.

    Args:
        root: the project folder.
        config: its assay.yaml.
        dag: its datasets.
        warehouse: its tables.
        engine: the engine transforms and queries run on.
        catalog: the metadata store (None: opened on first use, in `.assay/catalog.db`
            unless assay.yaml names one).
        contracts: contracts by the dataset they bind to.
        local_engine: the embedded DuckDB engine (the same object as `engine` when that
            is DuckDB). Work on data already in this process runs here: sources read files
            and databases with DuckDB's readers, and commits check their Arrow batch
            in-process rather than ship it back to a cluster.
        feature_definitions: the entities, feature views and services from features/.
    """

    def __init__(
        self,
        root: str,
        config: ProjectConfig,
        dag: Dag,
        warehouse: Warehouse,
        engine: Engine,
        catalog: Catalog | None = None,
        contracts: Mapping[str, Sequence[Contract]] | None = None,
        local_engine: Engine | None = None,
        feature_definitions: Sequence[object] = (),
    ):
        self.root = root
        self.config = config
        self.dag = dag
        self.warehouse = warehouse
        self.engine = engine
        self.contracts: Mapping[str, Sequence[Contract]] = contracts or {}
        self.local_engine = local_engine
        self.feature_definitions = tuple(feature_definitions)
        self._catalog = catalog
        self._online: OnlineStore | None = None
        self._reader: Reader | None = None
        #: Made into the reader's observers when it is first used (the project adds the
        #: audit log's, which lives above this module).
        self.read_observers: list[Callable[[Runtime], Callable[[ReadOutcome], None] | None]] = []

    @property
    def local(self) -> Engine:
        """The embedded engine (see `local_engine`)."""
        return self.local_engine or self.engine

    @property
    def state_dir(self) -> Path:
        """`.assay/` under the project: catalog, online store, locks."""
        return Path(self.root) / STATE_DIR

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self.state_dir.mkdir(exist_ok=True)
            url = self.config.catalog or f"sqlite:///{self.state_dir / 'catalog.db'}"
            self._catalog = Catalog(url)
        return self._catalog

    @property
    def feature_views(self) -> dict[str, FeatureView]:
        """The project's feature views by name."""
        from assay.features.spec import FeatureView

        return {d.name: d for d in self.feature_definitions if isinstance(d, FeatureView)}

    @property
    def online_store(self) -> OnlineStore:
        """The configured online store (SQLite in `.assay/online.db` by default)."""
        if self._online is None:
            from assay.features.online import RedisOnlineStore, SQLiteOnlineStore

            settings = self.config.online_store
            if settings.type == "redis":
                if not settings.url:
                    raise UsageError(
                        "online_store type redis needs a url",
                        hint="online_store: {type: redis, url: redis://host:6379/0}",
                    )
                self._online = RedisOnlineStore(settings.url, prefix=self.config.name)
            else:
                path = Path(self.root) / settings.path
                path.parent.mkdir(parents=True, exist_ok=True)
                self._online = SQLiteOnlineStore(str(path))
        return self._online

    @property
    def reader(self) -> Reader:
        """The one path every read a user triggers takes (see assay.reader)."""
        if self._reader is None:
            from assay.governance.access import AccessPolicy

            self._reader = Reader(
                self.warehouse,
                self.engine,
                lambda: self.online_store,
                self.dag.specs,
                policy=AccessPolicy.for_runtime(self),
            )
            for make_observer in self.read_observers:
                observer = make_observer(self)
                if observer is not None:
                    self._reader.observe(observer)
        return self._reader

    def row_count(self, name: str) -> int:
        """Rows in table `name`, from the Delta log's file statistics (no scan); 0 when
        the table does not exist."""
        if not self.warehouse.exists(name):
            return 0
        actions = self.warehouse.file_actions(name)
        return int(pc.sum(actions["num_records"]).as_py() or 0) if actions.num_rows else 0
