"""DuckDB over the domain's lake, in an analyst's notebook (docs/notebooks.md).

    import sandbox_lake
    con = sandbox_lake.connect()
    con.sql(f"SELECT * FROM read_parquet('{sandbox_lake.curated('orders')}*.parquet') LIMIT 10").df()

Everything comes from the environment the notebook profile sets:
- SANDBOX_DOMAIN, SANDBOX_BUCKET (the domain's lake bucket), AWS_REGION;
- on AWS, no keys: DuckDB's `credential_chain` provider finds the analyst role's credentials that
  EKS Pod Identity injects (AWS_CONTAINER_CREDENTIALS_FULL_URI and its token file), and refreshes them;
- on the local stack, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the domain's read-only MinIO user,
  from a Secret) and AWS_ENDPOINT_URL (MinIO, plain HTTP, path-style URLs);
- DUCKDB_EXTENSION_DIRECTORY: where the image installed httpfs and aws (outside the home volume).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

SECRET_NAME = "sandbox_lake"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def secret_sql(env: Mapping[str, str]) -> str:
    """The DuckDB S3 secret for this sandbox: MinIO keys and endpoint when given, else the credential chain."""
    region = env.get("AWS_REGION", "")
    if env.get("AWS_ACCESS_KEY_ID"):
        options = [
            "TYPE s3",
            f"KEY_ID {_quote(env['AWS_ACCESS_KEY_ID'])}",
            f"SECRET {_quote(env.get('AWS_SECRET_ACCESS_KEY', ''))}",
            f"REGION {_quote(region)}",
        ]
        endpoint = env.get("AWS_ENDPOINT_URL")
        if endpoint:
            url = urlsplit(endpoint)
            options += [
                f"ENDPOINT {_quote(url.netloc)}",
                "URL_STYLE 'path'",
                f"USE_SSL {'true' if url.scheme == 'https' else 'false'}",
            ]
    else:
        # No CHAIN: only the SDK's default chain reaches the Pod Identity agent (AWS_CONTAINER_CREDENTIALS_FULL_URI
        # and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; duckdb-aws v1.4 aws_secret.cpp, duckdb/duckdb-aws#175).
        # The secret stores the credentials it found once; REFRESH 'auto' fetches new ones when a request
        # fails, so a kernel outliving the temporary credentials keeps reading (test/sql/env/aws_secret_refresh.test).
        options = ["TYPE s3", "PROVIDER credential_chain", f"REGION {_quote(region)}", "REFRESH 'auto'"]
    return f"CREATE OR REPLACE SECRET {SECRET_NAME} ({', '.join(options)})"


def extensions(env: Mapping[str, str]) -> tuple[str, ...]:
    """httpfs reads S3; the credential chain lives in the aws extension."""
    return ("httpfs",) if env.get("AWS_ACCESS_KEY_ID") else ("httpfs", "aws")


def connect(database: str = ":memory:", env: Mapping[str, str] | None = None, duckdb_module: Any = None) -> Any:
    """A DuckDB connection that reads the sandbox's lake paths (`s3://...`)."""
    env = os.environ if env is None else env
    if duckdb_module is None:
        import duckdb as duckdb_module  # type: ignore[import-not-found]  # in the notebook image
    config = {}
    if env.get("DUCKDB_EXTENSION_DIRECTORY"):
        config["extension_directory"] = env["DUCKDB_EXTENSION_DIRECTORY"]
    con = duckdb_module.connect(database, config=config)
    for extension in extensions(env):
        con.load_extension(extension)
    con.execute(secret_sql(env))
    return con


def curated(product: str = "", env: Mapping[str, str] | None = None) -> str:
    """`s3://<bucket>/curated/<product>/`: the domain's own curated zone (or one folder of it)."""
    env = os.environ if env is None else env
    folder = f"{product.strip('/')}/" if product else ""
    return f"s3://{env['SANDBOX_BUCKET']}/curated/{folder}"
