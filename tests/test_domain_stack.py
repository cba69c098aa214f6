"""DataDomainStack through the whole program under mocks: dev and prod with the two sample domains,
plus temporary domain folders for toggles, stability and rejections.

Every check reads the plain records of `tests.harness` (never values inside `apply`) and compares
them with the domain files as `load_domains` reads them, so the expectations follow the files.
"""

from __future__ import annotations

import copy
import json
import re
import runpy
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.charts import PINNED
from components.domain_config import Domain, load_domains, parse_quantity
from components.sandbox_names import SANDBOX_NAMESPACE
from components.sign_in import GATEWAY_PORT
from platformctl.simulate import DOMAINS_DIR_ENV
from tests.harness import (
    PROJECT_DIR,
    Program,
    Resource,
    Secret,
    program_for,
    run_function,
    run_program,
    shared_run,
    stack_config,
)

STACKS = ("dev", "prod")
SAMPLES = PROJECT_DIR / "domains"

STACK_T = "dataplatform:domain:DataDomainStack"
RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_SECRET = "kubernetes:core/v1:Secret"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"

# What each tool toggle owns: tokens in its logical names, its ServiceAccounts (each gets Pod Identity).
# Ingestion is the ServiceAccount, the recipes and the CronJob; registering the domain in the
# catalog (DomainCatalogFeed's token, registration Job and ConfigMap) is not part of it.
TOOL_TOKENS = {
    "dagster": ("dagster", "quality"),  # the quality kit runs in the Dagster user code
    "airbyte": ("airbyte",),
    "superset": ("superset",),
    "datahubIngestion": ("datahub-ingestion", "catalog-ingestion", "catalog-recipes", "catalog-sources"),
}
TOOL_SAS = {
    "dagster": {"dagster", "dagster-user-code"},
    "airbyte": {"airbyte"},
    "superset": {"superset"},
    "datahubIngestion": {"datahub-ingestion"},
}
UI_TOOLS = ("dagster", "airbyte", "superset")
# Copies of sales.yaml, each with tools switched off; the unchanged sales sits next to them (and
# marketing does not: the same run shows that removing marketing changes nothing of sales).
VARIANTS: dict[str, tuple[str, ...]] = {
    "nodagster": ("dagster",),
    "noairbyte": ("airbyte",),
    "nosuperset": ("superset",),
    "noingestion": ("datahubIngestion",),
    "alloff": ("dagster", "airbyte", "superset", "datahubIngestion"),
}
# alloff also carries a non-default quota and limit range, so the guardrail checks see values that
# can only come from the file.
ALLOFF_QUOTA = {
    "cpu": "1500m",
    "memory": "3Gi",
    "pods": 7,
    "limitRange": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "250m", "memory": "256Mi"}},
}
SECRET_WORDS = ("PASSWORD", "PASSWD", "PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL")


# ---------------------------------------------------------------- helpers


def domain_stack(program: Program, domain: str) -> Resource:
    return program.one(STACK_T, domain)


def owned(program: Program, domain: str) -> list[Resource]:
    """The domain's DataDomainStack and everything below it."""
    stack = domain_stack(program, domain)
    return [stack, *program.descendants(stack.urn)]


def manifests(program: Program, domain: str, kind: str) -> dict[str, dict[str, Any]]:
    """The domain's Kubernetes objects of `kind`, by metadata.name."""
    return {
        r.inputs["metadata"]["name"]: r.inputs
        for r in owned(program, domain)
        if r.type.startswith("kubernetes:") and r.inputs.get("kind") == kind
    }


def unwrap(value: Any) -> Any:
    if isinstance(value, Secret):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def catalog_namespace(program: Program) -> str | None:
    """The namespace the central catalog created (None when the stack runs without a catalog)."""
    found = {
        r.inputs["metadata"]["name"]
        for c in program.of_type("dataplatform:catalog:CentralCatalog")
        for r in program.descendants(c.urn)
        if r.type == "kubernetes:core/v1:Namespace"
    }
    assert len(found) <= 1
    return next(iter(found), None)


def releases(program: Program, domain: str) -> dict[str, dict[str, Any]]:
    """The domain's Helm releases by chart name (their inputs as recorded)."""
    return {r.inputs["chart"]: r.inputs for r in owned(program, domain) if r.type == RELEASE}


def domain_role(program: Program, domain: str) -> Resource:
    """The domain's Pod Identity role (the warehouse admin role is the other role a domain owns)."""
    (role,) = [r for r in owned(program, domain) if r.type == "aws:iam/role:Role" and r.name == f"{domain}-domain"]
    return role


