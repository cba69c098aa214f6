-- One row per order. The seed stands in for what an ingestion tool would land.
select
    order_id,
    customer_id,
    ordered_at as order_date,
    lower(status) as status,
    amount
from {{ ref('raw_orders') }}
