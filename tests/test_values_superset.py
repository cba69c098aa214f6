"""Superset values: chart 0.22.8 keys only, credentials only through the stack's Secrets
(`secretEnv.create: false` + `envFromSecret`), admin and warehouse set up without a password in
values, and hardened, sized containers."""

from __future__ import annotations

from typing import Any

import pytest

from components.charts import PINNED
from components.values.common import Postgres
from components.values.superset import (
    REDSHIFT_DRIVER,
    RedshiftConnection,
    SupersetArgs,
    SupersetRedis,
    superset_secret_env,
    superset_ui_service,
    superset_values,
)
from platformctl.chartkeys import reference_values, secret_like_values, unknown_keys

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
    "no-warehouse": args(warehouse=None, install_redshift_driver=False),
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
    assert bundled["redis"] == {"enabled": True, "auth": {"enabled": True, "existingSecret": "superset-db"}}
    assert "cache" not in bundled
    external = superset_values(CASES["external-redis"])
    assert external["redis"] == {"enabled": False}
    assert external["cache"] == {"host": "sales-redis.abc.cache.amazonaws.com", "port": 6380}
    # Results and async-query backends take the Redis password from the env, not from values.
    assert 'os.environ.get("REDIS_PASSWORD")' in external["configOverrides"]["redis_backends"]


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
    assert REDSHIFT_DRIVER in values["bootstrapScript"]
    bare = superset_values(CASES["no-warehouse"])
    assert "warehouse_connection" not in bare["configOverrides"]
    assert "set-database-uri" not in bare["init"]["command"][-1]
    assert "pip install" not in bare["bootstrapScript"]


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
