"""The hand-written PySpark side of benchmarks/spark_vs_duckdb.py: the fraud example's
pipeline as one plain PySpark job, the way one would write it without assay.

Usage: python spark_handwritten.py SPEC.json RESULT.json

SPEC names the project folder (its `data/` holds the generated raw files; Delta tables go
to its `warehouse/`, laid out as assay lays them out: warehouse/<layer>/<name>), the jars
and the session settings (master, driver memory, shuffle partitions). The job:

1. bronze: reads data/transactions/*.jsonl, data/chargebacks/*.jsonl (JSON lines with a
   declared schema; malformed lines and values that do not cast, such as an amount of
   "N/A", are dropped: mode DROPMALFORMED), data/customers.csv and data/merchants.parquet,
   adds _source_file, _line and _ingested_at, and writes each to a Delta table;
2. silver: transactions (first delivery per transaction_id), chargebacks (joined to their
   transaction, first per chargeback_id), customers (latest per customer_id), each read
   from the bronze Delta tables and written to Delta;
3. gold: card_daily (per card and day, with the 7-day RANGE window) and merchant_daily
   (per merchant and day, with chargebacks reported in the 30 days up to the day's end),
   read from the silver Delta tables and written to Delta.

Everything is one pass over all the data (a cold, full build), with Spark's own Delta
writer. Spark has no line number for a record of a JSON-lines or CSV file, so _line is
monotonically_increasing_id(): it only breaks ties between identical duplicate deliveries
of one file, where any choice gives the same silver rows.

Prints nothing of note; writes RESULT.json with the epoch times of the phases.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

TRANSACTIONS_SCHEMA = (
    "transaction_id STRING, event_time TIMESTAMP_NTZ, card_id BIGINT, customer_id BIGINT, "
    "card_number STRING, merchant_id BIGINT, amount DOUBLE, currency STRING, "
    "ip_address STRING, device_id STRING"
)
CHARGEBACKS_SCHEMA = (
    "chargeback_id STRING, transaction_id STRING, reported_at TIMESTAMP_NTZ, reason_code STRING"
)
CUSTOMERS_SCHEMA = (
    "customer_id BIGINT, name STRING, email STRING, phone STRING, country STRING, signup_date DATE"
)

SILVER_TRANSACTIONS = """
SELECT transaction_id, event_time, card_id, customer_id, card_number, merchant_id, amount,
       currency, ip_address, device_id
FROM (
    SELECT transaction_id, event_time, card_id, CAST(customer_id AS BIGINT) AS customer_id,
           card_number, CAST(merchant_id AS BIGINT) AS merchant_id, amount,
           upper(currency) AS currency, ip_address, device_id,
           row_number() OVER (
               PARTITION BY transaction_id ORDER BY _ingested_at, _source_file, _line
           ) AS _rn
    FROM bronze_transactions
    WHERE event_time IS NOT NULL
)
WHERE _rn = 1
"""

SILVER_CHARGEBACKS = """
SELECT chargeback_id, transaction_id, reported_at, reason_code, transaction_time, card_id,
       merchant_id
FROM (
    SELECT c.chargeback_id, c.transaction_id, c.reported_at, c.reason_code,
           t.event_time AS transaction_time, t.card_id, t.merchant_id,
           row_number() OVER (PARTITION BY c.chargeback_id ORDER BY c._ingested_at) AS _rn
    FROM bronze_chargebacks AS c
    JOIN silver_transactions AS t ON c.transaction_id = t.transaction_id
)
WHERE _rn = 1
"""

SILVER_CUSTOMERS = """
SELECT customer_id, name, email, phone, country, signup_date
FROM (
    SELECT customer_id, trim(name) AS name, lower(trim(email)) AS email, phone, country,
           signup_date,
           row_number() OVER (
               PARTITION BY customer_id ORDER BY _ingested_at DESC, _line DESC
           ) AS _rn
    FROM bronze_customers
)
WHERE _rn = 1
"""

GOLD_CARD_DAILY = """
WITH daily AS (
    SELECT card_id, CAST(date_trunc('DAY', event_time) AS TIMESTAMP_NTZ) AS day,
           count(*) AS txn_count, sum(amount) AS amount_sum, max(amount) AS amount_max,
           count(DISTINCT merchant_id) AS merchants
    FROM silver_transactions
    GROUP BY ALL
)
SELECT card_id, day, day + INTERVAL 1 DAY AS event_time,
       txn_count AS txn_count_1d, amount_sum AS amount_sum_1d, amount_max AS amount_max_1d,
       merchants AS distinct_merchants_1d,
       CAST(sum(txn_count) OVER w7 AS BIGINT) AS txn_count_7d,
       sum(amount_sum) OVER w7 / sum(txn_count) OVER w7 AS amount_mean_7d
