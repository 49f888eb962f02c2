-- name: silver.transactions
-- kind: incremental
-- time_column: event_time
-- grain: day
-- owner: payments-platform
-- schedule: on_upstream
-- tags: pii=card_number
-- description: Typed, deduplicated card transactions (one row per transaction_id).
SELECT
    transaction_id,
    event_time,
    card_id,
    CAST(customer_id AS BIGINT) AS customer_id,
    card_number,
    CAST(merchant_id AS BIGINT) AS merchant_id,
    amount,
    upper(currency) AS currency,
    ip_address,
    device_id
FROM {{ ref('bronze.transactions') }}
WHERE event_time >= {{ start }} AND event_time < {{ end }}
-- The upstream delivers at least once: keep the first delivery of each transaction.
QUALIFY row_number() OVER (
    PARTITION BY transaction_id ORDER BY _ingested_at, _source_file, _line
) = 1
