"""Superset values: chart 0.22.8 keys only, credentials only through the stack's Secrets
(`secretEnv.create: false` + `envFromSecret`), admin and warehouse set up without a password in
values, and hardened, sized containers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.charts import PINNED
from components.domain_config import Quota
from components.images import SUPERSET
from components.values.common import Postgres
from components.values.superset import (
    AUTHLIB,
    BOTO3,
    DEPS_DIR,
    PSYCOPG2,
    PYATHENA,
    REDIS_UID,
    REDSHIFT_DIALECT,
    TENACITY,
    VENV_PYTHON,
    AthenaConnection,
    RedshiftConnection,
    SupersetArgs,
    SupersetRedis,
    SupersetSignIn,
    drivers_needed,
    required_modules,
    superset_secret_env,
    superset_ui_service,
    superset_values,
)
from platformctl.chartkeys import SUBCHART_KEYS, reference_values, secret_like_values, unknown_keys

POSTGRES = Postgres("meta.internal", 5432, "superset", "superset", "superset-db", "DB_PASS")
WAREHOUSE = RedshiftConnection(
    "Sales warehouse", "sales.123.eu-west-1.redshift-serverless.amazonaws.com", 5439, "sales", "bi_reader"
)
SECRET_NAMES = {"superset-env", "superset-db"}


def args(**overrides: Any) -> SupersetArgs:
    fields: dict[str, Any] = {
        "env_secret": "superset-env",
        "postgres": POSTGRES,
        "redis": SupersetRedis(),
        "admin_username": "admin",
        "admin_email": "data-platform@example.com",
        "warehouse": WAREHOUSE,
    }
    return SupersetArgs(**(fields | overrides))


CASES = {
    "bundled-redis": args(),
    "external-redis": args(redis=SupersetRedis("sales-redis.abc.cache.amazonaws.com", 6380)),
    "no-warehouse": args(warehouse=None),
    "one-secret": args(postgres=Postgres("pg", 5432, "superset", "superset", "superset-env", "DB_PASS", tls=False)),
}


def test_pinned_chart():
    pin = PINNED["superset"]
    assert (pin.chart, pin.repo, pin.version) == ("superset", "https://apache.github.io/superset", "0.22.8")


@pytest.mark.parametrize("case", CASES)
def test_every_key_exists_in_the_chart(case):
    reference = reference_values("superset", PINNED["superset"].version)
    assert reference is not None
    assert unknown_keys(superset_values(CASES[case]), reference) == []


@pytest.mark.parametrize("case", CASES)
def test_no_secret_values(case):
    values = superset_values(CASES[case])
    assert secret_like_values(values, SECRET_NAMES) == []
    assert "database" in values and "password" not in values["database"]
    assert "existingSecret" not in values["database"]  # 0.23.0 (pull request) only


def test_credentials_come_from_the_stack_secret():
    values = superset_values(CASES["bundled-redis"])
    assert values["secretEnv"] == {"create": False}
    assert values["envFromSecret"] == "superset-env"
    assert values["envFromSecrets"] == ["superset-db"]
    assert superset_values(CASES["one-secret"])["envFromSecrets"] == []
    assert values["postgresql"] == {"enabled": False}


def test_secret_env_entries_match_what_the_chart_reads():
    assert superset_secret_env(CASES["bundled-redis"], "superset") == {
        "DB_HOST": "meta.internal",
        "DB_PORT": "5432",
        "DB_NAME": "superset",
        "DB_USER": "superset",
        "REDIS_HOST": "superset-redis-headless",
        "REDIS_PORT": "6379",
    }
    external = superset_secret_env(CASES["external-redis"], "superset")
    assert (external["REDIS_HOST"], external["REDIS_PORT"]) == ("sales-redis.abc.cache.amazonaws.com", "6380")


def test_redis_bundled_or_external():
    bundled = superset_values(CASES["bundled-redis"])
    redis = bundled["redis"]
    assert (redis["enabled"], redis["auth"]["enabled"], redis["auth"]["existingSecret"]) == (True, True, "superset-db")
    assert {k: redis["image"][k] for k in ("registry", "repository", "tag")} == {
        "registry": "docker.io",
        "repository": "bitnamilegacy/redis",
        "tag": "7.0.10-debian-11-r4",
    }
    assert "cache" not in bundled
    external = superset_values(CASES["external-redis"])
    assert external["redis"] == {"enabled": False}
    assert external["cache"] == {"host": "sales-redis.abc.cache.amazonaws.com", "port": 6380}
    # Results and async-query backends take the Redis password from the env, not from values.
    assert 'os.environ.get("REDIS_PASSWORD")' in external["configOverrides"]["redis_backends"]


def test_bundled_redis_is_hardened_with_its_own_keys():
    """checkov on bitnami/redis 17.9.4 rendered with these values (bitnami/charts tag redis/17.9.4): the password as
    a file (CKV_K8S_35), no API token (38), restricted and read-only (20, 22, 28, 31, 37), sized (10-13), pulled
    Always (15). What stays: its UID 1001 and the tag without digest (scan/skips.yaml)."""
    redis = superset_values(CASES["bundled-redis"])["redis"]
    assert redis["auth"]["usePasswordFiles"] is True
    assert redis["serviceAccount"] == {"automountServiceAccountToken": False}
    assert redis["image"]["pullPolicy"] == "Always"
    master = redis["master"]
    sc = master["containerSecurityContext"]
    assert sc["enabled"] is True and sc["runAsUser"] == REDIS_UID and sc["runAsNonRoot"] is True
    assert "runAsGroup" not in sc  # the chart's default keeps the image's primary group
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    pod = master["podSecurityContext"]
    assert (
        pod["enabled"] is True and pod["fsGroup"] == REDIS_UID and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    )
    # What the namespace's LimitRange gave the container before it declared any.
    defaults = Quota().limit_range
    assert master["resources"] == {
        "requests": {"cpu": defaults.requests.cpu, "memory": defaults.requests.memory},
        "limits": {"cpu": defaults.limits.cpu, "memory": defaults.limits.memory},
    }


def test_subchart_keys_listed_for_the_key_check_are_the_ones_set():
    """chartkeys.SUBCHART_KEYS vouches for the Redis subchart keys (no reference copy): no entry without a use."""
    bundled = superset_values(CASES["bundled-redis"])

    def has(tree: Any, path: str) -> bool:
        for part in path.split("."):
            if not isinstance(tree, dict) or part not in tree:
                return False
            tree = tree[part]
        return True

    assert [path for path in SUBCHART_KEYS["superset"] if not has(bundled, path)] == []


@pytest.mark.parametrize("case", CASES)
def test_every_superset_container_pulls_always(case):
    values = superset_values(CASES[case])
    assert values["image"]["pullPolicy"] == "Always"
    waits = [c for part in ("supersetNode", "supersetWorker", "init") for c in values[part]["extraInitContainers"]]
    assert waits and all(c["imagePullPolicy"] == "{{ .Values.image.pullPolicy }}" for c in waits)


def test_admin_user_is_created_from_the_env():
    values = superset_values(CASES["bundled-redis"])
    init = values["init"]
    assert init["createAdmin"] is False
    assert "adminUser" not in init
    script = init["command"][-1]
    assert '--password "$SUPERSET_ADMIN_PASSWORD"' in script
    assert "--username admin" in script
    assert script.index("superset_init.sh") < script.index("create-admin")


def test_warehouse_is_registered_without_a_password():
    values = superset_values(CASES["bundled-redis"])
    script = values["init"]["command"][-1]
    assert (
        "superset set-database-uri -d 'Sales warehouse' -u "
        "redshift+psycopg2://bi_reader@sales.123.eu-west-1.redshift-serverless.amazonaws.com:5439/sales"
    ) in script
    mutator = values["configOverrides"]["warehouse_connection"]
    assert "def DB_CONNECTION_MUTATOR(" in mutator
    assert '_os.environ["WAREHOUSE_PASSWORD"]' in mutator
    compile(mutator, "warehouse_connection", "exec")
    compile(values["configOverrides"]["redis_backends"], "redis_backends", "exec")
    assert REDSHIFT_DIALECT.pin in values["bootstrapScript"]
    bare = superset_values(CASES["no-warehouse"])
    assert "warehouse_connection" not in bare["configOverrides"]
    assert "set-database-uri" not in bare["init"]["command"][-1]
    assert REDSHIFT_DIALECT.pin not in bare["bootstrapScript"]


def test_templates_see_no_stray_braces():
    # init.command and configOverrides go through Helm's `tpl`: only the chart's own expressions may be there.
    values = superset_values(CASES["bundled-redis"])
    for text in [*values["configOverrides"].values(), values["bootstrapScript"]]:
        assert "{{" not in text
    assert values["init"]["command"][-1].count("{{") == 2  # the two configMountPath references


COMPONENTS = ("supersetNode", "supersetWorker", "init")


@pytest.mark.parametrize("case", CASES)
def test_hardened_and_sized(case):
    values = superset_values(CASES[case])
    assert values["runAsUser"] != 0
    for name in COMPONENTS:
        spec = values[name]
        sc = spec["containerSecurityContext"]
        assert (sc["runAsNonRoot"], sc["allowPrivilegeEscalation"]) == (True, False), name
        assert sc["capabilities"] == {"drop": ["ALL"]}, name
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert "runAsUser" not in spec["podSecurityContext"], name  # the chart sets it from runAsUser
        assert spec["podSecurityContext"]["runAsNonRoot"] is True, name
        assert set(spec["resources"]) == {"requests", "limits"}, name
        # The chart's wait containers have no securityContext; ours replace them.
        assert spec["initContainers"] == [], name
        for container in spec["extraInitContainers"]:
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}, name
            assert set(container["resources"]) == {"requests", "limits"}, name
    waits = values["supersetWorker"]["extraInitContainers"][0]["command"][-1]
    assert "$DB_HOST:$DB_PORT" in waits and "$REDIS_HOST:$REDIS_PORT" in waits


def test_ingress_is_left_to_the_stack():
    assert superset_values(CASES["bundled-redis"])["ingress"] == {"enabled": False}
    assert superset_ui_service("superset") == ("superset", 8088)
    assert superset_ui_service("bi") == ("bi-superset", 8088)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"postgres": Postgres("pg", 5432, "s", "s", "superset-env", "password")}, "DB_PASS"),
        ({"admin_username": "admin; rm -rf /"}, "admin_username"),
        ({"env_secret": "Superset Env"}, "env_secret"),
    ],
)
def test_bad_input_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        args(**overrides)


def test_the_athena_connection_runs_as_the_analyst_role_in_the_sandbox_workgroup():
    from urllib.parse import parse_qs, urlsplit

    a = args(warehouse=IAM, athena=ATHENA)
    command = superset_values(a)["init"]["command"][-1]
    assert f"superset set-database-uri -d 'sales sandbox' -u '{ATHENA.uri}'" in command
    uri = urlsplit(ATHENA.uri)
    # No key in the URI: PyAthena assumes role_arn with the pod's own (Pod Identity) credentials.
    assert (uri.scheme, uri.netloc, uri.path) == (
        "awsathena+rest",
        "athena.eu-west-1.amazonaws.com:443",
        "/dp_dev_sales",
    )
    assert parse_qs(uri.query) == {"work_group": ["dp-dev-sales-sandbox"], "role_arn": [ATHENA.role_arn]}
    # Nothing in the URI is a secret, and no value of the release is one.
    assert secret_like_values(superset_values(a), SECRET_NAMES) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("role_arn", "arn:aws:iam::123456789012:user/x", "role_arn"),
        ("role_arn", "*", "role_arn"),
        ("workgroup", "wg; rm -rf /", "workgroup"),
        ("database", "db'x", "database"),
        ("name", "sales's sandbox", "name"),
    ],
)
def test_bad_athena_input_is_rejected(field, value, message):
    fields = {"name": "s", "region": "eu-west-1", "workgroup": "w", "database": "d", "role_arn": ATHENA.role_arn}
    with pytest.raises(ValueError, match=message):
        AthenaConnection(**(fields | {field: value}))


# --- drivers: the lean image has none of them --------------------------------------------------------------

IAM = RedshiftConnection(
    "Sales warehouse",
    "sales.123.eu-west-1.redshift-serverless.amazonaws.com",
    5439,
    "sales",
    "iam",
    iam_workgroup="dp-dev-sales",
    region="eu-west-1",
)
LOCAL = RedshiftConnection(
    "Sales warehouse", "warehouse-rw.sales.svc", 5432, "analytics", "analytics", dialect="postgresql"
)
SIGN_IN = SupersetSignIn(
    issuer_url="https://login.example.com",
    client_id="superset-sales",
    scopes=("openid", "email", "groups"),
    groups_claim="groups",
    owner_groups=("sales-analytics",),
    viewer_groups=(),
)
ATHENA = AthenaConnection(
    "sales sandbox",
    "eu-west-1",
    "dp-dev-sales-sandbox",
    "dp_dev_sales",
    "arn:aws:iam::123456789012:role/dp-dev-sales-analyst",
)
DRIVER_CASES = {
    "redshift-password": (args(), {"psycopg2", "sqlalchemy_redshift"}),
    "redshift-iam": (args(warehouse=IAM), {"psycopg2", "sqlalchemy_redshift", "boto3"}),
    "local-postgres": (args(warehouse=LOCAL), {"psycopg2"}),
    "no-warehouse": (args(warehouse=None), {"psycopg2"}),
    # Flask-AppBuilder's AUTH_OAUTH imports authlib, which the lean image lacks.
    "oidc-sign-in": (args(sign_in=SIGN_IN), {"psycopg2", "sqlalchemy_redshift", "authlib"}),
    # The analyst sandbox: PyAthena's REST dialect (boto3 for the role it assumes).
    "sandbox-athena": (args(warehouse=IAM, athena=ATHENA), {"psycopg2", "sqlalchemy_redshift", "boto3", "pyathena"}),
    "athena-only": (args(warehouse=None, athena=ATHENA), {"psycopg2", "boto3", "pyathena"}),
}


@pytest.mark.parametrize("case", DRIVER_CASES)
def test_every_uri_gets_its_driver_from_the_image_or_the_bootstrap(case):
    a, expected = DRIVER_CASES[case]
    # The metadata DB is postgresql+psycopg2 (the chart's default driver); the warehouse URI is registered as is.
    assert required_modules(a) == expected
    packages = drivers_needed(a)
    installed = {p.module for p in packages}
    available = SUPERSET.python_modules | installed
    for module in expected:
        assert module in available, f"{case}: nothing provides {module}"
    # Installed without dependencies: whatever each package imports is in the image or installed too.
    for p in packages:
        missing = set(p.needs) - available
        assert not missing, f"{p.pin} needs {sorted(missing)}, which neither the image nor the bootstrap has"
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", p.pin), f"{p.pin}: pin an exact version"
    # What the image lacks is exactly what is installed for these URIs.
    assert expected - SUPERSET.python_modules == expected & SUPERSET.lacks


def _fake_uv(bin_dir: Path, log: Path, status: int = 0) -> None:
    """A `uv` that records its arguments and 'installs' each pinned package as an importable module."""
    modules = {p.pin: p.module for p in [PSYCOPG2, REDSHIFT_DIALECT, *BOTO3, AUTHLIB, PYATHENA, TENACITY]}
    script = bin_dir / "uv"
    script.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys\n"
        f"pathlib.Path({str(log)!r}).write_text(' '.join(sys.argv[1:]))\n"
        f"if {status}: sys.exit({status})\n"
        "args = sys.argv[1:]\n"
        "target = pathlib.Path(args[args.index('--target') + 1])\n"
        f"for pin, module in {modules!r}.items():\n"
        "    if pin in args:\n"
        "        (target / module).mkdir(parents=True, exist_ok=True)\n"
        "        (target / module / '__init__.py').write_text('')\n"
    )
    script.chmod(0o755)


def _source_bootstrap(
    a: SupersetArgs, tmp_path: Path, then: str, status: int = 0, pythonpath: str = ""
) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "uv-args"
    _fake_uv(bin_dir, log, status)
    bootstrap = tmp_path / "superset_bootstrap.sh"
    bootstrap.write_text(superset_values(a)["bootstrapScript"].replace(DEPS_DIR, str(tmp_path / "deps")))
    # As the chart's containers do: source the bootstrap, then start Superset.
    return subprocess.run(
        ["/bin/sh", "-c", f". {bootstrap}; {then}"],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("case", DRIVER_CASES)
def test_bootstrap_installs_the_drivers_onto_the_path_superset_starts_with(case, tmp_path):
    a, expected = DRIVER_CASES[case]
    imports = "; ".join(f"import {m}" for m in sorted(expected))
    run = _source_bootstrap(a, tmp_path, f'{sys.executable} -c "{imports}" && echo started')
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "started"
    argv = (tmp_path / "uv-args").read_text().split()
    # uv of the image, for the image's interpreter (its venv has no pip), without dependencies.
    assert argv[:2] == ["pip", "install"]
    assert argv[argv.index("--python") + 1] == VENV_PYTHON == "/app/.venv/bin/python"
    assert "--no-deps" in argv
    assert {p.pin for p in drivers_needed(a)} == {w for w in argv if "==" in w}


def test_bootstrap_stops_the_container_when_the_install_fails(tmp_path):
    run = _source_bootstrap(args(), tmp_path, "echo started", status=2)
    assert run.returncode != 0
    assert "started" not in run.stdout


def test_bootstrap_keeps_the_image_pythonpath(tmp_path):
    # The image puts superset_config.py's folder on PYTHONPATH; the drivers go in front of it.
    run = _source_bootstrap(
        args(), tmp_path, 'PYTHONPATH="$PYTHONPATH" env | grep ^PYTHONPATH=', pythonpath="/app/pythonpath"
    )
    assert run.stdout.strip() == f"PYTHONPATH={tmp_path / 'deps'}:/app/pythonpath"
