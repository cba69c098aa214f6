"""Every test runs against a throwaway DuckDB warehouse and lake folder, never the caller's warehouse or bucket."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The platform's variables (see README); cleared so a developer's shell can't point tests at real systems.
CONTRACT = (
    "DBT_TARGET",
    "DUCKDB_PATH",
    "LOCAL_LAKE_DIR",
    "WAREHOUSE_HOST",
    "WAREHOUSE_PORT",
    "WAREHOUSE_DB",
    "WAREHOUSE_USER",
    "WAREHOUSE_PASSWORD",
    "WAREHOUSE_WORKGROUP",
    "DBT_PROJECT_DIR",
    "DATAHUB_GMS_URL",
    "DATAHUB_GMS_TOKEN_FILE",
    "LAKE_BUCKET",
    "AWS_REGION",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    # Read by the platform kit (dataplatform_kit.settings).
    "QUALITY_BLOCK_ON",
    "QUALITY_CATALOG",
    "QUALITY_ALERT_CHANNEL",
    "QUALITY_SLACK_WEBHOOK_URL",
    "QUALITY_SNS_TOPIC_ARN",
    "QUALITY_DOMAIN",
    "QUALITY_DATASET_PLATFORM",
    "DATAHUB_GMS_URL",
    "DATAHUB_GMS_TOKEN",
    "DATAHUB_GMS_TOKEN_FILE",
    "DATAHUB_ENV",
)
# A PostgreSQL to run the local-stack path against, e.g. "host=127.0.0.1 port=5432 dbname=wh user=u password=p".
POSTGRES_DSN = os.environ.get("SALES_TEST_POSTGRES_DSN")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sales")


@pytest.fixture(scope="session", autouse=True)
def duckdb_env(workdir: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name in CONTRACT:
            mp.delenv(name, raising=False)
        mp.setenv("DBT_TARGET", "duckdb")
        mp.setenv("DUCKDB_PATH", str(workdir / "warehouse.duckdb"))
        mp.setenv("LOCAL_LAKE_DIR", str(workdir / "lake"))
        mp.setenv("DAGSTER_DISABLE_TELEMETRY", "1")
        yield


@pytest.fixture(scope="session")
def defs(duckdb_env: None):
    """The code location, loaded as `dagster api grpc` would: after the manifest was baked."""
    from dbt.cli.main import dbtRunner
    from sales_user_code.project import sales_project

    # What the image build's `dagster-dbt project prepare-and-package` does, minus a dbt subprocess.
    project = str(sales_project.project_dir)
    parse = dbtRunner().invoke(
        ["parse", "--project-dir", project, "--profiles-dir", project, "--target-path", "target"]
    )
    assert parse.success, parse.exception
    from sales_user_code.definitions import defs

    return defs
