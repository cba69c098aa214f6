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
- The analyst sandbox (AWS): with `athena`, the init job also registers the domain's Athena
  connection (PyAthena, the sandbox workgroup, the analyst role), DML off.
- Drivers: the image (apache/superset 6.1.0, pinned with its contract in components/images.py) is
  the lean one, without psycopg2, the Redshift dialect, boto3 or authlib (the OIDC sign-in). `bootstrapScript`, which every
  Superset container sources before it starts, installs exactly what its URIs need
  (`required_modules`), pinned and without dependencies (their own needs are the image's), with
  the image's `uv` for the image's interpreter into a private directory put on PYTHONPATH (the
  image's venv is root-owned and has no pip), and stops the container if that fails.
- Redis: the bundled one (subchart bitnami/redis 17.9.4) runs the same tag from docker.io/bitnamilegacy,
  hardened with the subchart's own keys (`redis_values`): the password as a mounted file, no API token,
  a restricted, read-only container (the chart mounts emptyDirs at every path Redis writes), explicit resources.
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
from urllib.parse import urlencode

from components.images import SUPERSET, SUPERSET_REDIS
from components.values.common import (
    Postgres,
    check_label,
    check_name,
    container_security_context,
    helm_fullname,
    resources,
)

DB_PASSWORD_KEY = "DB_PASS"
# bitnami/redis 17.9.4: the image's user (master.containerSecurityContext.runAsUser, podSecurityContext.fsGroup).
REDIS_UID = 1001
# The superset user of the official image.
_UID = 1000


@dataclass(frozen=True)
class PythonPackage:
    """A pinned distribution the bootstrap installs without its dependencies: `needs` are the modules
    it imports that it does not bring (the image's, or another pinned package's)."""

    pin: str
    module: str
    needs: tuple[str, ...] = ()


# Versions: psycopg2-binary and the sqlalchemy-redshift range are Superset's own `postgres` and
# `redshift` extras (pyproject.toml); 0.8.x supports SQLAlchemy 1.4, which Superset uses. `needs` are
# from each wheel's metadata (sqlalchemy-redshift also imports pkg_resources, from setuptools).
PSYCOPG2 = PythonPackage("psycopg2-binary==2.9.6", "psycopg2")
REDSHIFT_DIALECT = PythonPackage(
    "sqlalchemy-redshift==0.8.14", "sqlalchemy_redshift", ("sqlalchemy", "packaging", "pkg_resources")
)
# boto3 with its closure: IAM logins to Redshift Serverless (GetCredentials).
BOTO3 = (
    PythonPackage("boto3==1.44.5", "boto3", ("botocore", "jmespath", "s3transfer")),
    PythonPackage("botocore==1.44.5", "botocore", ("jmespath", "dateutil", "urllib3")),
    PythonPackage("s3transfer==0.19.0", "s3transfer", ("botocore",)),
    PythonPackage("jmespath==1.0.1", "jmespath"),
)
# The platform's OIDC sign-in: Flask-AppBuilder imports authlib for AUTH_OAUTH (its `oauth` extra).
# 1.6.x is the newest line that accepts the image's cryptography 44 (1.8 requires cryptography>=45.0.1).
AUTHLIB = PythonPackage("authlib==1.6.12", "authlib", ("cryptography", "flask", "requests"))
# The sandbox's Athena connection: Superset's `athena` extra pins pyathena 2.x, the last line whose
# SQLAlchemy dialect supports SQLAlchemy 1.4 (3.0 requires 2.0); its REST dialect imports boto3,
# botocore, tenacity and sqlalchemy (pyathena 2.25.2 wheel: sqlalchemy_athena.py, connection.py, util.py).
PYATHENA = PythonPackage("pyathena==2.25.2", "pyathena", ("boto3", "botocore", "tenacity", "sqlalchemy"))
TENACITY = PythonPackage("tenacity==9.1.4", "tenacity")
# The modules a SQLAlchemy URI's dialect and driver import.
URI_MODULES = {
    "postgresql": (),
    "redshift": ("sqlalchemy_redshift",),
    "psycopg2": ("psycopg2",),
    "awsathena": ("pyathena",),
    "rest": (),
}
# The chart's metadata database URI (`database.driver` defaults to postgresql+psycopg2).
METADATA_URI_SCHEME = "postgresql+psycopg2"
# A private, writable directory on PYTHONPATH: the image's venv (/app/.venv) is root-owned and has no pip.
DEPS_DIR = "/tmp/superset-deps"
VENV_PYTHON = "/app/.venv/bin/python"
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
class AthenaConnection:
    """The domain's analyst sandbox as Superset shows it: Athena through the sandbox workgroup (which
    enforces the result location, encryption and scan limit) as the domain's analyst role, which
    PyAthena assumes (`role_arn`) with the pod's own credentials. No key in the URI; DML stays off
    (a database `superset set-database-uri` creates has allow_dml false)."""

    name: str
    region: str
    workgroup: str
    database: str
    role_arn: str

    def __post_init__(self) -> None:
        for field in ("region", "workgroup", "database"):
            _plain(getattr(self, field), f"AthenaConnection.{field}")
        if not re.match(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$", self.role_arn):
            raise ValueError(f"AthenaConnection.role_arn: an IAM role ARN: {self.role_arn!r}")
        if not re.match(r"^[A-Za-z0-9 _.-]+$", self.name):
            raise ValueError(f"AthenaConnection.name: letters, digits, spaces, '_', '.', '-' only: {self.name!r}")

    @property
    def uri(self) -> str:
        # PyAthena's REST dialect: region from the host, schema from the path, Connection kwargs from the query.
        query = urlencode({"work_group": self.workgroup, "role_arn": self.role_arn})
        return f"awsathena+rest://athena.{self.region}.amazonaws.com:443/{self.database}?{query}"


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
# (POST /api/v1/security/login with provider "db", which `settings()` keeps allowed under AUTH_OAUTH:
# the Flask-AppBuilder facts are in components/runtime/superset_sign_in.py) and `superset fab reset-password`.
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
    # The analyst sandbox (AWS, tools.sandbox): a second connection next to the warehouse.
    athena: AthenaConnection | None = None
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


def required_modules(args: SupersetArgs) -> set[str]:
    """Python modules Superset's pods import for the URIs they open (the metadata DB, the warehouse),
    boto3 for IAM logins to the warehouse, and authlib for the OIDC sign-in."""
    uris = [c.uri for c in (args.warehouse, args.athena) if c]
    schemes = [METADATA_URI_SCHEME] + [uri.split("://", 1)[0] for uri in uris]
    modules = {m for scheme in schemes for part in scheme.split("+") for m in URI_MODULES[part]}
    if (args.warehouse and args.warehouse.iam_workgroup) or args.athena:
        modules.add("boto3")
    if args.sign_in:
        modules.add("authlib")
    return modules


def drivers_needed(args: SupersetArgs) -> list[PythonPackage]:
    """The pinned packages the bootstrap installs for `required_modules`, closure included."""
    modules = required_modules(args)
    packages = [PSYCOPG2] if "psycopg2" in modules else []
    if "sqlalchemy_redshift" in modules:
        packages.append(REDSHIFT_DIALECT)
    if "boto3" in modules:
        packages += BOTO3
    if "pyathena" in modules:
        packages += [PYATHENA, TENACITY]
    if "authlib" in modules:
        packages.append(AUTHLIB)
    return packages


def bootstrap_script(args: SupersetArgs) -> str:
    """Sourced by every Superset container before it starts: installs the drivers the lean image
    lacks, as the non-root user, with the image's uv for the image's interpreter, and exits the
    container on failure (a clear error instead of a Superset that cannot open its database)."""
    lines = ["#!/bin/sh"]
    packages = drivers_needed(args)
    if packages:
        pins = " ".join(p.pin for p in packages)
        lines += [
            f"uv pip install --quiet --no-deps --python {VENV_PYTHON} --target {DEPS_DIR} {pins} || exit 1",
            f'export PYTHONPATH="{DEPS_DIR}:$PYTHONPATH"',
        ]
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
    steps += [
        f"superset set-database-uri -d {shlex.quote(c.name)} -u {shlex.quote(c.uri)}"
        for c in (args.warehouse, args.athena)
        if c
    ]
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


def redis_values(password_secret: str) -> dict[str, Any]:
    """The bundled Redis (subchart bitnami/redis 17.9.4; every key checked against that chart's values.yaml and
    templates/master/application.yaml at bitnami/charts tag redis/17.9.4):
    - `auth.usePasswordFiles`: the password reaches Redis as REDIS_PASSWORD_FILE, a mounted Secret, and the
      chart's health scripts read that file (templates/health-configmap.yaml), not a secretKeyRef env var;
    - `serviceAccount.automountServiceAccountToken: false`: a standalone Redis never calls the API;
    - the container restricted and read-only: the chart already mounts emptyDirs at /opt/bitnami/redis/etc,
      /tmp and the data path (persistence off), the only places the image writes (bitnami made read-only the
      default in redis chart 19.0.0, bitnami/charts b4725cc, with the same mounts on the redis container);
    - requests and limits equal to the domain LimitRange's defaults, which it got implicitly before."""
    # No runAsGroup: the image's processes keep their primary group (root), as the chart's default context has it.
    container = {
        "enabled": True,
        **{k: v for k, v in container_security_context(REDIS_UID).items() if k != "runAsGroup"},
        "readOnlyRootFilesystem": True,
    }
    return {
        "enabled": True,
        "auth": {"enabled": True, "existingSecret": password_secret, "usePasswordFiles": True},
        # The subchart's default tag is gone from docker.io/bitnami (components/images.py).
        "image": {
            "registry": "docker.io",
            "repository": SUPERSET_REDIS.repository,
            "tag": SUPERSET_REDIS.tag,
            "pullPolicy": "Always",
        },
        "serviceAccount": {"automountServiceAccountToken": False},
        "master": {
            "podSecurityContext": {
                "enabled": True,
                "fsGroup": REDIS_UID,
                "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containerSecurityContext": container,
            "resources": resources("100m", "128Mi", cpu_limit="500m", memory_limit="512Mi"),
        },
    }


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
        # Pinned with its contract (what the bootstrap must add) in components/images.py.
        # Always: the registry is asked on every pod start (CKV_K8S_15); the wait containers use the same policy.
        "image": {"repository": SUPERSET.repository, "tag": SUPERSET.tag, "pullPolicy": "Always"},
        "runAsUser": _UID,
        "serviceAccountName": args.service_account,
        "serviceAccount": {"create": False},
        "secretEnv": {"create": False},
        "envFromSecret": args.env_secret,
        # Every Superset container (not the wait containers, which need no password) also loads these.
        "envFromSecrets": [pg.password_secret] if pg.password_secret != args.env_secret else [],
        "bootstrapScript": bootstrap_script(args),
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
        "redis": redis_values(pg.password_secret) if bundled_redis else {"enabled": False},
        "ingress": {"enabled": False},
    }


# The web server's health endpoint (200 "OK"); the chart's own probes use it (`supersetNode.*Probe`).
# `/` answers 302 to the login page, which a load balancer counts as unhealthy.
HEALTH_PATH = "/health"


def superset_ui_service(release: str) -> tuple[str, int]:
    """Service name and port of the web server (`superset.fullname`, `service.port`)."""
    check_label(release, "release")
    return helm_fullname(release, "superset"), 8088
