{% test positive(model, column_name) %}
-- a custom generic test: rows whose value is not above zero
select * from {{ model }} where {{ column_name }} <= 0
{% endtest %}
