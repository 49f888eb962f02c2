"""A model's examples: the labels query, the point-in-time training set, the split into
training rows and the later evaluation slice, and the call of the user's train function."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.errors import AssayError, DefinitionError

if TYPE_CHECKING:
    from assay.ml.spec import ModelDeclaration
    from assay.pipelines.spec import RunContext


class TrainingError(AssayError):
    """A model could not be trained: its data cannot be split or its train function failed."""


@dataclass
class Examples:
    """The training rows and the evaluation slice, as the model sees them.

    `x_*` hold the model's input columns (pandas DataFrames), `y_*` the labels (Series).
    """

    table: pa.Table
    x_train: Any
    y_train: Any
    x_eval: Any
    y_eval: Any
    #: The first label time of the evaluation slice; every training row is before it.
    holdout_start: datetime
    inputs: list[str]

    @property
    def train_rows(self) -> int:
        return len(self.y_train)

    @property
    def eval_rows(self) -> int:
        return len(self.y_eval)


def examples(ctx: RunContext, decl: ModelDeclaration, features: Any) -> Examples:
    """Run the labels query on the run's pinned inputs, join the features as of each
    label's time (the feature sources read at the versions this run pinned) and split.

    Args:
        ctx: the run context (its inputs are pinned to the versions this run reads).
        decl: the model.
        features: the project's feature store (`assay.features.store.Features`).
    """
    from assay.ml.spec import label_tables

    tables = label_tables(decl.labels, decl.where)
    try:
        labels = ctx.engine.query(decl.labels, {n: ctx.inputs[n] for n in tables})
    except AssayError as exc:
        raise TrainingError(
            f"the labels query failed: {exc.message}", where=decl.where, hint=exc.hint
        ) from exc
    check_labels(labels, decl)
    versions = {n: ref.version for n, ref in ctx.inputs.items() if ref.version is not None}
    table = features.training_set(
        labels,
        decl.features,
        event_timestamp=decl.timestamp,
        versions=versions,
        # What the labels SQL read: the run's dataset input names features and labels.
        label_sources={n: versions[n] for n in tables if n in versions},
    )
    keys = {k for ref in features.resolve(decl.features) for k in _join_keys(features, ref)}
    inputs = [c for c in table.column_names if c not in {decl.label, decl.timestamp, *keys}]
    return split(table, decl, inputs)


def _join_keys(features: Any, ref: str) -> tuple[str, ...]:
    view = features.views.get(ref.split(":", 1)[0])
    return tuple(view.join_keys) if view is not None else ()


def check_labels(labels: pa.Table, decl: ModelDeclaration) -> None:
    """Refuse labels a model cannot learn from: none, missing columns, null labels."""
    missing = [c for c in (decl.label, decl.timestamp) if c not in labels.column_names]
    if missing:
        raise DefinitionError(
            f"the labels query returns no column {', '.join(map(repr, missing))}",
            where=decl.where,
            hint=f"it returns: {', '.join(labels.column_names)}; "
            "declare label= and timestamp= as its columns",
        )
    if labels.num_rows == 0:
        raise TrainingError(
            "the labels query returned no rows: there is nothing to train on",
            where=decl.where,
            hint="check its filters against the data (`assay sql` runs it)",
        )
    for column in (decl.label, decl.timestamp):
        nulls = labels[column].null_count
        if nulls:
            raise TrainingError(
                f"{nulls:,} of {labels.num_rows:,} label rows have a null {column!r}",
                where=decl.where,
                hint="filter them out in the labels query (WHERE ... IS NOT NULL)",
            )
    classes = pc.unique(labels[decl.label])
    if decl.metric.classification and len(classes) < 2:
        # No holdout can help: the labels themselves have one value.
        raise TrainingError(
            f"the labels query returns a single class ({classes[0].as_py()!r}) of "
            f"{decl.label!r} in all {labels.num_rows:,} rows: {decl.metric.name} needs two",
            where=decl.where,
            hint=f"check the labels SQL and label={decl.label!r}: it must be the column "
            "holding both outcomes (`assay sql` runs the query)",
        )


def split(table: pa.Table, decl: ModelDeclaration, inputs: list[str]) -> Examples:
    """Training rows strictly before `max(timestamp) - holdout`, evaluation rows from it.

    Example:
        >>> from datetime import datetime as dt, timedelta
        >>> from types import SimpleNamespace
        >>> from assay.ml.metrics import METRICS
        >>> decl = SimpleNamespace(timestamp="t", label="y", holdout=timedelta(days=2),
        ...                        metric=METRICS["mae"], where="m")
        >>> t = pa.table({"t": [dt(2026, 1, d) for d in (1, 2, 3, 4)], "x": [1.0] * 4,
        ...               "y": [1.0, 2.0, 3.0, 4.0]})
        >>> ex = split(t, decl, ["x"])
        >>> ex.train_rows, ex.eval_rows, ex.holdout_start
        (1, 3, datetime.datetime(2026, 1, 2, 0, 0))
    """
    from assay.ml.spec import holdout_text

    times = table[decl.timestamp]
    start = pc.max(times).as_py() - decl.holdout
    bound = pa.scalar(start, times.type)
    train, held = table.filter(pc.less(times, bound)), table.filter(pc.greater_equal(times, bound))
    if train.num_rows == 0:
        raise TrainingError(
            f"every label is within the holdout (from {start}): no rows to train on",
            where=decl.where,
            hint="shorten holdout= or wait for more label history",
        )
    if decl.metric.classification:
        for part, verb, rows, remedy in (
            ("training rows", "hold", train, "shorten holdout= to train on more of the history"),
            ("evaluation slice", "holds", held, "lengthen holdout= to evaluate on more labels"),
        ):
            classes = pc.unique(rows[decl.label])
            if len(classes) < 2:
                raise TrainingError(
                    f"the {part} {verb} a single class ({classes[0].as_py()!r}) of "
                    f"{decl.label!r} (the labels have both; the holdout starts {start}): "
                    f"{decl.metric.name} needs two",
                    where=decl.where,
                    hint=f"{remedy} (holdout={holdout_text(decl.holdout)})",
                )
    frame_train, frame_eval = train.to_pandas(), held.to_pandas()
    return Examples(
        table=table,
        x_train=frame_train[inputs],
        y_train=frame_train[decl.label],
        x_eval=frame_eval[inputs],
        y_eval=frame_eval[decl.label],
        holdout_start=start,
        inputs=inputs,
    )


def fit(decl: ModelDeclaration, ex: Examples) -> Any:
    """Call the user's `train(X, y)`; what it raises becomes a TrainingError naming the
    model and the line of the train function that failed."""
    try:
        estimator = decl.train(ex.x_train, ex.y_train)
    except Exception as exc:  # user code: say where it failed
        raise TrainingError(
            f"train function failed: {type(exc).__name__}: {exc}",
            where=f"model {decl.name} ({_failing_line(decl.train, exc)})",
            hint="fix the train function; it takes (X, y) and returns a fitted estimator",
        ) from exc
    if not hasattr(estimator, "predict"):
        raise TrainingError(
            f"train function returned a {type(estimator).__name__}, not a fitted estimator",
            where=decl.where,
            hint="return the fitted scikit-learn style estimator (with predict)",
        )
    return estimator


#: What a model's estimator is given to predict on (the hint of a failing evaluation).
_PREDICTS_ON = (
    "the estimator must predict on the X it was given: all columns but the label, "
    "timestamp and keys"
)


def evaluate(decl: ModelDeclaration, estimator: Any, ex: Examples) -> float:
    """The declared metric of the fitted `estimator` on the evaluation slice; what the
    user's estimator raises becomes a TrainingError naming the model and its train
    function (e.g. an estimator fitted on fewer columns than it was given).

    Example: ``evaluate(decl, fit(decl, ex), ex)`` -> 0.93
    """
    try:
        return decl.metric.score(estimator, ex.x_eval, ex.y_eval)
    except Exception as exc:  # user code: say which model and what it must do
        raise TrainingError(
            f"evaluating the estimator on the evaluation slice ({ex.eval_rows:,} rows, "
            f"columns {', '.join(ex.inputs)}) failed: {type(exc).__name__}: {exc}",
            where=f"model {decl.name} ({_failing_line(decl.train, exc)})",
            hint=f"{_PREDICTS_ON}; {decl.metric.name} calls "
            + ("predict_proba" if decl.metric.scores.startswith("proba") else "predict"),
        ) from exc


def registration_failed(decl: ModelDeclaration, exc: Exception) -> TrainingError:
    """The error of a fitted estimator MLflow could not log or register (it cannot be
    pickled, or its predict fails on the signature's sample)."""
    return TrainingError(
        f"logging the estimator to MLflow failed: {type(exc).__name__}: {str(exc)[:500]}",
        where=f"model {decl.name} ({_failing_line(decl.train, exc)})",
        hint=f"{_PREDICTS_ON}, and be picklable (no open files, connections or lambdas)",
    )


def _failing_line(func: Any, exc: BaseException) -> str:
    """`file:line` of the deepest frame in the train function's file, else its `def`."""
    code = func.__code__
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == code.co_filename]
    line = frames[-1].lineno if frames else code.co_firstlineno
    return f"{code.co_filename}:{line}"
