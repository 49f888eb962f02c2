-- name: silver.chargebacks
-- kind: full
-- owner: risk-team
-- schedule: on_upstream
-- description: Fraud labels joined to their transaction's time; they arrive 2-30 days late.
SELECT
    c.chargeback_id,
    c.transaction_id,
    c.reported_at,
    c.reason_code,
    t.event_time AS transaction_time,
    t.card_id,
    t.merchant_id
FROM {{ ref('bronze.chargebacks') }} AS c
JOIN {{ ref('silver.transactions') }} AS t USING (transaction_id)
QUALIFY row_number() OVER (PARTITION BY c.chargeback_id ORDER BY c._ingested_at) = 1
