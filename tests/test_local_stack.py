"""The local stack (`Pulumi.local.yaml`): the whole program on LocalFoundation, checked on its records.

No AWS at all; every domain gets a MinIO bucket, user and credentials Secret, and a CloudNativePG
cluster; the tools get an S3 endpoint and a credentials Secret instead of a role; every namespace has
the guardrails; every object passes strict schema validation; the plan CLI works for the stack.
"""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.config import parse_stack_config
from components.domain_config import parse_quantity
from components.guardrails import ContainerDefaults, GuardrailsArgs, NamespaceGuardrails, Quota
from components.interfaces import ProductGrant
from components.local.domain_services import (
    LAKE_CREDENTIALS_SECRET,
    POSTGRES_IMAGES,
    lake_bucket_name,
    lake_user_policy,
)
from components.local.foundation import (
    CNPG_NAMESPACE,
    DOMAIN_NAMESPACE_LABEL,
    INGRESS_NAMESPACE,
    MINIO_NAMESPACE,
    MINIO_ROOT_SECRET,
)
from components.values.common import S3_CREDENTIAL_KEYS
from platformctl import __main__ as cli
from platformctl.rendered_checks import check_objects
from platformctl.validate import (
    helm_release_errors,
    helm_releases,
    iam_findings,
    is_builtin,
    k8s_manifests,
    schema_check,
)
from tests.harness import PROJECT_DIR, Program, Resource, Secret, program_for, run_function, stack_config

DOMAINS = ("marketing", "sales")
SHARED_NAMESPACES = (INGRESS_NAMESPACE, MINIO_NAMESPACE, CNPG_NAMESPACE)
ENDPOINT = "http://minio.minio.svc:9000"
CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
SECRET = "kubernetes:core/v1:Secret"
JOB = "kubernetes:batch/v1:Job"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


@pytest.fixture(scope="module")
def program() -> Program:
    return program_for("local")


def _in(program: Program, type_: str, namespace: str) -> dict[str, Resource]:
    return {
        r.inputs["metadata"]["name"]: r
        for r in program.of_type(type_)
        if r.inputs.get("metadata", {}).get("namespace") == namespace
    }


def _release_values(program: Program, name: str) -> dict:
    values = program.one("kubernetes:helm.sh/v3:Release", name).inputs["values"]
    assert not isinstance(values, Secret), f"{name}: secret values"
    return values


# ---- foundation -----------------------------------------------------------------------------------


def test_stack_file_selects_the_local_foundation() -> None:
    raw = {k.split(":", 1)[1]: v for k, v in stack_config("local").items()}
    config = parse_stack_config({k: json.loads(v) if v[:1] in "{[" else v for k, v in raw.items()})
    assert (config.environment, config.foundation) == ("local", "local")
    assert config.ingress.base_domain == "localtest.me"
    assert not config.protection.protect_stateful
    assert config.local.kube_context == "kind-dataplatform"


def test_nothing_from_aws(program: Program) -> None:
    types = {r.type for r in program.resources}
    assert not [t for t in types if t.startswith("aws:") or t == "pulumi:providers:aws"]


