"""Gold: per-merchant daily volume and recent chargebacks, as a Python transform."""

import assay


@assay.transform(
    "gold.merchant_daily",
    inputs=["silver.transactions", "silver.chargebacks"],
    kind="incremental",
    time_column="day",
    grain="day",
    owner="risk-team",
    engines=["duckdb", "spark"],
    schedule="on_upstream",
    # Python code is traced by table; these say where each column comes from.
    lineage={
        "merchant_id": ["silver.transactions.merchant_id"],
        "day": ["silver.transactions.event_time"],
        "event_time": ["silver.transactions.event_time"],
        "txn_count": ["silver.transactions.transaction_id"],
        "amount_sum": ["silver.transactions.amount"],
        "chargebacks_30d": ["silver.chargebacks.reported_at", "silver.chargebacks.merchant_id"],
    },
)
def merchant_daily(ctx, transactions, chargebacks):
    """Per merchant and day: transactions, amount, and the chargebacks *reported* against
    the merchant in the 30 days up to the end of that day. Only labels known by then are
    counted, so the feature carries no leakage from labels that arrive later.

    Inputs arrive as the engine's relations (DuckDB relations, or Spark DataFrames with
    `assay run --engine spark`); `ctx.sql` runs SQL over them on either engine.
    """
    # The inputs are also tables in ctx.sql, named as in the project.
    del transactions, chargebacks
    return ctx.sql(
        f"""
        WITH days AS (
            SELECT merchant_id, date_trunc('day', event_time) AS day, count(*) AS txn_count,
                   sum(amount) AS amount_sum
            FROM silver.transactions
            WHERE event_time >= TIMESTAMP '{ctx.start}' AND event_time < TIMESTAMP '{ctx.end}'
            GROUP BY ALL
        )
        SELECT d.merchant_id, d.day, d.day + INTERVAL 1 DAY AS event_time,
               d.txn_count, d.amount_sum, count(r.reported_at) AS chargebacks_30d
        FROM days d LEFT JOIN silver.chargebacks r
          ON r.merchant_id = d.merchant_id
         AND r.reported_at < d.day + INTERVAL 1 DAY
         AND r.reported_at >= d.day - INTERVAL 29 DAY
        GROUP BY ALL
        """
    )
