"""Dagster values: keys exist in the pinned chart, runs use the K8sRunLauncher in the domain
namespace, compute logs land in the domain bucket, and nothing secret is in the values."""

from __future__ import annotations

from typing import Any

import pytest

from components.charts import DAGSTER_VERSION, PINNED
from components.domain_config import CodeLocation
from components.values.common import Image, Postgres, S3Access
from components.values.dagster import (
    COMPUTE_LOG_PREFIX,
    DATAHUB_TOKEN_DIR,
    DATAHUB_TOKEN_FILE,
    TMP_MOUNT,
    TMP_VOLUME,
    CatalogAccess,
    DagsterArgs,
    WarehouseEndpoint,
    dagster_ui_service,
    dagster_values,
    user_code_env,
)
from platformctl.chartkeys import reference_values, secret_like_values, unknown_keys

AWS = S3Access(bucket="dp-dev-sales-data", region="eu-west-1")
LOCAL = S3Access(
    bucket="sales-data", region="us-east-1", endpoint_url="http://minio.minio:9000", credentials_secret="s3-creds"
)
POSTGRES = Postgres("meta.internal", 5432, "dagster", "dagster", "dagster-db", "postgresql-password")
SECRET_NAMES = {"dagster-db", "s3-creds", "warehouse-creds", "datahub-ingestion-token"}


def args(storage: S3Access = AWS, warehouse_secret: str | None = None, **overrides: Any) -> DagsterArgs:
    fields: dict[str, Any] = {
        "namespace": "sales",
        "code_location": "sales",
        "image": Image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/sales-pipelines", "2024.06.1"),
        "grpc_args": ("--module-name", "sales_pipelines.definitions"),
        "postgres": POSTGRES,
        "storage": storage,
        "warehouse": WarehouseEndpoint(
            "sales.123.eu-west-1.redshift-serverless.amazonaws.com", 5439, "sales", warehouse_secret
        ),
        "dbt_target": "dev",
        "service_account": "dagster",
        "user_code_service_account": "dagster-user-code",
    }
    return DagsterArgs(**(fields | overrides))


CASES = {
    "aws": args(),
    "aws+catalog": args(catalog=CatalogAccess("http://gms:8080", "datahub-ingestion-token", "token")),
    "s3-compatible": args(LOCAL, "warehouse-creds"),
    "aws+warehouse-secret": args(AWS, "warehouse-creds"),
}


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    ref = reference_values("dagster", PINNED["dagster"].version)
    assert ref is not None
    return ref


def deployment(values: dict[str, Any]) -> dict[str, Any]:
    [one] = values["dagster-user-deployments"]["deployments"]
    return one


@pytest.mark.parametrize("case", CASES)
def test_every_key_exists_in_the_chart(case, reference):
    assert unknown_keys(dagster_values(CASES[case]), reference) == []


def test_pinned_chart_is_the_dagster_release():
    assert PINNED["dagster"].version == DAGSTER_VERSION
    assert PINNED["dagster"].repo == "https://dagster-io.github.io/helm"


@pytest.mark.parametrize("case", CASES)
def test_runs_use_the_k8s_run_launcher_in_the_domain_namespace(case):
    launcher = dagster_values(CASES[case])["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    config = launcher["config"]["k8sRunLauncher"]
    assert config["jobNamespace"] == "sales"
    assert config["resources"]["limits"] and config["resources"]["requests"]


def test_compute_logs_on_the_domain_bucket():
    aws = dagster_values(CASES["aws"])["computeLogManager"]
    assert aws["type"] == "S3ComputeLogManager"
    assert aws["config"]["s3ComputeLogManager"] == {
        "bucket": "dp-dev-sales-data",
        "prefix": COMPUTE_LOG_PREFIX,
        "region": "eu-west-1",
    }
    local = dagster_values(CASES["s3-compatible"])["computeLogManager"]["config"]["s3ComputeLogManager"]
    assert local["endpointUrl"] == "http://minio.minio:9000"
    assert local["bucket"] == "sales-data"


def test_user_code_runs_the_domain_image():
    one = deployment(dagster_values(CASES["aws"]))
    assert one["name"] == "sales"
    assert one["image"] == {
        "repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sales-pipelines",
        "tag": "2024.06.1",
        "pullPolicy": "IfNotPresent",
    }
    assert one["dagsterApiGrpcArgs"] == ["--module-name", "sales_pipelines.definitions"]
    assert one["port"] == 3030


# `dagster api grpc` pointer options as dagster_shared.cli.python_pointer_options (1.12.13) spells them.
@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ({"module": "sales.defs"}, ["--module-name", "sales.defs"]),
        ({"package": "marketing_pipelines"}, ["--package-name", "marketing_pipelines"]),
        (
            {"pythonFile": "repo/defs.py", "workingDirectory": "/opt/app", "attribute": "defs"},
            ["--python-file", "repo/defs.py", "--working-directory", "/opt/app", "--attribute", "defs"],
        ),
        (
            {"package": "pipes", "workingDirectory": "/srv/code"},
            ["--package-name", "pipes", "--working-directory", "/srv/code"],
        ),
    ],
)
def test_each_code_location_kind_gets_its_grpc_args(location, expected):
    grpc = tuple(CodeLocation.model_validate(location).dagster_api_grpc_args)
    one = deployment(dagster_values(args(grpc_args=grpc, port=4000)))
    assert one["dagsterApiGrpcArgs"] == expected
    # The chart renders `dagster api grpc -h 0.0.0.0 -p <port> <args>`; the Service and probes use the port.
    assert one["port"] == 4000
    assert all(isinstance(a, str) and a.strip() for a in one["dagsterApiGrpcArgs"])


