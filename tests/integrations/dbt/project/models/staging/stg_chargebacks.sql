{{ config(materialized='table') }}
select chargeback_id, transaction_id, reported_at, reason_code
from {{ source('silver', 'chargebacks') }}
