-- name: gold.carrier_delays
-- description: Per airline: flights, cancellations, mean delays, and the share of its
--   flights whose plane is in the planes register.
SELECT
    f.carrier,
    a.name,
    count(*) AS flights,
    count(*) FILTER (WHERE f.cancelled) AS cancelled,
    avg(f.dep_delay) AS dep_delay_mean,
    avg(f.arr_delay) AS arr_delay_mean,
    count(p.tailnum) AS flights_with_known_plane,
    avg(p.seats) AS seats_mean
FROM {{ ref('silver.flights') }} AS f
LEFT JOIN {{ ref('silver.airlines') }} AS a USING (carrier)
LEFT JOIN {{ ref('silver.planes') }} AS p USING (tailnum)
GROUP BY f.carrier, a.name
