"""DomainCatalogFeed on the records (registration, ingestion, token plumbing) and the two modules its Jobs run
(components/jobs/datahub_issuer.py, components/jobs/datahub_registration.py) against a local fake of GMS
and the Kubernetes API."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.catalog import INGESTION_IMAGE, CatalogEndpoint, issuer_configmap_name, issuer_source
from components.catalog_feed import (
    REGISTRATION_MODULE_FILE,
    SupersetSource,
    pull_sources,
    registration_proposals,
)
from components.domain_config import Domain
from components.interfaces import DomainServices, PostgresServer, ProductGrant, S3Settings, WarehouseSettings
from components.jobs import datahub_issuer as issuer
from components.jobs import datahub_registration as registration
from platformctl.validate import k8s_errors, k8s_manifests
from policy import rules
from tests.harness import Program, Resource, Secret, run_function, walk

GMS = "http://datahub-datahub-gms.platform.svc:8080"
ENDPOINT = CatalogEndpoint(
    namespace="platform",
    gms_url=GMS,
    frontend_url="https://datahub.data.example.com",
    image=INGESTION_IMAGE,
    token_secret="datahub-ingestion-token",
    token_key="token",
    issuer_service_account="datahub-token-issuer",
    issuer_configmap=issuer_configmap_name(issuer_source()),
    auth_secret="datahub-auth",
    ready=(),
)
SUPERSET = SupersetSource("http://sales-superset.sales.svc:8088", "admin", "superset-env", "SUPERSET_ADMIN_PASSWORD")
DAGSTER = {
    "image": {"repository": "ghcr.io/example-org/sales-dagster", "tag": "2025.06.3"},
    "codeLocation": {"module": "sales_pipelines.definitions"},
}
SALES: dict[str, Any] = {
    "name": "sales",
    "description": "Orders, invoices and revenue.",
    "owners": {"team": "sales-analytics", "email": "sales-data@example.com"},
    "costCenter": "cc-4100",
    "tools": {"dagster": DAGSTER, "datahubIngestion": {"schedule": "30 4 * * *"}},
    "products": [
        {
            "name": "orders",
            "description": "One row per order line.",
            "prefix": "curated/orders/",
            "contract": "https://git.example.com/contracts/sales/orders.yaml",
        },
        {"name": "daily-revenue", "description": "Revenue per day.", "prefix": "curated/daily-revenue/"},
    ],
}
MARKETING: dict[str, Any] = {
    "name": "marketing",
    "description": "Campaigns and attribution.",
    "owners": {"team": "marketing-analytics", "email": "marketing-data@example.com"},
    "costCenter": "cc-4200",
    "tools": {"dagster": DAGSTER, "superset": {"enabled": False}},
    "consumes": ["sales.orders"],
}
ORDERS = ProductGrant(producer="sales", product="orders", prefix="curated/orders/")
WAREHOUSE_HOST = "dp-dev-sales.123456789012.eu-west-1.redshift-serverless.amazonaws.com"
BUCKET = "dp-dev-sales-1a2b3c4d"
WAREHOUSE_PASSWORD = "local-warehouse-pw"


def _domain(raw: dict[str, Any], **changes: Any) -> Domain:
    return Domain.model_validate({**raw, **changes})


def _services(local: bool) -> DomainServices:
    admin = PostgresServer(
        pulumi.Output.from_input("db.internal"), 5432, "dpadmin", pulumi.Output.secret("x"), "require"
    )
    if local:
        return DomainServices(
            s3=S3Settings(
                bucket=pulumi.Output.from_input("sales"),
                region="us-east-1",
                endpoint_url="http://minio.minio.svc:9000",
                credentials_secret="lake-credentials",
            ),
            metadata_db=admin,
            warehouse=WarehouseSettings(
                kind="postgres",
                host=pulumi.Output.from_input("sales-warehouse-rw.sales.svc"),
                port=5432,
                database="analytics",
                user="analytics",
                auth="password",
                password=pulumi.Output.secret(WAREHOUSE_PASSWORD),
            ),
            role_arn=None,
            grants=(),
        )
    return DomainServices(
        s3=S3Settings(bucket=pulumi.Output.from_input(BUCKET), region="eu-west-1"),
        metadata_db=admin,
        warehouse=WarehouseSettings(
            kind="redshift",
            host=pulumi.Output.from_input(WAREHOUSE_HOST),
            port=5439,
            database="analytics",
            user="IAMR:dp-dev-sales-domain",
            auth="iam",
            workgroup=pulumi.Output.from_input("dp-dev-sales"),
        ),
        role_arn=pulumi.Output.from_input("arn:aws:iam::123456789012:role/dp-dev-sales-domain"),
        grants=(),
    )


def _run(
    domain: Domain,
    *,
    grants: tuple[ProductGrant, ...] = (),
    local: bool = False,
    superset: SupersetSource | None = SUPERSET,
    endpoint: CatalogEndpoint = ENDPOINT,
) -> Program:
    from components.catalog_feed import DomainCatalogFeed

    def build() -> None:
        provider = k8s.Provider("k8s")
        feed = DomainCatalogFeed(
            f"{domain.name}-catalog",
            domain,
            namespace=domain.name,
            catalog=endpoint,
            grants=grants,
            services=_services(local),
            ingestion_service_account="datahub-ingestion",
            superset=superset,
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        pulumi.export("feed", feed.exports)

    return run_function(build)


@pytest.fixture(scope="module")
def sales() -> Program:
    return _run(_domain(SALES))


@pytest.fixture(scope="module")
def marketing() -> Program:
    return _run(_domain(MARKETING), grants=(ORDERS,), superset=None)


@pytest.fixture(scope="module")
def local() -> Program:
    return _run(_domain(SALES), local=True)


def _named(program: Program, type_: str) -> dict[str, Resource]:
    return {r.inputs["metadata"]["name"]: r for r in program.of_type(type_)}


def _configmap(program: Program, prefix: str) -> dict[str, str]:
    (cm,) = [r for n, r in _named(program, "kubernetes:core/v1:ConfigMap").items() if n.startswith(prefix)]
    assert not isinstance(cm.inputs["data"], Secret), "a ConfigMap must never hold a secret"
    return cm.inputs["data"]


def _proposals(program: Program) -> list[dict[str, Any]]:
    return json.loads(_configmap(program, "datahub-registration-")["proposals.json"])


def _aspect(proposals: list[dict[str, Any]], urn: str, name: str) -> dict[str, Any]:
    (found,) = [p["aspect"] for p in proposals if p["entityUrn"] == urn and p["aspectName"] == name]
    return found


def _recipes(program: Program) -> dict[str, dict[str, Any]]:
    return {
        k.removesuffix(".yml"): yaml.safe_load(v) for k, v in _configmap(program, "datahub-ingestion-recipes").items()
    }


def _pod(resource: Resource) -> dict[str, Any]:
    spec = resource.inputs["spec"]
    return (spec["jobTemplate"]["spec"] if resource.inputs["kind"] == "CronJob" else spec)["template"]["spec"]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


# --- registration -------------------------------------------------------------------------------------------


def test_registration_declares_domain_and_owners(sales: Program) -> None:
    proposals = _proposals(sales)
    props = _aspect(proposals, "urn:li:domain:sales", "domainProperties")
    assert (props["name"], props["description"]) == ("sales", "Orders, invoices and revenue.")
    assert props["customProperties"]["contact"] == "sales-data@example.com"
    assert props["customProperties"]["team"] == "sales-analytics"
    assert "consumes" not in props["customProperties"]
    owners = _aspect(proposals, "urn:li:domain:sales", "ownership")["owners"]
    assert owners == [{"owner": "urn:li:corpGroup:sales-analytics", "type": "TECHNICAL_OWNER"}]


def test_registration_declares_each_product_in_its_domain(sales: Program) -> None:
    proposals = _proposals(sales)
    products = sorted({p["entityUrn"] for p in proposals if p["entityType"] == "dataProduct"})
    assert products == ["urn:li:dataProduct:sales.daily-revenue", "urn:li:dataProduct:sales.orders"]
    orders = _aspect(proposals, "urn:li:dataProduct:sales.orders", "dataProductProperties")
    assert orders["description"] == "One row per order line."
    assert orders["externalUrl"] == "https://git.example.com/contracts/sales/orders.yaml"
    assert orders["customProperties"]["prefix"] == "curated/orders/"
    revenue = _aspect(proposals, "urn:li:dataProduct:sales.daily-revenue", "dataProductProperties")
    assert "externalUrl" not in revenue and revenue["customProperties"]["prefix"] == "curated/daily-revenue/"
    for urn in products:
        assert _aspect(proposals, urn, "domains") == {"domains": ["urn:li:domain:sales"]}
        assert _aspect(proposals, urn, "ownership")["owners"][0]["owner"] == "urn:li:corpGroup:sales-analytics"


def test_grants_appear_in_the_consumers_registration_and_outputs(marketing: Program) -> None:
    custom = _aspect(_proposals(marketing), "urn:li:domain:marketing", "domainProperties")["customProperties"]
    assert custom["consumes"] == "sales.orders"
    assert "curated/orders/" in custom["grant.sales.orders"] and "s3:GetObject" in custom["grant.sales.orders"]
    grants = marketing.exports["feed"]["grants"]
    assert grants == {
        "sales.orders": {
            "producer": "sales",
            "product": "orders",
            "prefix": "curated/orders/",
            "access": "read-only: s3:GetObject and s3:ListBucket under the prefix, kms:Decrypt with the shared lake key",
            "dataProduct": "urn:li:dataProduct:sales.orders",
        }
    }
    # The consumer writes only its own Domain: nothing of the producer's entities.
    assert {p["entityUrn"] for p in _proposals(marketing)} == {"urn:li:domain:marketing"}


def test_registration_job_is_named_after_its_content(sales: Program) -> None:
    job = _named(sales, "kubernetes:batch/v1:Job")
    (register,) = [n for n in job if n.startswith("datahub-register-")]
    configmap = next(n for n in _named(sales, "kubernetes:core/v1:ConfigMap") if n.startswith("datahub-registration-"))
    assert register.removeprefix("datahub-register-") == configmap.removeprefix("datahub-registration-")
    cm = _named(sales, "kubernetes:core/v1:ConfigMap")[configmap]
    assert cm.inputs["immutable"] is True
    changed = _run(_domain(SALES, description="Orders and refunds."))
    assert not any(n.startswith(register) for n in _named(changed, "kubernetes:batch/v1:Job"))
    same = _run(_domain(SALES))
    assert register in _named(same, "kubernetes:batch/v1:Job")


def test_registration_job_runs_again_when_its_module_changes(
    sales: Program, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = tmp_path / REGISTRATION_MODULE_FILE.name
    changed.write_text(REGISTRATION_MODULE_FILE.read_text(encoding="utf-8") + "\n# changed\n")
    monkeypatch.setattr("components.catalog_feed.REGISTRATION_MODULE_FILE", changed)
    rerun = _run(_domain(SALES))
    before = {n for n in _named(sales, "kubernetes:batch/v1:Job") if n.startswith("datahub-register-")}
    after = {n for n in _named(rerun, "kubernetes:batch/v1:Job") if n.startswith("datahub-register-")}
    assert len(after) == 1 and before.isdisjoint(after)
    assert _configmap(rerun, "datahub-registration-")["datahub_registration.py"].endswith("# changed\n")


def _mounted_files(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Path in the container -> (Secret, key) for every Secret key mounted as a file."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    out = {}
    for mount in container["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret:
            assert mount["readOnly"] is True and "subPath" not in mount
            for item in secret["items"]:
                out[f"{mount['mountPath']}/{item['path']}"] = (secret["secretName"], item["key"])
    return out


def test_registration_job_reads_the_token_from_a_mounted_file(sales: Program) -> None:
    job = next(r for n, r in _named(sales, "kubernetes:batch/v1:Job").items() if n.startswith("datahub-register-"))
    pod = _pod(job)
    (container,) = pod["containers"]
    env = _env(container)
    # Every variable the module requires is set, to plain values: the token is a file, not env.
    assert set(registration.REQUIRED_ENV) <= set(env)
    assert all(isinstance(v, str) for v in env.values()), env
    assert env["DATAHUB_GMS_URL"] == GMS
    assert _mounted_files(pod, container) == {env["DATAHUB_GMS_TOKEN_FILE"]: ("datahub-ingestion-token", "token")}
    # The module and the proposals come from the registration ConfigMap, mounted where the env and command say.
    configmap = _configmap(sales, "datahub-registration-")
    assert configmap == {
        "proposals.json": configmap["proposals.json"],
        "datahub_registration.py": REGISTRATION_MODULE_FILE.read_text(encoding="utf-8"),
    }
    assert container["command"] == ["python", "/registration/datahub_registration.py"]
    assert env["PROPOSALS_FILE"] == "/registration/proposals.json"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/registration"]]["configMap"]["name"].startswith("datahub-registration-")
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("datahub-registration", False)
    issue = next(r for n, r in _named(sales, "kubernetes:batch/v1:Job").items() if n.startswith("datahub-token-"))
    assert issue.urn in job.depends_on


# --- ingestion --------------------------------------------------------------------------------------------


def test_ingestion_cronjob_schedule_and_sources(sales: Program) -> None:
    cron = _named(sales, "kubernetes:batch/v1:CronJob")["datahub-ingestion"].inputs["spec"]
    assert cron["schedule"] == "30 4 * * *" and cron["timeZone"] == "Etc/UTC"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert (cron["successfulJobsHistoryLimit"], cron["failedJobsHistoryLimit"]) == (3, 3)
    assert cron["startingDeadlineSeconds"] == 3600
    (container,) = cron["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    script = container["command"][2]
    runs = [line.split()[-3] for line in script.splitlines() if "datahub ingest" in line]
    assert runs == [f"/recipes/{s}.yml" for s in ("warehouse", "lake", "dbt", "superset")]
    assert script.rstrip().endswith("exit $status")
    assert set(_recipes(sales)) == {"warehouse", "lake", "dbt", "superset"}
    assert sales.exports["feed"]["ingestion"] == {
        "schedule": "30 4 * * *",
        "sources": ["warehouse", "lake", "dbt", "superset"],
    }


def test_recipes_on_aws_use_the_pod_role(sales: Program) -> None:
    recipes = _recipes(sales)
    warehouse = recipes["warehouse"]["source"]
    assert warehouse["type"] == "redshift"
    assert warehouse["config"]["host_port"] == f"{WAREHOUSE_HOST}:5439"
    assert warehouse["config"]["extra_client_options"] == {
        "iam": True,
        "is_serverless": True,
        "serverless_work_group": "dp-dev-sales",
        "region": "eu-west-1",
    }
    assert "password" not in warehouse["config"]
    lake = recipes["lake"]["source"]
    assert (lake["type"], lake["config"]["path_specs"]) == ("s3", [{"include": f"s3://{BUCKET}/curated/{{table}}"}])
    assert lake["config"]["aws_config"] == {"aws_region": "eu-west-1"}
    dbt = recipes["dbt"]["source"]["config"]
    assert dbt["manifest_path"] == f"s3://{BUCKET}/dbt/artifacts/manifest.json"
    assert dbt["catalog_path"] == f"s3://{BUCKET}/dbt/artifacts/catalog.json"
    assert dbt["run_results_paths"] == [f"s3://{BUCKET}/dbt/artifacts/run_results.json"]
    assert (dbt["target_platform"], dbt["aws_connection"]) == ("redshift", {"aws_region": "eu-west-1"})
    superset = recipes["superset"]["source"]["config"]
    # The provider DataHub's superset source sends to /api/v1/security/login (test_sign_in: allowed under AUTH_OAUTH).
    assert (superset["connect_uri"], superset["password"], superset["provider"]) == (
        "http://sales-superset.sales.svc:8088",
        "${SUPERSET_PASSWORD}",
        "db",
    )
    for name, recipe in recipes.items():
        assert recipe["sink"] == {
            "type": "datahub-rest",
            "config": {"server": "${DATAHUB_GMS_URL}", "token": "${DATAHUB_GMS_TOKEN}"},
        }
        assert recipe["transformers"] == [
            {"type": "simple_add_dataset_domain", "config": {"domains": ["urn:li:domain:sales"]}}
        ]
        assert recipe["pipeline_name"] == f"sales-{name}"


def test_ingestion_pod_gets_credentials_from_secrets_only(sales: Program, local: Program) -> None:
    pod = _pod(_named(sales, "kubernetes:batch/v1:CronJob")["datahub-ingestion"])
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("datahub-ingestion", False)
    (container,) = pod["containers"]
    env = _env(container)
    assert env["DATAHUB_GMS_TOKEN"] == {"secretKeyRef": {"name": "datahub-ingestion-token", "key": "token"}}
    assert env["SUPERSET_PASSWORD"] == {"secretKeyRef": {"name": "superset-env", "key": "SUPERSET_ADMIN_PASSWORD"}}
    assert "AWS_ACCESS_KEY_ID" not in env and "WAREHOUSE_PASSWORD" not in env  # Pod Identity on AWS
    (local_container,) = _pod(_named(local, "kubernetes:batch/v1:CronJob")["datahub-ingestion"])["containers"]
    local_env = _env(local_container)
    assert local_env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "lake-credentials", "key": "AWS_ACCESS_KEY_ID"}}
    assert local_env["WAREHOUSE_PASSWORD"] == {
        "secretKeyRef": {"name": "datahub-ingestion-sources", "key": "WAREHOUSE_PASSWORD"}
    }
    sources = _named(local, "kubernetes:core/v1:Secret")["datahub-ingestion-sources"]
    assert isinstance(sources.inputs["stringData"], Secret)
    assert sources.inputs["stringData"].value == {"WAREHOUSE_PASSWORD": WAREHOUSE_PASSWORD}
    for program in (sales, local):
        for r in program.resources:
            if r.type != "kubernetes:core/v1:Secret":
                assert WAREHOUSE_PASSWORD not in [v for v in walk(r.inputs) if isinstance(v, str)], r.name


def test_local_recipes_use_postgres_and_the_s3_endpoint(local: Program) -> None:
    recipes = _recipes(local)
    warehouse = recipes["warehouse"]["source"]
    assert warehouse["type"] == "postgres"
    assert warehouse["config"] == {
        "host_port": "sales-warehouse-rw.sales.svc:5432",
        "database": "analytics",
        "username": "analytics",
        "password": "${WAREHOUSE_PASSWORD}",
        "stateful_ingestion": {"enabled": True},
    }
    aws = recipes["lake"]["source"]["config"]["aws_config"]
    assert aws == {
        "aws_region": "us-east-1",
        "aws_endpoint_url": "http://minio.minio.svc:9000",
        "aws_access_key_id": "${AWS_ACCESS_KEY_ID}",
        "aws_secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
        "aws_advanced_config": {"s3": {"addressing_style": "path"}},
    }
    assert recipes["dbt"]["source"]["config"]["aws_connection"] == aws
    assert recipes["dbt"]["source"]["config"]["target_platform"] == "postgres"
    assert recipes["lake"]["source"]["config"]["path_specs"] == [{"include": "s3://sales/curated/{table}"}]


def test_source_toggles_pick_the_recipes() -> None:
    only_lake = _domain(
        SALES,
        tools={
            "dagster": DAGSTER,
            "superset": {"enabled": False},
            "datahubIngestion": {"sources": {"warehouse": False, "dbt": False}},
        },
    )
    program = _run(only_lake, superset=None)
    assert set(_recipes(program)) == {"lake"}
    assert program.exports["feed"]["ingestion"]["sources"] == ["lake"]
    nothing = _domain(
        SALES,
        tools={
            "dagster": {"enabled": False},
            "superset": {"enabled": False},
            "datahubIngestion": {"sources": {"warehouse": False, "lake": False}},
        },
    )
    quiet = _run(nothing, superset=None)
    assert not quiet.of_type("kubernetes:batch/v1:CronJob") or set(_named(quiet, "kubernetes:batch/v1:CronJob")) == {
        "datahub-token-sales"
    }
    assert "datahub-ingestion-recipes" not in _named(quiet, "kubernetes:core/v1:ConfigMap")
    assert quiet.exports["feed"]["ingestion"] is None
    # Registration does not depend on ingestion.
    assert any(n.startswith("datahub-register-") for n in _named(quiet, "kubernetes:batch/v1:Job"))


def test_disabled_ingestion_creates_no_cronjob() -> None:
    off = _domain(SALES, tools={"dagster": DAGSTER, "datahubIngestion": {"enabled": False}})
    program = _run(off)
    assert set(_named(program, "kubernetes:batch/v1:CronJob")) == {"datahub-token-sales"}


def test_superset_source_needs_its_connection() -> None:
    sources = _domain(SALES).tools.datahub_ingestion.sources
    assert pull_sources(sources, SUPERSET) == ["warehouse", "lake", "dbt", "superset"]
    with pytest.raises(ValueError, match="SupersetSource"):
        pull_sources(sources, None)


def test_dagster_has_no_pull_source(sales: Program) -> None:
    # It pushes from the user code instead, with the token file (tests/test_values_dagster.py).
    assert "dagster" not in _recipes(sales)


# --- token plumbing ---------------------------------------------------------------------------------------


def test_token_secret_is_written_by_the_issuer_only(sales: Program) -> None:
    secret = _named(sales, "kubernetes:core/v1:Secret")["datahub-ingestion-token"]
    assert secret.inputs["metadata"]["namespace"] == "sales"
    assert "data" not in secret.inputs and "stringData" not in secret.inputs
    assert {"data", "stringData"} <= set(secret.ignore_changes)
    role = sales.one("kubernetes:rbac.authorization.k8s.io/v1:Role").inputs
    assert role["metadata"]["namespace"] == "sales"
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["datahub-ingestion-token"],
            "verbs": ["get", "patch"],
        }
    ]
    binding = sales.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").inputs
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "datahub-token-issuer", "namespace": "platform"}]
    assert binding["roleRef"]["name"] == "datahub-token-writer"


def test_issuer_runs_in_the_catalog_namespace_with_the_system_secret(sales: Program) -> None:
    issue = next(r for n, r in _named(sales, "kubernetes:batch/v1:Job").items() if n.startswith("datahub-token-sales-"))
    rotate = _named(sales, "kubernetes:batch/v1:CronJob")["datahub-token-sales"]
    assert rotate.inputs["spec"]["schedule"] == "0 2 * * 1"
    for r in (issue, rotate):
        assert r.inputs["metadata"]["namespace"] == "platform"
        pod = _pod(r)
        assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("datahub-token-issuer", True)
        (container,) = pod["containers"]
        env = _env(container)
        # Every variable the module requires is set (the kubelet sets KUBERNETES_SERVICE_*), all plain values;
        # the system client secret is the one key of the auth Secret mounted where the module reads it.
        assert set(issuer.REQUIRED_ENV) - {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"} <= set(env)
        assert all(isinstance(v, str) for v in env.values()), env
        assert _mounted_files(pod, container) == {
            issuer.SYSTEM_CLIENT_SECRET_FILE: ("datahub-auth", "system_client_secret")
        }
        assert (env["DOMAIN"], env["TARGET_NAMESPACE"], env["TOKEN_STORE_NAME"]) == (
            "sales",
            "sales",
            "datahub-ingestion-token",
        )
        assert (env["TEAM"], env["TEAM_EMAIL"], env["ACCESS_VALIDITY"]) == (
            "sales-analytics",
            "sales-data@example.com",
            "ONE_MONTH",
        )
        assert container["command"] == ["python", "/scripts/datahub_issuer.py"]
        scripts = {v["name"]: v for v in pod["volumes"]}["scripts"]["configMap"]["name"]
        assert {"name": "scripts", "mountPath": "/scripts", "readOnly": True} in container["volumeMounts"]
        assert scripts == ENDPOINT.issuer_configmap
    # The domain namespace never sees the system client secret.
    for r in sales.resources:
        if r.type.startswith("kubernetes:") and r.inputs.get("metadata", {}).get("namespace") == "sales":
            assert "system_client_secret" not in json.dumps(r.inputs, default=str), r.name


def _issuer_job(program: Program) -> Resource:
    (job,) = [r for n, r in _named(program, "kubernetes:batch/v1:Job").items() if n.startswith("datahub-token-sales-")]
    return job


def test_issuer_job_runs_again_when_the_issuer_script_changes(sales: Program) -> None:
    job = _issuer_job(sales)
    volumes = {v["name"]: v for v in _pod(job)["volumes"]}
    assert volumes["scripts"]["configMap"]["name"] == ENDPOINT.issuer_configmap
    # A new script is a new ConfigMap name (the catalog names it after the script): a new Job.
    changed = replace(ENDPOINT, issuer_configmap=issuer_configmap_name(issuer_source() + "\n# changed\n"))
    rerun = _issuer_job(_run(_domain(SALES), endpoint=changed))
    assert rerun.inputs["metadata"]["name"] != job.inputs["metadata"]["name"]


# --- the baseline over every object -----------------------------------------------------------------------------


@pytest.mark.parametrize("program_name", ["sales", "marketing", "local"])
def test_objects_validate_and_pass_the_policy_rules(program_name: str, request: pytest.FixtureRequest) -> None:
    program: Program = request.getfixturevalue(program_name)
    for manifest in k8s_manifests(program):
        assert k8s_errors(manifest, "1.35") == [], manifest["metadata"]["name"]
    findings = rules.evaluate([rules.from_record(r) for r in program.resources], rules.Ctx(environment="prod"))
    assert [(f.rule, f.message) for f in findings if f.level == "mandatory"] == []
    for r in program.resources:
        if r.custom and r.type.startswith("kubernetes:"):
            assert r.provider_urn.endswith("::k8s"), r.name


@pytest.mark.parametrize("program_name", ["sales", "local"])
def test_every_pod_is_restricted_sized_and_pinned(program_name: str, request: pytest.FixtureRequest) -> None:
    program: Program = request.getfixturevalue(program_name)
    workloads = program.of_type("kubernetes:batch/v1:Job") + program.of_type("kubernetes:batch/v1:CronJob")
    assert len(workloads) == 4
    for r in workloads:
        pod = _pod(r)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (c,) = pod["containers"]
        sc = c["securityContext"]
        assert (sc["allowPrivilegeEscalation"], sc["readOnlyRootFilesystem"], sc["capabilities"]) == (
            False,
            True,
            {"drop": ["ALL"]},
        )
        assert c["resources"]["requests"] and c["resources"]["limits"]
        assert c["image"] == "acryldata/datahub-ingestion:v1.7.0"
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert mounts["/tmp"] == "tmp" and mounts["/datahub-home"] == "home"
        assert _env(c)["HOME"] == "/datahub-home"
        empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        assert empty == {"tmp", "home"}


# --- the scripts against a fake GMS and Kubernetes API ---------------------------------------------------------


class FakeApis:
    """GMS (health, ingestProposal, GraphQL) and the Kubernetes Secret API on one local port."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.secret: dict[str, str] = {}
        self.proposal_statuses: list[int] = []  # consumed first; then 200
        self.patch_status = 200
        self.healthy = True
        self.tokens = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body: dict[str, Any] = json.loads(self.rfile.read(length)) if length else {}
                path = urlsplit(self.path)
                outer.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                if path.path == "/health":
                    return self._reply(200 if outer.healthy else 503, {})
                if path.path == "/aspects":
                    status = outer.proposal_statuses.pop(0) if outer.proposal_statuses else 200
                    return self._reply(status, {"value": body["proposal"]["entityUrn"]})
                if path.path == "/api/graphql":
                    if "createAccessToken" in body["query"]:
                        outer.tokens += 1
                        n = outer.tokens
                        token = {"accessToken": f"tok-{n}", "metadata": {"urn": f"urn:li:dataHubAccessToken:id-{n}"}}
                        return self._reply(200, {"data": {"createAccessToken": token}})
                    return self._reply(200, {"data": {"revokeAccessToken": True}})
                if path.path.startswith("/api/v1/namespaces/"):
                    if self.command == "GET":
                        data = {k: base64.b64encode(v.encode()).decode() for k, v in outer.secret.items()}
                        return self._reply(200, {"data": data})
                    if outer.patch_status != 200:
                        return self._reply(outer.patch_status, {"message": "forbidden"})
                    outer.secret |= {k: base64.b64decode(v).decode() for k, v in body["data"].items()}
                    return self._reply(200, {})
                return self._reply(404, {})

            do_GET = do_POST = do_PATCH = _handle  # noqa: N815 (BaseHTTPRequestHandler names)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def of(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].startswith(path)]


