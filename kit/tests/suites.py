"""A small suite and data for the kit's tests."""

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

GOOD = pd.DataFrame({"order_date": pd.to_datetime(["2026-03-01", "2026-03-02"]), "order_count": [5, 3]})
BAD = pd.DataFrame({"order_date": pd.to_datetime(["2026-03-01", "2026-03-01"]), "order_count": [5, 0]})


def orders_suite() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(
        name="sales.orders_daily",
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="order_date"),
            gxe.ExpectColumnValuesToBeUnique(column="order_date"),
            gxe.ExpectColumnValuesToBeBetween(column="order_count", min_value=1),
        ],
    )
