"""The Great Expectations suite for the curated `orders_daily` model.

How it runs (checkpoint, Data Docs, DataHub, blocking, alerts) is the platform kit's job: see
`dataplatform_kit.gx_check` in definitions.py.
"""

import great_expectations as gx
import great_expectations.expectations as gxe

SUITE_NAME = "sales.orders_daily"


def orders_daily_suite() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="order_date"),
            gxe.ExpectColumnValuesToBeUnique(column="order_date"),
            gxe.ExpectColumnValuesToBeBetween(column="order_count", min_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="total_amount"),
            gxe.ExpectColumnValuesToBeBetween(column="total_amount", min_value=0),
        ],
    )
