-- name: gold.penguin_stats
-- description: Per species, island and sex (NULL when not recorded): birds, measured birds,
--   mean body mass and bill length, years observed.
SELECT
    species,
    island,
    sex,
    count(*) AS birds,
    count(body_mass_g) AS weighed,
    avg(body_mass_g) AS body_mass_mean,
    avg(bill_length_mm) AS bill_length_mean,
    min(year) AS first_year,
    max(year) AS last_year
FROM {{ ref('silver.penguins') }}
GROUP BY species, island, sex
