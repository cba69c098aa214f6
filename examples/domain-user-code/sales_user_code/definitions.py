"""The sales domain's Dagster code location: dbt models as assets, a blocking GX check (platform kit), the
daily-revenue product in the lake, lake uploads, the quality alert sensor, a schedule."""

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    Definitions,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)
from dagster_dbt import DbtCliResource, dbt_assets, get_asset_key_for_model
from dataplatform_kit import gx_check, quality_alert_sensor

from sales_user_code.catalog import catalog_sensors
from sales_user_code.lake import LakeResource
from sales_user_code.project import sales_project
from sales_user_code.quality import orders_daily_suite
from sales_user_code.warehouse import read_table

# Lake keys the platform's catalog ingestion and docs hosting read from.
DBT_ARTIFACTS_PREFIX = "dbt/artifacts"
DATA_DOCS_PREFIX = "docs"
# The `daily-revenue` product of domains/sales.yaml: consumers read this prefix of the curated zone.
DAILY_REVENUE_KEY = "curated/daily-revenue/orders_daily.csv"


@dbt_assets(manifest=sales_project.manifest_path, project=sales_project)
def sales_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource) -> Iterator[Any]:
    """`dbt build` (seeds, models, tests), then the artifacts DataHub ingests go to the lake."""
    build = dbt.cli(["build"], context=context)
    yield from build.stream()
    # Upload before `docs generate` overwrites run_results.json; it then reuses the build's parse.
    for name in ("manifest.json", "run_results.json"):
        context.log.info(f"uploaded {lake.put_file(build.target_path / name, f'{DBT_ARTIFACTS_PREFIX}/{name}')}")
    dbt.cli(["docs", "generate"], target_path=build.target_path).wait()
    catalog = build.target_path / "catalog.json"
    context.log.info(f"uploaded {lake.put_file(catalog, f'{DBT_ARTIFACTS_PREFIX}/catalog.json')}")


ORDERS_DAILY = get_asset_key_for_model([sales_dbt_assets], "orders_daily")


def model_table(model: str) -> tuple[str, str]:
    """(schema, table) of a model. Every profiles.yml output uses the same schema, so the baked manifest holds for all."""
    manifest = json.loads(sales_project.manifest_path.read_text())
    node = manifest["nodes"][f"model.{sales_project.name}.{model}"]
    return node["schema"], node["alias"]


# Error severity: under the platform's default policy (quality.blockOn: error) a failure stops daily_revenue.
orders_daily_gx_suite = gx_check(
    ORDERS_DAILY,
    orders_daily_suite(),
    load=lambda: read_table(*model_table("orders_daily")),
    table=model_table("orders_daily"),
    severity="error",
    docs_prefix=DATA_DOCS_PREFIX,
)


@asset(deps=[ORDERS_DAILY], description="The daily-revenue product: orders_daily as CSV in the curated zone.")
def daily_revenue(lake: LakeResource) -> MaterializeResult:
    frame = read_table(*model_table("orders_daily"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders_daily.csv"
        frame.to_csv(path, index=False)
        uri = lake.put_file(path, DAILY_REVENUE_KEY)
    return MaterializeResult(metadata={"rows": len(frame), "uri": MetadataValue.url(uri)})


sales_daily = define_asset_job("sales_daily", selection=AssetSelection.assets(sales_dbt_assets, daily_revenue))

defs = Definitions(
    assets=[sales_dbt_assets, daily_revenue],
    asset_checks=[orders_daily_gx_suite],
    jobs=[sales_daily],
    schedules=[ScheduleDefinition(job=sales_daily, cron_schedule="0 6 * * *", execution_timezone="UTC")],
    sensors=[*catalog_sensors(), quality_alert_sensor()],
    resources={
        # The dbt next to this interpreter, so the venv or image need not be on PATH.
        "dbt": DbtCliResource(project_dir=sales_project, dbt_executable=str(Path(sys.executable).with_name("dbt"))),
        "lake": LakeResource(
            bucket=os.environ.get("LAKE_BUCKET") or None, local_dir=os.environ.get("LOCAL_LAKE_DIR", "lake-local")
        ),
    },
)