def domain_role_policy(program: Program, domain: str) -> Resource:
    (policy,) = [
        r for r in owned(program, domain) if r.type == "aws:iam/rolePolicy:RolePolicy" and r.name == f"{domain}-domain"
    ]
    return policy


def bucket_of(program: Program, domain: str) -> Resource:
    (bucket,) = [r for r in owned(program, domain) if r.type == "aws:s3/bucket:Bucket"]
    return bucket


def statements(document: str) -> list[dict[str, Any]]:
    return json.loads(document)["Statement"]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def network_cidr(stack: str) -> str:
    return json.loads(stack_config(stack)["dataplatform:network"])["cidr"]


def base_domain(stack: str) -> str:
    return json.loads(stack_config(stack)["dataplatform:ingress"])["baseDomain"]


def write_domains(folder: Path, docs: dict[str, dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, doc in docs.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def sample(name: str) -> dict[str, Any]:
    return yaml.safe_load((SAMPLES / f"{name}.yaml").read_text())


def run_main(stack: str, domains_dir: Path) -> tuple[Program, list[pulumi.RunError]]:
    """Run __main__ under mocks, catching a RunError inside the program so the records made before it survive."""
    errors: list[pulumi.RunError] = []

    def main() -> None:
        try:
            runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")
        except pulumi.RunError as exc:
            errors.append(exc)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DOMAINS_DIR_ENV, str(domains_dir))
        return run_function(main, stack), errors


def snapshot(program: Program, domain: str) -> dict[str, tuple[Any, ...]]:
    """URN -> inputs and options of everything the domain owns."""
    return {
        r.urn: (
            r.type,
            r.inputs,
            r.parent,
            r.provider,
            r.protect,
            r.retain_on_delete,
            r.delete_before_replace,
            sorted(r.ignore_changes),
            sorted(r.aliases),
            sorted(r.depends_on),
        )
        for r in owned(program, domain)
    }


def differences(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> list[str]:
    return sorted(
        [f"gone: {u}" for u in before.keys() - after.keys()]
        + [f"new: {u}" for u in after.keys() - before.keys()]
        + [f"changed: {u}" for u in before.keys() & after.keys() if before[u] != after[u]]
    )


# ---------------------------------------------------------------- programs


@pytest.fixture(scope="module", params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def program(stack: str) -> Program:
    return program_for(stack)


@pytest.fixture(scope="module")
def domains(stack: str) -> dict[str, Domain]:
    return {d.name: d for d in load_domains(SAMPLES, stack=stack)}


@pytest.fixture(scope="module")
def toggles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = {"sales": sample("sales")}
    for name, tools in VARIANTS.items():
        doc = copy.deepcopy(docs["sales"])
        doc["name"] = name
        for tool in tools:
            doc["tools"].setdefault(tool, {})["enabled"] = False
        docs[name] = doc
    docs["alloff"]["quota"] = ALLOFF_QUOTA
    return write_domains(tmp_path_factory.mktemp("toggles") / "domains", docs)


@pytest.fixture(scope="module")
def toggled(toggles_dir: Path) -> Program:
    """dev with sales and its toggle variants, no marketing; run through `run_main`, so it also
    shows that harness records a valid program (the rejection tests rely on it recording nothing)."""

    def run() -> Program:
        program, errors = run_main("dev", toggles_dir)
        assert errors == []
        return program

    return shared_run("run_main", ["dev", toggles_dir], run)


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> tuple[Program, Path]:
    """dev with a third domain (finance, a copy of sales) that sorts before both samples, and the
    folder listed in reverse order. File names cannot be shuffled: each must be `<name>.yaml`."""
    finance = sample("sales") | {"name": "finance"}
    folder = write_domains(
        tmp_path_factory.mktemp("grown") / "domains",
        {"sales": sample("sales"), "marketing": sample("marketing"), "finance": finance},
    )
    listing = Path.iterdir

    def run() -> Program:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(Path, "iterdir", lambda self: iter(sorted(listing(self), reverse=True)))
            return run_program("dev", domains_dir=folder)

    return shared_run("reversed listing", ["dev", folder], run), folder


CASES = ("dev", "prod", "toggles")


@pytest.fixture(scope="module", params=CASES)
def case(request: pytest.FixtureRequest, toggles_dir: Path) -> tuple[str, Program, dict[str, Domain]]:
    """(stack, program, domains) for the guardrail checks: both samples stacks and the toggles folder."""
    if request.param == "toggles":
        program = request.getfixturevalue("toggled")
        return "dev", program, {d.name: d for d in load_domains(toggles_dir, stack="dev")}
    return (
        request.param,
        program_for(request.param),
        {d.name: d for d in load_domains(SAMPLES, stack=request.param)},
    )


# ---------------------------------------------------------------- guardrails


def test_namespace_carries_pod_security_labels_under_its_domain_stack(
    case: tuple[str, Program, dict[str, Domain]],
) -> None:
    _, program, domains = case
    assert domains
    for name in domains:
        (ns,) = manifests(program, name, "Namespace").values()
        assert ns["metadata"]["name"] == name
        labels = ns["metadata"]["labels"]
        # Only a domain without Dagster, Airbyte and Superset runs nothing but restricted-proven Jobs.
        assert labels["pod-security.kubernetes.io/enforce"] == ("restricted" if name == "alloff" else "baseline")
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"
        assert labels["pod-security.kubernetes.io/audit"] == "restricted"
        assert labels["dataplatform.io/domain"] == name


def test_resource_quota_is_the_domain_files_quota_with_limits_at_twice_the_requests(
    case: tuple[str, Program, dict[str, Domain]],
) -> None:
    _, program, domains = case
    for name, domain in domains.items():
        (quota,) = manifests(program, name, "ResourceQuota").values()
        assert quota["metadata"]["namespace"] == name
        hard = quota["spec"]["hard"]
        q = domain.quota
        assert (hard["requests.cpu"], hard["requests.memory"], hard["pods"]) == (q.cpu, q.memory, str(q.pods))
        assert parse_quantity(hard["limits.cpu"]) == 2 * parse_quantity(q.cpu), hard
        assert parse_quantity(hard["limits.memory"]) == 2 * parse_quantity(q.memory), hard
    if "alloff" in domains:  # the values really come from the file
        hard = manifests(program, "alloff", "ResourceQuota")["guardrails"]["spec"]["hard"]
        assert parse_quantity(hard["limits.cpu"]) == Decimal(3)
        assert parse_quantity(hard["limits.memory"]) == 6 * 2**30


def test_limit_range_is_the_domain_files_limit_range(case: tuple[str, Program, dict[str, Domain]]) -> None:
    _, program, domains = case
    for name, domain in domains.items():
        (limit_range,) = manifests(program, name, "LimitRange").values()
        assert limit_range["metadata"]["namespace"] == name
        lr = domain.quota.limit_range
        assert limit_range["spec"]["limits"] == [
            {
                "type": "Container",
                "defaultRequest": {"cpu": lr.requests.cpu, "memory": lr.requests.memory},
                "default": {"cpu": lr.limits.cpu, "memory": lr.limits.memory},
            }
        ]
    if "alloff" in domains:
        item = manifests(program, "alloff", "LimitRange")["guardrails"]["spec"]["limits"][0]
        assert item["default"] == {"cpu": "250m", "memory": "256Mi"}


def test_network_policies_deny_by_default_then_allow_catalog_and_load_balancer(
    case: tuple[str, Program, dict[str, Domain]],
) -> None:
    stack, program, domains = case
    for name in domains:
        policies = manifests(program, name, "NetworkPolicy")
        assert {p["metadata"]["namespace"] for p in policies.values()} == {name}
        specs = {key: p["spec"] for key, p in policies.items()}
        assert specs["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        catalog = specs["allow-catalog"]
        assert catalog["policyTypes"] == ["Egress"]
        assert [peer for rule in catalog["egress"] for peer in rule["to"]] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "platform"}}}
        ]
        # Every Ingress targets a sign-in gateway, and the load balancer (VPC CIDR, ALB ip targets) reaches
        # the gateways' pod port only: never a UI itself.
        backends = {
            (path["backend"]["service"]["name"], int(path["backend"]["service"]["port"]["number"]))
            for ing in manifests(program, name, "Ingress").values()
            for rule in ing["spec"]["rules"]
            for path in rule["http"]["paths"]
        }
        assert all(svc.endswith("-oauth2-proxy") and port == 80 for svc, port in backends), backends
        ui_ports = {GATEWAY_PORT} if backends else set()
        if not ui_ports:
            assert "allow-load-balancer" not in specs
            continue
        lb = specs["allow-load-balancer"]
        assert lb["policyTypes"] == ["Ingress"]
        (rule,) = lb["ingress"]
        assert rule["from"] == [{"ipBlock": {"cidr": network_cidr(stack)}}]
        assert {int(p["port"]) for p in rule["ports"]} == ui_ports
        assert {p["protocol"] for p in rule["ports"]} == {"TCP"}
        # No other policy admits traffic from outside the namespace.
        for key, spec in specs.items():
            if key not in ("allow-load-balancer", "allow-same-namespace"):
                assert "ingress" not in spec, key