FROM daily
WINDOW w7 AS (
    PARTITION BY card_id ORDER BY day RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW
)
"""

GOLD_MERCHANT_DAILY = """
WITH days AS (
    SELECT merchant_id, CAST(date_trunc('DAY', event_time) AS TIMESTAMP_NTZ) AS day,
           count(*) AS txn_count, sum(amount) AS amount_sum
    FROM silver_transactions
    GROUP BY ALL
)
SELECT d.merchant_id, d.day, d.day + INTERVAL 1 DAY AS event_time,
       d.txn_count, d.amount_sum, count(r.reported_at) AS chargebacks_30d
FROM days d LEFT JOIN silver_chargebacks r
  ON r.merchant_id = d.merchant_id
 AND r.reported_at < d.day + INTERVAL 1 DAY
 AND r.reported_at >= d.day - INTERVAL 29 DAYS
GROUP BY ALL
"""


def main(spec_path: str, result_path: str) -> None:
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text())
    began = time.time()
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    builder = SparkSession.builder.appName("assay-bench-handwritten")
    for key, value in spec["conf"].items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    ready = time.time()

    root = Path(spec["project"])
    data, warehouse = root / "data", root / "warehouse"

    def table(name: str) -> str:
        layer, _, rest = name.partition(".")
        return str(warehouse / layer / rest)

    def write(frame: Any, name: str) -> None:
        frame.write.format("delta").mode("overwrite").save(table(name))

    def system_columns(frame: Any) -> Any:
        return frame.select(
            "*",
            F.col("_metadata.file_path").alias("_source_file"),
            F.monotonically_increasing_id().alias("_line"),
            F.localtimestamp().alias("_ingested_at"),
        )

    def jsonl(folder: str, schema: str) -> Any:
        reader = spark.read.schema(schema).option("mode", "DROPMALFORMED")
        reader = reader.option("timestampNTZFormat", "yyyy-MM-dd HH:mm:ss")
        return system_columns(reader.json(str(data / folder / "*.jsonl")))

    # -- bronze: raw files to Delta --------------------------------------------------------
    write(jsonl("transactions", TRANSACTIONS_SCHEMA), "bronze.transactions")
    write(jsonl("chargebacks", CHARGEBACKS_SCHEMA), "bronze.chargebacks")
    customers = spark.read.schema(CUSTOMERS_SCHEMA).option("header", "true")
    write(system_columns(customers.csv(str(data / "customers.csv"))), "bronze.customers")
    write(system_columns(spark.read.parquet(str(data / "merchants.parquet"))), "bronze.merchants")
    bronze_done = time.time()

    def view(name: str) -> None:
        spark.read.format("delta").load(table(name)).createOrReplaceTempView(name.replace(".", "_"))

    # -- silver ----------------------------------------------------------------------------
    for name in ("bronze.transactions", "bronze.chargebacks", "bronze.customers"):
        view(name)
    write(spark.sql(SILVER_TRANSACTIONS), "silver.transactions")
    view("silver.transactions")
    write(spark.sql(SILVER_CHARGEBACKS), "silver.chargebacks")
    write(spark.sql(SILVER_CUSTOMERS), "silver.customers")
    silver_done = time.time()

    # -- gold ------------------------------------------------------------------------------
    view("silver.chargebacks")
    write(spark.sql(GOLD_CARD_DAILY), "gold.card_daily")
    write(spark.sql(GOLD_MERCHANT_DAILY), "gold.merchant_daily")
    gold_done = time.time()
    spark.stop()
    result = {
        "began": began,
        "session_ready": ready,
        "bronze_done": bronze_done,
        "silver_done": silver_done,
        "gold_done": gold_done,
        "stopped": time.time(),
    }
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
