-- Incremental in dbt and in assay: assay builds it day by day on event_time.
{{ config(
    materialized='incremental',
    unique_key='transaction_id',
    meta={'assay': {'layer': 'staging', 'time_column': 'event_time', 'grain': 'day'}}
) }}
select
    transaction_id,
    event_time,
    card_id,
    customer_id,
    merchant_id,
    amount,
    currency
from {{ source('silver', 'transactions') }}
{% if is_incremental() %}
where event_time > (select max(event_time) from {{ this }})
{% endif %}
