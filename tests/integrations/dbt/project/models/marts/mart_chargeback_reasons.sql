{{ config(materialized='table') }}
select c.reason_code, count(*) as chargebacks, sum(t.amount) as amount
from {{ ref('stg_chargebacks') }} as c
join {{ ref('stg_transactions') }} as t using (transaction_id)
group by all