@pytest.mark.parametrize(
    "grpc",
    [
        ("--module-name", ""),
        ("--package-name", " "),
        (),
        ("--module-name",),
        ("--working-directory", "/opt"),  # no definitions pointer
        ("--module-name", "a", "--package-name", "b"),
        ("-p", "3030"),
    ],
)
def test_empty_or_incomplete_grpc_args_are_rejected(grpc):
    with pytest.raises(ValueError, match="grpc_args"):
        args(grpc_args=grpc)


def test_domain_env_port_and_dbt_project_reach_code_server_and_runs():
    values = dagster_values(
        args(domain_env={"SALES_REPORTING_CURRENCY": "EUR"}, dbt_project_dir="/opt/dagster/app/dbt", port=3031)
    )
    env = {e["name"]: e["value"] for e in deployment(values)["env"]}
    assert env["SALES_REPORTING_CURRENCY"] == "EUR"
    assert env["DBT_PROJECT_DIR"] == "/opt/dagster/app/dbt"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert sorted(launcher["envVars"]) == sorted(f"{k}={v}" for k, v in env.items())
    assert deployment(values)["port"] == 3031
    assert "DBT_PROJECT_DIR" not in user_code_env(args())


def test_iam_warehouse_gives_the_workgroup_for_get_credentials():
    iam = WarehouseEndpoint(
        "wg.123.eu-west-1.redshift-serverless.amazonaws.com", 5439, "analytics", None, "dp-dev-sales"
    )
    env = user_code_env(args(warehouse=iam))
    assert env["WAREHOUSE_WORKGROUP"] == "dp-dev-sales"
    assert "WAREHOUSE_WORKGROUP" not in user_code_env(args(LOCAL, "warehouse-creds"))


@pytest.mark.parametrize("name", ["DBT_TARGET", "WAREHOUSE_HOST", "AWS_REGION", "LAKE_BUCKET", "DATAHUB_GMS_URL"])
def test_domain_env_cannot_shadow_platform_env(name):
    with pytest.raises(ValueError, match=name):
        args(domain_env={name: "x"})


def test_runs_get_the_launcher_resources_not_the_code_servers():
    """Item 13a: dagster-k8s merges the code location's container context over the run launcher's config
    (K8sContainerContext.create_for_run), and the chart's context carries the deployment's `resources`
    (helper dagsterUserDeployments.k8sContainerContext). So the context stays out of runs, and the
    launcher itself carries env, Secrets, volumes, ServiceAccount and the run resources."""
    run = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
    small = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
    values = dagster_values(
        args(LOCAL, "warehouse-creds", run_resources=run, user_code_resources=small, catalog=CATALOG)
    )
    one = deployment(values)
    assert one["resources"] == small
    assert one["includeConfigInLaunchedRuns"] == {"enabled": False}
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["resources"] == run
    assert launcher["envSecrets"] == one["envSecrets"]
    assert launcher["volumes"] == one["volumes"] and launcher["volumeMounts"] == one["volumeMounts"]
    assert launcher["runK8sConfig"]["podSpecConfig"]["serviceAccountName"] == "dagster-user-code"
    assert {v.split("=", 1)[0] for v in launcher["envVars"]} == {e["name"] for e in one["env"]}


CATALOG = CatalogAccess("http://datahub-gms.platform.svc:8080", "datahub-ingestion-token", "token")


