"""Airbyte values: keys exist in the V2 chart, storage on the domain bucket in both storage modes,
external PostgreSQL, and the chart (source at airbyte-platform 310e6cb, the reference of the pinned
2.2.0) renders hardened, sized pods that read credentials only from the stack's Secrets."""

from __future__ import annotations

import shutil
from typing import Any

import helm_python as helm
import pytest
import yaml

from components.charts import PINNED
from components.values.airbyte import AirbyteArgs, airbyte_ui_service, airbyte_values
from components.values.common import S3_CREDENTIAL_KEYS, Postgres, S3Access
from platformctl.chartkeys import reference_values, secret_like_values, shared_charts_dir, unknown_keys

AWS = S3Access(bucket="dp-dev-sales-data", region="eu-west-1")
LOCAL = S3Access(
    bucket="sales-data", region="us-east-1", endpoint_url="http://minio.minio:9000", credentials_secret="s3-creds"
)
POSTGRES = Postgres("meta.internal", 5432, "airbyte", "airbyte", "airbyte-db", "password")
RELEASE = "airbyte"
SECRET_NAMES = {"airbyte-db", "password", "DATABASE_USER", "s3-creds"}


def args(storage: S3Access, postgres: Postgres = POSTGRES) -> AirbyteArgs:
    return AirbyteArgs(
        storage=storage, postgres=postgres, service_account="airbyte", airbyte_url="https://airbyte.sales.example.com"
    )


CASES = {"aws": args(AWS), "s3-compatible": args(LOCAL)}


def test_pinned_chart_is_the_v2_chart():
    pin = PINNED["airbyte"]
    assert (pin.chart, pin.repo, pin.version) == ("airbyte", "https://airbytehq.github.io/charts", "2.2.0")


@pytest.mark.parametrize("case", CASES)
def test_every_key_exists_in_the_chart(case):
    reference = reference_values("airbyte", PINNED["airbyte"].version)
    assert reference is not None
    assert unknown_keys(airbyte_values(CASES[case]), reference) == []


@pytest.mark.parametrize("case", CASES)
def test_no_secret_values(case):
    assert secret_like_values(airbyte_values(CASES[case]), SECRET_NAMES) == []


def test_storage_modes():
    aws = airbyte_values(CASES["aws"])["global"]["storage"]
    assert aws["type"] == "s3"
    assert aws["s3"] == {"region": "eu-west-1", "authenticationType": "instanceProfile"}
    assert "secretName" not in aws
    assert set(aws["bucket"].values()) == {"dp-dev-sales-data"}
    local = airbyte_values(CASES["s3-compatible"])["global"]["storage"]
    assert local["type"] == "minio"
    assert local["secretName"] == "s3-creds"
    assert local["minio"] == {"endpoint": "http://minio.minio:9000", "s3PathStyleAccess": True}