def test_domain_objects_live_in_the_domain_namespace_under_the_domain_stack(
    case: tuple[str, Program, dict[str, Domain]],
) -> None:
    _, program, domains = case
    catalog = catalog_namespace(program)
    for name in domains:
        mine = {r.urn for r in owned(program, name)}
        for r in program.resources:
            if not r.type.startswith("kubernetes:") or r.type == RELEASE:
                continue
            meta = r.inputs.get("metadata", {})
            in_ns = meta.get("namespace") == name or (r.inputs.get("kind") == "Namespace" and meta.get("name") == name)
            if r.urn in mine and not in_ns:
                # Only the catalog's token issuer for this domain runs in the catalog namespace, and the
                # domain's notebook ServiceAccount lives in the shared sandbox namespace.
                assert (meta.get("namespace"), r.inputs["kind"]) in {
                    (catalog, "Job"),
                    (catalog, "CronJob"),
                    (SANDBOX_NAMESPACE, "ServiceAccount"),
                }, r.name
                assert name in meta["name"], r.name
                continue
            assert in_ns == (r.urn in mine), f"{r.type} {r.name}"
        for r in program.of_type(RELEASE):
            assert (r.inputs["namespace"] == name) == (r.urn in mine), r.name
        # Every logical name the domain owns starts with the domain name, and nothing outside it does.
        for r in program.resources:
            starts = r.name == name or r.name.startswith(f"{name}-")
            assert starts == (r.urn in mine), f"{r.type} {r.name}"


