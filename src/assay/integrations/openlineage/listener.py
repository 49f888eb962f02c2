"""`OpenLineageListener`: a run's progress as OpenLineage RunEvents.

The project run is a parent run (job `<project>`, START then COMPLETE or FAIL) and each
dataset it builds a child run (job `layer.name`, its ParentRunFacet pointing at the
project run), START as the dataset starts and COMPLETE or FAIL as it ends.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
from openlineage.client.uuid import generate_new_uuid

from assay.config import CONFIG_FILE, OpenLineageSettings
from assay.integrations.openlineage import datasets, facets
from assay.integrations.openlineage.emitter import Emitter
from assay.pipelines.runner import DatasetResult, RunResult
from assay.pipelines.spec import DatasetSpec
from assay.runtime import Runtime
from assay.tables import CommitInfo


class OpenLineageListener:
    """Emits the events of one run (a `RunListener` of the runner).

    Args:
        rt: the project's runtime.
        run_id: assay's run id (a tag on every run facet).
        command: `run`, `backfill`, `schedule` or `airflow`.
        settings: `openlineage:` from assay.yaml.

    Raises:
        ProjectError: the transport settings are invalid (before the run starts).
    """

    def __init__(self, rt: Runtime, run_id: str, command: str, settings: OpenLineageSettings):
        self.rt = rt
        self.run_id = run_id
        self.command = command
        self.namespace = settings.namespace or rt.config.name
        self.emitter = Emitter(settings.transport, Path(rt.root), str(Path(rt.root, CONFIG_FILE)))
        #: The project run's OpenLineage run id.
        self.parent_id = str(generate_new_uuid())
        #: Per dataset started: its run id and its inputs (at the versions it reads).
        self._open: dict[str, tuple[str, list[InputDataset]]] = {}

    # -- the project run ---------------------------------------------------------------

    def run_started(self, names: list[str]) -> None:
        self._emit_project(RunState.START, {})

    def run_finished(self, result: RunResult | None, error: BaseException | None) -> None:
        try:
            message = str(error) if error is not None else _failures(result)
            run_facets = {"errorMessage": facets.error_facet(message)} if message else {}
            state = RunState.FAIL if message else RunState.COMPLETE
            self._emit_project(state, run_facets)
        finally:
            self.emitter.close()

    def _emit_project(self, state: RunState, run_facets: dict[str, Any]) -> None:
        run_facets = {
            "processing_engine": facets.engine_facet(self.rt.engine.name),
            "tags": facets.run_tags(self.run_id, self.command),
            **run_facets,
        }
        job_facets: dict[str, Any] = {"jobType": facets.job_type("DAG")}
        self.emitter.emit(
            RunEvent(
                eventType=state,
                eventTime=_now(),
                run=Run(runId=self.parent_id, facets=run_facets),
                job=Job(namespace=self.namespace, name=self.rt.config.name, facets=job_facets),
                inputs=[],
                outputs=[],
                producer=facets.PRODUCER,
            )
        )

    # -- one dataset -------------------------------------------------------------------

    def dataset_started(self, spec: DatasetSpec) -> None:
        warehouse = self.rt.warehouse
        # Runs hold the project lock: the inputs stay at these versions while it builds.
        versions = {n: v for n in spec.inputs if (v := warehouse.version(n)) is not None}
        inputs = datasets.input_datasets(self.rt, spec, versions)
        self._open[spec.name] = (str(generate_new_uuid()), inputs)
        self._emit_dataset(spec, RunState.START, None)

    def dataset_finished(self, spec: DatasetSpec, result: DatasetResult) -> None:
        state = RunState.FAIL if result.status == "failed" else RunState.COMPLETE
        self._emit_dataset(spec, state, result)
        self._open.pop(spec.name, None)

    def _emit_dataset(
        self, spec: DatasetSpec, state: RunState, result: DatasetResult | None
    ) -> None:
        run_id, inputs = self._open[spec.name]
        commits = (
            datasets.run_commits(self.rt.warehouse, spec.name, self.run_id, result.commits)
            if result is not None and result.commits
            else []
        )
        self.emitter.emit(
            RunEvent(
                eventType=state,
                eventTime=_now(),
                run=Run(runId=run_id, facets=self._dataset_run_facets(spec, result, commits)),
                job=Job(
                    namespace=self.namespace,
                    name=spec.name,
                    facets=facets.dataset_job_facets(spec, self.rt.root),
                ),
                inputs=inputs,
                outputs=[datasets.output_dataset(self.rt, spec, self.run_id, result, commits)],
                producer=facets.PRODUCER,
            )
        )

    def _dataset_run_facets(
        self, spec: DatasetSpec, result: DatasetResult | None, commits: list[CommitInfo]
    ) -> dict[str, Any]:
        engine = self.rt.local if spec.producer.is_source else self.rt.engine
        run_facets: dict[str, Any] = {
            "parent": facets.parent_facet(self.namespace, self.rt.config.name, self.parent_id),
            "processing_engine": facets.engine_facet(engine.name),
            "tags": facets.run_tags(self.run_id, self.command),
        }
        nominal = facets.nominal_time(i for c in commits for i in c.meta.intervals or ())
        if nominal is not None:
            run_facets["nominalTime"] = nominal
        if result is not None and result.error:
            run_facets["errorMessage"] = facets.error_facet(result.error)
        return run_facets


def _failures(result: RunResult | None) -> str:
    """What failed in the run, one dataset after another ("" when nothing did)."""
    if result is None or not result.failed:
        return ""
    lines = []
    for failed in result.failed:
        text = (failed.error or "failed").split("\nTraceback")[0].strip()
        lines.append(text if text.startswith(failed.dataset) else f"{failed.dataset}: {text}")
    return f"{len(lines)} of {len(result.results)} datasets failed: " + "; ".join(lines)


def _now() -> str:
    return datetime.now(UTC).isoformat()
