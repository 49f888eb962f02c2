-- name: silver.seattle_weather
-- kind: incremental
-- time_column: date           -- a DATE, no time of day
-- grain: day
SELECT date, precipitation, temp_max, temp_min, wind, weather
FROM {{ ref('bronze.seattle_weather') }}
WHERE date >= {{ start }} AND date < {{ end }}
