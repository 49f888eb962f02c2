"""`@assay.model`: a model trained, evaluated and registered as a dataset of the project.

A model is a dataset in the DAG, `models.<name>`: a small table with one row per
training. Its inputs are the tables its training set reads (the labels query's tables and
the feature views' sources), so `assay run`, `assay plan`, the scheduler
(`schedule="on_upstream"`) and Airflow retrain it when they have new data, and leave it
alone when they do not.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from assay.errors import DefinitionError
from assay.ml.metrics import Metric, metric
from assay.ml.spec import MODELS_LAYER, ROW_KEY, ModelDeclaration, label_tables, parse_holdout
from assay.pipelines.automation import Automation
from assay.pipelines.declare import caller_origin, collecting, register
from assay.pipelines.spec import DatasetSpec, Kind

F = TypeVar("F", bound=Callable[..., Any])


def feature_sources(root: Path, features: str | Sequence[str], where: str) -> tuple[str, ...]:
    """The source tables of the feature views `features` names (a service or references),
    found in the project's features/ folder.

    The folder is read again in a collection of its own: a model file loads in its own
    collection, which does not see the feature views declared by other files.
    """
    definitions = _feature_definitions(root)
    views = {d.name: d for d in definitions if type(d).__name__ == "FeatureView"}
    services = {d.name: d for d in definitions if type(d).__name__ == "FeatureService"}
    if isinstance(features, str):
        if features not in services:
            raise DefinitionError(
                f"unknown feature service {features!r}",
                where=where,
                hint=f"services in features/: {', '.join(sorted(services)) or 'none'}",
            )
        features = tuple(services[features].features)
    sources = []
    for ref in features:
        view = ref.split(":", 1)[0]
        if view not in views:
            raise DefinitionError(
                f"unknown feature view {view!r} (in {ref!r})",
                where=where,
                hint=f"views in features/: {', '.join(sorted(views)) or 'none'}",
            )
        sources.append(views[view].source)
    return tuple(dict.fromkeys(sources))


def _feature_definitions(root: Path) -> list[Any]:
    found: list[Any] = []
    folder = root / "features"
    for path in sorted(folder.rglob("*.py")) if folder.is_dir() else ():
        name = f"assay_model_features_{abs(hash(str(path)))}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            continue
        with collecting() as declared:
            module_spec.loader.exec_module(importlib.util.module_from_spec(module_spec))
        found.extend(declared)
    return found


def model(
    name: str,
    *,
    labels: str,
    features: str | Sequence[str],
    label: str,
    timestamp: str = "event_timestamp",
    metric: str = "roc_auc",
    holdout: str | timedelta = "14d",
    inputs: Sequence[str] | None = None,
    schedule: str | None = None,
    sla: str | None = None,
    max_duration: str | float | None = None,
    owner: str | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
) -> Callable[[F], F]:
    """Declare a model trained by `train(X, y)` whenever its training data has new rows.

    The labels query gives the examples; the feature store joins their features as of
    each example's `timestamp` (point in time). The last `holdout` of label time is the
    evaluation slice: the model is fitted on rows strictly before its start, so no
    evaluation row is seen in training (no leakage). `X` is a pandas DataFrame of every
    column but the label, the timestamp and the feature views' join keys (the labels
    query may add request-time columns such as the amount); `y` the label.

    Each training is an MLflow run (params, the metric on the holdout, the model with its
    signature), registers a new version of the registered model `name`, and moves the
    alias `champion` to it only when it beats the current champion on `metric`, scored on
    the same new holdout (the first version becomes champion). Its row in `models.<name>`
    says which version won and why.

    Args:
        name: the registered model (and the dataset `models.<name>`).
        labels: SQL over project tables (`layer.name`): keys, timestamp, label.
        features: a feature service name or `view:feature` references.
        label: the label column of the labels query.
        timestamp: the labels' time column.
        metric: one of `assay.ml.metrics.METRICS` (roc_auc, average_precision, log_loss,
            accuracy, f1, rmse, mae, r2).
        holdout: the span of label time evaluated on ("14d").
        inputs: tables to add to those found (the labels query's, the features').
        schedule, sla, max_duration: as for datasets; "on_upstream" retrains when an input
            has new data.

    Example:
        >>> import assay, tempfile
        >>> @assay.model("churn", labels="SELECT * FROM gold.users", features=["u:age"],
        ...              label="churned", inputs=["gold.u"], metric="f1")
        ... def churn(X, y):
        ...     from sklearn.linear_model import LogisticRegression
        ...     return LogisticRegression().fit(X, y)
        >>> churn.dataset.name, churn.dataset.inputs
        ('models.churn', ('gold.users', 'gold.u'))
    """
    origin = caller_origin()
    where = f"model {name} ({origin})"
    chosen = _metric(metric, where)
    span = parse_holdout(holdout, where)
    automation = Automation.declare(
        f"{MODELS_LAYER}.{name} ({origin})", schedule=schedule, sla=sla, max_duration=max_duration
    )
    refs = features if isinstance(features, str) else tuple(features)
    tables = label_tables(labels, where)
    tables += _discovered_sources(origin, refs, where, explicit=inputs)
    tables += tuple(inputs or ())

    def decorate(func: F) -> F:
        from assay.ml.producer import ModelProducer

        declaration = ModelDeclaration(
            name,
            labels,
            refs,
            label,
            timestamp,
            chosen,
            span,
            func,
            origin,
            holdout_declared=holdout if isinstance(holdout, str) else "",
        )
        spec = DatasetSpec(
            name=declaration.dataset,
            kind=Kind.MERGE,
            producer=ModelProducer(declaration),
            inputs=tuple(dict.fromkeys(tables)),
            keys=(ROW_KEY,),
            owner=owner,
            tags=dict(tags or {}),
            description=description or inspect.getdoc(func),
            origin=origin,
            automation=automation,
        )
        func.dataset = register(spec)  # type: ignore[attr-defined]
        func.model = declaration  # type: ignore[attr-defined]
        return func

    return decorate


def _metric(name: str, where: str) -> Metric:
    return metric(name, where)


def _discovered_sources(
    origin: str, features: str | tuple[str, ...], where: str, explicit: Sequence[str] | None
) -> tuple[str, ...]:
    """The feature sources found in the project of the declaring file (models/x.py:
    the project is models/'s parent); none when it has no features/ folder and the
    tables were named with `inputs=`."""
    declared_in = Path(origin.rsplit(":", 1)[0]).resolve()
    folders = [p for p in declared_in.parents if p.name == "models"]  # models/ may nest
    root = folders[0].parent if folders else None
    if root is None or not (root / "features").is_dir():
        if explicit is not None:
            return ()
        raise DefinitionError(
            "cannot find the project's features/ folder to learn the feature views' sources",
            where=where,
            hint="declare the model in models/ of the project, or list the sources in inputs=",
        )
    return feature_sources(root, features, where)
