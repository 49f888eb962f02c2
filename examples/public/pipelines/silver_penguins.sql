-- name: silver.penguins
-- kind: incremental
-- time_column: period_start   -- derived at ingest from the year number
-- grain: year
-- description: Palmer penguins, one row per bird measured; NA measurements are NULL.
SELECT species, island, bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex,
       year, period_start
FROM {{ ref('bronze.penguins') }}
WHERE period_start >= {{ start }} AND period_start < {{ end }}
