"""CentralCatalog and AwsCatalogServices on the records: guardrails, secrets, stores per config, release, Ingress."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components.aws.catalog_services import (
    AwsCatalogRefs,
    AwsCatalogServices,
    availability_zones,
    opensearch_access_policy,
    opensearch_role_policy,
)
from components.aws.foundation import AwsFoundation
from components.catalog import (
    DOMAIN_NAMESPACE_LABEL,
    INGESTION_IMAGE,
    ISSUER_MODULE_FILE,
    CentralCatalog,
    issuer_configmap_name,
)
from components.charts import PINNED
from components.config import parse_stack_config
from components.guardrails import PortsTo
from components.identity_provider import sign_in_settings
from components.interfaces import CatalogRequest, CatalogServices, IngressSettings, NetworkAllowances
from platformctl.chartkeys import reference_values, unknown_keys
from platformctl.validate import iam_documents, iam_findings, k8s_errors, k8s_manifests
from policy import rules
from tests.harness import Program, Resource, Secret, run_function, stack_config, walk

VPC = "10.30.0.0/16"
RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
MANAGED = {"sql": "rds", "search": "opensearch", "kafkaBootstrapServers": "b-1.msk.example:9098,b-2.msk.example:9098"}
MANAGED_KAFKA = {**MANAGED, "schemaRegistryUrl": "http://registry.example:8081"}


class FakeFoundation:
    """The Foundation protocol with fixed network settings; managed stores from AwsCatalogServices."""

    def __init__(self, config: Any, k8s_provider: k8s.Provider, scheme: str) -> None:
        self.config = config
        self.k8s_provider = k8s_provider
        self.scheme = scheme
        self.requests: list[CatalogRequest] = []

    @property
    def providers(self) -> list[pulumi.ProviderResource]:
        return [self.k8s_provider]

    def ingress_settings(self, group: str) -> IngressSettings:
        return IngressSettings("alb", {"alb.ingress.kubernetes.io/group.name": f"dp-test-{group}"}, self.scheme)  # type: ignore[arg-type]

    def network_allowances(self) -> NetworkAllowances:
        return NetworkAllowances((VPC,), (), (PortsTo(VPC, (5432, 5439)),))

    def provision_domain(self, request: Any, parent: pulumi.Resource) -> Any:
        raise AssertionError("the catalog provisions no domain")

    def provision_catalog(self, request: CatalogRequest, parent: pulumi.Resource) -> CatalogServices:
        self.requests.append(request)
        refs = AwsCatalogRefs(
            environment=self.config.environment,
            region=self.config.region,
            kms_key_arn=pulumi.Output.from_input("arn:aws:kms:eu-west-1:123456789012:key/lake"),
            vpc_id="vpc-1",
            private_subnet_ids=[pulumi.Output.from_input(f"subnet-{i}") for i in range(3)],
            cluster_name="dp-test",
            cluster_security_group_id="sg-cluster",
            protect=self.config.protection.protect_stateful,
        )
        return AwsCatalogServices("catalog-aws", request, refs, opts=pulumi.ResourceOptions(parent=parent)).services


def _raw(stack: str, catalog: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = dict(stack_config(stack))
    if catalog is not None:
        raw["dataplatform:catalog"] = catalog
    for key, value in extra.items():
        raw[f"dataplatform:{key}"] = value
    return raw


def _config(raw: dict[str, Any]) -> Any:
    def parse(v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v

    return parse_stack_config({k.split(":", 1)[1]: parse(v) for k, v in raw.items()})


def _run(stack: str, raw: dict[str, Any], scheme: str = "https") -> Program:
    def build() -> None:
        config = _config(raw)
        k8s_provider = k8s.Provider("k8s")
        aws_provider = aws.Provider(
            "aws",
            aws.ProviderArgs(
                region=config.region,
                default_tags=aws.ProviderDefaultTagsArgs(tags={**config.common_tags, "domain": "platform"}),
            ),
        )
        foundation = FakeFoundation(config, k8s_provider, scheme)
        opts = pulumi.ResourceOptions(providers=[aws_provider, k8s_provider])
        catalog = CentralCatalog(
            "catalog",
            config,
            foundation,
            sign_in=sign_in_settings(config, foundation, redirect_uris=[], opts=opts),
            opts=opts,
        )
        pulumi.export("endpoint", catalog.endpoint.__dict__ | {"ready": len(catalog.endpoint.ready)})
        pulumi.export("catalog", catalog.exports)

    return run_function(build, stack, config=raw)


@pytest.fixture(scope="module")
def dev() -> Program:
    return _run("dev", _raw("dev"))


@pytest.fixture(scope="module")
def prod() -> Program:
    ingress = {"baseDomain": "data.example.com", "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}
    return _run("prod", _raw("prod", MANAGED_KAFKA, ingress=ingress), scheme="https")


def _by_name(program: Program, type_: str) -> dict[str, Resource]:
    return {r.inputs["metadata"]["name"]: r for r in program.of_type(type_)}


def _datahub(program: Program) -> Resource:
    return next(r for r in program.of_type(RELEASE) if r.inputs["name"] == "datahub")


def _values(release: Resource) -> dict[str, Any]:
    values = release.inputs["values"]
    assert not isinstance(values, Secret), f"{release.name}: a secret leaked into the Helm values"
    return values


# --- the namespace ---------------------------------------------------------------------------------


def test_platform_namespace_has_domain_guardrails(dev: Program) -> None:
    (ns,) = dev.of_type("kubernetes:core/v1:Namespace")
    labels = ns.inputs["metadata"]["labels"]
    assert ns.inputs["metadata"]["name"] == "platform"
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"
    hard = dev.one("kubernetes:core/v1:ResourceQuota").inputs["spec"]["hard"]
    quota = _config(_raw("dev")).catalog.quota
    assert (hard["requests.cpu"], hard["requests.memory"], hard["pods"]) == (quota.cpu, quota.memory, str(quota.pods))
    assert (hard["limits.cpu"], hard["limits.memory"]) == ("16000m", "65536Mi")
    assert hard["services.loadbalancers"] == hard["services.nodeports"] == "0"
    (limits,) = dev.one("kubernetes:core/v1:LimitRange").inputs["spec"]["limits"]
    assert limits["default"] and limits["defaultRequest"]


def test_network_policies_deny_by_default_and_serve_gms_to_domains_only(dev: Program) -> None:
    policies = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in dev.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    (clients,) = policies["allow-domain-clients"]["ingress"]
    assert clients["ports"] == [{"protocol": "TCP", "port": 8080}]
    (peer,) = clients["from"]
    assert peer["namespaceSelector"]["matchExpressions"] == [{"key": DOMAIN_NAMESPACE_LABEL, "operator": "Exists"}]
    (lb,) = policies["allow-load-balancer"]["ingress"]
    # The load balancer reaches the sign-in gateway only, never the frontend itself.
    assert lb["ports"] == [{"protocol": "TCP", "port": 4180}]
    assert lb["from"] == [{"ipBlock": {"cidr": VPC}}]
    # Every ingress allow names its ports: nothing else of the namespace is reachable from outside it.
    for name, spec in policies.items():
        for rule in spec.get("ingress", []):
            assert rule.get("ports") or name == "allow-same-namespace", name


def test_external_kafka_ports_are_opened_to_private_cidrs(prod: Program) -> None:
    policies = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in prod.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    ports = [[p["port"] for p in rule["ports"]] for rule in policies["allow-data-services"]["egress"]]
    assert ports == [[5432, 5439], [9098]]


# --- secrets ----------------------------------------------------------------------------------------


def test_generated_secrets_live_only_in_secrets(dev: Program) -> None:
    secrets = _by_name(dev, SECRET)
    # Plus the sign-in client: the frontend's own OIDC login and its gateway's cookie.
    assert set(secrets) == {
        "datahub-auth",
        "datahub-encryption",
        "datahub-users",
        "mysql-secrets",
        "datahub-sign-in",
        "sign-in",
    }
    for r in secrets.values():
        assert isinstance(r.inputs["stringData"], Secret), r.name
    auth = secrets["datahub-auth"].inputs["stringData"].value
    assert set(auth) == {"system_client_secret", "token_service_signing_key", "token_service_salt"}
    users = secrets["datahub-users"].inputs["stringData"].value["user.props"]
    assert users.startswith("datahub:") and len(users) > len("datahub:")
    assert set(secrets["mysql-secrets"].inputs["stringData"].value) == {
        "mysql-root-password",
        "mysql-password",
        "mysql-replication-password",
    }
    generated = {r.outputs["result"] for r in dev.of_type("random:index/randomPassword:RandomPassword")}
    assert len(generated) == 9  # eight of DataHub's, the gateway's cookie secret
    for r in dev.resources:
        if r.type != SECRET and not r.type.startswith("random:"):
            leaked = [v for v in walk(r.inputs) if isinstance(v, str) and any(g in v for g in generated)]
            assert leaked == [], f"{r.type} {r.name} holds a generated secret"


def test_release_values_name_secrets_only(dev: Program, prod: Program) -> None:
    for program in (dev, prod):
        values = _values(_datahub(program))
        auth = values["global"]["datahub"]["metadata_service_authentication"]
        assert auth["enabled"] is True
        assert auth["systemClientSecret"] == {"secretRef": "datahub-auth", "secretKey": "system_client_secret"}
        assert values["global"]["datahub"]["encryptionKey"]["secretRef"] == "datahub-encryption"
        assert values["datahub-frontend"]["extraVolumes"] == [
            {"name": "datahub-users", "secret": {"secretName": "datahub-users"}}
        ]
    prod_sql = _values(_datahub(prod))["global"]["sql"]["datasource"]
    assert prod_sql["password"] == {"secretRef": "datahub-db", "secretKey": "password"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_release_values_keys_exist_in_the_chart(stack: str, request: pytest.FixtureRequest) -> None:
    program: Program = request.getfixturevalue(stack)
    reference = reference_values("datahub", PINNED["datahub"].version)
    assert reference is not None
    assert unknown_keys(_values(_datahub(program)), reference) == []
    prerequisites = [r for r in program.of_type(RELEASE) if r.inputs["name"] == "prerequisites"]
    for r in prerequisites:
        ref = reference_values("datahub-prerequisites", PINNED["datahub-prerequisites"].version)
        assert ref is not None and unknown_keys(_values(r), ref) == []


# --- stores per configuration --------------------------------------------------------------------------


def test_dev_runs_every_store_in_cluster(dev: Program) -> None:
    releases = {r.inputs["name"]: r for r in dev.of_type(RELEASE)}
    assert set(releases) == {"prerequisites", "datahub", "datahub-oauth2-proxy"}
    pre = _values(releases["prerequisites"])
    assert (pre["mysql"]["enabled"], pre["opensearch"]["enabled"], pre["kafka"]["enabled"]) == (True, True, True)
    assert pre["mysql"]["auth"] == {"existingSecret": "mysql-secrets"}
    glob = _values(releases["datahub"])["global"]
    assert glob["sql"]["datasource"]["host"] == "prerequisites-mysql:3306"
    assert glob["elasticsearch"]["host"] == "opensearch-cluster-master"
    assert glob["kafka"]["bootstrap"]["server"] == "prerequisites-kafka:9092"
    assert releases["datahub"].inputs["chart"] == "datahub" and releases["datahub"].inputs["version"] == "1.1.0"
    assert not [r for r in dev.resources if r.type.startswith("aws:")]
    assert dev.exports["catalog"]["sql"] == "in-cluster"


def test_prod_uses_managed_stores_and_external_kafka(prod: Program) -> None:
    # Nothing left for the prerequisites; the frontend's sign-in gateway.
    assert sorted(r.inputs["name"] for r in prod.of_type(RELEASE)) == ["datahub", "datahub-oauth2-proxy"]
    assert "mysql-secrets" not in _by_name(prod, SECRET)
    glob = _values(_datahub(prod))["global"]
    db = prod.one("aws:rds/instance:Instance")
    assert glob["sql"]["datasource"]["url"] == f"jdbc:postgresql://{db.outputs['address']}:5432/datahub?sslmode=require"
    assert glob["elasticsearch"]["iam"] == {"enabled": True}
    assert (glob["elasticsearch"]["useSSL"], glob["elasticsearch"]["region"]) == ("true", "eu-west-1")
    assert glob["kafka"]["bootstrap"]["server"] == MANAGED["kafkaBootstrapServers"]
    assert _values(_datahub(prod))["datahub-frontend"]["authCookies"] == {"secure": "true"}
    assert (prod.exports["catalog"]["sql"], prod.exports["catalog"]["kafka"]) == ("rds", "external")


def test_only_the_managed_store_asked_for_is_created() -> None:
    program = _run("dev", _raw("dev", {"sql": "rds"}))
    assert program.one("aws:rds/instance:Instance")
    assert not program.of_type("aws:opensearch/domain:Domain")
    pre = _values(next(r for r in program.of_type(RELEASE) if r.inputs["name"] == "prerequisites"))
    assert (pre["mysql"]["enabled"], pre["opensearch"]["enabled"], pre["kafka"]["enabled"]) == (False, True, True)


def test_rds_is_private_encrypted_tls_and_resilient_in_prod(prod: Program) -> None:
    db = prod.one("aws:rds/instance:Instance")
    p = db.inputs
    assert (p["engine"], p["storageEncrypted"], p["publiclyAccessible"]) == ("postgres", True, False)
    assert p["kmsKeyId"] == "arn:aws:kms:eu-west-1:123456789012:key/lake"
    assert (p["multiAz"], p["deletionProtection"], p["skipFinalSnapshot"]) == (True, True, False)
    assert p["backupRetentionPeriod"] == 14 and p["finalSnapshotIdentifier"].startswith("dp-prod-catalog-sql-final-")
    assert isinstance(p["password"], Secret)
    assert (db.protect, db.retain_on_delete) == (True, True)
    params = prod.one("aws:rds/parameterGroup:ParameterGroup").inputs
    assert [(x["name"], x["value"]) for x in params["parameters"]] == [("rds.force_ssl", "1")]
    (rule,) = prod.one("aws:ec2/securityGroup:SecurityGroup", "catalog-aws-sql").inputs["ingress"]
    assert (rule["fromPort"], rule["securityGroups"]) == (5432, ["sg-cluster"])


def test_opensearch_is_private_encrypted_https_and_iam_only(prod: Program) -> None:
    domain = prod.one("aws:opensearch/domain:Domain")
    p = domain.inputs
    assert p["encryptAtRest"] == {"enabled": True, "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/lake"}
    assert p["nodeToNodeEncryption"] == {"enabled": True}
    assert p["domainEndpointOptions"] == {"enforceHttps": True, "tlsSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10"}
    security = p["advancedSecurityOptions"]
    assert (security["enabled"], security["internalUserDatabaseEnabled"], security["anonymousAuthEnabled"]) == (
        True,
        False,
        False,
    )
    role = prod.one("aws:iam/role:Role")
    assert security["masterUserOptions"] == {"masterUserArn": role.outputs["arn"]}
    assert p["vpcOptions"]["subnetIds"] == ["subnet-0", "subnet-1", "subnet-2"]
    assert p["clusterConfig"]["zoneAwarenessConfig"] == {"availabilityZoneCount": 3}
    assert (domain.protect, domain.retain_on_delete) == (True, True)
    associations = {
        r.inputs["serviceAccount"]: r.inputs
        for r in prod.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }
    assert set(associations) == {"datahub", "datahub-operator"}
    assert {a["namespace"] for a in associations.values()} == {"platform"}


def test_zones_divide_the_node_count() -> None:
    assert [availability_zones(n) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 3, 2, 1, 3]


def test_iam_documents_pass_parliament_and_are_scoped(prod: Program) -> None:
    documents = iam_documents(prod)
    assert {d.label.split()[0] for d in documents} >= {
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:opensearch/domainPolicy:DomainPolicy",
    }
    for doc in documents:
        assert iam_findings(doc.doc, doc.kind) == [], doc.label
    arn = "arn:aws:es:eu-west-1:123456789012:domain/dp-prod-catalog"
    (stmt,) = opensearch_role_policy(arn)["Statement"]
    assert stmt["Resource"] == [arn, f"{arn}/*"] and all(a.startswith("es:ESHttp") for a in stmt["Action"])
    (access,) = opensearch_access_policy(arn, "arn:aws:iam::123456789012:role/dp-prod-catalog")["Statement"]
    assert access["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/dp-prod-catalog"}
    trust = json.loads(prod.one("aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-namespace"] == "platform"


def test_parliament_check_catches_an_open_search_policy() -> None:
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "es:*", "Resource": "*"}]}
    assert iam_findings(wide, "identity") != []


# --- release, ingress, endpoint ---------------------------------------------------------------------


def test_ingress_is_internal_at_the_catalog_host(dev: Program, prod: Program) -> None:
    ingress = dev.one("kubernetes:networking.k8s.io/v1:Ingress").inputs
    assert ingress["spec"]["ingressClassName"] == "alb"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "datahub.dev.data.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    # The sign-in gateway in front of the frontend (datahub-datahub-frontend:9002 is its upstream).
    assert backend == {"name": "datahub-oauth2-proxy", "port": {"number": 80}}
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/healthcheck-path"] == "/admin"
    # HTTPS only on AWS, so the cookies are Secure.
    assert _values(_datahub(dev))["datahub-frontend"]["authCookies"] == {"secure": "true"}
    assert prod.exports["catalog"]["url"] == "https://datahub.data.example.com"


def test_endpoint_tells_domains_how_to_reach_the_catalog(dev: Program) -> None:
    endpoint = dev.exports["endpoint"]
    assert endpoint["gms_url"] == "http://datahub-datahub-gms.platform.svc:8080"
    assert endpoint["frontend_url"] == "https://datahub.dev.data.example.com"
    assert endpoint["image"] == INGESTION_IMAGE == "acryldata/datahub-ingestion:v1.7.0"
    assert (endpoint["token_secret"], endpoint["ready"]) == ("datahub-ingestion-token", 2)
    assert dev.exports["catalog"]["ingestionTokenSecret"] == "datahub-ingestion-token"


def test_service_accounts_and_issuer_script(dev: Program) -> None:
    accounts = {
        name: r.inputs.get("automountServiceAccountToken")
        for name, r in _by_name(dev, "kubernetes:core/v1:ServiceAccount").items()
    }
    assert accounts == {"datahub": False, "datahub-operator": True, "datahub-token-issuer": True}
    (configmap,) = [
        r for n, r in _by_name(dev, "kubernetes:core/v1:ConfigMap").items() if n.startswith("datahub-token-issuer")
    ]
    # The ConfigMap holds exactly the module the tests exercise (tests/test_catalog_feed.py), under its file name.
    assert configmap.inputs["data"] == {"datahub_issuer.py": ISSUER_MODULE_FILE.read_text(encoding="utf-8")}


def test_issuer_configmap_is_named_after_its_script(dev: Program) -> None:
    # Domain feeds hash this name into their issuer Job's name, so a new script re-runs the Job.
    (configmap,) = [
        r for n, r in _by_name(dev, "kubernetes:core/v1:ConfigMap").items() if n.startswith("datahub-token-issuer")
    ]
    name = configmap.inputs["metadata"]["name"]
    source = ISSUER_MODULE_FILE.read_text(encoding="utf-8")
    assert name == issuer_configmap_name(configmap.inputs["data"]["datahub_issuer.py"])
    assert name == issuer_configmap_name(source)
    assert configmap.inputs["immutable"] is True
    assert dev.exports["endpoint"]["issuer_configmap"] == name
    assert issuer_configmap_name(source + "\n# changed\n") != name


def test_release_waits_for_its_secrets_and_stores(prod: Program) -> None:
    release = _datahub(prod)
    depends = set(release.depends_on)
    # The gateway's own client Secret is created after the frontend it guards.
    secrets = [r for r in prod.of_type(SECRET) if r.name != "catalog-sign-in-client"]
    for r in [*secrets, prod.one("aws:rds/instance:Instance"), prod.one("aws:opensearch/domain:Domain")]:
        assert r.urn in depends, r.name
    assert release.inputs["namespace"] == "platform" and not release.inputs.get("createNamespace")


# --- the baseline over every record ---------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_object_is_valid_and_uses_the_given_providers(stack: str, request: pytest.FixtureRequest) -> None:
    program: Program = request.getfixturevalue(stack)
    for manifest in k8s_manifests(program):
        assert k8s_errors(manifest, "1.35") == [], manifest["metadata"]["name"]
    for r in program.resources:
        if r.custom and r.type.startswith(("kubernetes:", "aws:")) and not r.type.startswith("pulumi:"):
            expected = "::k8s" if r.type.startswith("kubernetes:") else "::aws"
            assert r.provider_urn.endswith(expected), f"{r.type} {r.name} uses {r.provider_urn or 'a default provider'}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_policy_pack_rules_pass(stack: str, request: pytest.FixtureRequest) -> None:
    program: Program = request.getfixturevalue(stack)
    findings = rules.evaluate([rules.from_record(r) for r in program.resources], rules.Ctx(environment=stack))
    assert [(f.rule, f.urn, f.message) for f in findings if f.level == "mandatory"] == []


# --- the real AWS foundation ------------------------------------------------------------------------------


def test_aws_foundation_provisions_the_managed_stores() -> None:
    raw = _raw("prod", MANAGED_KAFKA)

    def build() -> None:
        config = _config(raw)
        foundation = AwsFoundation("platform", config)
        CentralCatalog("catalog", config, foundation, opts=pulumi.ResourceOptions(providers=foundation.providers))

    program = run_function(build, "prod", config=raw)
    services = program.one("dataplatform:catalog_services:AwsCatalogServices")
    assert program.by_urn(services.parent).type == "dataplatform:catalog:CentralCatalog"
    lake_key = program.one("aws:kms/key:Key", "lake-key")
    assert program.one("aws:rds/instance:Instance").inputs["kmsKeyId"] == lake_key.outputs["arn"]
    cluster_sg = program.one("aws:eks/cluster:Cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]
    (rule,) = program.one("aws:ec2/securityGroup:SecurityGroup", "catalog-aws-search").inputs["ingress"]
    assert rule["securityGroups"] == [cluster_sg]
    findings = rules.evaluate([rules.from_record(r) for r in program.resources], rules.Ctx(environment="prod"))
    assert [(f.rule, f.message) for f in findings if f.level == "mandatory"] == []
