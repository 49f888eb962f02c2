-- name: gold.cars_by_origin
-- description: Per origin: cars, summed displacement and weight (exact DECIMAL sums),
--   mean miles per gallon and how many cars have none recorded.
SELECT
    Origin AS origin,
    count(*) AS cars,
    sum(Displacement) AS displacement_sum,
    sum(Weight_in_lbs) AS weight_sum,
    avg(Miles_per_Gallon) AS mpg_mean,
    count(*) - count(Miles_per_Gallon) AS mpg_missing,
    max(Horsepower) AS horsepower_max
FROM {{ ref('bronze.cars') }}
GROUP BY Origin
