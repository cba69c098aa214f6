"""Helm values for a domain's Superset (chart `superset` 0.22.8 from https://apache.github.io/superset).

Metadata in an external PostgreSQL (`postgresql.enabled: false`), Redis bundled (dev) or external,
and the domain warehouse registered as a database connection, all without a secret in the values:

- Credentials reach the pods only through one Secret the stack creates, named by `envFromSecret`
  (`secretEnv.create: false`). The chart builds the metadata URI from env DB_USER/DB_PASS/DB_HOST/
  DB_PORT/DB_NAME and the Redis URLs from REDIS_HOST/REDIS_PORT/REDIS_PASSWORD, and its wait
  containers read the same variables, so the Secret also carries those non-secret entries:
  `superset_secret_env(args, release)` returns them.
- The admin user: the chart's `init.createAdmin` requires `init.adminUser.password` in plain text
  (its config template fails otherwise), so it is off; `init.command` runs the chart's init script
  and then `superset fab create-admin` with the password from env SUPERSET_ADMIN_PASSWORD.
- The warehouse: the init job registers it with `superset set-database-uri` and a URI without a
  password; a `DB_CONNECTION_MUTATOR` (configOverrides) adds WAREHOUSE_PASSWORD from the env when
  Superset opens a connection to that host as that user, and leaves every other database alone.
- Redis auth: the chart writes the results and async-query backends with the password from
  `cache.password` (a value); a configOverrides block rebuilds them from REDIS_PASSWORD instead.

Kubernetes Secrets the stack must create (in the domain namespace); keeping the two apart keeps the
connection settings out of the secret material:
- `args.env_secret`: the entries of `superset_secret_env` (hosts, ports, names; no secret).
- `postgres.password_secret`: `DB_PASS`, `SUPERSET_SECRET_KEY`, `SUPERSET_ADMIN_PASSWORD`,
  `REDIS_PASSWORD`, `WAREHOUSE_PASSWORD` (password-authenticated warehouse only) and
  `redis-password` (bundled Redis only: the Redis subchart's default key in
  `redis.auth.existingSecret`, same value as REDIS_PASSWORD). Added to `envFromSecrets`.

The chart's Ingress stays disabled; the stack's Ingress targets `superset_ui_service(release)`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.values.common import (
    Postgres,
    check_label,
    check_name,
    container_security_context,
    helm_fullname,
    resources,
)

DB_PASSWORD_KEY = "DB_PASS"
# sqlalchemy-redshift 0.8.x supports SQLAlchemy 1.4, which Superset uses.
REDSHIFT_DRIVER = "sqlalchemy-redshift==0.8.14"
BOTO3 = "boto3==1.44.5"
_DEPS_DIR = "/tmp/superset-deps"
# The superset user of the official image.
_UID = 1000
_PLAIN = re.compile(r"^[A-Za-z0-9_.@+-]+$")


@dataclass(frozen=True)
class SupersetRedis:
    """`host=None`: the chart's bundled Redis (dev); otherwise an external Redis (e.g. ElastiCache)."""

    host: str | None = None
    port: int = 6379


