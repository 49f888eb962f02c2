"""Job and run facets of assay's events: what ran (job type, SQL, where it is declared, its
owner) and how (the engine and its version, the parent run, the interval, the error).

Every facet names assay as its producer (`PRODUCER`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from openlineage.client.facet_v2 import (
    documentation_job,
    error_message_run,
    job_type_job,
    nominal_time_run,
    ownership_job,
    parent_run,
    processing_engine_run,
    source_code_location_job,
    sql_job,
    tags_run,
)

from assay.intervals import Interval
from assay.pipelines.spec import DatasetSpec


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


ASSAY_VERSION = _version("assay")
#: Who made the events (a URI, as the spec asks): assay's OpenLineage integration.
PRODUCER = f"urn:assay:integrations:openlineage:{ASSAY_VERSION}"
#: The Python distribution of each engine, for its version.
_ENGINE_PACKAGES = {"duckdb": "duckdb", "spark": "pyspark"}


def location_namespace(location: str) -> str:
    """The namespace of what lives at `location`: an object store URI as it is, a local
    folder as a `file://` URI.

    Example:
        >>> location_namespace("/srv/wh"), location_namespace("s3://bucket/wh")
        ('file:///srv/wh', 's3://bucket/wh')
    """
    return location if "://" in location else Path(location).as_uri()


def iso(moment: datetime) -> str:
    """An ISO 8601 time with its zone; assay's naive times are UTC.

    Example:
        >>> iso(datetime(2026, 1, 2, 3, 4, 5))
        '2026-01-02T03:04:05+00:00'
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def job_type(job: str) -> job_type_job.JobTypeJobFacet:
    """`DAG` for the project run, `TASK` for a dataset."""
    return job_type_job.JobTypeJobFacet(
        processingType="BATCH", integration="ASSAY", jobType=job, producer=PRODUCER
    )


def dataset_job_facets(spec: DatasetSpec, root: str) -> dict[str, Any]:
    """Job facets of a dataset: type, SQL, declaration, owner and description."""
    facets: dict[str, Any] = {
        "jobType": job_type("TASK"),
        "sourceCodeLocation": source_location(spec.origin, root),
    }
    sql = getattr(spec.producer, "sql", None)
    if isinstance(sql, str):
        facets["sql"] = sql_job.SQLJobFacet(query=sql, dialect="duckdb", producer=PRODUCER)
    if spec.owner:
        facets["ownership"] = ownership_job.OwnershipJobFacet(
            owners=[ownership_job.Owner(name=spec.owner)], producer=PRODUCER
        )
    if spec.description:
        facets["documentation"] = documentation_job.DocumentationJobFacet(
            description=spec.description, producer=PRODUCER
        )
    return facets


def source_location(origin: str, root: str) -> source_code_location_job.SourceCodeLocationJobFacet:
    """Where a dataset is declared: `origin` is `file` or `file:line`; the URL points at
    the line, the path is relative to the project.

    Example:
        >>> facet = source_location("/p/pipelines/x.py:12", "/p")
        >>> facet.url, facet.path
        ('file:///p/pipelines/x.py#L12', 'pipelines/x.py')
    """
    path, line = origin, ""
    head, _, tail = origin.rpartition(":")
    if head and tail.isdigit():
        path, line = head, tail
    file = Path(path)
    try:
        relative = file.resolve().relative_to(Path(root).resolve()).as_posix()
    except (ValueError, OSError):
        relative = path
    url = file.resolve().as_uri() if file.is_absolute() else f"file:{path}"
    return source_code_location_job.SourceCodeLocationJobFacet(
        type="file", url=f"{url}#L{line}" if line else url, path=relative, producer=PRODUCER
    )


def engine_facet(engine: str) -> processing_engine_run.ProcessingEngineRunFacet:
    """The engine that ran the work and its version; the adapter is assay, at its version."""
    return processing_engine_run.ProcessingEngineRunFacet(
        version=_version(_ENGINE_PACKAGES.get(engine, engine)),
        name=engine,
        openlineageAdapterVersion=ASSAY_VERSION,
        producer=PRODUCER,
    )


def parent_facet(namespace: str, job: str, run_id: str) -> parent_run.ParentRunFacet:
    """The project run a dataset's run belongs to (it is also the root)."""
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run_id),
        job=parent_run.Job(namespace=namespace, name=job),
        root=parent_run.Root(
            run=parent_run.RootRun(runId=run_id),
            job=parent_run.RootJob(namespace=namespace, name=job),
        ),
        producer=PRODUCER,
    )


def nominal_time(intervals: Iterable[Interval]) -> nominal_time_run.NominalTimeRunFacet | None:
    """The span of the intervals written (None when none were)."""
    spans = list(intervals)
    if not spans:
        return None
    return nominal_time_run.NominalTimeRunFacet(
        nominalStartTime=iso(min(i.start for i in spans)),
        nominalEndTime=iso(max(i.end for i in spans)),
        producer=PRODUCER,
    )


def error_facet(message: str) -> error_message_run.ErrorMessageRunFacet:
    """assay's error message; a traceback, when the message carries one, is the stack."""
    first, _, rest = message.partition("\nTraceback")
    return error_message_run.ErrorMessageRunFacet(
        message=first.strip(),
        programmingLanguage="python",
        stackTrace=f"Traceback{rest}" if rest else None,
        producer=PRODUCER,
    )


def run_tags(run_id: str, command: str) -> tags_run.TagsRunFacet:
    """assay's own run id and command, so an event leads back to `assay history`."""
    return tags_run.TagsRunFacet(
        tags=[
            tags_run.TagsRunFacetFields(key="assay.run_id", value=run_id, source="ASSAY"),
            tags_run.TagsRunFacetFields(key="assay.command", value=command, source="ASSAY"),
        ],
        producer=PRODUCER,
    )
