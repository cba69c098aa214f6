"""Reads a dbt model's table back from the warehouse that DBT_TARGET points at."""

import os
from decimal import Decimal

import boto3
import duckdb
import pandas as pd
import psycopg2
from psycopg2 import sql

from sales_user_code.project import sales_project


def read_table(schema: str, table: str) -> pd.DataFrame:
    """The whole table as a DataFrame, connecting with the same variables as profiles.yml.

    Meant for small curated tables (the GX suite validates in pandas); NUMERIC columns come back as float.
    Each target reads only its own login variables (_postgres_login, _redshift_login).
    """
    env = os.environ
    target = env.get("DBT_TARGET", "duckdb")
    if target == "duckdb":
        # As in profiles.yml: dbt resolves a relative path from the project directory.
        path = sales_project.project_dir / env.get("DUCKDB_PATH", "target/warehouse.duckdb")
        with duckdb.connect(str(path)) as con:
            return con.sql(f'select * from "{schema}"."{table}"').df()
    if target not in ("postgres", "redshift"):
        raise ValueError(f"DBT_TARGET={target!r}: expected duckdb, postgres or redshift")
    # Redshift speaks the PostgreSQL protocol; psycopg2 serves both.
    user, password = _redshift_login() if target == "redshift" else _postgres_login()
    con = psycopg2.connect(
        host=env["WAREHOUSE_HOST"],
        port=int(env.get("WAREHOUSE_PORT", "5439" if target == "redshift" else "5432")),
        dbname=env["WAREHOUSE_DB"],
        user=user,
        password=password,
        sslmode="require" if target == "redshift" else "prefer",
        connect_timeout=10,
    )
    try:
        with con.cursor() as cur:
            cur.execute(sql.SQL("select * from {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
            frame = pd.DataFrame(cur.fetchall(), columns=[column.name for column in cur.description or ()])
    finally:
        con.close()
    for column in frame.columns:
        if frame[column].map(lambda value: isinstance(value, Decimal)).any():
            frame[column] = frame[column].astype(float)
    return frame


def _postgres_login() -> tuple[str, str]:
    """The local stack's password login, from the Secret the platform mounts as env."""
    return os.environ["WAREHOUSE_USER"], os.environ["WAREHOUSE_PASSWORD"]


def _redshift_login() -> tuple[str, str]:
    """Temporary credentials for the pod's IAM role in the workgroup (as dbt-redshift's iam_role method)."""
    client = boto3.client("redshift-serverless", region_name=os.environ["AWS_REGION"])
    answer = client.get_credentials(workgroupName=os.environ["WAREHOUSE_WORKGROUP"], dbName=os.environ["WAREHOUSE_DB"])
    return answer["dbUser"], answer["dbPassword"]
