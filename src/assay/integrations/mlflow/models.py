"""A model's training as an MLflow run: params, the holdout metric, the model with its
signature, a new registered version, and the `champion` alias moved only on a win.

The champion rule: the new version and the current champion (loaded from the registry)
are scored on the same new evaluation slice with the declared metric; the alias moves
when the new version is strictly better (a tie keeps the champion). The first version
becomes champion. A champion that cannot be scored on the new slice (its input columns
changed) is replaced, and the reason says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.integrations.mlflow.flavors import load_estimator, log_estimator
from assay.integrations.mlflow.quiet import quiet_mlflow, without_event_prints
from assay.integrations.mlflow.tracking import require_mlflow, use_tracking

if TYPE_CHECKING:
    from assay.ml.spec import ModelDeclaration
    from assay.ml.training import Examples
    from assay.runtime import Runtime

#: The alias of the version serving traffic.
CHAMPION = "champion"
#: MLflow's limit on a param value's length.
_PARAM_LIMIT = 500


@dataclass(frozen=True)
class Registration:
    """What one training registered and decided.

    Attributes:
        mlflow_run_id: the MLflow run of the training.
        version: the new registered version.
        value: its metric on the evaluation slice.
        champion_version: the champion before this training (None: there was none).
        champion_value: that champion's metric on the same slice (None: not scored).
        is_champion: whether the alias now points at the new version.
        decision: why, in words.
    """

    mlflow_run_id: str
    version: int
    value: float
    champion_version: int | None
    champion_value: float | None
    is_champion: bool
    decision: str


@contextmanager
def training_run(runtime: Runtime, decl: ModelDeclaration, run_id: str) -> Iterator[Any]:
    """An MLflow run in the project's experiment, tagged with assay's run and dataset;
    it ends FAILED if the block raises. The training set built inside logs to it.

    Example: ``with training_run(project.runtime, decl, "r1") as run: ...``
    """
    mlflow = require_mlflow()
    with quiet_mlflow():
        use_tracking(runtime)
        tags = {"assay.run_id": run_id, "assay.dataset": decl.dataset, "assay.model": decl.name}
        with mlflow.start_run(run_name=f"{decl.name}-{run_id}", tags=tags) as run:
            yield run


def register(decl: ModelDeclaration, estimator: Any, ex: Examples, value: float) -> Registration:
    """Log the training (params, metrics, model) to the active run, register a new version
    of `decl.name` and move `champion` to it if it beats the current one.

    Returns:
        The new version and the champion decision.
    """
    require_mlflow()  # the extra's error, and telemetry off, before mlflow is imported
    import mlflow
    from mlflow.models import infer_signature

    mlflow.log_params({**decl.params(), **estimator_params(estimator)})
    incumbent, incumbent_value, failure = _score_champion(decl, ex)
    metrics = {decl.metric.name: value, "train_rows": ex.train_rows, "eval_rows": ex.eval_rows}
    if incumbent_value is not None:
        metrics[f"champion_{decl.metric.name}"] = incumbent_value
    mlflow.log_metrics(metrics)
    signature = infer_signature(_as_floats(ex.x_eval), estimator.predict(ex.x_eval))
    with without_event_prints():
        info = log_estimator(estimator, signature, decl.name)
    version = int(info.registered_model_version)
    wins, decision = _decide(decl, version, value, incumbent, incumbent_value, failure)
    client = mlflow.MlflowClient()
    if wins:
        client.set_registered_model_alias(decl.name, CHAMPION, str(version))
    client.set_model_version_tag(decl.name, str(version), "assay.decision", decision)
    mlflow.set_tag("assay.decision", decision)
    return Registration(
        mlflow_run_id=str(info.run_id),
        version=version,
        value=value,
        champion_version=incumbent,
        champion_value=incumbent_value,
        is_champion=wins,
        decision=decision,
    )


def _as_floats(frame: Any) -> Any:
    """`frame` with integer columns as float64: a feature missing at serving time (an
    expired TTL) is NaN, which an integer column of the signature would refuse."""
    ints = [c for c, kind in frame.dtypes.items() if kind.kind in "iu"]
    return frame.astype(dict.fromkeys(ints, "float64")) if ints else frame


def estimator_params(estimator: Any) -> dict[str, str]:
    """The estimator's class and `get_params()` (not nested), as MLflow params.

    Example:
        >>> from sklearn.linear_model import LogisticRegression
        >>> estimator_params(LogisticRegression(C=0.5))["estimator.C"]
        '0.5'
    """
    found = {"estimator.class": type(estimator).__name__}
    get_params = getattr(estimator, "get_params", None)
    if callable(get_params):
        for key, value in get_params(deep=False).items():
            found[f"estimator.{key}"] = str(value)[:_PARAM_LIMIT]
    return found


def champion_version(name: str) -> int | None:
    """The version the `champion` alias points at (None: no champion yet)."""
    mlflow = require_mlflow()
    try:
        found = mlflow.MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None
    return int(found.version)


def _score_champion(
    decl: ModelDeclaration, ex: Examples
) -> tuple[int | None, float | None, str | None]:
    """The champion's version and its metric on the new evaluation slice, or why it could
    not be scored there."""

    current = champion_version(decl.name)
    if current is None:
        return None, None, None
    try:
        loaded = load_estimator(f"models:/{decl.name}/{current}")
        return current, decl.metric.score(loaded, ex.x_eval, ex.y_eval), None
    except Exception as exc:  # any failure to score the old model: it cannot defend its title
        return current, None, f"{type(exc).__name__}: {str(exc)[:200]}"


def _decide(
    decl: ModelDeclaration,
    version: int,
    value: float,
    incumbent: int | None,
    incumbent_value: float | None,
    failure: str | None,
) -> tuple[bool, str]:
    metric = decl.metric
    mine = f"{metric.name} {value:.4f}"
    if incumbent is None:
        return True, f"v{version} is the first version: champion ({mine})"
    if incumbent_value is None:
        return True, (
            f"v{version} replaces champion v{incumbent}, which could not be scored on the new "
            f"holdout ({failure}); {mine}"
        )
    theirs = f"{incumbent_value:.4f}"
    if metric.better(value, incumbent_value):
        return (
            True,
            f"v{version} beats champion v{incumbent}: {mine} vs {theirs} on the same holdout",
        )
    return False, (
        f"champion v{incumbent} kept: v{version}'s {mine} does not beat {theirs} "
        f"on the same holdout ({metric.direction})"
    )
