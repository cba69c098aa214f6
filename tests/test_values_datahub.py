"""DataHub values (central catalog): keys exist in chart 1.1.0 and its subcharts, metadata-service
authentication is on with the stack's Secrets, dev uses the prerequisites and prod RDS + Amazon
OpenSearch with IAM, and the rendered chart is hardened, sized and exposed only inside the cluster."""

from __future__ import annotations

import shutil
from typing import Any

import helm_python as helm
import pytest
import yaml

from components.charts import PINNED
from components.values.common import Postgres
from components.values.datahub import (
    AwsOpenSearch,
    DatahubArgs,
    PrerequisitesArgs,
    datahub_gms_service,
    datahub_prerequisites_values,
    datahub_ui_service,
    datahub_values,
)
from platformctl.chartkeys import reference_values, secret_like_values, shared_charts_dir, unknown_keys

RELEASE = "datahub"
BASE: dict[str, Any] = {
    "auth_secret": "datahub-auth",
    "encryption_secret": "datahub-encryption",
    "users_secret": "datahub-users",
    "app_service_account": "datahub",
    "operator_service_account": "datahub-operator",
}
RDS = Postgres("catalog.abc.eu-west-1.rds.amazonaws.com", 5432, "datahub", "datahub", "datahub-db", "password")
OPENSEARCH = AwsOpenSearch("vpc-catalog-abc.eu-west-1.es.amazonaws.com", "eu-west-1")
CASES = {
    "dev-mysql": DatahubArgs(**BASE),
    "dev-postgresql": DatahubArgs(**BASE, prerequisites_sql="postgresql"),
    "prod": DatahubArgs(**BASE, sql=RDS, opensearch=OPENSEARCH, kafka_bootstrap="b-1.msk.example:9098"),
}
# Secret names and the keys in them: the only strings allowed under secret-sounding keys.
SECRET_NAMES = {
    *BASE.values(),
    *("mysql-secrets", "postgresql-secrets", "datahub-db", "password", "mysql-root-password", "postgres-password"),
    *("system_client_secret", "token_service_signing_key", "token_service_salt", "encryption_key_secret"),
}


def test_pinned_charts():
    assert (PINNED["datahub"].version, PINNED["datahub-prerequisites"].version) == ("1.1.0", "0.3.0")
    assert PINNED["datahub"].repo == PINNED["datahub-prerequisites"].repo == "https://helm.datahubproject.io/"


@pytest.mark.parametrize("case", CASES)
def test_every_key_exists_in_the_chart_and_subcharts(case):
    reference = reference_values("datahub", PINNED["datahub"].version)
    assert reference is not None
    assert unknown_keys(datahub_values(CASES[case]), reference) == []


@pytest.mark.parametrize("sql", ["mysql", "postgresql"])
def test_prerequisites_keys_exist(sql):
    reference = reference_values("datahub-prerequisites", PINNED["datahub-prerequisites"].version)
    assert reference is not None
    values = datahub_prerequisites_values(PrerequisitesArgs(sql=sql))
    assert unknown_keys(values, reference) == []
    assert values["mysql"]["enabled"] is (sql == "mysql")
    assert values["postgresql"]["enabled"] is (sql == "postgresql")
    assert values["mysql"]["auth"] == {"existingSecret": "mysql-secrets"}
    assert values["opensearch"]["persistence"] == {"size": "10Gi"}
    assert values["neo4j"] == {"enabled": False}


@pytest.mark.parametrize("case", CASES)
def test_no_secret_values(case):
    assert secret_like_values(datahub_values(CASES[case]), SECRET_NAMES) == []


def test_authentication_on_with_stack_secrets():
    dh = datahub_values(CASES["prod"])["global"]["datahub"]
    auth = dh["metadata_service_authentication"]
    assert auth["enabled"] is True
    assert auth["provisionSecrets"] == {"enabled": False}
    assert auth["systemClientSecret"] == {"secretRef": "datahub-auth", "secretKey": "system_client_secret"}
    assert auth["tokenService"]["signingKey"] == {"secretRef": "datahub-auth", "secretKey": "token_service_signing_key"}
    assert auth["tokenService"]["salt"] == {"secretRef": "datahub-auth", "secretKey": "token_service_salt"}
    assert dh["encryptionKey"] == {
        "secretRef": "datahub-encryption",
        "secretKey": "encryption_key_secret",
        "provisionSecret": {"enabled": False},
    }


def test_sql_and_search_per_environment():
    dev = datahub_values(CASES["dev-mysql"])["global"]
    assert dev["sql"]["datasource"]["host"] == "prerequisites-mysql:3306"
    assert dev["sql"]["datasource"]["password"] == {"secretRef": "mysql-secrets", "secretKey": "mysql-root-password"}
    assert dev["elasticsearch"] == {"host": "opensearch-cluster-master", "port": "9200", "useSSL": "false"}
    assert dev["kafka"]["bootstrap"]["server"] == "prerequisites-kafka:9092"
    pg = datahub_values(CASES["dev-postgresql"])["global"]["sql"]["datasource"]
    assert pg["url"] == "jdbc:postgresql://prerequisites-postgresql:5432/datahub"
    prod = datahub_values(CASES["prod"])["global"]
    assert prod["sql"]["datasource"]["url"] == (
        "jdbc:postgresql://catalog.abc.eu-west-1.rds.amazonaws.com:5432/datahub?sslmode=require"
    )
    assert prod["sql"]["datasource"]["password"] == {"secretRef": "datahub-db", "secretKey": "password"}
    assert prod["elasticsearch"]["iam"] == {"enabled": True}
    assert (prod["elasticsearch"]["useSSL"], prod["elasticsearch"]["region"]) == ("true", "eu-west-1")
    assert prod["kafka"]["bootstrap"]["server"] == "b-1.msk.example:9098"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    copy = tmp_path_factory.mktemp("chart") / "datahub"
    shutil.copytree(shared_charts_dir() / "src" / "datahub-1.1.0", copy)
    helm.dependency_update(str(copy), skip_refresh=True)  # packages the file:// subcharts, offline
    objects = {}
    with helm.Chart.load(str(copy)) as chart:
        for case, case_args in CASES.items():
            manifests = chart.render(datahub_values(case_args), name=RELEASE, namespace="platform")
            docs = (
                yaml.load_all(t, Loader=yaml.CSafeLoader)
                for path, t in manifests.items()
                if path.endswith((".yaml", ".yml"))
            )
            objects[case] = [doc for stream in docs for doc in stream if isinstance(doc, dict)]
    return objects


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Deployment", "Job")}