# ---------------------------------------------------------------- IAM


def test_role_policy_reaches_only_own_bucket_lake_key_workgroup_and_consumed_prefixes(
    program: Program, domains: dict[str, Domain]
) -> None:
    key_arn = program.one("aws:kms/key:Key", "lake-key").outputs["arn"]
    bucket_arns = {name: bucket_of(program, name).outputs["arn"] for name in domains}
    for name, domain in domains.items():
        own = bucket_arns[name]
        assert own == f"arn:aws:s3:::{program.exports['domains'][name]['bucket']}"
        workgroup = next(
            r for r in owned(program, name) if r.type == "aws:redshiftserverless/workgroup:Workgroup"
        ).outputs["arn"]
        consumed: dict[str, str] = {}
        for ref in domain.consumes:
            producer, _, product = ref.partition(".")
            consumed[bucket_arns[producer]] = next(p.prefix for p in domains[producer].products if p.name == product)
        policy = domain_role_policy(program, name)
        reached: set[str] = set()
        for st in statements(policy.inputs["policy"]):
            assert st["Effect"] == "Allow"
            actions = as_list(st["Action"])
            assert not any("*" in a for a in actions), st
            for res in as_list(st["Resource"]):
                reached.add(res)
                if res in (own, f"{own}/*", key_arn, workgroup):
                    continue
                producer = next((arn for arn in consumed if res == arn or res.startswith(f"{arn}/")), None)
                assert producer is not None, f"{name} reaches {res}"
                prefix = consumed[producer]
                if res == producer:
                    assert actions == ["s3:ListBucket"], st
                    assert st["Condition"] == {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}}
                else:
                    assert (res, actions) == (f"{producer}/{prefix}*", ["s3:GetObject"]), st
        assert reached >= {own, f"{own}/*", key_arn, workgroup}
        for producer, prefix in consumed.items():
            assert {producer, f"{producer}/{prefix}*"} <= reached
        others = {arn for other, arn in bucket_arns.items() if other != name} - consumed.keys()
        assert not any(res.startswith(arn) for res in reached for arn in others)
    # The sample grant: marketing reads sales.orders, and sales reaches nothing of marketing.
    assert domains["marketing"].consumes == ["sales.orders"]
    marketing = domain_role_policy(program, "marketing")
    assert bucket_arns["sales"] in marketing.inputs["policy"]
    sales = domain_role_policy(program, "sales")
    assert bucket_arns["marketing"] not in sales.inputs["policy"]


def test_trust_policy_is_pod_identity_for_the_domain_namespace(program: Program, domains: dict[str, Domain]) -> None:
    for name in domains:
        role = domain_role(program, name)
        for st in statements(role.inputs["assumeRolePolicy"]):
            assert st["Effect"] == "Allow"
            assert st["Principal"] == {"Service": "pods.eks.amazonaws.com"}
            assert set(as_list(st["Action"])) <= {"sts:AssumeRole", "sts:TagSession"}
            assert st["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-namespace"] == name


