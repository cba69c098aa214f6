"""The local stack's path: PostgreSQL warehouse and an S3-compatible lake at a custom endpoint (MinIO there).

Runs only with SALES_TEST_POSTGRES_DSN (a libpq DSN of a database the user may create schemas in);
moto stands in for MinIO in-process.
"""

import json
import os

import boto3
import pytest
from dagster import Definitions
from moto import mock_aws
from psycopg2.extensions import parse_dsn
from sales_user_code.lake import LakeResource
from sales_user_code.warehouse import read_table

MINIO = "http://minio.lake.svc:9000"
DSN = os.environ.get("SALES_TEST_POSTGRES_DSN")

pytestmark = pytest.mark.skipif(not DSN, reason="SALES_TEST_POSTGRES_DSN is not set")


def test_job_on_postgres_and_minio(defs: Definitions, monkeypatch: pytest.MonkeyPatch) -> None:
    assert DSN
    dsn = parse_dsn(DSN)
    env = {
        "DBT_TARGET": "postgres",
        "WAREHOUSE_HOST": dsn["host"],
        "WAREHOUSE_PORT": dsn.get("port", "5432"),
        "WAREHOUSE_DB": dsn["dbname"],
        "WAREHOUSE_USER": dsn["user"],
        "WAREHOUSE_PASSWORD": dsn.get("password", ""),
        "LAKE_BUCKET": "sales-lake",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": MINIO,
        "AWS_ACCESS_KEY_ID": "minio",
        "AWS_SECRET_ACCESS_KEY": "minio-secret",
        "MOTO_S3_CUSTOM_ENDPOINTS": MINIO,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="sales-lake")
        run = defs.resolve_job_def("sales_daily").execute_in_process(
            resources={"lake": LakeResource(bucket="sales-lake")}
        )
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="sales-lake")["Contents"]}
        manifest = json.loads(s3.get_object(Bucket="sales-lake", Key="dbt/artifacts/manifest.json")["Body"].read())
        catalog = json.loads(s3.get_object(Bucket="sales-lake", Key="dbt/artifacts/catalog.json")["Body"].read())

    assert run.success
    assert all(e.passed for e in run.get_asset_check_evaluations())
    assert {"dbt/artifacts/manifest.json", "dbt/artifacts/run_results.json", "docs/index.html"} <= keys
    assert manifest["metadata"]["adapter_type"] == "postgres"
    assert catalog["nodes"]["model.sales.orders_daily"]["metadata"]["schema"] == "sales"
    assert len(read_table("sales", "orders_daily")) == 7
