select customer_id, country from {{ source('silver', 'customers') }}
