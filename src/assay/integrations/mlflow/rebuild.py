"""Read a training set's record back from an MLflow run and check a rebuild against it.

`Features.rebuild_from_mlflow` joins the logged entity rows with the source tables at the
recorded Delta versions (time travel) and hands the result to `verify`, which compares
it with the logged schema, row count and digest, and names what differs.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from assay.errors import AssayError, TableNotFoundError, UsageError
from assay.integrations.mlflow.dataset import SOURCE_TYPE, TrainingSetRecord, arrow_schema
from assay.integrations.mlflow.digest import column_digests, digest_of, table_digest
from assay.integrations.mlflow.tracking import (
    require_mlflow,
    require_reachable,
    resolve_tracking_uri,
)

if TYPE_CHECKING:
    from assay.runtime import Runtime


class RunNotFoundError(UsageError):
    """The MLflow run, or the training set input in it, does not exist."""


class RebuildMismatchError(AssayError):
    """A rebuilt training set differs from the one the run logged."""


@dataclass(frozen=True)
class RebuiltTrainingSet:
    """A training set rebuilt from an MLflow run, checked against what the run logged.

    Attributes:
        table: the training set, equal to the one logged (schema, rows, values).
        record: what the run logged (sources and versions, features, contracts...).
        digest: the content digest both share.
        run_id: the run.
    """

    table: pa.Table
    record: TrainingSetRecord
    digest: str
    run_id: str


@dataclass(frozen=True)
class LoggedTrainingSet:
    """A run's training set record and its entity rows."""

    run_id: str
    record: TrainingSetRecord
    entities: pa.Table


def client_for(runtime: Runtime, tracking_uri: str | None = None) -> Any:
    """An MlflowClient on `tracking_uri`, else on assay.yaml's (process settings untouched)."""
    mlflow = require_mlflow()
    uri = resolve_tracking_uri(tracking_uri or runtime.config.mlflow.tracking_uri, runtime.root)
    require_reachable(uri)
    return mlflow.MlflowClient(tracking_uri=uri)


def records(client: Any, run_id: str) -> list[TrainingSetRecord]:
    """The assay training sets a run logged, in logging order."""
    mlflow = require_mlflow()
    try:
        run = client.get_run(run_id)
    except mlflow.exceptions.MlflowException as exc:
        raise RunNotFoundError(
            f"no MLflow run {run_id!r} at {client.tracking_uri}",
            hint="check the run id (`mlflow runs list`) and --tracking-uri "
            "(default: mlflow.tracking_uri in assay.yaml)",
        ) from exc
    return [
        TrainingSetRecord.from_dict(json.loads(item.dataset.source))
        for item in run.inputs.dataset_inputs
        if item.dataset.source_type == SOURCE_TYPE
    ]


def choose(found: list[TrainingSetRecord], run_id: str, name: str | None) -> TrainingSetRecord:
    """The one training set of the run, or the one called `name`."""
    if name is not None:
        found = [r for r in found if r.name == name]
    names = sorted({r.name for r in found})
    if not found:
        raise RunNotFoundError(
            f"run {run_id} logged no assay training set" + (f" named {name!r}" if name else ""),
            hint="a training set logs when it is built inside `mlflow.start_run()`",
        )
    if len(found) > 1 and len({r.digest for r in found}) > 1:
        raise UsageError(
            f"run {run_id} logged {len(found)} training sets ({', '.join(names)})",
            hint="name one with --name (Python: name=); a set is named by its save_as, else "
            "its feature service, else 'training_set'",
        )
    return found[0]


def load(
    runtime: Runtime, run_id: str, name: str | None = None, tracking_uri: str | None = None
) -> LoggedTrainingSet:
    """The record of run `run_id`'s training set and its entity rows (digest checked).

    Raises:
        RunNotFoundError: no such run, or it logged no (such) training set.
        RebuildMismatchError: the entity rows artifact is not the one logged.
    """
    from assay.integrations.mlflow.quiet import quiet_mlflow

    client = client_for(runtime, tracking_uri)
    with quiet_mlflow():
        record = choose(records(client, run_id), run_id, name)
        artifact = record.entities["artifact"]
        with tempfile.TemporaryDirectory(prefix="assay-rebuild-") as tmp:
            local = client.download_artifacts(run_id, artifact, tmp)
            entities = pq.read_table(Path(local))
    if table_digest(entities) != record.entities["digest"]:
        raise RebuildMismatchError(
            "the entity rows in the run's artifacts are not the ones logged (digest differs)",
            where=f"run {run_id}: {artifact}",
            hint="the artifact was replaced; the set cannot be rebuilt from this run",
        )
    return LoggedTrainingSet(run_id, record, entities)