def enabled(domain: Domain) -> list[str]:
    t = domain.tools
    on = {"dagster": t.dagster, "airbyte": t.airbyte, "superset": t.superset, "datahubIngestion": t.datahub_ingestion}
    return [tool for tool, cfg in on.items() if cfg.enabled]


def test_a_pod_identity_association_per_tool_service_account(program: Program, domains: dict[str, Domain]) -> None:
    cluster = program.one("aws:eks/cluster:Cluster").outputs["name"]
    for name, domain in domains.items():
        mine = owned(program, name)
        role = domain_role(program, name)
        sas = {r.inputs["metadata"]["name"] for r in mine if r.type == SERVICE_ACCOUNT}
        # The warehouse grants Job's ServiceAccount has its own, narrower role (tests/test_warehouse_access.py);
        # the analyst sandbox's binds the shared sandbox namespace (tests/test_sandbox.py).
        associations = [
            r.inputs
            for r in mine
            if r.type == POD_IDENTITY
            and r.inputs["serviceAccount"] != "warehouse-admin"
            and r.inputs["namespace"] == name
        ]
        tool_sas = set().union(*(TOOL_SAS[t] for t in enabled(domain)))
        assert len(tool_sas) == 5 and tool_sas <= sas
        assert sorted(a["serviceAccount"] for a in associations) == sorted(tool_sas)
        for a in associations:
            assert (a["namespace"], a["roleArn"], a["clusterName"]) == (name, role.outputs["arn"], cluster)
    # No association outside the domains binds a domain namespace.
    for r in program.of_type(POD_IDENTITY):
        if r.inputs["namespace"] in domains:
            assert any(r.urn == o.urn for o in owned(program, r.inputs["namespace"]))


# ---------------------------------------------------------------- chart values


def test_dagster_runs_the_domain_image_with_k8s_run_launcher_and_logs_to_the_domain_bucket(
    program: Program, domains: dict[str, Domain]
) -> None:
    for name, domain in domains.items():
        values = releases(program, name)["dagster"]["values"]
        assert not isinstance(values, Secret)
        bucket = bucket_of(program, name).outputs["bucket"]
        image = domain.tools.dagster.image
        assert image is not None
        (deployment,) = values["dagster-user-deployments"]["deployments"]
        assert (deployment["image"]["repository"], deployment["image"]["tag"]) == (image.repository, image.tag)
        assert values["runLauncher"]["type"] == "K8sRunLauncher"
        assert values["runLauncher"]["config"]["k8sRunLauncher"]["jobNamespace"] == name
        assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
        assert values["computeLogManager"]["config"]["s3ComputeLogManager"]["bucket"] == bucket


def test_airbyte_stores_on_the_domain_bucket(program: Program, domains: dict[str, Domain]) -> None:
    for name in domains:
        storage = releases(program, name)["airbyte"]["values"]["global"]["storage"]
        bucket = bucket_of(program, name).outputs["bucket"]
        assert storage["type"] == "s3"
        assert storage["bucket"] and set(storage["bucket"].values()) == {bucket}


def test_superset_reads_its_settings_from_a_secret_of_the_namespace(
    program: Program, domains: dict[str, Domain]
) -> None:
    for name in domains:
        values = releases(program, name)["superset"]["values"]
        assert values["secretEnv"] == {"create": False}
        assert values["envFromSecret"] in manifests(program, name, "Secret")


def test_superset_pods_load_every_credential_the_stack_generates_for_them(
    program: Program, domains: dict[str, Domain]
) -> None:
    for name in domains:
        values = releases(program, name)["superset"]["values"]
        secrets = {n: unwrap(s.get("stringData", {})) for n, s in manifests(program, name, "Secret").items()}
        loaded: set[str] = set()
        for secret in [values["envFromSecret"], *values["envFromSecrets"]]:
            loaded |= set(secrets[secret])
        assert {"DB_PASS", "SUPERSET_SECRET_KEY", "SUPERSET_ADMIN_PASSWORD", "REDIS_PASSWORD"} <= loaded
        redis = values["redis"]["auth"]["existingSecret"]
        assert "redis-password" in secrets[redis]


def test_every_release_uses_the_pinned_chart(program: Program) -> None:
    found = program.of_type(RELEASE)
    assert {r.inputs["chart"] for r in found} >= {"dagster", "airbyte", "superset"}
    for r in found:
        pin = PINNED[r.inputs["chart"]]
        assert (r.inputs["version"], r.inputs["repositoryOpts"]["repo"]) == (pin.version, pin.repo), r.name


