"""Reads a dbt model's table back from the warehouse that DBT_TARGET points at."""

import os
from decimal import Decimal

import duckdb
import pandas as pd
import psycopg2
from psycopg2 import sql

from sales_user_code.project import sales_project


def read_table(schema: str, table: str) -> pd.DataFrame:
    """The whole table as a DataFrame, connecting with the same variables as profiles.yml.

    Meant for small curated tables (the GX suite validates in pandas); NUMERIC columns come back as float.
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
    con = psycopg2.connect(
        host=env["WAREHOUSE_HOST"],
        port=int(env.get("WAREHOUSE_PORT", "5439" if target == "redshift" else "5432")),
        dbname=env["WAREHOUSE_DB"],
        user=env["WAREHOUSE_USER"],
        password=env["WAREHOUSE_PASSWORD"],
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
