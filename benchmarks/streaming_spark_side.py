"""The Spark Structured Streaming side of benchmarks/streaming_vs_spark.py.

Runs in the Spark virtualenv (benchmarks/work/spark-venv: pyspark + delta-spark), never in
assay's. Usage: python streaming_spark_side.py SPEC.json RESULT.json

The same pipeline as assay's stream, as two queries over the same Kafka topic, started
together in one local[2] session and both run to the end of the topic (trigger
availableNow): `raw` (Kafka -> from_json -> foreachBatch -> append to a Delta table) and
`windows` (Kafka -> from_json -> withWatermark -> groupBy(1-minute window, card_id) ->
count, sum(amount) -> append mode -> foreachBatch -> append to a Delta table). Two queries
because one streaming query cannot emit both its input rows and a stateful aggregate of
them; each reads the topic on its own. Every foreachBatch write is an idempotent Delta
write (txnAppId/txnVersion = the query and its batch id), as exactly once as assay's app
transactions. Times are wall-clock epoch seconds so the parent can subtract its own.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def main(spec_path: str, result_path: str) -> None:
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text())
    work = Path(spec["work"])
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, LongType, StructField, StructType, TimestampType

    imported = time.time()
    spark = (
        SparkSession.builder.master(f"local[{spec['cores']}]")
        .appName("assay-streaming-bench")
        .config("spark.jars", ",".join(spec["jars"]))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        )
        .config("spark.sql.shuffle.partitions", str(spec["shuffle_partitions"]))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", spec["driver_memory"])
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.streaming.metricsEnabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    ready = time.time()

    schema = StructType(
        [
            StructField("event_id", LongType()),
            StructField("card_id", LongType()),
            StructField("amount", DoubleType()),
            StructField("event_time", TimestampType()),
        ]
    )
    source = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", spec["bootstrap"])
        .option("subscribe", spec["topic"])
        .option("startingOffsets", "earliest")
    )
    if spec.get("max_offsets_per_trigger"):
        source = source.option("maxOffsetsPerTrigger", str(spec["max_offsets_per_trigger"]))
    events = (
        source.load()
        .select(
            F.from_json(F.col("value").cast("string"), schema).alias("e"),
            F.col("partition").alias("_partition"),
            F.col("offset").alias("_offset"),
        )
        .select("e.*", "_partition", "_offset")
    )
    windows = (
        events.withWatermark("event_time", f"{spec['lateness_seconds']} seconds")
        .groupBy(F.window("event_time", f"{spec['window_seconds']} seconds"), "card_id")
        .agg(F.count(F.lit(1)).alias("count"), F.sum("amount").alias("amount_sum"))
        .select(
            "card_id",
            F.col("window.start").alias("window_start"),
            F.col("window.end").alias("window_end"),
            "count",
            "amount_sum",
        )
    )
    batches: dict[str, list[dict[str, Any]]] = {"raw": [], "windows": []}

    def writer(name: str, path: str) -> Any:
        def write(frame: Any, batch_id: int) -> None:
            began = time.time()
            (
                frame.write.format("delta")
                .mode("append")
                .option("txnAppId", f"bench-{name}")
                .option("txnVersion", batch_id)
                .save(path)
            )
            batches[name].append({"id": batch_id, "began": began, "done": time.time()})

        return write

    queries = {}
    for name, frame, mode in (("raw", events, "append"), ("windows", windows, "append")):
        queries[name] = (
            frame.writeStream.queryName(name)
            .outputMode(mode)
            .foreachBatch(writer(name, str(work / f"delta_{name}")))
            .option("checkpointLocation", str(work / f"checkpoint_{name}"))
            .trigger(availableNow=True)
            .start()
        )
    started = time.time()
    ended = {}
    for name, query in queries.items():
        query.awaitTermination()
        ended[name] = time.time()
        if query.exception() is not None:
            raise SystemExit(f"query {name} failed: {query.exception()}")
    done = time.time()
    progress = {
        name: [
            {
                "batch": p["batchId"],
                "rows": p["numInputRows"],
                "ms": p["durationMs"].get("triggerExecution"),
                "watermark": p.get("eventTime", {}).get("watermark"),
            }
            for p in query.recentProgress
        ]
        for name, query in queries.items()
    }
    versions = {"pyspark": spark.version}
    spark.stop()
    Path(result_path).write_text(
        json.dumps(
            {
                "imported": imported,
                "ready": ready,
                "started": started,
                "ended": ended,
                "done": done,
                "batches": batches,
                "progress": progress,
                "versions": versions,
                "pid": os.getpid(),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