@pytest.mark.parametrize("case", CASES)
def test_rendered_workloads_are_hardened_and_sized(rendered, case):
    specs = pod_specs(rendered[case])
    assert {"datahub-datahub-gms", "datahub-datahub-frontend", "datahub-acryl-datahub-actions"} <= set(specs)
    for name, spec in specs.items():
        assert spec["serviceAccountName"] in ("datahub", "datahub-operator"), name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for c in (spec.get("initContainers") or []) + spec["containers"]:
            sc = c["securityContext"]
            assert (sc["runAsNonRoot"], sc["allowPrivilegeEscalation"]) == (True, False), (name, c["name"])
            assert sc["capabilities"] == {"drop": ["ALL"]}, (name, c["name"])
            assert c["resources"]["limits"] and c["resources"]["requests"], (name, c["name"])


@pytest.mark.parametrize("case", CASES)
def test_restore_indices_can_be_started_on_demand_and_never_runs_by_itself(rendered, case):
    [cron] = [o for o in rendered[case] if o["kind"] == "CronJob" and "restore-indices" in o["metadata"]["name"]]
    # The runbook's command: kubectl create job --from=cronjob/<this name> (docs/runbooks/restore.md).
    assert cron["metadata"]["name"] == f"{RELEASE}-datahub-restore-indices-job-template"
    assert cron["spec"]["suspend"] is True
    spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["args"][:2] == ["-u", "RestoreIndices"]
    # The upgrade image at the server's version, like the system-update job.
    gms = pod_specs(rendered[case])["datahub-datahub-gms"]["containers"][0]["image"]
    assert container["image"].rsplit(":", 1) == ["docker.io/acryldata/datahub-upgrade", gms.rsplit(":", 1)[1]]
    assert spec["serviceAccountName"] == "datahub"  # the app's: it reaches SQL and search (IAM on AWS)
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert (sc["runAsNonRoot"], sc["allowPrivilegeEscalation"], sc["capabilities"]) == (True, False, {"drop": ["ALL"]})
    assert container["resources"]["limits"] and container["resources"]["requests"]


@pytest.mark.parametrize("case", CASES)
def test_rendered_services_stay_inside_the_cluster(rendered, case):
    services = {o["metadata"]["name"]: o["spec"] for o in rendered[case] if o["kind"] == "Service"}
    assert {spec["type"] for spec in services.values()} == {"ClusterIP"}
    assert not [o for o in rendered[case] if o["kind"] == "Ingress"]
    name, port = datahub_ui_service(RELEASE)
    assert port in [p["port"] for p in services[name]["ports"]]


def test_rendered_chart_provisions_no_auth_secrets_and_mounts_the_users_file(rendered):
    secrets = {o["metadata"]["name"] for o in rendered["prod"] if o["kind"] == "Secret"}
    assert not secrets & {"datahub-auth-secrets", "datahub-encryption-secrets", f"{RELEASE}-user-secret"}
    frontend = pod_specs(rendered["prod"])["datahub-datahub-frontend"]
    assert {"name": "datahub-users", "secret": {"secretName": "datahub-users"}} in frontend["volumes"]
    mounts = frontend["containers"][0]["volumeMounts"]
    assert any(m["mountPath"] == "/datahub-frontend/conf/user.props" for m in mounts)


def test_rendered_prod_uses_iam_for_opensearch(rendered):
    gms = pod_specs(rendered["prod"])["datahub-datahub-gms"]["containers"][0]
    env = {e["name"]: e.get("value") for e in gms["env"]}
    assert (env["OPENSEARCH_USE_AWS_IAM_AUTH"], env["AWS_REGION"]) == ("true", "eu-west-1")
    assert env["ELASTICSEARCH_USE_SSL"] == "true"


def test_ui_service_name():
    assert datahub_ui_service("datahub") == ("datahub-datahub-frontend", 9002)
    assert datahub_ui_service("catalog-datahub-frontend") == ("catalog-datahub-frontend", 9002)


def test_prerequisites_run_only_what_stays_in_cluster():
    kafka_only = PrerequisitesArgs(sql=None, opensearch=False)
    values = datahub_prerequisites_values(kafka_only)
    assert (values["mysql"]["enabled"], values["postgresql"]["enabled"]) == (False, False)
    assert (values["opensearch"]["enabled"], values["kafka"]["enabled"]) == (False, True)
    assert kafka_only.needed
    assert not PrerequisitesArgs(sql=None, opensearch=False, kafka=False).needed


def test_cookies_are_secure_only_over_https():
    assert datahub_values(CASES["prod"])["datahub-frontend"]["authCookies"] == {"secure": "true"}
    plain = DatahubArgs(**BASE, secure_cookies=False)
    assert datahub_values(plain)["datahub-frontend"]["authCookies"] == {"secure": "false"}


def test_gms_service_name():
    assert datahub_gms_service("datahub") == ("datahub-datahub-gms", 8080)
