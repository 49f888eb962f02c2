{{ config(materialized='ephemeral') }}
-- inlined by dbt's compile as a CTE into the models that use it
select customer_id, upper(country) as country from {{ ref('stg_customers') }}