def test_catalog_token_is_a_refreshing_file_not_an_env_value():
    values = dagster_values(args(catalog=CATALOG))
    one = deployment(values)
    env = {e["name"]: e for e in one["env"]}
    assert env["DATAHUB_GMS_TOKEN_FILE"]["value"] == DATAHUB_TOKEN_FILE
    assert env["DATAHUB_GMS_URL"]["value"] == "http://datahub-gms.platform.svc:8080"
    assert "DATAHUB_GMS_TOKEN" not in env
    assert all("valueFrom" not in e for e in one["env"])
    [volume] = [v for v in one["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == "datahub-ingestion-token"
    assert volume["secret"]["items"] == [{"key": "token", "path": "token"}]
    [mount] = [m for m in one["volumeMounts"] if m["name"] == volume["name"]]
    # kubelet refreshes Secret volumes, but never a subPath mount.
    assert "subPath" not in mount and mount["mountPath"] == DATAHUB_TOKEN_DIR and mount["readOnly"] is True
    assert f"{mount['mountPath']}/{volume['secret']['items'][0]['path']}" == DATAHUB_TOKEN_FILE
    assert deployment(dagster_values(args()))["volumes"] == [TMP_VOLUME]


def test_user_code_env_is_non_secret_settings():
    aws = {e["name"]: e["value"] for e in deployment(dagster_values(CASES["aws"]))["env"]}
    assert aws["LAKE_BUCKET"] == "dp-dev-sales-data"
    assert aws["DATA_DOCS_PREFIX"] == "docs/"
    assert aws["DBT_TARGET"] == "dev"
    assert aws["WAREHOUSE_PORT"] == "5439"
    assert "AWS_ENDPOINT_URL" not in aws
    local = user_code_env(CASES["s3-compatible"])
    assert local["AWS_ENDPOINT_URL"] == "http://minio.minio:9000"
    assert local["AWS_ENDPOINT_URL_S3"] == "http://minio.minio:9000"


def test_secrets_reach_pods_only_by_secret_name():
    aws = dagster_values(CASES["aws"])
    assert deployment(aws)["envSecrets"] == []
    assert aws["dagsterWebserver"]["envSecrets"] == []
    local = dagster_values(CASES["s3-compatible"])
    assert deployment(local)["envSecrets"] == [{"name": "s3-creds"}, {"name": "warehouse-creds"}]
    assert local["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"] == [
        {"name": "s3-creds"},
        {"name": "warehouse-creds"},
    ]
    assert local["dagsterWebserver"]["envSecrets"] == [{"name": "s3-creds"}]
    assert local["global"]["postgresqlSecretName"] == "dagster-db"
    assert local["generatePostgresqlPasswordSecret"] is False
    assert "postgresqlPassword" not in local["postgresql"]


@pytest.mark.parametrize("case", CASES)
def test_no_secret_values(case):
    assert secret_like_values(dagster_values(CASES[case]), SECRET_NAMES) == []


def test_external_postgres_with_tls():
    pg = dagster_values(CASES["aws"])["postgresql"]
    assert pg["enabled"] is False
    assert pg["postgresqlHost"] == "meta.internal"
    assert pg["postgresqlParams"] == {"sslmode": "require"}
    plain = Postgres("pg", 5432, "dagster", "dagster", "dagster-db", "postgresql-password", tls=False)
    assert dagster_values(args(postgres=plain))["postgresql"]["postgresqlParams"] == {}


def test_stack_created_service_accounts():
    values = dagster_values(CASES["aws"])
    assert values["serviceAccount"] == {"create": False, "name": "dagster"}
    assert values["dagster-user-deployments"]["serviceAccount"] == {"create": False, "name": "dagster-user-code"}
    assert "serviceAccountName" not in values["global"]  # it would override both


def _containers(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "webserver": values["dagsterWebserver"],
        "daemon": values["dagsterDaemon"],
        "user-code": deployment(values),
    }


@pytest.mark.parametrize("case", CASES)
def test_hardened_and_sized(case):
    values = dagster_values(CASES[case])
    for name, spec in _containers(values).items():
        sc = spec["securityContext"]
        assert sc["runAsNonRoot"] and sc["runAsUser"] > 0, name
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc["capabilities"] == {"drop": ["ALL"]}, name
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert set(spec["resources"]) == {"requests", "limits"}, name
    for name in ("dagsterWebserver", "dagsterDaemon"):
        assert set(values[name]["initContainerResources"]) == {"requests", "limits"}
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert launcher["runK8sConfig"]["podSpecConfig"]["securityContext"]["runAsNonRoot"] is True


def _pods(values: dict[str, Any]) -> dict[str, tuple[dict[str, Any], list[Any], list[Any]]]:
    """(container securityContext, volumes, volumeMounts) of every Dagster pod the values shape."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    one = deployment(values)
    return {
        "webserver": (values["dagsterWebserver"]["securityContext"], *_vols(values["dagsterWebserver"])),
        "daemon": (values["dagsterDaemon"]["securityContext"], *_vols(values["dagsterDaemon"])),
        "user-code": (one["securityContext"], *_vols(one)),
        "runs": (launcher["securityContext"], *_vols(launcher)),
    }


def _vols(spec: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    return spec["volumes"], spec["volumeMounts"]


@pytest.mark.parametrize("case", CASES)
def test_every_pod_runs_as_a_high_uid_on_a_read_only_root_with_tmp_writable(case):
    """checkov CKV_K8S_40 (UID >= 10000) and CKV_K8S_22 (read-only root filesystem); /tmp stays writable, the only
    place a UID that owns nothing in Dagster's images could write before."""
    values = dagster_values(CASES[case])
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    pod_contexts = [
        values["dagsterWebserver"]["podSecurityContext"],
        values["dagsterDaemon"]["podSecurityContext"],
        deployment(values)["podSecurityContext"],
        launcher["runK8sConfig"]["podSpecConfig"]["securityContext"],
    ]
    assert all(p["runAsUser"] >= 10000 and p["runAsNonRoot"] for p in pod_contexts)
    for name, (sc, volumes, mounts) in _pods(values).items():
        assert sc["runAsUser"] >= 10000 and sc["readOnlyRootFilesystem"] is True, name
        assert TMP_VOLUME in volumes and TMP_VOLUME == {"name": "tmp", "emptyDir": {}}, name
        assert TMP_MOUNT in mounts and TMP_MOUNT["mountPath"] == "/tmp", name


def test_webserver_and_code_server_have_liveness_and_startup_probes():
    """checkov CKV_K8S_8: the chart leaves liveness off. The webserver is probed on its readiness path; the code
    server's probes carry no `exec`, so the chart fills in its `dagster api grpc-health-check -p <port>`."""
    values = dagster_values(CASES["aws"])
    web = values["dagsterWebserver"]
    # The chart's readiness probe is /server_info on the webserver's port 80 (reference values).
    assert web["livenessProbe"]["httpGet"] == {"path": "/server_info", "port": 80}
    assert web["startupProbe"]["enabled"] is True and web["startupProbe"]["httpGet"] == web["livenessProbe"]["httpGet"]
    one = deployment(values)
    assert "exec" not in one["livenessProbe"] and one["livenessProbe"]["periodSeconds"] > 0
    assert one["startupProbe"]["enabled"] is True and "exec" not in one["startupProbe"]
    # Liveness starts counting only after the startup probe has given the server 5 minutes to load.
    for startup in (web["startupProbe"], one["startupProbe"]):
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


def test_the_daemon_is_probed_by_its_own_liveness_check():
    """checkov CKV_K8S_8/9: the daemon serves no port. `dagster-daemon liveness-check` (a console script of the
    dagster wheel, dagster._daemon.cli) exits 1 when a daemon's heartbeat is older than the tolerance the chart
    sets in DAGSTER_DAEMON_HEARTBEAT_TOLERANCE; it is a Python process, so it runs once a minute."""
    daemon = dagster_values(CASES["aws"])["dagsterDaemon"]
    for probe in (daemon["livenessProbe"], daemon["readinessProbe"]):
        assert probe["exec"]["command"] == ["dagster-daemon", "liveness-check"]
        assert probe["periodSeconds"] >= 60 and probe["initialDelaySeconds"] >= 60
        assert probe["timeoutSeconds"] * 2 <= probe["periodSeconds"]
    # No daemon startupProbe: the reference values (`{}`) and the template read (`startupProbe.enabled`) disagree.
    assert "startupProbe" not in daemon


def test_ingress_is_left_to_the_stack():
    assert dagster_values(CASES["aws"])["ingress"] == {"enabled": False}
    assert dagster_ui_service("dagster") == ("dagster-dagster-webserver", 80)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"postgres": Postgres("pg", 5432, "d", "u", "dagster-db", "password")}, "postgresql-password"),
        ({"code_location": "Sales_Code"}, "code_location"),
        ({"service_account": "Bad Name"}, "service_account"),
    ],
)
def test_bad_input_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        args(**overrides)


def test_storage_modes_need_endpoint_and_secret_together():
    with pytest.raises(ValueError, match="together"):
        S3Access("b", "eu-west-1", endpoint_url="http://minio:9000")
    with pytest.raises(ValueError, match="latest"):
        Image("repo", "latest")