@pytest.fixture
def apis() -> Iterator[FakeApis]:
    fake = FakeApis()
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def _issue(apis: FakeApis) -> None:
    gms = issuer.Gms(apis.url, "Basic __datahub_system:system-secret", wait_seconds=5, pause=0)
    kube = issuer.Kube(apis.url, "sa-token")
    issuer.issue(
        gms,
        kube,
        domain="sales",
        namespace="sales",
        secret="datahub-ingestion-token",
        team="sales-analytics",
        team_email="sales-data@example.com",
        duration="ONE_MONTH",
    )


def _revoked(apis: FakeApis) -> list[str]:
    return [r["body"]["variables"]["id"] for r in apis.of("/api/graphql") if "revokeAccessToken" in r["body"]["query"]]


def test_issuer_creates_user_policy_and_token_as_the_system_client(apis: FakeApis) -> None:
    _issue(apis)
    proposals = {r["body"]["proposal"]["aspectName"]: r for r in apis.of("/aspects")}
    assert set(proposals) == {"corpUserInfo", "corpGroupInfo", "dataHubPolicyInfo"}
    for r in [*proposals.values(), *apis.of("/api/graphql")]:
        assert r["headers"]["Authorization"] == "Basic __datahub_system:system-secret"
    policy = proposals["dataHubPolicyInfo"]["body"]["proposal"]
    assert policy["entityUrn"] == "urn:li:dataHubPolicy:dataplatform-ingestion-sales"
    assert proposals["dataHubPolicyInfo"]["headers"]["X-Restli-Protocol-Version"] == "2.0.0"
    info = json.loads(policy["aspect"]["value"])
    assert (info["type"], info["state"], info["privileges"]) == ("METADATA", "ACTIVE", ["EDIT_ENTITY"])
    assert info["actors"]["users"] == ["urn:li:corpuser:ingestion-sales"] and info["actors"]["allUsers"] is False
    group = json.loads(proposals["corpGroupInfo"]["body"]["proposal"]["aspect"]["value"])
    assert group["email"] == "sales-data@example.com"
    (create,) = apis.of("/api/graphql")
    assert create["body"]["variables"]["input"] | {"description": ""} == {
        "type": "PERSONAL",
        "actorUrn": "urn:li:corpuser:ingestion-sales",
        "duration": "ONE_MONTH",
        "name": "dataplatform-sales",
        "description": "",
    }
    assert apis.secret == {"token": "tok-1", "token-id": "id-1", "previous-token-id": ""}
    (patch,) = [r for r in apis.of("/api/v1/") if r["method"] == "PATCH"]
    assert patch["path"] == "/api/v1/namespaces/sales/secrets/datahub-ingestion-token"
    assert patch["headers"]["Authorization"] == "Bearer sa-token"
    assert patch["headers"]["Content-Type"] == "application/merge-patch+json"


