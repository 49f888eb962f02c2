-- name: silver.weather
-- kind: merge
-- keys: origin, year, month, day, hour
-- owner: public-data
-- description: Hourly weather per airport, one row per local hour. The local-hour key
--   repeats at the DST fall-back (2013-11-03 01:00 happens twice in New York): the later
--   reading (the larger time_hour) is kept, the earlier one dropped.
SELECT origin, year, month, day, hour, time_hour, temp, dewp, humid, wind_dir, wind_speed,
       wind_gust, precip, pressure, visib
FROM {{ ref('bronze.weather') }}
QUALIFY row_number() OVER (
    PARTITION BY origin, year, month, day, hour ORDER BY time_hour DESC, _ingested_at DESC
) = 1
