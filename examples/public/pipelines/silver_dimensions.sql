-- name: silver.airlines
-- kind: full
SELECT carrier, name FROM {{ ref('bronze.airlines') }}