def test_issuer_rotation_keeps_the_previous_token_and_revokes_older_ones(apis: FakeApis) -> None:
    for _ in range(3):
        _issue(apis)
    assert apis.secret == {"token": "tok-3", "token-id": "id-3", "previous-token-id": "id-2"}
    assert _revoked(apis) == ["id-1"]


def test_issuer_revokes_a_token_it_could_not_store(apis: FakeApis) -> None:
    apis.patch_status = 403
    with pytest.raises(SystemExit, match="cannot write Secret"):
        _issue(apis)
    assert _revoked(apis) == ["id-1"] and apis.secret == {}


def test_issuer_stops_when_gms_never_becomes_healthy(apis: FakeApis) -> None:
    apis.healthy = False
    with pytest.raises(SystemExit, match="did not become healthy"):
        issuer.Gms(apis.url, "Basic x:y", wait_seconds=0, pause=0).wait()
    assert not apis.of("/aspects") and not apis.of("/api/graphql")


ISSUER_ENV = {
    "DATAHUB_SYSTEM_CLIENT_ID": "__datahub_system",
    "DOMAIN": "sales",
    "TARGET_NAMESPACE": "sales",
    "TOKEN_STORE_NAME": "datahub-ingestion-token",
    "TEAM": "sales-analytics",
    "TEAM_EMAIL": "sales-data@example.com",
    "ACCESS_VALIDITY": "ONE_MONTH",
    "KUBERNETES_SERVICE_HOST": "10.100.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
}


