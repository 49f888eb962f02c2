"""What `assay dbt models|tests` shows: the datasets a dbt project made and its tests with
their newest outcome in the check results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from assay.errors import UsageError

if TYPE_CHECKING:
    from assay.runtime import Runtime

#: The prefix of a dbt test's rule name in contracts and check results.
PREFIX = "dbt:"


@dataclass(frozen=True)
class ModelRow:
    """One dbt model as a dataset."""

    dataset: str
    kind: str
    time_column: str | None
    inputs: tuple[str, ...]
    tests: int
    origin: str


@dataclass(frozen=True)
class TestRow:
    """One dbt test: the dataset it runs with and its newest outcome (None: not run yet)."""

    test: str
    dataset: str
    severity: str
    status: str | None
    failing_rows: float | None


def dbt_models(rt: Runtime) -> list[ModelRow]:
    """The datasets made from the dbt project's models, in build order.

    Raises:
        UsageError: assay.yaml has no `dbt:` section.
    """
    folder = _folder(rt)
    rows = []
    for name in rt.dag.order():
        spec = rt.dag[name]
        if not spec.origin.startswith(folder + "/"):
            continue
        tests = len(_dbt_rules(rt, name))
        rows.append(
            ModelRow(name, spec.kind.value, spec.time_column, spec.inputs, tests, spec.origin)
        )
    return rows


def dbt_tests(rt: Runtime) -> list[TestRow]:
    """Every dbt test, by dataset in build order, with its newest stored result."""
    from assay.catalog.quality import last_results

    _folder(rt)
    rows = []
    for name in rt.dag.order():
        rules = _dbt_rules(rt, name)
        if not rules:
            continue
        stored = {r.rule: r for r in last_results(rt.catalog, name)}
        for rule, severity in rules:
            result = stored.get(rule)
            rows.append(
                TestRow(
                    rule.removeprefix(PREFIX),
                    name,
                    severity,
                    result.status if result else None,
                    result.observed if result else None,
                )
            )
    return rows


def _dbt_rules(rt: Runtime, dataset: str) -> list[tuple[str, str]]:
    return [
        (rule.name, rule.severity.value)
        for contract in rt.contracts.get(dataset, [])
        for rule in contract.batch_rules
        if rule.name.startswith(PREFIX)
    ]


def _folder(rt: Runtime) -> str:
    settings = rt.config.dbt
    if settings is None:
        raise UsageError(
            "this project has no dbt project",
            hint="add dbt: {project_dir: <folder with dbt_project.yml>} to assay.yaml",
        )
    return settings.project_dir.rstrip("/")
