-- name: gold.seattle_monthly
-- kind: incremental
-- time_column: month
-- grain: month
SELECT
    CAST(date_trunc('month', date) AS DATE) AS month,
    count(*) AS days,
    sum(precipitation) AS precipitation,
    max(temp_max) AS temp_max,
    min(temp_min) AS temp_min,
    count(*) FILTER (WHERE weather = 'rain') AS rain_days
FROM {{ ref('silver.seattle_weather') }}
WHERE date >= {{ start }} AND date < {{ end }}
GROUP BY 1