@dataclass(frozen=True)
class RedshiftConnection:
    """The domain warehouse as Superset shows it.

    Credentials: with `iam_workgroup` set (AWS), Superset asks Redshift Serverless for temporary
    ones (GetCredentials) with its Pod Identity role each time it connects; otherwise the password
    is WAREHOUSE_PASSWORD in the Secret. `dialect` "postgresql" serves a local PostgreSQL warehouse.
    """

    name: str
    host: str
    port: int
    database: str
    user: str
    iam_workgroup: str | None = None
    region: str | None = None
    dialect: str = "redshift"

    def __post_init__(self) -> None:
        for field in ("host", "database", "user"):
            _plain(getattr(self, field), f"RedshiftConnection.{field}")
        if not re.match(r"^[A-Za-z0-9 _.-]+$", self.name):
            raise ValueError(f"RedshiftConnection.name: letters, digits, spaces, '_', '.', '-' only: {self.name!r}")
        if self.dialect not in ("redshift", "postgresql"):
            raise ValueError(f"RedshiftConnection.dialect must be redshift or postgresql: {self.dialect!r}")
        if (self.iam_workgroup is None) != (self.region is None):
            raise ValueError("RedshiftConnection: set iam_workgroup and region together (IAM auth), or neither")
        if self.iam_workgroup is not None:
            _plain(self.iam_workgroup, "RedshiftConnection.iam_workgroup")
            _plain(self.region or "", "RedshiftConnection.region")

    @property
    def uri(self) -> str:
        return f"{self.dialect}+psycopg2://{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class SupersetSignIn:
    """Superset's own OIDC login (components/runtime/superset_sign_in.py reads these from env)."""

    issuer_url: str
    client_id: str
    scopes: tuple[str, ...]
    groups_claim: str
    owner_groups: tuple[str, ...]  # -> Admin
    viewer_groups: tuple[str, ...]  # -> Gamma
    # Only where pods cannot read the issuer's discovery document (the local stack's Dex).
    authorize_url: str | None = None
    token_url: str | None = None
    jwks_url: str | None = None

    def env(self) -> dict[str, str]:
        out = {
            "SIGN_IN_ISSUER_URL": self.issuer_url,
            "SIGN_IN_CLIENT_ID": self.client_id,
            "SIGN_IN_SCOPES": " ".join(self.scopes),
            "SIGN_IN_GROUPS_CLAIM": self.groups_claim,
            "SIGN_IN_OWNER_GROUPS": ",".join(self.owner_groups),
            "SIGN_IN_VIEWER_GROUPS": ",".join(self.viewer_groups),
        }
        if self.token_url:
            out |= {
                "SIGN_IN_AUTHORIZE_URL": self.authorize_url or "",
                "SIGN_IN_TOKEN_URL": self.token_url,
                "SIGN_IN_JWKS_URL": self.jwks_url or "",
            }
        return out


# The secret half of the sign-in settings, in the credentials Secret.
SIGN_IN_CLIENT_SECRET_KEY = "SIGN_IN_CLIENT_SECRET"
SIGN_IN_MODULE = "dataplatform_sign_in"
_SIGN_IN_SOURCE = Path(__file__).resolve().parent.parent / "runtime" / "superset_sign_in.py"
_EXTRA_CONFIG_PATH = "/app/configs"
# superset_config.py: sign-in through the platform's provider; the emergency admin keeps only the API
# (POST /api/v1/security/login with provider "db") and `superset fab reset-password` in a pod.
_SIGN_IN_OVERRIDE = (
    "import sys\n"
    f"sys.path.insert(0, {_EXTRA_CONFIG_PATH!r})\n"
    "from flask_appbuilder.security.manager import AUTH_OAUTH\n"
    f"from {SIGN_IN_MODULE} import PlatformSecurityManager, settings\n"
    "AUTH_TYPE = AUTH_OAUTH\n"
    "CUSTOM_SECURITY_MANAGER = PlatformSecurityManager\n"
    "globals().update(settings())\n"
)


@dataclass(frozen=True)
class SupersetArgs:
    env_secret: str
    postgres: Postgres
    redis: SupersetRedis
    admin_username: str
    admin_email: str
    warehouse: RedshiftConnection | None = None
    # Off when the image already carries the Redshift dialect (recommended for prod).
    install_redshift_driver: bool = True
    # Created by the stack, so a Pod Identity association can name it.
    service_account: str = "superset"
    # From the domain file: web pods and their resources (the worker and init job keep the defaults).
    replicas: int = 1
    resources: dict[str, Any] | None = None
    # The Celery worker and the init job.
    support_resources: dict[str, Any] | None = None
    sign_in: SupersetSignIn | None = None

    def __post_init__(self) -> None:
        check_name(self.env_secret, "env_secret")
        if self.postgres.password_key != DB_PASSWORD_KEY:
            raise ValueError(
                f"superset reads the metadata DB password from env {DB_PASSWORD_KEY}: store it under key "
                f"{DB_PASSWORD_KEY!r} (got password_key={self.postgres.password_key!r})"
            )
        _plain(self.admin_username, "admin_username")
        _plain(self.admin_email, "admin_email")


def _plain(value: str, what: str) -> str:
    # These strings land in shell commands and Helm `tpl` input: keep them free of metacharacters.
    if not _PLAIN.match(value):
        raise ValueError(f"{what}: letters, digits and _ . @ + - only: {value!r}")
    return value


def _redis_host(args: SupersetArgs, release: str) -> str:
    # The chart's default for the bundled Redis (`superset.redis.host`).
    return args.redis.host or f"{release}-redis-headless"


