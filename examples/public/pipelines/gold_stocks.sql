-- name: gold.stocks_yearly
-- description: Per symbol and year: months quoted, mean, first and last price.
SELECT
    symbol,
    year(date) AS year,
    count(*) AS months,
    avg(price) AS price_mean,
    arg_min(price, date) AS price_first,
    arg_max(price, date) AS price_last
FROM {{ ref('silver.stocks') }}
GROUP BY symbol, year(date)