def test_bundled_services_off_and_auth_on():
    values = airbyte_values(CASES["aws"])
    for name in ("postgresql", "minio", "keycloak", "keycloakSetup", "webapp", "ingress"):
        assert values[name]["enabled"] is False, name
    assert values["serviceAccount"] == {"create": False, "name": "airbyte"}
    assert values["global"]["auth"]["enabled"] is True
    assert values["global"]["auth"]["security"]["cookieSecureSetting"] is True
    db = values["global"]["database"]
    assert (db["type"], db["secretName"], db["passwordSecretKey"]) == ("external", "airbyte-db", "password")
    plain = Postgres("pg", 5432, "airbyte", "airbyte", "airbyte-db", "password", tls=False)
    assert airbyte_values(args(AWS, plain))["global"]["database"]["type"] == "internal"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    copy = tmp_path_factory.mktemp("chart") / "airbyte"
    shutil.copytree(shared_charts_dir() / "src" / "airbyte-310e6cb", copy)
    objects = {}
    with helm.Chart.load(str(copy)) as chart:
        for case, case_args in CASES.items():
            manifests = chart.render(airbyte_values(case_args), name=RELEASE, namespace="sales")
            docs = (
                yaml.load_all(text, Loader=yaml.CSafeLoader)
                for path, text in manifests.items()
                if path.endswith(".yaml")
            )
            objects[case] = [doc for stream in docs for doc in stream if isinstance(doc, dict)]
    return objects


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Workload pod specs, without `helm test` hooks (not installed by a release)."""
    specs = {}
    for obj in objects:
        if obj.get("metadata", {}).get("annotations", {}).get("helm.sh/hook") == "test":
            continue
        if obj["kind"] == "Pod":
            specs[obj["metadata"]["name"]] = obj["spec"]
        elif obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            specs[obj["metadata"]["name"]] = obj["spec"]["template"]["spec"]
    return specs


@pytest.mark.parametrize("case", CASES)
def test_rendered_pods_are_hardened_sized_and_use_the_stack_service_account(rendered, case):
    specs = pod_specs(rendered[case])
    assert {"airbyte-server", "airbyte-worker", "airbyte-workload-launcher", "airbyte-temporal"} <= set(specs)
    for name, spec in specs.items():
        assert spec["serviceAccountName"] == "airbyte", name
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert sc["capabilities"] == {"drop": ["ALL"]}, (name, c["name"])
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, (name, c["name"])
            assert c["resources"]["limits"] and c["resources"]["requests"], (name, c["name"])


@pytest.mark.parametrize("case", CASES)
def test_rendered_chart_creates_no_rbac_database_or_object_store(rendered, case):
    kinds = {(o["kind"], o["metadata"]["name"]) for o in rendered[case]}
    assert not {k for k in kinds if k[0] in ("Role", "RoleBinding", "ServiceAccount", "StatefulSet")}
    assert not {k for k in kinds if "minio" in k[1] or k[1] == "airbyte-db"}
    assert ("Service", airbyte_ui_service(RELEASE)[0]) in kinds


def secret_refs(objects: list[dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    refs: dict[str, set[tuple[str, str]]] = {}
    for spec in pod_specs(objects).values():
        for c in spec["containers"]:
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.setdefault(env["name"], set()).add((ref["name"], ref["key"]))
    return refs


def test_rendered_credentials_come_from_the_stack_secrets(rendered):
    aws = secret_refs(rendered["aws"])
    assert aws["DATABASE_PASSWORD"] == {("airbyte-db", "password")}
    assert aws["DATABASE_USER"] == {("airbyte-db", "DATABASE_USER")}
    assert aws["CONFIG_DATABASE_REPLICA_PASSWORD"] == {("airbyte-db", "password")}
    # AWS mode: the chart still maps the keys from its own Secret, empty. Checked (issue 10, 13c):
    # Airbyte's S3 client sets static credentials only for a non-blank key (airbyte-platform
    # airbyte-commons-storage StorageClient.kt, S3StorageConfig.s3Client), else the AWS SDK v2
    # default chain, whose environment provider rejects a blank AWS_ACCESS_KEY_ID
    # (SystemSettingsCredentialsProvider) so the chain goes on to the container provider: Pod Identity.
    # A non-empty value here would be used as a static key and bypass Pod Identity.
    for key in S3_CREDENTIAL_KEYS:
        assert aws[key] == {(f"{RELEASE}-airbyte-secrets", key)}
    [chart_secret] = [o for o in rendered["aws"] if o["kind"] == "Secret"]
    assert chart_secret["stringData"]["AWS_ACCESS_KEY_ID"] == chart_secret["stringData"]["AWS_SECRET_ACCESS_KEY"] == ""
    [env] = [o for o in rendered["aws"] if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-airbyte-env")]
    assert (env["data"]["STORAGE_TYPE"], env["data"]["AWS_AUTHENTICATION_TYPE"]) == ("s3", "instanceProfile")
    local = secret_refs(rendered["s3-compatible"])
    for key in S3_CREDENTIAL_KEYS:
        assert local[key] == {("s3-creds", key)}


def test_rendered_service_port_matches_the_ui_helper(rendered):
    name, port = airbyte_ui_service(RELEASE)
    [service] = [o for o in rendered["aws"] if o["kind"] == "Service" and o["metadata"]["name"] == name]
    assert [p["port"] for p in service["spec"]["ports"]] == [port]
