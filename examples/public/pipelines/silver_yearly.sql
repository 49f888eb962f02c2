-- name: silver.iowa_electricity
-- kind: incremental
-- time_column: year           -- a DATE on the first of January
-- grain: year
SELECT year, source, net_generation
FROM {{ ref('bronze.iowa_electricity') }}
WHERE year >= {{ start }} AND year < {{ end }}
