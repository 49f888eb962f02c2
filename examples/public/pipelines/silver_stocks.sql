-- name: silver.stocks
-- kind: incremental
-- time_column: date           -- the first of each month
-- grain: month
SELECT symbol, date, price
FROM {{ ref('bronze.stocks') }}
WHERE date >= {{ start }} AND date < {{ end }}