def test_issuer_main_reads_the_system_client_secret_from_its_file(apis: FakeApis, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("system-secret\n")
    env = {**ISSUER_ENV, "DATAHUB_GMS_URL": apis.url}
    assert issuer.main(env, secret_file=str(secret_file), kube=issuer.Kube(apis.url, "sa-token")) == 0
    assert {r["headers"]["Authorization"] for r in [*apis.of("/aspects"), *apis.of("/api/graphql")]} == {
        "Basic __datahub_system:system-secret"
    }
    assert apis.secret["token"] == "tok-1"
    assert issuer.Settings.from_env(env).kubernetes_api == "https://10.100.0.1:443"


def test_issuer_names_what_it_is_missing(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="TEAM_EMAIL"):
        issuer.Settings.from_env({k: v for k, v in ISSUER_ENV.items() if k != "TEAM_EMAIL"})
    with pytest.raises(SystemExit, match=str(tmp_path / "absent")):
        issuer.read_secret_file(str(tmp_path / "absent"))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SystemExit, match="empty"):
        issuer.read_secret_file(str(tmp_path / "empty"))


def test_registration_upserts_every_proposal_with_the_domain_token(apis: FakeApis, marketing: Program) -> None:
    proposals = registration_proposals(_domain(MARKETING), (ORDERS,))
    # What the Job reads is what the program rendered.
    assert json.loads(_configmap(marketing, "datahub-registration-")["proposals.json"]) == proposals
    apis.proposal_statuses = [403, 503]  # the policy cache, then GMS restarting: both retried
    registration.register(apis.url, "domain-token", proposals, deadline_seconds=5, pause=0)
    sent = apis.of("/aspects")
    assert len(sent) == len(proposals) + 2
    assert {r["headers"]["Authorization"] for r in sent} == {"Bearer domain-token"}
    accepted = sent[2:]
    for request, proposal in zip(accepted, proposals, strict=True):
        body = request["body"]["proposal"]
        assert (body["entityUrn"], body["aspectName"], body["changeType"]) == (
            proposal["entityUrn"],
            proposal["aspectName"],
            "UPSERT",
        )
        assert json.loads(body["aspect"]["value"]) == proposal["aspect"]


