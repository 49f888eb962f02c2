"""What produces a model's table: one training per run that has new data, one row each.

The planner treats the model like any full or merge transform: it is built when its
code changed or an input has a new version; otherwise `assay run` leaves it alone (no
training, no commit).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from assay.errors import AssayError
from assay.pipelines.producers import Output, Producer, RunContext, function_fingerprint

if TYPE_CHECKING:
    from assay.ml.spec import ModelDeclaration

#: One row per training: what was trained on what, how it scored and what was decided.
ROW_SCHEMA = pa.schema(
    [
        ("trained_at", pa.timestamp("us")),
        ("run_id", pa.string()),
        ("mlflow_run_id", pa.string()),
        ("model", pa.string()),
        ("version", pa.int64()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("champion_version", pa.int64()),
        ("champion_value", pa.float64()),
        ("is_champion", pa.bool_()),
        ("decision", pa.string()),
        ("train_rows", pa.int64()),
        ("eval_rows", pa.int64()),
        ("holdout_start", pa.timestamp("us")),
        ("sources", pa.string()),
    ]
)


@dataclass(frozen=True)
class ModelProducer(Producer):
    """Trains, evaluates and registers a declared model (`@assay.model`)."""

    declaration: ModelDeclaration
    #: Its rows record trainings (versions, metrics), not columns derived from the
    #: inputs: its lineage is by table, and that is complete (no lineage warning).
    table_lineage_only: ClassVar[bool] = True

    def code_fingerprint(self) -> str:
        decl = self.declaration
        # The span, not its spelling: "14d" rewritten as "2w" is the same model.
        params = {**decl.params(), "assay.holdout": str(decl.holdout)}
        return function_fingerprint(decl.train, sorted(params.items()))

    def produce(self, ctx: RunContext) -> Iterator[Output]:
        from assay.features.store import Features
        from assay.integrations.mlflow.models import register, training_run
        from assay.ml.training import evaluate, examples, fit, registration_failed

        decl = self.declaration
        if ctx.runtime is None:
            raise AssayError(
                "a model trains inside a project run (it needs the feature store)",
                where=decl.where,
                hint="run it with `assay run` or Project.run()",
            )
        with training_run(ctx.runtime, decl, ctx.run_id):
            ex = examples(ctx, decl, Features(ctx.runtime))
            estimator = fit(decl, ex)
            value = evaluate(decl, estimator, ex)
            try:
                outcome = register(decl, estimator, ex, value)
            except AssayError:
                raise
            except Exception as exc:  # the user's estimator, met by MLflow
                if _is_mlflow_error(exc):
                    raise
                raise registration_failed(decl, exc) from exc
        row = {
            "trained_at": ctx.ingested_at,
            "run_id": ctx.run_id,
            "mlflow_run_id": outcome.mlflow_run_id,
            "model": decl.name,
            "version": outcome.version,
            "metric": decl.metric.name,
            "value": outcome.value,
            "champion_version": outcome.champion_version,
            "champion_value": outcome.champion_value,
            "is_champion": outcome.is_champion,
            "decision": outcome.decision,
            "train_rows": ex.train_rows,
            "eval_rows": ex.eval_rows,
            "holdout_start": _naive(ex.holdout_start),
            "sources": json.dumps({n: r.version for n, r in sorted(ctx.inputs.items())}),
        }
        yield Output(data=pa.Table.from_pylist([row], schema=ROW_SCHEMA), rows_in=1)


def _is_mlflow_error(exc: Exception) -> bool:
    """Whether MLflow itself failed (its backend), not the estimator it was handed."""
    return type(exc).__module__.startswith("mlflow.exceptions")


def _naive(value: Any) -> Any:
    """A timezone-aware time as naive UTC; a date as its midnight."""
    from datetime import date, datetime

    from assay.intervals import to_naive_utc

    if isinstance(value, datetime):
        return to_naive_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return value