def test_every_kubernetes_resource_uses_the_local_provider(program: Program) -> None:
    provider = program.one("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "kind-dataplatform"
    assert provider.inputs["deleteUnreachable"] == "true"
    k8s_resources = [r for r in program.resources if r.type.startswith("kubernetes:")]
    assert k8s_resources
    assert {r.name: r.provider_urn for r in k8s_resources if r.provider_urn != provider.urn} == {}


def test_exports_tell_how_to_reach_the_uis(program: Program) -> None:
    exports = program.exports
    assert exports["kubeContext"] == "kind-dataplatform"
    assert exports["uiPortForward"] == (
        "kubectl --context kind-dataplatform -n ingress-nginx port-forward svc/ingress-nginx-controller 8080:80"
    )
    assert exports["minioConsole"] == "http://minio.localtest.me"
    assert {d: exports["domains"][d]["bucket"] for d in DOMAINS} == {d: f"dp-local-{d}" for d in DOMAINS}


def test_shared_services_are_pinned_official_charts(program: Program) -> None:
    releases = {r.namespace: (r.chart, r.version, r.repo, r.name) for r in helm_releases(program)}
    assert releases[MINIO_NAMESPACE] == ("minio", "5.4.0", "https://charts.min.io/", "minio")
    assert releases[CNPG_NAMESPACE] == ("cloudnative-pg", "0.29.0", "https://cloudnative-pg.github.io/charts", "cnpg")
    assert releases[INGRESS_NAMESPACE] == (
        "ingress-nginx",
        "4.15.1",
        "https://kubernetes.github.io/ingress-nginx",
        "ingress-nginx",
    )


def test_minio_root_credentials_come_from_a_generated_secret(program: Program) -> None:
    values = _release_values(program, "minio")
    assert values["existingSecret"] == MINIO_ROOT_SECRET
    assert values["users"] == []  # the chart's default user has a published password
    assert not {"rootUser", "rootPassword", "buckets", "policies"} & values.keys()
    root = _secret_data(_in(program, SECRET, MINIO_NAMESPACE)[MINIO_ROOT_SECRET])
    assert set(root) == {"rootUser", "rootPassword"}


def test_ingress_controller_is_cluster_internal(program: Program) -> None:
    controller = _release_values(program, "ingress-nginx")["controller"]
    assert controller["service"]["type"] == "ClusterIP"  # the quota forbids LoadBalancer and NodePort
    assert controller["ingressClassResource"]["name"] == "nginx"


def test_no_secret_in_any_helm_values(program: Program) -> None:
    assert [e for r in helm_releases(program) for e in helm_release_errors(r)] == []


# ---- per domain -----------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_gets_bucket_user_and_policy_from_a_job(program: Program, domain: str) -> None:
    job = _in(program, JOB, MINIO_NAMESPACE)[f"{domain}-lake-init"]
    container = job.inputs["spec"]["template"]["spec"]["containers"][0]
    script = container["command"][2]
    bucket = lake_bucket_name("local", domain)
    assert f"mc mb --ignore-existing lake/{bucket}\n" in script
    assert f'mc admin policy attach lake {domain}-lake --user "$LAKE_ACCESS_KEY"' in script
    # The Job holds references to Secrets, never a secret value.
    for env in container["env"]:
        assert "valueFrom" in env or not re.search(r"KEY|PASSWORD|SECRET", env["name"]), env
    assert {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e} == {
        "MINIO_ROOT_USER": MINIO_ROOT_SECRET,
        "MINIO_ROOT_PASSWORD": MINIO_ROOT_SECRET,
        "LAKE_ACCESS_KEY": f"{domain}-lake-user",
        "LAKE_SECRET_KEY": f"{domain}-lake-user",
    }
    assert job.depends_on  # waits for MinIO


def test_policies_reach_own_bucket_and_consumed_prefixes_only(program: Program) -> None:
    def policy(domain: str) -> dict:
        script = _in(program, JOB, MINIO_NAMESPACE)[f"{domain}-lake-init"].inputs["spec"]["template"]["spec"][
            "containers"
        ][0]["command"][2]
        return json.loads(script.split("cat > /tmp/policy.json <<'JSON'\n", 1)[1].split("\nJSON\n", 1)[0])

    def resources(doc: dict) -> set[str]:
        return {res for s in doc["Statement"] for res in s["Resource"]}

    assert resources(policy("sales")) == {"arn:aws:s3:::dp-local-sales", "arn:aws:s3:::dp-local-sales/*"}
    assert resources(policy("marketing")) == {
        "arn:aws:s3:::dp-local-marketing",
        "arn:aws:s3:::dp-local-marketing/*",
        "arn:aws:s3:::dp-local-sales",
        "arn:aws:s3:::dp-local-sales/curated/orders/*",
    }
    assert all(s["Effect"] == "Allow" for s in policy("marketing")["Statement"])


def test_lake_policy_document_lints_clean() -> None:
    grant = ProductGrant(producer="sales", product="orders", prefix="curated/orders/")
    assert iam_findings(lake_user_policy("dp-local-marketing", [(grant, "dp-local-sales")]), "identity") == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_gets_its_credentials_secret(program: Program, domain: str) -> None:
    data = _secret_data(_in(program, SECRET, domain)[LAKE_CREDENTIALS_SECRET])
    assert set(data) == set(S3_CREDENTIAL_KEYS)
    assert data["AWS_ACCESS_KEY_ID"] == f"{domain}-lake"
    # The Job's copy in MinIO's namespace carries the same user; a new key replaces it (and so the Job).
    user = _in(program, SECRET, MINIO_NAMESPACE)[f"{domain}-lake-user"]
    assert user.inputs["immutable"] is True
    assert _secret_data(user) == data


def _secret_data(secret: Resource) -> dict:
    """A Secret's stringData, which must reach the engine as a secret."""
    data = secret.inputs["stringData"]
    assert isinstance(data, Secret), f"{secret.name}: stringData is not secret"
    return data.value


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_gets_a_cloudnativepg_cluster(program: Program, domain: str) -> None:
    cluster = _in(program, CLUSTER, domain)["postgres"]
    spec = cluster.inputs["spec"]
    assert spec["instances"] == 1
    assert spec["imageName"] == POSTGRES_IMAGES["17"]  # the domain files' default engine version
    assert "@sha256:" in spec["imageName"]
    assert cluster.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    secrets = _in(program, SECRET, domain)
    for ref, user in (
        (spec["superuserSecret"]["name"], "postgres"),
        (spec["bootstrap"]["initdb"]["secret"]["name"], "analytics"),
    ):
        assert secrets[ref].inputs["type"] == "kubernetes.io/basic-auth"
        assert _secret_data(secrets[ref])["username"] == user
    assert any("cloudnative-pg" in urn for urn in cluster.depends_on)  # the operator (CRDs, webhook) first


@pytest.mark.parametrize("domain", DOMAINS)
def test_metadata_databases_use_the_cluster_over_tls(program: Program, domain: str) -> None:
    job = _in(program, JOB, domain)["metadata-db-init"]
    env = {e["name"]: e.get("value") for e in job.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PGHOST"] == f"postgres-rw.{domain}.svc"
    assert (env["PGUSER"], env["PGSSLMODE"]) == ("postgres", "require")


@pytest.mark.parametrize("domain", DOMAINS)
def test_tools_get_an_endpoint_and_credentials_instead_of_a_role(program: Program, domain: str) -> None:
    dagster = _release_values(program, f"{domain}-dagster")
    logs = dagster["computeLogManager"]["config"]["s3ComputeLogManager"]
    assert (logs["bucket"], logs["endpointUrl"]) == (lake_bucket_name("local", domain), ENDPOINT)
    assert {"name": LAKE_CREDENTIALS_SECRET} in dagster["dagsterWebserver"]["envSecrets"]
    deployment = dagster["dagster-user-deployments"]["deployments"][0]
    assert {"name": "AWS_ENDPOINT_URL", "value": ENDPOINT} in deployment["env"]
    assert {"name": LAKE_CREDENTIALS_SECRET} in deployment["envSecrets"]
    storage = _release_values(program, f"{domain}-airbyte")["global"]["storage"]
    assert (storage["type"], storage["secretName"], storage["minio"]["endpoint"]) == (
        "minio",
        LAKE_CREDENTIALS_SECRET,
        ENDPOINT,
    )
    for release in (f"{domain}-dagster", f"{domain}-airbyte"):
        assert "role-arn" not in json.dumps(_release_values(program, release))
    assert program.exports["domains"][domain]["roleArn"] is None


@pytest.mark.parametrize("domain", DOMAINS)
def test_ingresses_use_nginx_on_localtest_me(program: Program, domain: str) -> None:
    ingresses = _in(program, "kubernetes:networking.k8s.io/v1:Ingress", domain).values()
    assert ingresses
    for ingress in ingresses:
        spec = ingress.inputs["spec"]
        assert spec["ingressClassName"] == "nginx"
        assert all(re.fullmatch(rf"[a-z]+\.{domain}\.localtest\.me", rule["host"]) for rule in spec["rules"])


# ---- guardrails and network -----------------------------------------------------------------------


@pytest.mark.parametrize("namespace", [*DOMAINS, *SHARED_NAMESPACES])
def test_every_namespace_has_the_guardrails(program: Program, namespace: str) -> None:
    ns = next(r for r in program.of_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == namespace)
    labels = ns.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert _in(program, "kubernetes:core/v1:ResourceQuota", namespace)
    assert _in(program, "kubernetes:core/v1:LimitRange", namespace)
    deny = _in(program, POLICY, namespace)["default-deny"].inputs["spec"]
    assert (deny["podSelector"], sorted(deny["policyTypes"])) == ({}, ["Egress", "Ingress"])


def _peers(rule: dict, key: str) -> list[dict]:
    return rule.get(key) or []


def test_domains_are_reachable_from_ingress_nginx_and_the_cnpg_operator(program: Program) -> None:
    for domain in DOMAINS:
        policies = _in(program, POLICY, domain)
        lb = policies["allow-load-balancer"].inputs["spec"]["ingress"][0]["from"]
        assert lb == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}}}]
        operator = policies["allow-cnpg-operator"].inputs["spec"]
        assert operator["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "postgres"}}
        assert [p["port"] for p in operator["ingress"][0]["ports"]] == [8000, 5432]
    egress = _in(program, POLICY, CNPG_NAMESPACE)["allow-instances"].inputs["spec"]["egress"][0]
    assert egress["to"][0]["namespaceSelector"]["matchExpressions"][0]["key"] == DOMAIN_NAMESPACE_LABEL


def test_minio_serves_exactly_the_domain_namespaces(program: Program) -> None:
    served = _in(program, POLICY, MINIO_NAMESPACE)["allow-domain-clients"].inputs["spec"]["ingress"][0]
    assert served["from"][0]["namespaceSelector"]["matchExpressions"][0]["key"] == DOMAIN_NAMESPACE_LABEL
    assert [p["port"] for p in served["ports"]] == [9000]
    labelled = {
        r.inputs["metadata"]["name"]
        for r in program.of_type("kubernetes:core/v1:Namespace")
        if DOMAIN_NAMESPACE_LABEL in r.inputs["metadata"]["labels"]
    }
    assert labelled == set(DOMAINS)


def test_domains_may_call_minio(program: Program) -> None:
    for domain in DOMAINS:
        egress = _in(program, POLICY, domain)["allow-namespace-egress"].inputs["spec"]["egress"]
        assert egress == [
            {
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MINIO_NAMESPACE}}}],
                "ports": [{"protocol": "TCP", "port": 9000}],
            },
            # The bundled identity provider, which the sign-in gateways and Superset call.
            {
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "identity"}}}],
                "ports": [{"protocol": "TCP", "port": 5556}],
            },
        ]


