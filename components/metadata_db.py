"""MetadataDatabases: one database and login role per tool on the domain's metadata PostgreSQL.

Creates, in the domain namespace:
- a generated password (pulumi-random) per tool, stored only in a Kubernetes Secret `<tool>-db`
  (under the key the tool's chart reads, plus the user name where the chart reads it from the
  Secret too), and the server's admin password in Secret `metadata-db-admin`;
- a Job that creates each tool's role and database if missing and (re)sets the role's password.
  It is idempotent: re-running it (a replaced Job) changes nothing but passwords that changed.

Invariants: passwords never appear in the Job spec or its environment: they are mounted as files
(a projected volume of the Secrets, read by the script); the Job runs as a high non-root UID with a
read-only root filesystem and no capabilities, from a digest-pinned image; TLS is required when the
server requires it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.images import POSTGRES_CLIENT
from components.interfaces import PostgresServer
from components.workloads import hardened_container_security, hardened_pod_security

# psql is a client: it runs as any UID (PGUSER names the login), so the Job uses a high one.
PSQL_IMAGE = POSTGRES_CLIENT.ref
RUN_AS_UID = 65532
SECRETS_DIR = "/secrets"
PASSWORD_KEY = "password"
ADMIN_SECRET = "metadata-db-admin"

# psql variables cannot be used inside dollar-quoted blocks, so each statement stands alone.
_SQL = r"""
SELECT format('CREATE ROLE %I LOGIN', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN :createdb PASSWORD :'pw';
GRANT :"role" TO CURRENT_USER;
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'role') \gexec
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
"""


@dataclass(frozen=True)
class DatabaseSpec:
    """A tool's database: the Secret key its chart reads the password from, and what else it needs."""

    tool: str
    password_key: str = "password"
    user_key: str | None = None  # some charts read the user name from the Secret as well
    createdb: bool = False  # e.g. Airbyte's Temporal creates databases of its own


def password_file(tool: str) -> str:
    """The file (under the secrets dir) holding `tool`'s password; `admin` is the server's admin password."""
    return f"{tool}-password"


def init_script(specs: list[DatabaseSpec], secrets_dir: str = SECRETS_DIR) -> str:
    """The shell script the Job runs: one psql session per tool, stopping at the first error.
    Passwords are read from files, so they are in no pod spec and no container environment. Each is read
    by a plain assignment (where `set -e` sees a failed `cat`) and must not be empty."""
    lines = ["set -eu", f'PGPASSWORD="$(cat {secrets_dir}/{password_file("admin")})"', "export PGPASSWORD"]
    for spec in specs:
        createdb = "CREATEDB" if spec.createdb else "NOCREATEDB"
        lines += [
            f'pw="$(cat {secrets_dir}/{password_file(spec.tool)})"',
            '[ -n "$pw" ]',
            f"psql -v ON_ERROR_STOP=1 -v role={db_name(spec.tool)} -v createdb={createdb} "
            '-v pw="$pw" <<' + "'SQL'" + f"{_SQL}SQL",
        ]
    return "\n".join(lines) + "\n"


def db_name(tool: str) -> str:
    return tool.replace("-", "_")


@dataclass(frozen=True)
class ToolDatabase:
    host: pulumi.Output[str]
    port: int
    database: str
    user: str
    secret_name: str
    password_key: str
    sslmode: str


class MetadataDatabases(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        namespace: str,
        server: PostgresServer,
        tools: list[DatabaseSpec],
        service_account: str,
        labels: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:metadata_db:MetadataDatabases", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tools = sorted(tools, key=lambda t: t.tool)

        def meta(n: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=n, namespace=namespace, labels=labels)

        admin = k8s.core.v1.Secret(
            f"{name}-admin",
            metadata=meta(ADMIN_SECRET),
            type="Opaque",
            string_data={PASSWORD_KEY: server.admin_password},
            opts=child,
        )
        secrets: list[pulumi.Resource] = [admin]
        self.databases: dict[str, ToolDatabase] = {}
        # Secret Outputs, for tools whose chart wants the password in a Secret of its own layout.
        self.passwords: dict[str, pulumi.Output[str]] = {}
        env: list[k8s.core.v1.EnvVarArgs] = [
            k8s.core.v1.EnvVarArgs(name="PGHOST", value=server.host),
            k8s.core.v1.EnvVarArgs(name="PGPORT", value=str(server.port)),
            k8s.core.v1.EnvVarArgs(name="PGUSER", value=server.admin_user),
            k8s.core.v1.EnvVarArgs(name="PGDATABASE", value="postgres"),
            k8s.core.v1.EnvVarArgs(name="PGSSLMODE", value=server.sslmode),
        ]
        password_files = [
            k8s.core.v1.VolumeProjectionArgs(
                secret=k8s.core.v1.SecretProjectionArgs(
                    name=ADMIN_SECRET,
                    items=[k8s.core.v1.KeyToPathArgs(key=PASSWORD_KEY, path=password_file("admin"))],
                )
            )
        ]
        for spec in tools:
            tool = spec.tool
            password = random.RandomPassword(
                f"{name}-{tool}", random.RandomPasswordArgs(length=32, special=False), opts=child
            )
            self.passwords[tool] = password.result
            secret_name = f"{tool}-db"
            data: dict[str, pulumi.Input[str]] = {spec.password_key: password.result}
            if spec.user_key:
                data[spec.user_key] = db_name(tool)
            secrets.append(
                k8s.core.v1.Secret(
                    f"{name}-{tool}",
                    metadata=meta(secret_name),
                    type="Opaque",
                    string_data=data,
                    opts=child,
                )
            )
            password_files.append(
                k8s.core.v1.VolumeProjectionArgs(
                    secret=k8s.core.v1.SecretProjectionArgs(
                        name=secret_name,
                        items=[k8s.core.v1.KeyToPathArgs(key=spec.password_key, path=password_file(tool))],
                    )
                )
            )
            self.databases[tool] = ToolDatabase(
                host=server.host,
                port=server.port,
                database=db_name(tool),
                user=db_name(tool),
                secret_name=secret_name,
                password_key=spec.password_key,
                sslmode=server.sslmode,
            )

        self.job = k8s.batch.v1.Job(
            f"{name}-init",
            metadata=meta("metadata-db-init"),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=6,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels={**labels, "app.kubernetes.io/name": "metadata-db-init"}
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="OnFailure",
                        service_account_name=service_account,
                        automount_service_account_token=False,
                        security_context=hardened_pod_security(run_as_user=RUN_AS_UID),
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="passwords",
                                # Owner- and group-readable; fsGroup makes the pod's group own the files.
                                projected=k8s.core.v1.ProjectedVolumeSourceArgs(
                                    sources=password_files, default_mode=0o440
                                ),
                            )
                        ],
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="init",
                                image=PSQL_IMAGE,
                                command=["/bin/sh", "-c", init_script(tools)],
                                image_pull_policy="Always",
                                env=env,
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(
                                        name="passwords", mount_path=SECRETS_DIR, read_only=True
                                    )
                                ],
                                security_context=hardened_container_security(),
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "50m", "memory": "64Mi"},
                                    limits={"cpu": "200m", "memory": "128Mi"},
                                ),
                            )
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=secrets),
        )
        self.register_outputs({"databases": sorted(self.databases)})