# ---------------------------------------------------------------- secrets


def generated_secrets(program: Program) -> set[str]:
    """RandomPassword results, and Secret-wrapped values under secret-looking keys of every k8s Secret."""
    found = {r.outputs["result"] for r in program.of_type(RANDOM_PASSWORD)}
    for r in program.of_type(K8S_SECRET):
        for key, value in unwrap(r.inputs.get("stringData", {})).items():
            if any(word in key.upper() for word in SECRET_WORDS):
                found.add(value)
    return found


def test_no_release_values_are_secret_wrapped(program: Program) -> None:
    found = program.of_type(RELEASE)
    assert found
    assert [r.name for r in found if isinstance(r.inputs["values"], Secret)] == []


def test_generated_secrets_appear_only_in_kubernetes_secrets(program: Program) -> None:
    known = generated_secrets(program)
    passwords = program.of_type(RANDOM_PASSWORD)
    assert passwords and all(isinstance(r.outputs["result"], str) and r.outputs["result"] in known for r in passwords)
    leaks = []
    for r in program.resources:
        if not r.type.startswith("kubernetes:") or r.type == K8S_SECRET:
            continue  # AWS resources may hold their own password (RDS); Secrets are where secrets belong
        text = json.dumps(unwrap(r.inputs))
        leaks += [f"{r.type} {r.name}" for s in known if s in text]
    assert leaks == []
    # In particular, the places the brief names: container env values and ConfigMaps.
    env_values = [
        e.get("value", "")
        for r in program.resources
        if r.type.startswith("kubernetes:")
        for e in _env_entries(unwrap(r.inputs))
    ]
    assert env_values and not any(s in v for v in env_values for s in known)


