"""dbt inside an assay project (`pip install 'assay[dbt]'`; dbt-core and dbt-duckdb).

With `dbt:` in assay.yaml, `Project` loads the dbt project through `load_dbt`: real
dbt-core compiles it (cached by the project's content), each model becomes a dataset
whose SQL runs on assay's engine, each dbt test a contract rule on the dataset it
tests, and each enforced dbt model contract an assay contract. The core imports this
package only when `dbt:` is set.

An incremental model's changed intervals are found through its inputs' time columns: below
a full (table or view) model, whose every run rewrites all its files, every interval is
recomputed each time that model is rewritten. Staging models incremental on the time column
keep the rebuild to the new intervals. With no time column in any input the model needs
`start` in its `meta.assay` (its intervals run from there through the current one).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from assay.config import DbtSettings
from assay.contracts.model import Contract
from assay.integrations.dbt.checks import dbt_test_contracts
from assay.integrations.dbt.compile import DbtError, manifest_for, require_dbt
from assay.integrations.dbt.constraints import model_contracts
from assay.integrations.dbt.folders import with_folder_meta
from assay.integrations.dbt.models import model_datasets, naming
from assay.pipelines.spec import DatasetSpec


@dataclass(frozen=True)
class DbtDefinitions:
    """What a dbt project adds to an assay project: datasets, and contracts (its tests)
    keyed by the dataset they bind to."""

    datasets: list[DatasetSpec]
    contracts: dict[str, list[Contract]] = field(default_factory=dict)


def load_dbt(root: Path, settings: DbtSettings, state_dir: Path) -> DbtDefinitions:
    """Compile the dbt project of `settings` (relative to `root`) and map it onto assay.

    Example: ``load_dbt(Path("."), DbtSettings(project_dir="dbt"), Path(".assay"))``

    Raises:
        MissingExtraError: dbt-duckdb is not installed (`pip install 'assay[dbt]'`).
        DbtError: dbt cannot compile the project, or a model or test cannot map onto assay.
    """
    project_dir = (root / settings.project_dir).resolve()
    manifest = with_folder_meta(manifest_for(project_dir, state_dir, settings.vars), project_dir)
    names = naming(manifest, settings.layer)
    shown = settings.project_dir
    datasets = model_datasets(manifest, names, shown)
    contracts, after = dbt_test_contracts(manifest, names, datasets, shown)
    datasets = [
        replace(s, inputs=(*s.inputs, *sorted(after[s.name]))) if s.name in after else s
        for s in datasets
    ]
    for dataset, enforced in model_contracts(manifest, names, shown).items():
        contracts.setdefault(dataset, []).extend(enforced)
    return DbtDefinitions(datasets, contracts)


__all__ = ["DbtDefinitions", "DbtError", "load_dbt", "require_dbt"]
