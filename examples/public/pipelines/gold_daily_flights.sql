-- name: gold.daily_flights
-- kind: incremental
-- time_column: flight_date    -- a DATE: the local day, not the UTC one silver is sliced on
-- grain: day
-- description: Departures per airport and local day: flights, cancellations, delays.
SELECT
    flight_date,
    origin,
    count(*) AS flights,
    count(*) FILTER (WHERE cancelled) AS cancelled,
    avg(dep_delay) AS dep_delay_mean,
    sum(arr_delay) AS arr_delay_sum,
    count(arr_delay) AS arr_delay_count
FROM {{ ref('silver.flights') }}
WHERE flight_date >= {{ start }} AND flight_date < {{ end }}
GROUP BY flight_date, origin
