-- name: silver.planes
-- kind: merge
-- keys: tailnum
-- description: One row per tail number; a plane delivered again replaces its row.
SELECT tailnum, year AS year_built, type, manufacturer, model, engines, seats, speed, engine
FROM {{ ref('bronze.planes') }}
QUALIFY row_number() OVER (PARTITION BY tailnum ORDER BY _ingested_at DESC, _line DESC) = 1
