{{ config(materialized='incremental', unique_key=['card_id', 'day']) }}
select
    card_id,
    cast(date_trunc('day', event_time) as timestamp) as day,
    count(*) as txn_count,
    sum(amount) as amount_sum,
    count(distinct country) as countries
from {{ ref('int_transactions_enriched') }}
{% if is_incremental() %}
where event_time >= (select max(day) from {{ this }})
{% endif %}
group by all