def _env_entries(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        env = value.get("env")
        if isinstance(env, list):
            yield from (e for e in env if isinstance(e, dict) and "name" in e)
        for v in value.values():
            yield from _env_entries(v)
    elif isinstance(value, list):
        for v in value:
            yield from _env_entries(v)


def test_every_kubernetes_secret_is_secret_wrapped(program: Program) -> None:
    found = program.of_type(K8S_SECRET)
    assert found
    assert any("stringData" in r.inputs for r in found)
    for r in found:
        # Some Secrets get their data at runtime (the catalog token): then the program sends none.
        for key in ("stringData", "data"):
            assert key not in r.inputs or isinstance(r.inputs[key], Secret), (r.name, key)


# ---------------------------------------------------------------- toggles


def relative(program: Program, domain: str) -> set[tuple[str, str]]:
    return {(r.type, "D" + r.name.removeprefix(domain)) for r in owned(program, domain)}


# An open bug; the fix is in the reason. Remove the marks once it is applied.
WITHOUT_INGESTION = [v for v, off in VARIANTS.items() if "datahubIngestion" in off]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_disabled_tool_creates_nothing(toggled: Program, variant: str) -> None:
    off = VARIANTS[variant]
    mine = owned(toggled, variant)
    # Nothing new appears, and what disappears belongs to the disabled tools (or, with no UI tool
    # left, the load-balancer policy).
    reference, got = relative(toggled, "sales"), relative(toggled, variant)
    assert got <= reference
    no_ui = all(t in off for t in UI_TOOLS)
    for typ, name in reference - got:
        owner = any(token in name for t in off for token in TOOL_TOKENS[t])
        # With no UI left, the load-balancer policy and the sign-in client Secret go too.
        no_ui_only = name in ("D-allow-load-balancer", "D-sign-in", "D-sign-in-client", "D-sign-in-cookie-secret")
        assert owner or (no_ui and no_ui_only), (typ, name)
    # ... and by what the objects are, not only by their names:
    off_sas = set().union(*(TOOL_SAS[t] for t in off))
    charts = {r.inputs["chart"] for r in mine if r.type == RELEASE}
    sas = {r.inputs["metadata"]["name"] for r in mine if r.type == SERVICE_ACCOUNT}
    bound = {r.inputs["serviceAccount"] for r in mine if r.type == POD_IDENTITY}
    secrets = {r.inputs["metadata"]["name"] for r in mine if r.type == K8S_SECRET}
    hosts = {rule["host"] for r in mine if r.type == INGRESS for rule in r.inputs["spec"]["rules"]}
    init_pod = manifests(toggled, variant, "Job")["metadata-db-init"]["spec"]["template"]["spec"]
    (container,) = init_pod["containers"]
    # Each tool's password reaches the init Job as a file of its projected volume (components/metadata_db.py).
    password_files = {
        item["path"] for source in init_pod["volumes"][0]["projected"]["sources"] for item in source["secret"]["items"]
    }
    script = container["command"][-1]
    for tool in off:
        assert tool not in charts
        assert not off_sas & sas and not off_sas & bound
        assert not any(s.startswith(f"{tool}-") for s in secrets), secrets
        assert not any(h.startswith(f"{tool}.") for h in hosts)
        assert f"{tool}-password" not in password_files and f"role={tool} " not in script
        assert tool not in toggled.exports["domains"][variant]["urls"]
    if "datahubIngestion" in off:
        kinds = {r.inputs.get("kind") for r in mine if r.inputs.get("metadata", {}).get("namespace") == variant}
        assert "CronJob" not in kinds
    # The tools left on are all there.
    for tool in set(TOOL_TOKENS) - set(off):
        assert TOOL_SAS[tool] <= sas and TOOL_SAS[tool] <= bound
        if tool in UI_TOOLS:
            assert tool in charts and any(h.startswith(f"{tool}.") for h in hosts)
            assert f"{tool}-password" in password_files


@pytest.mark.parametrize("domain", ["sales", *WITHOUT_INGESTION])
def test_every_domain_is_registered_in_the_catalog(toggled: Program, domain: str) -> None:
    assert catalog_namespace(toggled) is not None
    configmaps, jobs = manifests(toggled, domain, "ConfigMap"), manifests(toggled, domain, "Job")
    assert any(n.startswith("datahub-registration-") for n in configmaps), sorted(configmaps)
    assert any(n.startswith("datahub-register-") for n in jobs), sorted(jobs)
    assert toggled.exports["domains"][domain].get("catalog", {}).get("domainUrn") == f"urn:li:domain:{domain}"


# ---------------------------------------------------------------- stability


def test_adding_a_domain_and_reordering_files_changes_nothing_of_the_others(grown: tuple[Program, Path]) -> None:
    dev, (grown_program, folder) = program_for("dev"), grown
    # The domains' positions did move (finance sorts first), so position-derived names would show.
    was, now = ([d.name for d in load_domains(f, stack="dev")] for f in (SAMPLES, folder))
    assert all(was.index(n) != now.index(n) for n in ("sales", "marketing")), (was, now)
    for name in ("sales", "marketing"):
        before, after = snapshot(dev, name), snapshot(grown_program, name)
        assert len(before) > 50
        assert differences(before, after) == []


def test_removing_marketing_changes_nothing_of_sales(toggled: Program) -> None:
    with pytest.raises(LookupError):
        domain_stack(toggled, "marketing")
    assert differences(snapshot(program_for("dev"), "sales"), snapshot(toggled, "sales")) == []


# ---------------------------------------------------------------- prod data protection


def test_prod_protects_and_retains_domain_data() -> None:
    prod = program_for("prod")
    for name in ("sales", "marketing"):
        mine = owned(prod, name)
        stateful = [
            bucket_of(prod, name),
            *(r for r in mine if r.type == "aws:redshiftserverless/namespace:Namespace"),
            *(r for r in mine if r.type == "aws:rds/instance:Instance"),
        ]
        assert len(stateful) == 3
        for r in stateful:
            assert (r.protect, r.retain_on_delete, r.delete_before_replace) == (True, True, False), r.name
        assert bucket_of(prod, name).inputs.get("forceDestroy") is not True


def test_prod_metadata_db_is_multi_az_deletion_protected_with_final_snapshot() -> None:
    for name in ("sales", "marketing"):
        (db,) = [r for r in owned(program_for("prod"), name) if r.type == "aws:rds/instance:Instance"]
        i = db.inputs
        assert i["multiAz"] is True and i["deletionProtection"] is True
        assert i["skipFinalSnapshot"] is False and i["finalSnapshotIdentifier"]
        assert i["backupRetentionPeriod"] == 14  # components/aws/postgres.py: 14 days in prod


def test_dev_metadata_db_is_single_az() -> None:
    for name in ("sales", "marketing"):
        (db,) = [r for r in owned(program_for("dev"), name) if r.type == "aws:rds/instance:Instance"]
        assert db.inputs.get("multiAz") is not True


# ---------------------------------------------------------------- rejections


def _without_dagster_image(doc: dict[str, Any]) -> None:
    del doc["tools"]["dagster"]["image"]


def _bad_cpu(doc: dict[str, Any]) -> None:
    doc["quota"]["cpu"] = "8 cores"


def _unknown_key(doc: dict[str, Any]) -> None:
    doc["tools"]["superset"]["replica"] = 2


def _bad_name(doc: dict[str, Any]) -> None:
    doc["name"] = "Sales_Team"


REJECTIONS = {
    "unknown key": (_unknown_key, {}, ["domains/sales.yaml: tools.superset.replica: unknown key"]),
    "bad name": (_bad_name, {}, ["domains/sales.yaml: name: must be a DNS-1123 label"]),
    "duplicate name": (
        None,
        {"sales-copy": sample("sales")},
        ["name: domain 'sales' is also defined in", "domains/sales-copy.yaml", "domains/sales.yaml"],
    ),
    "dagster without image": (
        _without_dagster_image,
        {},
        ["domains/sales.yaml: tools.dagster.image: is required when Dagster is enabled"],
    ),
    "quota kubernetes would reject": (
        _bad_cpu,
        {},
        ["domains/sales.yaml: quota.cpu: must be a Kubernetes quantity", "(got '8 cores')"],
    ),
}


@pytest.mark.parametrize("problem", list(REJECTIONS))
def test_bad_domain_file_stops_the_program_before_any_resource(tmp_path: Path, problem: str) -> None:
    edit, extra, expected = REJECTIONS[problem]
    sales = sample("sales")
    if edit:
        edit(sales)
    folder = write_domains(tmp_path / "domains", {"sales": sales, "marketing": sample("marketing"), **extra})
    with pytest.raises(pulumi.RunError) as raised:
        run_program("dev", domains_dir=folder)
    message = str(raised.value)
    assert all(part in message for part in expected), message
    program, errors = run_main("dev", folder)
    assert [str(e) for e in errors] == [message]
    assert program.resources == []


def test_the_rejection_harness_records_a_valid_program(toggled: Program) -> None:
    # Guard for the test above: `run_main` does record resources when the input is valid.
    assert len(toggled.of_type(STACK_T)) == 1 + len(VARIANTS)
    assert len(toggled.resources) > 300


# ---------------------------------------------------------------- preview of a new stack


def test_preview_of_a_new_stack_registers_everything_the_update_would() -> None:
    preview = program_for("dev", preview=True)
    assert preview.preview
    assert {r.urn for r in preview.resources} == {r.urn for r in program_for("dev").resources}


def test_every_kubernetes_and_aws_resource_uses_the_explicit_provider() -> None:
    preview = program_for("dev", preview=True)
    k8s_provider = preview.one("pulumi:providers:kubernetes", "cluster-k8s-workloads")
    (aws_provider,) = preview.of_type("pulumi:providers:aws")
    cluster = preview.one("dataplatform:cluster:KubernetesCluster").urn
    kube = [r for r in preview.resources if r.type.startswith("kubernetes:") and r.parent != cluster]
    aws = [r for r in preview.resources if r.type.startswith("aws:")]
    assert len(kube) > 50 and len(aws) > 50
    # Outside the cluster's own add-ons, every object uses the provider that waits for the LB controller.
    assert {r.provider_urn for r in kube} == {k8s_provider.urn}
    assert {r.provider_urn for r in aws} == {aws_provider.urn}
    # The Kubernetes provider is the cluster's.
    assert k8s_provider.parent == preview.one("dataplatform:cluster:KubernetesCluster").urn


# ---------------------------------------------------------------- outputs


def test_domains_export_per_domain(stack: str, program: Program, domains: dict[str, Domain]) -> None:
    exported = program.exports["domains"]
    assert set(exported) == set(domains)
    base = re.escape(base_domain(stack))
    for name, domain in domains.items():
        out = exported[name]
        assert set(out) >= {"namespace", "bucket", "warehouseEndpoint", "roleArn", "urls", "grants"}
        assert out["namespace"] == name
        assert out["bucket"] == bucket_of(program, name).outputs["bucket"]
        role = domain_role(program, name)
        assert out["roleArn"] == role.outputs["arn"]
        workgroup = next(r for r in owned(program, name) if r.type == "aws:redshiftserverless/workgroup:Workgroup")
        assert out["warehouseEndpoint"] == workgroup.outputs["endpoints"][0]["address"]
        assert set(out["urls"]) == set(UI_TOOLS)
        for tool, url in out["urls"].items():
            assert re.fullmatch(rf"https?://{tool}\.{name}\.{base}", url), url
        assert sorted(out["grants"]) == sorted(domain.consumes)  # a list, or a mapping keyed by product