def require_files(runtime: Runtime, record: TrainingSetRecord) -> None:
    """Every recorded source version exists and, in a local warehouse, still has its data
    files: a vacuum after the run (retention, erasure) is then named as such, not met as an
    unreadable Parquet file halfway through the join.

    Raises:
        TableNotFoundError: the version is gone from the log, or a vacuum removed its files.
    """
    wh = runtime.warehouse
    for table, version in sorted(record.sources.items()):
        files = wh.table(table, version).file_uris()  # a version gone: TableNotFoundError
        if "://" in wh.uri(table):
            continue  # object stores: the join reports a missing file itself
        missing = [f for f in files if not Path(f).exists()]
        if missing:
            raise TableNotFoundError(
                f"version {version}'s data files are gone: a vacuum removed them "
                f"({len(missing)} of {len(files)} files, e.g. {Path(missing[0]).name}); "
                f"the training set of this run cannot be rebuilt",
                where=table,
                hint=f"`assay history {table}` lists the versions left (`assay retention "
                "apply` and `assay forget --purge-history` vacuum)",
            )


def verify(record: TrainingSetRecord, rebuilt: pa.Table, run_id: str) -> str:
    """Check a rebuilt set against its record; return the digest when they match.

    Raises:
        RebuildMismatchError: naming the columns whose schema or values differ, or the
            row counts.

    Example:
        >>> from assay.integrations.mlflow.dataset import make_record
        >>> t = pa.table({"id": [1, 2]})
        >>> r = TrainingSetRecord(name="s", features=[], event_timestamp="ts",
        ...     full_feature_names=False, outputs=[], sources={}, num_rows=2,
        ...     digest=table_digest(t), column_digests=column_digests(t),
        ...     schema=arrow_schema(t.schema))
        >>> verify(r, t, "run1") == table_digest(t)
        True
    """
    columns = column_digests(rebuilt)
    digest = digest_of(columns, rebuilt.num_rows)
    if digest == record.digest:
        return digest
    problems = []
    if rebuilt.num_rows != record.num_rows:
        problems.append(f"{rebuilt.num_rows:,} rows, logged {record.num_rows:,}")
    logged = {f["name"]: f for f in record.schema}
    now = {f["name"]: f for f in arrow_schema(rebuilt.schema)}
    if list(logged) != list(now):
        problems.append(f"columns {list(now)}, logged {list(logged)}")
    for column, field in now.items():
        was = logged.get(column)
        if was is not None and was["type"] != field["type"]:
            problems.append(f"column {column!r} is {field['type']}, logged {was['type']}")
    changed = [
        c
        for c, d in columns.items()
        if c in record.column_digests and record.column_digests[c] != d
    ]
    if changed and rebuilt.num_rows == record.num_rows:
        problems.append(f"values differ in {', '.join(repr(c) for c in changed)}")
        if all(pa.types.is_floating(rebuilt.schema.field(c).type) for c in changed):
            # Seen at scale: a windowed sum of doubles added in another order between runs.
            problems[-1] += (
                " (floating-point columns only: if they differ in their last bits, the "
                "engine added the values in another order than when the set was logged)"
            )
    sources = ", ".join(f"{t}@{v}" for t, v in sorted(record.sources.items()))
    raise RebuildMismatchError(
        f"the rebuilt training set {record.name!r} is not the one logged: "
        + ("; ".join(problems) or f"digest {digest}, logged {record.digest}"),
        where=f"run {run_id}",
        hint=f"a source's history was rewritten since ({sources}: `assay history TABLE` "
        "shows each version), or this reader sees the tables differently (its role's masks "
        f"and filters; the set was built on {record.engine or 'an unrecorded engine'})",
    )
