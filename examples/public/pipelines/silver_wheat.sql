-- name: silver.wheat
-- kind: incremental
-- time_column: period_start   -- one row every 5 years, 1565-1821
-- grain: year
SELECT year, period_start, wheat, wages, wheat / wages AS wheat_per_wage
FROM {{ ref('bronze.wheat') }}
WHERE period_start >= {{ start }} AND period_start < {{ end }}
