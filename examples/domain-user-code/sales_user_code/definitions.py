"""The sales domain's Dagster code location: dbt models as assets, a GX check, lake uploads, a schedule."""

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetSelection,
    Definitions,
    MetadataValue,
    ScheduleDefinition,
    asset_check,
    define_asset_job,
)
from dagster_dbt import DbtCliResource, dbt_assets, get_asset_key_for_model

from sales_user_code.catalog import catalog_sensors
from sales_user_code.lake import LakeResource
from sales_user_code.project import sales_project
from sales_user_code.quality import SUITE_NAME, validate_orders_daily
from sales_user_code.warehouse import read_table

# Lake keys the platform's catalog ingestion and docs hosting read from.
DBT_ARTIFACTS_PREFIX = "dbt/artifacts"
DATA_DOCS_PREFIX = "docs"


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


@asset_check(asset=ORDERS_DAILY, name="gx_suite", description=f"Great Expectations suite `{SUITE_NAME}`.")
def orders_daily_gx_suite(lake: LakeResource) -> AssetCheckResult:
    frame = read_table(*model_table("orders_daily"))
    with tempfile.TemporaryDirectory() as docs_dir:
        result = validate_orders_daily(frame, Path(docs_dir))
        lake.put_tree(Path(docs_dir), DATA_DOCS_PREFIX)
    failed = [
        f"{r.expectation_config.type}({r.expectation_config.kwargs.get('column')})"
        for r in result.results
        if not r.success and r.expectation_config is not None
    ]
    return AssetCheckResult(
        passed=result.success,
        metadata={
            "rows": len(frame),
            "evaluated_expectations": result.statistics["evaluated_expectations"],
            "failed_expectations": MetadataValue.json(failed),
            "data_docs": MetadataValue.url(lake.uri(f"{DATA_DOCS_PREFIX}/index.html")),
        },
    )


def model_table(model: str) -> tuple[str, str]:
    """(schema, table) of a model. Every profiles.yml output uses the same schema, so the baked manifest holds for all."""
    manifest = json.loads(sales_project.manifest_path.read_text())
    node = manifest["nodes"][f"model.{sales_project.name}.{model}"]
    return node["schema"], node["alias"]


sales_daily = define_asset_job("sales_daily", selection=AssetSelection.assets(sales_dbt_assets))

defs = Definitions(
    assets=[sales_dbt_assets],
    asset_checks=[orders_daily_gx_suite],
    jobs=[sales_daily],
    schedules=[ScheduleDefinition(job=sales_daily, cron_schedule="0 6 * * *", execution_timezone="UTC")],
    sensors=catalog_sensors(),
    resources={
        # The dbt next to this interpreter, so the venv or image need not be on PATH.
        "dbt": DbtCliResource(project_dir=sales_project, dbt_executable=str(Path(sys.executable).with_name("dbt"))),
        "lake": LakeResource(
            bucket=os.environ.get("LAKE_BUCKET") or None, local_dir=os.environ.get("LOCAL_LAKE_DIR", "lake-local")
        ),
    },
)