def _guardrails(egress: tuple[tuple[str, tuple[int, ...]], ...]) -> Program:
    def build() -> None:
        args = GuardrailsArgs(
            namespace="sales",
            owner="sales",
            quota=Quota("1", "1Gi", "2", "2Gi", 10),
            container_defaults=ContainerDefaults("50m", "64Mi", "200m", "256Mi"),
            egress_namespaces=egress,
        )
        NamespaceGuardrails("sales", args, opts=pulumi.ResourceOptions(providers=[k8s.Provider("k8s")]))

    return run_function(build, "local")


def test_guardrails_egress_namespaces_opens_only_the_listed_ports() -> None:
    policies = _in(_guardrails((("minio", (9000,)), ("other", (1, 2)))), POLICY, "sales")
    egress = policies["allow-namespace-egress"].inputs["spec"]["egress"]
    assert [(e["to"][0]["namespaceSelector"]["matchLabels"], [p["port"] for p in e["ports"]]) for e in egress] == [
        ({"kubernetes.io/metadata.name": "minio"}, [9000]),
        ({"kubernetes.io/metadata.name": "other"}, [1, 2]),
    ]
    assert "allow-namespace-egress" not in _in(_guardrails(()), POLICY, "sales")


# ---- validation and stability ---------------------------------------------------------------------