def test_registration_stops_on_a_rejected_proposal(apis: FakeApis) -> None:
    apis.proposal_statuses = [422]
    with pytest.raises(SystemExit, match="HTTP 422"):
        registration.register(apis.url, "t", registration_proposals(_domain(SALES), ()), deadline_seconds=5, pause=0)
    assert len(apis.of("/aspects")) == 1


def test_registration_gives_up_on_retries_after_the_deadline(apis: FakeApis) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    apis.proposal_statuses = [503] * 10
    with pytest.raises(SystemExit, match="HTTP 503"):
        registration.register(
            apis.url, "t", registration_proposals(_domain(SALES), ()), 25, 10, clock=lambda: now[0], sleep=sleep
        )
    assert len(apis.of("/aspects")) == 4  # at 0, 10, 20 and 30 s: past the 25 s deadline


def test_registration_main_reads_the_token_and_proposals_from_files(apis: FakeApis, tmp_path: Path) -> None:
    proposals = registration_proposals(_domain(SALES), ())
    (tmp_path / "proposals.json").write_text(json.dumps(proposals))
    (tmp_path / "token").write_text("domain-token\n")
    env = {
        "DATAHUB_GMS_URL": apis.url,
        "DATAHUB_GMS_TOKEN_FILE": str(tmp_path / "token"),
        "PROPOSALS_FILE": str(tmp_path / "proposals.json"),
    }
    assert registration.main(env) == 0
    assert [r["headers"]["Authorization"] for r in apis.of("/aspects")] == ["Bearer domain-token"] * len(proposals)
    with pytest.raises(SystemExit, match="DATAHUB_GMS_TOKEN_FILE"):
        registration.main({k: v for k, v in env.items() if k != "DATAHUB_GMS_TOKEN_FILE"})
    (tmp_path / "token").write_text("")
    with pytest.raises(SystemExit, match="is empty"):
        registration.main(env)
