"""The immutable declaration of a model (what `@assay.model` records) and the parsing of
its arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from assay.errors import DefinitionError
from assay.ml.metrics import Metric

#: The layer model tables live in.
MODELS_LAYER = "models"
#: The key of a model table's rows: one row per MLflow run (one training).
ROW_KEY = "mlflow_run_id"


@dataclass(frozen=True)
class ModelDeclaration:
    """What a user declared with `@assay.model`: how to make the model's training data,
    how to fit it and how to judge it.

    Attributes:
        name: the registered model's name in MLflow (`fraud_model`).
        labels: SQL over project tables (`layer.name`) returning the entity keys, the
            timestamp and the label of each example (plus request-time columns, if any).
        features: a feature service name or `view:feature` references.
        label: the label column.
        timestamp: the labels' time column; features are joined as of it (point in time).
        metric: the metric the champion is chosen by.
        holdout: the last stretch of label time, held out for evaluation.
        train: `train(X, y) -> fitted estimator` (scikit-learn style).
        origin: `file:line` of the declaration.
    """

    name: str
    labels: str
    features: str | tuple[str, ...]
    label: str
    timestamp: str
    metric: Metric
    holdout: timedelta
    train: Callable[..., Any]
    origin: str
    #: The holdout as declared ("14d"), shown in MLflow params; empty: from `holdout`.
    holdout_declared: str = ""

    @property
    def dataset(self) -> str:
        return f"{MODELS_LAYER}.{self.name}"

    @property
    def where(self) -> str:
        return f"model {self.name} ({self.origin})"

    def params(self) -> dict[str, str]:
        """The declaration as MLflow params (strings, each under MLflow's length limit)."""
        features = self.features if isinstance(self.features, str) else ",".join(self.features)
        return {
            "assay.labels": " ".join(self.labels.split())[:6000],
            "assay.features": features[:6000],
            "assay.label": self.label,
            "assay.timestamp": self.timestamp,
            "assay.metric": self.metric.name,
            "assay.holdout": self.holdout_declared or holdout_text(self.holdout),
        }


def holdout_text(span: timedelta) -> str:
    """A span in the unit a user writes it in: whole weeks are left as days.

    Example:
        >>> holdout_text(timedelta(days=14)), holdout_text(timedelta(hours=36))
        ('14d', '36h')
    """
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_holdout(text: str | timedelta, where: str) -> timedelta:
    """`"14d"`, `"12h"`, `"2w"` -> timedelta (a positive span of label time).

    Example:
        >>> parse_holdout("14d", "m")
        datetime.timedelta(days=14)
    """
    from assay.features.spec import parse_ttl

    try:
        span = parse_ttl(text)
    except DefinitionError as exc:
        raise DefinitionError(f"invalid holdout {text!r}", where=where, hint=exc.hint) from None
    if span is None or span <= timedelta(0):
        raise DefinitionError(
            f"holdout must be a positive span, not {text!r}", where=where, hint='e.g. "14d"'
        )
    return span


def label_tables(sql: str, where: str) -> tuple[str, ...]:
    """The project tables (`layer.name`) a labels query reads, sorted.

    Example:
        >>> label_tables("WITH x AS (SELECT * FROM silver.t) SELECT * FROM x "
        ...              "JOIN silver.c USING (id)", "m")
        ('silver.c', 'silver.t')
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(sql, dialect="duckdb")
    except SqlglotError as exc:
        raise DefinitionError(f"the labels query does not parse: {exc}", where=where) from None
    found = [f"{t.db}.{t.name}" for t in tree.find_all(exp.Table) if t.db]
    if not found:
        raise DefinitionError(
            "the labels query reads no project table",
            where=where,
            hint="name tables as layer.name, e.g. FROM silver.transactions",
        )
    return tuple(sorted(set(found)))