def superset_secret_env(args: SupersetArgs, release: str) -> dict[str, str]:
    """Non-secret entries the env Secret must hold, next to the secret ones (see module docstring)."""
    check_label(release, "release")
    pg = args.postgres
    return {
        "DB_HOST": pg.host,
        "DB_PORT": str(pg.port),
        "DB_NAME": pg.database,
        "DB_USER": pg.user,
        "REDIS_HOST": _redis_host(args, release),
        "REDIS_PORT": str(args.redis.port),
        **(args.sign_in.env() if args.sign_in else {}),
    }


def _wait_container(name: str, targets: list[str]) -> dict[str, Any]:
    """Waits until TCP targets (env-variable host:port pairs from the Secret) accept connections."""
    checks = " ".join(f'"{t}"' for t in targets)
    script = (
        f"for t in {checks}; do "
        'until (exec 3<>"/dev/tcp/${t%:*}/${t##*:}") 2>/dev/null; do echo "waiting for $t"; sleep 2; done; '
        "done"
    )
    return {
        "name": name,
        "image": "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}",
        "imagePullPolicy": "{{ .Values.image.pullPolicy }}",
        "envFrom": [{"secretRef": {"name": "{{ tpl .Values.envFromSecret . }}"}}],
        "command": ["/bin/bash", "-c", script],
        "securityContext": container_security_context(_UID, _UID),
        "resources": resources("50m", "64Mi"),
    }


_DB = "$DB_HOST:$DB_PORT"
_REDIS = "$REDIS_HOST:$REDIS_PORT"


def _bootstrap_script(install_driver: bool, with_boto3: bool = False) -> str:
    lines = ["#!/bin/sh"]
    if with_boto3:
        # IAM logins to Redshift Serverless need boto3 (with its dependencies), unless the image has it.
        lines += [
            f'python -c "import boto3" 2>/dev/null || python -m pip install --quiet --target {_DEPS_DIR} {BOTO3}',
        ]
    if install_driver:
        # Non-root: install into a private dir on PYTHONPATH (this script is sourced before the server starts).
        lines += [
            f'if [ ! -d "{_DEPS_DIR}/sqlalchemy_redshift" ]; then',
            f"  if command -v uv >/dev/null; then uv pip install --quiet --no-deps --target {_DEPS_DIR} {REDSHIFT_DRIVER};",
            f"  else python -m pip install --quiet --no-deps --target {_DEPS_DIR} {REDSHIFT_DRIVER}; fi",
            "fi",
        ]
    if install_driver or with_boto3:
        lines.append(f'export PYTHONPATH="{_DEPS_DIR}:$PYTHONPATH"')
    return "\n".join(lines) + "\n"


def _init_command(args: SupersetArgs) -> list[str]:
    user, email = shlex.quote(args.admin_username), shlex.quote(args.admin_email)
    steps = [
        ". {{ .Values.configMountPath }}/superset_bootstrap.sh",
        ". {{ .Values.configMountPath }}/superset_init.sh",
        # Idempotent: upgrades re-run the job.
        f"if superset fab list-users | grep -qF {shlex.quote('username:' + args.admin_username)}; "
        "then echo 'admin user exists'; "
        f"else superset fab create-admin --username {user} --firstname Superset --lastname Admin "
        f'--email {email} --password "$SUPERSET_ADMIN_PASSWORD"; fi',
    ]
    if args.warehouse:
        steps.append(
            f"superset set-database-uri -d {shlex.quote(args.warehouse.name)} -u {shlex.quote(args.warehouse.uri)}"
        )
    return ["/bin/sh", "-c", "; ".join(steps)]


_REDIS_AUTH_OVERRIDE = """\
import os as _os
from flask_caching.backends.rediscache import RedisCache as _RedisCache
_redis_password = _os.environ.get("REDIS_PASSWORD") or None
RESULTS_BACKEND = _RedisCache(
    host=_os.environ["REDIS_HOST"], port=int(_os.environ["REDIS_PORT"]),
    password=_redis_password, key_prefix="superset_results",
)
GLOBAL_ASYNC_QUERIES_CACHE_BACKEND = dict(GLOBAL_ASYNC_QUERIES_CACHE_BACKEND, CACHE_REDIS_PASSWORD=_redis_password or "")
GLOBAL_ASYNC_QUERIES_RESULTS_BACKEND = dict(GLOBAL_ASYNC_QUERIES_RESULTS_BACKEND, password=_redis_password)
"""