def test_every_object_passes_strict_schema_and_rendered_checks(program: Program) -> None:
    manifests = k8s_manifests(program)
    custom = {m["kind"] for m in manifests if not is_builtin(m, "1.35")}
    assert custom == {"Cluster"}  # CloudNativePG: no schema here (checked against its CRD by hand, docs/local.md)
    errors = [f"{m['kind']} {m['metadata'].get('name')}: {e}" for m in manifests for e in schema_check(m, "1.35")[0]]
    findings, _ = check_objects(manifests, version="1.35")
    assert errors + [str(f) for f in findings if f.check != "schema"] == []


def _by_urn(program: Program) -> dict[str, dict]:
    return {r.urn: r.inputs for r in program.resources}


def test_adding_a_domain_changes_no_shared_or_other_domain_input(program: Program, tmp_path: Path) -> None:
    shutil.copy(PROJECT_DIR / "domains" / "sales.yaml", tmp_path / "sales.yaml")
    alone = _by_urn(program_for("local", domains_dir=tmp_path))
    both = _by_urn(program)
    kept = {urn for urn in alone if "marketing" not in urn}
    assert kept <= both.keys()
    # The laptop IdP's one client lists every UI's redirect URIs, as a real IdP registration must.
    dex = {urn for urn in kept if urn.endswith("Release::identity-dex")}
    assert len(dex) == 1
    assert [urn for urn in kept - dex if alone[urn] != both[urn]] == []


