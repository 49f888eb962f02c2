{{ config(
    materialized='incremental',
    meta={'assay': {'layer': 'intermediate', 'time_column': 'event_time', 'grain': 'day'}}
) }}
select
    t.transaction_id,
    t.event_time,
    t.card_id,
    t.amount,
    t.currency,
    c.country
from {{ ref('stg_transactions') }} as t
left join {{ ref('int_customer_countries') }} as c on c.customer_id = t.customer_id
