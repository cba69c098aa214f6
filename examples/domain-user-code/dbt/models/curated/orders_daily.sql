-- Revenue per day from completed orders: the sales domain's published data product.
select
    order_date,
    count(*) as order_count,
    cast(sum(amount) as numeric(14, 2)) as total_amount
from {{ ref('stg_orders') }}
where status = 'completed'
group by order_date