def _warehouse_override(warehouse: RedshiftConnection) -> str:
    if warehouse.iam_workgroup:
        # Temporary credentials for the pod's IAM role (redshift-serverless:GetCredentials); nothing stored.
        login = (
            "        import boto3 as _boto3\n"
            f"        _c = _boto3.client('redshift-serverless', region_name={warehouse.region!r}).get_credentials(\n"
            f"            workgroupName={warehouse.iam_workgroup!r}, dbName={warehouse.database!r})\n"
            '        uri = uri.set(username=_c["dbUser"], password=_c["dbPassword"])\n'
        )
    else:
        login = '        uri = uri.set(password=_os.environ["WAREHOUSE_PASSWORD"])\n'
    return (
        "import os as _os\n"
        "def DB_CONNECTION_MUTATOR(uri, params, username, security_manager, source):\n"
        f"    if uri.host == {warehouse.host!r} and uri.username == {warehouse.user!r}:\n"
        f"{login}"
        "    return uri, params\n"
    )


def superset_values(args: SupersetArgs) -> dict[str, Any]:
    pg, bundled_redis = args.postgres, args.redis.host is None
    container = container_security_context(_UID, _UID)
    # The chart sets pod runAsUser from the top-level `runAsUser`; repeating it here would duplicate the key.
    pod = {"runAsNonRoot": True, "runAsGroup": _UID, "fsGroup": _UID, "seccompProfile": {"type": "RuntimeDefault"}}
    overrides = {"redis_backends": _REDIS_AUTH_OVERRIDE}
    if args.warehouse:
        overrides["warehouse_connection"] = _warehouse_override(args.warehouse)
    sign_in: dict[str, Any] = {}
    if args.sign_in:
        overrides["sign_in"] = _SIGN_IN_OVERRIDE
        sign_in = {
            "extraConfigs": {f"{SIGN_IN_MODULE}.py": _SIGN_IN_SOURCE.read_text()},
            "extraConfigMountPath": _EXTRA_CONFIG_PATH,
        }

    def component(cpu: str, memory: str, cpu_limit: str, memory_limit: str, waits: list[str]) -> dict[str, Any]:
        return {
            # The chart's wait containers have no securityContext: replaced by hardened ones.
            "initContainers": [],
            "extraInitContainers": [_wait_container("wait-for-services", waits)],
            "podSecurityContext": pod,
            "containerSecurityContext": container,
            "resources": resources(cpu, memory, cpu_limit=cpu_limit, memory_limit=memory_limit),
        }

    return {
        "runAsUser": _UID,
        "serviceAccountName": args.service_account,
        "serviceAccount": {"create": False},
        "secretEnv": {"create": False},
        "envFromSecret": args.env_secret,
        # Every Superset container (not the wait containers, which need no password) also loads these.
        "envFromSecrets": [pg.password_secret] if pg.password_secret != args.env_secret else [],
        "bootstrapScript": _bootstrap_script(
            args.install_redshift_driver, with_boto3=bool(args.warehouse and args.warehouse.iam_workgroup)
        ),
        "database": {
            "host": pg.host,
            "port": pg.port,
            "user": pg.user,
            "name": pg.database,
            "ssl": {"enabled": pg.tls, "mode": "require"},
        },
        **({} if bundled_redis else {"cache": {"host": args.redis.host, "port": args.redis.port}}),
        "configOverrides": overrides,
        **sign_in,
        "supersetNode": {
            **component("250m", "1Gi", "1", "2Gi", [_DB]),
            **({"resources": args.resources} if args.resources else {}),
            "replicas": {"enabled": True, "replicaCount": args.replicas},
        },
        "supersetWorker": {
            **component("250m", "1Gi", "1", "2Gi", [_DB, _REDIS]),
            **({"resources": args.support_resources} if args.support_resources else {}),
        },
        "init": {
            "createAdmin": False,
            "loadExamples": False,
            "command": _init_command(args),
            **component("250m", "1Gi", "1", "2Gi", [_DB]),
            **({"resources": args.support_resources} if args.support_resources else {}),
        },
        "postgresql": {"enabled": False},
        "redis": (
            {"enabled": True, "auth": {"enabled": True, "existingSecret": pg.password_secret}}
            if bundled_redis
            else {"enabled": False}
        ),
        "ingress": {"enabled": False},
    }


# The web server's health endpoint (200 "OK"); the chart's own probes use it (`supersetNode.*Probe`).
# `/` answers 302 to the login page, which a load balancer counts as unhealthy.
HEALTH_PATH = "/health"


def superset_ui_service(release: str) -> tuple[str, int]:
    """Service name and port of the web server (`superset.fullname`, `service.port`)."""
    check_label(release, "release")
    return helm_fullname(release, "superset"), 8088
