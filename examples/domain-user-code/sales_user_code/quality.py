"""The Great Expectations suite for the curated `orders_daily` model, and how it is run."""

from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

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


def validate_orders_daily(frame: pd.DataFrame, docs_dir: Path) -> ExpectationSuiteValidationResult:
    """Validate `frame` against the suite and render Data Docs (suite + this result) into `docs_dir`."""
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            # Pods have no internet egress; GX would otherwise try to send usage events.
            analytics_enabled=False,
            # Progress bars only clutter Dagster's captured logs.
            progress_bars=ProgressBarsConfig(globally=False),
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            data_docs_sites={
                "lake": {
                    "class_name": "SiteBuilder",
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                }
            },
        ),
    )
    batch = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset("orders_daily")
        .add_batch_definition_whole_dataframe("whole table")
    )
    suite = context.suites.add(orders_daily_suite())
    validation = context.validation_definitions.add(gx.ValidationDefinition(name=SUITE_NAME, data=batch, suite=suite))
    result = validation.run(batch_parameters={"dataframe": frame})
    context.build_data_docs()
    return result
