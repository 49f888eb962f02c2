-- name: silver.flights
-- kind: incremental
-- time_column: time_hour      -- TIMESTAMPTZ, the scheduled hour in UTC
-- grain: day
-- owner: public-data
-- description: Every flight, typed, with its local date and whether it was cancelled
--   (no departure time). One row per bronze row.
SELECT
    make_date(year, month, day) AS flight_date,  -- the local (New York) date
    year,
    month,
    day,
    carrier,
    flight,
    tailnum,
    origin,
    dest,
    dep_time,
    sched_dep_time,
    dep_delay,
    arr_time,
    sched_arr_time,
    arr_delay,
    air_time,
    distance,
    hour,
    minute,
    time_hour,
    dep_time IS NULL AS cancelled
FROM {{ ref('bronze.flights') }}
WHERE time_hour >= {{ start }} AND time_hour < {{ end }}
