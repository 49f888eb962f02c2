"""What an Airflow task runs: one dataset, through `Project.run`, in the task's process.

The run goes through the normal runner (the project lock, assay's retries of transient
errors, the interval ledger, contracts) and is recorded in the run history as `airflow`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from assay.integrations.airflow.imports import airflow_exceptions


def run_dataset(project: str, dataset: str, windowed: bool, **context: Any) -> dict[str, Any]:
    """Build `dataset` of the project at `project`; the PythonOperator's callable.

    In a DAG on a cron schedule (`windowed`), incremental datasets are limited to the
    intervals in the run's data interval, so an Airflow backfill fills exactly those.

    Returns:
        What the run did (pushed to XCom): status, commits, intervals and rows.

    Raises:
        AirflowFailException: the dataset failed; the message is assay's error. Not retried
            by Airflow: assay has already retried transient errors with the same backoff.
        AirflowSkipException: nothing new was committed (up to date, or its inputs are not
            built yet), so the table's asset gets no event and asset-scheduled DAGs stay idle.

    Example: ``run_dataset("/srv/fraud", "silver.transactions", True, **context)``
    """
    from assay.project import Project

    fail, skip = airflow_exceptions()
    window = data_interval(context) if windowed else None
    outcome = Project(project).run([dataset], window=window, command="airflow").result(dataset)
    if outcome.status == "failed":
        raise fail(outcome.error or f"{dataset} failed")
    if outcome.commits == 0:
        reasons = "; ".join(outcome.reasons) or outcome.status
        raise skip(f"{dataset}: nothing committed ({reasons})")
    return {
        "status": outcome.status,
        "commits": outcome.commits,
        "intervals": outcome.intervals,
        "rows_written": outcome.rows_written,
        "rows_quarantined": outcome.rows_quarantined,
    }


def data_interval(context: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """The run's data interval `[start, end)`, or None when it has none (a manual run).

    Example:
        >>> data_interval({"data_interval_start": datetime(2026, 1, 1),
        ...                "data_interval_end": datetime(2026, 1, 2)})
        (datetime.datetime(2026, 1, 1, 0, 0), datetime.datetime(2026, 1, 2, 0, 0))
        >>> data_interval({"data_interval_start": None, "data_interval_end": None}) is None
        True
    """
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None or start >= end:
        return None
    return start, end