def test_plan_cli_works_for_the_local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # In process on the cached run: the subprocess, exit code and no-traceback path is tests/test_plan.py's.
    monkeypatch.setattr(cli, "run_program", lambda stack, domains_dir=None: program_for(stack, domains_dir=domains_dir))
    assert cli.main(["plan", "--stack", "local", "--out", str(tmp_path), "--quiet"]) == 0
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["stack"] == "local" and plan["resources"]
    assert not [r for r in plan["resources"] if str(r.get("type", "")).startswith("aws:")]


# --- footprint --------------------------------------------------------------------------------------
# Requests of pods that exist only briefly (runs, syncs, init and hook jobs, wait containers) are not steady state.
_TRANSIENT = {"runLauncher", "init", "airbyteBootloader", "datahubSystemUpdate", "workloads", "extraInitContainers"}
# Chart defaults we do not set, per pod: MySQL from the datahub-prerequisites 0.3.0 values; Kafka's controller
# and Superset's bundled Redis take Bitnami's resource presets ("small" and "nano").
_CHART_DEFAULTS_MIB = {"mysql": 512, "kafka": 512, "redis-per-domain": 128}
# Of 16 GiB: the rest is for the OS, Docker and the kind node's own pods. Two domains and the catalog took
# exactly 13 GiB when the analysts' notebooks came (a hub and a proxy, 160Mi: docs/local.md).
LAPTOP_BUDGET_GIB = Decimal("13.25")


def footprint(program: Program) -> tuple[Decimal, Decimal]:
    """Steady-state CPU (cores) and memory (bytes) requests computed from the values the program sets."""
    cpu, memory = Decimal(0), Decimal(0)

    def walk(value: object, path: tuple[str, ...]) -> None:
        nonlocal cpu, memory
        if isinstance(value, dict):
            if _TRANSIENT & set(path):
                return
            requests = (
                (value.get("resources") or {}).get("requests") if isinstance(value.get("resources"), dict) else None
            )
            if isinstance(requests, dict):
                replicas = value.get("replicaCount") or (value.get("replicas") or {}).get("replicaCount") or 1
                cpu += parse_quantity(str(requests.get("cpu", "0"))) * int(replicas)
                memory += parse_quantity(str(requests.get("memory", "0"))) * int(replicas)
            for key, item in value.items():
                if key != "resources":
                    walk(item, (*path, key))
        elif isinstance(value, list):
            for item in value:
                walk(item, path)

    for release in program.of_type("kubernetes:helm.sh/v3:Release"):
        values = release.inputs["values"]
        walk(values.value if isinstance(values, Secret) else values, ())
    for cluster in program.of_type("kubernetes:postgresql.cnpg.io/v1:Cluster"):
        requests = cluster.inputs["spec"]["resources"]["requests"]
        cpu += parse_quantity(requests["cpu"]) * int(cluster.inputs["spec"]["instances"])
        memory += parse_quantity(requests["memory"]) * int(cluster.inputs["spec"]["instances"])
    domains = len(program.of_type("dataplatform:domain:DataDomainStack"))
    defaults = (
        _CHART_DEFAULTS_MIB["mysql"] + _CHART_DEFAULTS_MIB["kafka"] + domains * _CHART_DEFAULTS_MIB["redis-per-domain"]
    )
    return cpu, memory + Decimal(defaults) * 2**20


def test_two_domains_and_the_catalog_fit_a_16_gib_laptop(program: Program) -> None:
    assert len(program.of_type("dataplatform:domain:DataDomainStack")) == 2
    assert program.of_type("dataplatform:catalog:CentralCatalog")
    cpu, memory = footprint(program)
    assert memory <= LAPTOP_BUDGET_GIB * 2**30, f"{memory / 2**30:.2f} GiB of requests"
    assert cpu <= 6, f"{cpu} CPU of requests"


def test_standard_sizing_would_not_fit() -> None:
    # Shows the footprint test is sensitive: the domain files' own sizes are for real clusters.
    standard = program_for("local", config={**stack_config("local"), "dataplatform:sizing": "standard"})
    _, memory = footprint(standard)
    assert memory > LAPTOP_BUDGET_GIB * 2**30
