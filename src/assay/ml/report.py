"""What the project's models are and what their trainings decided, read from their tables
(`assay models list|show`): no MLflow needed to look."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.errors import UsageError
from assay.ml.producer import ModelProducer

if TYPE_CHECKING:
    from assay.runtime import Runtime


@dataclass(frozen=True)
class ModelSummary:
    """One model: its declaration and the latest state of its trainings.

    Attributes:
        name: the registered model.
        dataset: its table (`models.<name>`).
        metric: the declared metric and its direction.
        trainings: rows in its table (0: never trained).
        champion: the version the `champion` alias points at, per the table.
        champion_value: that version's metric on its own holdout.
        latest: the newest version and its value, when it was trained and the decision.
    """

    name: str
    dataset: str
    metric: str
    trainings: int
    champion: int | None
    champion_value: float | None
    latest: dict[str, Any] | None
    inputs: tuple[str, ...]
    origin: str


def models(runtime: Runtime) -> list[ModelSummary]:
    """Every model of the project (`@assay.model`), with its trainings so far."""
    return [_summary(runtime, name) for name in _model_names(runtime)]


def trainings(runtime: Runtime, name: str) -> list[dict[str, Any]]:
    """The rows of a model's table, oldest version first (`name`: `fraud_model` or
    `models.fraud_model`)."""
    dataset = _dataset(runtime, name)
    if not runtime.warehouse.exists(dataset):
        return []
    rows = runtime.reader.table(dataset).to_pylist()
    return sorted(rows, key=lambda r: r["version"])


@dataclass(frozen=True)
class CurrentChampion:
    """The version serving as champion now, and where that was read.

    Attributes:
        version: the version (None: no champion yet).
        source: "registry" (MLflow's `champion` alias) or "table" (the last version that
            became champion, when the registry cannot be read).
        note: why the registry was not read, if it was not.
    """

    version: int | None
    source: str
    note: str = ""


def current_champion(runtime: Runtime, name: str) -> CurrentChampion:
    """The version MLflow's `champion` alias points at now; without the `mlflow` extra
    or a reachable registry, the last version that became champion per the table.

    Example: ``current_champion(project.runtime, "fraud_model").version`` -> 2
    """
    from assay.errors import AssayError

    dataset = _dataset(runtime, name)
    try:
        from assay.integrations.mlflow.models import CHAMPION
        from assay.integrations.mlflow.rebuild import client_for

        client = client_for(runtime)
        import mlflow

        registered = dataset.removeprefix("models.")
        try:
            found = client.get_model_version_by_alias(registered, CHAMPION)
        except mlflow.exceptions.MlflowException:
            return CurrentChampion(None, "registry")
        return CurrentChampion(int(found.version), "registry")
    except AssayError as exc:  # no extra, or no server: the table still knows
        winners = [r["version"] for r in trainings(runtime, dataset) if r["is_champion"]]
        return CurrentChampion(winners[-1] if winners else None, "table", exc.message)


def _model_names(runtime: Runtime) -> list[str]:
    return [n for n, s in runtime.dag.items().items() if isinstance(s.producer, ModelProducer)]


def _dataset(runtime: Runtime, name: str) -> str:
    names = _model_names(runtime)
    for candidate in (name, f"models.{name}"):
        if candidate in names:
            return candidate
    raise UsageError(
        f"no model {name!r} in this project",
        hint=f"models: {', '.join(names) or 'none (declare one in models/*.py)'}",
    )


def _summary(runtime: Runtime, dataset: str) -> ModelSummary:
    spec = runtime.dag[dataset]
    assert isinstance(spec.producer, ModelProducer)
    decl = spec.producer.declaration
    rows = trainings(runtime, dataset)
    winners = [r for r in rows if r["is_champion"]]
    last = rows[-1] if rows else None
    return ModelSummary(
        name=decl.name,
        dataset=dataset,
        metric=f"{decl.metric.name} ({decl.metric.direction})",
        trainings=len(rows),
        champion=winners[-1]["version"] if winners else None,
        champion_value=winners[-1]["value"] if winners else None,
        latest=None
        if last is None
        else {
            "version": last["version"],
            "value": last["value"],
            "trained_at": last["trained_at"],
            "decision": last["decision"],
        },
        inputs=spec.inputs,
        origin=spec.origin,
    )
