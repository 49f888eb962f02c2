"""On Spark the work runs in a JVM: its CPU is read from /proc/<pid>/stat of the local JVM
this process launched and recorded apart (`engine_cpu_seconds`), never guessed."""

from __future__ import annotations

import os

import assay
from assay.catalog.run_costs import usage_between
from assay.cost.measure import process_cpu_seconds, spark_jvm_pid
from tests.conftest import MakeProject
from tests.cost.test_run_usage import PIPELINES

SQL_SILVER = """
    -- name: silver.pairs
    SELECT a.id, count(*) AS pairs, sum(b.amount) AS amount
    FROM {{ ref('bronze.events') }} AS a CROSS JOIN {{ ref('bronze.events') }} AS b
    WHERE b.id <= a.id
    GROUP BY a.id
"""


def test_spark_records_the_jvm_cpu_apart(make_project: MakeProject, spark_jars: str) -> None:
    files = {k: v for k, v in PIPELINES.items() if k.startswith(("data/", "pipelines/bronze"))}
    root = make_project({**files, "pipelines/silver_pairs.sql": SQL_SILVER}, name="on_spark")
    project = assay.Project(root, engine="spark")
    result = project.run()
    assert result.ok, [r.error for r in result.failed]

    pid = spark_jvm_pid()
    assert pid is not None and pid != os.getpid()
    jvm_total = process_cpu_seconds(pid)
    assert jvm_total is not None

    usage = {u.dataset: u for u in usage_between(project.runtime.catalog, run_id=result.run_id)}
    pairs = usage["silver.pairs"]
    assert pairs.engine_cpu_seconds is not None
    # The JVM planned and ran the join: CPU of its own, within what its threads could use
    # in the time and no more than it used in all its life.
    cores = os.cpu_count() or 1
    assert 0 < pairs.engine_cpu_seconds <= pairs.wall_seconds * cores + 0.05
    assert pairs.engine_cpu_seconds <= jvm_total
    assert pairs.total_cpu_seconds == pairs.cpu_seconds + pairs.engine_cpu_seconds
    assert pairs.rows_written == project.table("silver.pairs").num_rows == 300  # ids 0-299
