-- name: gold.electricity_share
-- description: Each source's share of Iowa's net generation per year.
SELECT
    year,
    source,
    net_generation,
    net_generation / sum(net_generation) OVER (PARTITION BY year) AS share
FROM {{ ref('silver.iowa_electricity') }}
