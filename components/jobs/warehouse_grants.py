"""Give a domain's IAM database user its schema in the domain's Redshift Serverless warehouse.

Runs in a Kubernetes Job (components.warehouse_access), as `python /app/warehouse_grants.py`, in an
image that has Python 3 and boto3. It uses only the standard library and boto3, and imports nothing
from this repository, because the file alone is mounted into the container.

It calls the Redshift Data API as the warehouse admin: `ExecuteStatement` with the workgroup, the
database and the AWS-managed admin secret (the namespace's `manage_admin_password` secret), which the
Data API reads with the Job's own identity (EKS Pod Identity). Then, idempotently:

1. `CREATE USER "<user>" PASSWORD DISABLE` unless the user exists (the IAM database user, e.g.
   `IAMR:<role-name>`, so it holds grants before its first IAM login and can never log in by password);
2. `CREATE SCHEMA IF NOT EXISTS "<schema>" AUTHORIZATION "<user>"`;
3. `ALTER SCHEMA "<schema>" OWNER TO "<user>"`, so dbt can create, replace and drop its relations there.

Environment: WAREHOUSE_WORKGROUP, WAREHOUSE_DB, WAREHOUSE_ADMIN_LOGIN_ARN (the admin secret's ARN), WAREHOUSE_USER,
WAREHOUSE_SCHEMA, AWS_REGION (boto3), and optionally GRANTS_DEADLINE_SECONDS (default 900).
A new warehouse, a fresh Pod Identity association or IAM policy can take minutes to answer; every
failed call is retried until the deadline, then the Job fails (and Kubernetes retries it).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

DONE_STATES = ("FINISHED", "FAILED", "ABORTED")
REQUIRED_ENV = (
    "WAREHOUSE_WORKGROUP",
    "WAREHOUSE_DB",
    "WAREHOUSE_ADMIN_LOGIN_ARN",
    "WAREHOUSE_USER",
    "WAREHOUSE_SCHEMA",
    "AWS_REGION",
)
# Redshift identifiers, quoted: what the platform passes (IAMR:<role>, a domain name, a database name).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_:.\-]{0,126}")


class DataApi(Protocol):
    """The two Redshift Data API calls used (boto3 client "redshift-data")."""

    def execute_statement(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def describe_statement(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Settings:
    workgroup: str
    database: str
    secret_arn: str
    user: str
    schema: str
    deadline_seconds: float = 900.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        missing = [name for name in REQUIRED_ENV if not env.get(name)]
        if missing:
            raise SystemExit(f"warehouse_grants: missing environment variables: {', '.join(missing)}")
        settings = cls(
            workgroup=env["WAREHOUSE_WORKGROUP"],
            database=env["WAREHOUSE_DB"],
            secret_arn=env["WAREHOUSE_ADMIN_LOGIN_ARN"],
            user=env["WAREHOUSE_USER"],
            schema=env["WAREHOUSE_SCHEMA"],
            deadline_seconds=float(env.get("GRANTS_DEADLINE_SECONDS", "900")),
        )
        for name, value in (("WAREHOUSE_USER", settings.user), ("WAREHOUSE_SCHEMA", settings.schema)):
            if not _IDENTIFIER.fullmatch(value):
                raise SystemExit(f"warehouse_grants: {name}={value!r} is not a Redshift identifier")
        return settings


def quote(identifier: str) -> str:
    """A double-quoted Redshift identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def grant_statements(user: str, schema: str) -> list[str]:
    """The statements after the user exists; each is safe to run again."""
    return [
        f"CREATE SCHEMA IF NOT EXISTS {quote(schema)} AUTHORIZATION {quote(user)}",
        f"ALTER SCHEMA {quote(schema)} OWNER TO {quote(user)}",
    ]


class Warehouse:
    """Runs one statement at a time as the admin and waits for it, retrying failures until the deadline."""

    def __init__(
        self,
        client: DataApi,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        pause: float = 5.0,
    ) -> None:
        self.client, self.settings, self.clock, self.sleep, self.pause = client, settings, clock, sleep, pause
        self.deadline = clock() + settings.deadline_seconds

    def run(self, sql: str, parameters: list[dict[str, str]] | None = None) -> Mapping[str, Any]:
        """Run `sql` until it finishes; returns its final DescribeStatement answer."""
        while True:
            try:
                return self._run_once(sql, parameters)
            except Exception as error:  # retry everything: the warehouse or the identity may still be settling
                if self.clock() > self.deadline:
                    raise SystemExit(f"warehouse_grants: gave up on {sql!r}: {error}") from error
                print(f"retrying {sql!r} after: {error}", flush=True)
                self.sleep(self.pause)

    def _run_once(self, sql: str, parameters: list[dict[str, str]] | None) -> Mapping[str, Any]:
        request: dict[str, Any] = {
            "WorkgroupName": self.settings.workgroup,
            "Database": self.settings.database,
            "SecretArn": self.settings.secret_arn,
            "Sql": sql,
        }
        if parameters:
            request["Parameters"] = parameters
        statement_id = self.client.execute_statement(**request)["Id"]
        while True:
            answer = self.client.describe_statement(Id=statement_id)
            if answer["Status"] in DONE_STATES:
                break
            self.sleep(1.0)
        if answer["Status"] != "FINISHED":
            raise RuntimeError(f"{answer['Status']}: {answer.get('Error', 'no error message')}")
        return answer

    def user_exists(self, user: str) -> bool:
        answer = self.run("SELECT 1 FROM pg_user WHERE usename = :name", [{"name": "name", "value": user}])
        return int(answer.get("ResultRows", 0)) > 0


def apply(warehouse: Warehouse, settings: Settings) -> list[str]:
    """Bring the warehouse to the wanted state; returns the statements that were run."""
    ran: list[str] = []
    if not warehouse.user_exists(settings.user):
        sql = f"CREATE USER {quote(settings.user)} PASSWORD DISABLE"
        warehouse.run(sql)
        ran.append(sql)
    for sql in grant_statements(settings.user, settings.schema):
        warehouse.run(sql)
        ran.append(sql)
    return ran


def main(env: Mapping[str, str] | None = None, client: DataApi | None = None) -> int:
    settings = Settings.from_env(os.environ if env is None else env)
    api: DataApi
    if client is None:
        import boto3  # in the image; imported here so tests need no AWS client

        api = cast(DataApi, boto3.client("redshift-data"))
    else:
        api = client
    for sql in apply(Warehouse(api, settings), settings):
        print(f"ok: {sql}", flush=True)
    print(f"{settings.user} owns schema {settings.schema} in {settings.database}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
