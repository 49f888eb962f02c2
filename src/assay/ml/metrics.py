"""The metrics a model may declare, each with its direction, computed by scikit-learn.

A model declares one metric (`metric="roc_auc"`); it is computed on the evaluation slice
for the new model and for the current champion, and the higher (or lower) value wins:

    metric              task            scored on             better
    roc_auc             binary          P(positive class)     higher
    average_precision   binary          P(positive class)     higher
    log_loss            classification  class probabilities   lower
    accuracy            classification  predicted class       higher
    f1                  binary          predicted class       higher
    rmse, mae           regression      prediction            lower
    r2                  regression      prediction            higher
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.errors import DefinitionError


@dataclass(frozen=True)
class Metric:
    """One metric: its name, direction and what of the model's output it scores.

    Example:
        >>> METRICS["rmse"].better(1.0, 2.0), METRICS["roc_auc"].better(0.7, 0.8)
        (True, False)
    """

    name: str
    higher_is_better: bool
    #: "proba": the positive class's probability; "probas": all classes'; "predict".
    scores: str
    #: True for classification metrics (the labels need two classes or more).
    classification: bool

    def better(self, candidate: float, incumbent: float) -> bool:
        """Whether `candidate` strictly beats `incumbent` (a tie keeps the incumbent)."""
        return candidate > incumbent if self.higher_is_better else candidate < incumbent

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def score(self, estimator: Any, features: Any, labels: Any) -> float:
        """The metric of a fitted `estimator` on `features` against true `labels`.

        Example:
            >>> from sklearn.linear_model import LinearRegression
            >>> fitted = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 2.0, 4.0])
            >>> round(METRICS["mae"].score(fitted, [[3.0]], [6.0]), 6)
            0.0
        """
        from sklearn import metrics as skm

        if self.scores == "proba":
            predicted = estimator.predict_proba(features)[:, 1]
        elif self.scores == "probas":
            predicted = estimator.predict_proba(features)
        else:
            predicted = estimator.predict(features)
        if self.name == "log_loss":
            return float(skm.log_loss(labels, predicted, labels=list(estimator.classes_)))
        if self.name == "rmse":
            return float(skm.mean_squared_error(labels, predicted) ** 0.5)
        function = {
            "roc_auc": skm.roc_auc_score,
            "average_precision": skm.average_precision_score,
            "accuracy": skm.accuracy_score,
            "f1": skm.f1_score,
            "mae": skm.mean_absolute_error,
            "r2": skm.r2_score,
        }[self.name]
        return float(function(labels, predicted))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", True, "proba", True),
        Metric("average_precision", True, "proba", True),
        Metric("log_loss", False, "probas", True),
        Metric("accuracy", True, "predict", True),
        Metric("f1", True, "predict", True),
        Metric("rmse", False, "predict", False),
        Metric("mae", False, "predict", False),
        Metric("r2", True, "predict", False),
    )
}


def metric(name: str, where: str | None = None) -> Metric:
    """The metric called `name`, or a DefinitionError listing the ones there are.

    Example:
        >>> metric("roc_auc").direction
        'higher is better'
    """
    if name not in METRICS:
        raise DefinitionError(
            f"unknown metric {name!r}",
            where=where,
            hint="declare one of: " + ", ".join(METRICS),
        )
    return METRICS[name]
