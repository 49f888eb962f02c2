-- name: gold.card_daily
-- kind: incremental
-- time_column: day
-- grain: day
-- lookback: 6
-- owner: risk-team
-- schedule: on_upstream
-- description: Per-card daily activity, ready for features. event_time is the end of the
--   day: the moment the day's aggregate becomes known (no leakage into that day's labels).
WITH daily AS (
    SELECT
        card_id,
        date_trunc('day', event_time) AS day,
        count(*) AS txn_count,
        sum(amount) AS amount_sum,
        max(amount) AS amount_max,
        count(DISTINCT merchant_id) AS merchants
    FROM {{ ref('silver.transactions') }}
    -- Six days before the interval feed the 7-day window.
    WHERE event_time >= {{ start }} - INTERVAL 6 DAY AND event_time < {{ end }}
    GROUP BY ALL
)
SELECT
    card_id,
    day,
    day + INTERVAL 1 DAY AS event_time,
    txn_count AS txn_count_1d,
    amount_sum AS amount_sum_1d,
    amount_max AS amount_max_1d,
    merchants AS distinct_merchants_1d,
    CAST(sum(txn_count) OVER w7 AS BIGINT) AS txn_count_7d,
    sum(amount_sum) OVER w7 / sum(txn_count) OVER w7 AS amount_mean_7d
FROM daily
WINDOW w7 AS (PARTITION BY card_id ORDER BY day RANGE BETWEEN INTERVAL 6 DAY PRECEDING AND CURRENT ROW)
