-- name: silver.customers
-- kind: merge
-- keys: customer_id
-- owner: crm
-- schedule: on_upstream
-- tags: pii=name,email,phone
SELECT
    customer_id,
    trim(name) AS name,
    lower(trim(email)) AS email,
    phone,
    country,
    signup_date
FROM {{ ref('bronze.customers') }}
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY _ingested_at DESC, _line DESC) = 1
