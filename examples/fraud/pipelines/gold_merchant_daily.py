"""Gold: per-merchant daily volume and chargeback rate, as a Python transform."""

import assay


@assay.transform(
    "gold.merchant_daily",
    inputs=["silver.transactions", "silver.chargebacks"],
    kind="incremental",
    time_column="day",
    grain="day",
    owner="risk-team",
)
def merchant_daily(ctx, transactions, chargebacks):
    """Transactions per merchant and day, and how many of them were charged back by the end
    of that day (chargebacks reported later are not known then: no label leakage).

    Inputs arrive as DuckDB relations; chargebacks are located on their transaction's time,
    so a late label makes exactly that day's interval stale (and re-checked).
    """
    window = f"BETWEEN TIMESTAMP '{ctx.start}' AND TIMESTAMP '{ctx.end}'"
    day_tx = transactions.filter(
        f"event_time >= TIMESTAMP '{ctx.start}' AND event_time < TIMESTAMP '{ctx.end}'"
    )
    day_cb = chargebacks.filter(
        f"transaction_time {window} AND reported_at < date_trunc('day', transaction_time) "
        "+ INTERVAL 1 DAY"
    )
    joined = day_tx.join(
        day_cb.select("transaction_id, 1 AS is_chargeback"), "transaction_id", how="left"
    )
    return joined.aggregate(
        "merchant_id, date_trunc('day', event_time) AS day, "
        "date_trunc('day', event_time) + INTERVAL 1 DAY AS event_time, count(*) AS txn_count, "
        "sum(amount) AS amount_sum, count(is_chargeback) AS chargebacks, "
        "count(is_chargeback) / count(*) AS chargeback_rate"
    )
