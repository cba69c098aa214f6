"""Deploy order: what the real engine would wait for, on every stack (see platformctl/order.py).

Mocks create resources in any order; these tests read the dependencies each registration carries
(depends_on, inputs, provider) and fail naming the resource that could be created too early.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from platformctl import order
from platformctl.simulate import Program, Resource
from tests.harness import program_for

STACKS = [("dev", False), ("prod", False), ("local", False), ("dev", True), ("prod", True)]


@pytest.fixture(scope="module", params=STACKS, ids=[f"{s}{'-preview' if p else ''}" for s, p in STACKS])
def program(request: pytest.FixtureRequest) -> Program:
    stack, preview = request.param
    return program_for(stack, preview=preview)


def test_every_kubernetes_call_waits_for_cluster_access(program: Program) -> None:
    assert order.access_violations(program) == []


def test_services_ingresses_and_releases_wait_for_the_load_balancer_controller(program: Program) -> None:
    assert order.webhook_violations(program) == []


def test_custom_resources_wait_for_their_crd(program: Program) -> None:
    assert order.crd_violations(program) == []


def test_tools_wait_for_their_database(program: Program) -> None:
    assert order.database_violations(program) == []


def test_volumes_wait_for_the_storage_class_they_claim(program: Program) -> None:
    assert order.storage_class_violations(program) == []


def test_jobs_wait_for_the_configmaps_and_secrets_they_need(program: Program) -> None:
    assert order.mount_violations(program) == []


def test_the_mount_check_sees_the_catalog_jobs_credentials() -> None:
    def unhashed(r: Resource) -> str:
        return re.sub(r"-[0-9a-f]{10}$", "", r.inputs["metadata"]["name"])

    pairs = {(unhashed(job), unhashed(source)) for job, source in order.mounted_sources(program_for("dev"))}
    # The issuer's system client secret and code, the registration's token and code (names without their hash).
    assert {
        ("datahub-token-sales", "datahub-auth"),
        ("datahub-token-sales", "datahub-token-issuer"),
        ("datahub-register", "datahub-ingestion-token"),
        ("datahub-register", "datahub-registration"),
    } <= pairs, sorted(pairs)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_checks_have_something_to_check_on_aws(stack: str) -> None:
    p = program_for(stack)
    assert len(p.of_type(order.ACCESS_POLICY)) >= 1
    # external-dns (components/aws/dns.py) runs in kube-system too, on the workload provider.
    assert [r.inputs["chart"] for r in p.of_type(order.RELEASE) if r.inputs["namespace"] == "kube-system"] == [
        order.ALB_CONTROLLER_CHART,
        "external-dns",
    ]
    outside = [r for r in p.of_type(order.RELEASE) if r.inputs["namespace"] != "kube-system"]
    assert len(outside) >= 4 and p.of_type(order.INGRESS)


def test_the_local_stack_has_a_custom_resource_to_check() -> None:
    groups = {order.api_group(r) for r in program_for("local").resources} - order.BUILTIN_GROUPS - {None}
    assert groups == set(order.CRD_CHARTS)


def test_the_load_balancer_controller_release_waits_for_access_but_not_for_itself() -> None:
    p = program_for("dev")
    (controller,) = [r for r in p.of_type(order.RELEASE) if r.inputs["chart"] == order.ALB_CONTROLLER_CHART]
    closure = order.waits_for(p)(controller.urn)
    assert controller.urn not in closure
    assert {r.urn for r in p.of_type(order.ACCESS_POLICY)} <= closure


# --- the checks themselves fail on a wrong order ------------------------------------------------


def record(type_: str, name: str, inputs: dict[str, Any] | None = None, **kw: Any) -> Resource:
    fields: dict[str, Any] = {
        "custom": True,
        "parent": "",
        "provider": "",
        "protect": False,
        "retain_on_delete": False,
        "delete_before_replace": False,
        "ignore_changes": [],
        "aliases": [],
        "depends_on": [],
    }
    fields.update(kw)
    return Resource(type=type_, name=name, urn=f"urn:{type_}::{name}", inputs=inputs or {}, **fields)


ACCESS = record(order.ACCESS_POLICY, "admin")
EARLY_PROVIDER = record("pulumi:providers:kubernetes", "k8s", custom=True)
LATE_PROVIDER = record("pulumi:providers:kubernetes", "k8s-late", depends_on=[ACCESS.urn])


def with_provider(r: Resource, provider: Resource) -> Resource:
    r.provider = f"{provider.urn}::id"
    return r


def test_access_check_names_an_object_created_before_access() -> None:
    ns = with_provider(record("kubernetes:core/v1:Namespace", "sales"), EARLY_PROVIDER)
    ok = with_provider(record("kubernetes:core/v1:Namespace", "marketing"), LATE_PROVIDER)
    program = Program("dev", False, [ACCESS, EARLY_PROVIDER, LATE_PROVIDER, ns, ok], {})
    assert order.access_violations(program) == [
        "pulumi:providers:kubernetes k8s does not wait for the cluster's admin access",
        "kubernetes:core/v1:Namespace sales does not wait for the cluster's admin access",
    ]


def test_webhook_check_names_an_ingress_created_before_the_controller() -> None:
    controller = record(order.RELEASE, "alb", {"chart": order.ALB_CONTROLLER_CHART, "namespace": "kube-system"})
    early = record(order.INGRESS, "sales-dagster", {"metadata": {"namespace": "sales"}})
    late = record(order.INGRESS, "sales-superset", {"metadata": {"namespace": "sales"}}, depends_on=[controller.urn])
    system = record(order.SERVICE, "kube-dns", {"metadata": {"namespace": "kube-system"}})
    program = Program("dev", False, [controller, early, late, system], {})
    assert order.webhook_violations(program) == [
        f"{order.INGRESS} sales-dagster does not wait for the AWS Load Balancer Controller"
    ]


def test_storage_class_check_names_a_release_created_before_the_class() -> None:
    gp3 = record(order.STORAGE_CLASS, "gp3")
    early = record(order.RELEASE, "notebooks", {"chart": "jupyterhub", "namespace": "sandbox"})
    late = record(order.RELEASE, "catalog", {"chart": "datahub", "namespace": "catalog"}, depends_on=[gp3.urn])
    claim = record(order.PVC, "scratch", {"metadata": {"namespace": "sales"}})
    addon = record(order.RELEASE, "external-dns", {"chart": "external-dns", "namespace": "kube-system"})
    program = Program("dev", False, [gp3, early, late, claim, addon], {})
    assert order.storage_class_violations(program) == [
        f"{order.RELEASE} notebooks does not wait for the StorageClass its volumes claim",
        f"{order.PVC} scratch does not wait for the StorageClass its volumes claim",
    ]


def test_aws_workloads_wait_for_the_default_storage_class() -> None:
    p = program_for("dev")
    classes = p.of_type(order.STORAGE_CLASS)
    assert [c.inputs["metadata"]["name"] for c in classes] == ["gp3"]
    notebooks = next(r for r in p.of_type(order.RELEASE) if r.inputs["chart"] == "jupyterhub")
    assert classes[0].urn in order.waits_for(p)(notebooks.urn)


def test_crd_check_names_a_custom_resource_without_its_operator() -> None:
    operator = record(order.RELEASE, "cnpg", {"chart": "cloudnative-pg", "namespace": "cnpg-system"})
    early = record("kubernetes:postgresql.cnpg.io/v1:Cluster", "sales-pg")
    late = record("kubernetes:postgresql.cnpg.io/v1:Cluster", "marketing-pg", depends_on=[operator.urn])
    unknown = record("kubernetes:example.com/v1:Widget", "w", depends_on=[operator.urn])
    program = Program("local", False, [operator, early, late, unknown], {})
    assert order.crd_violations(program) == [
        "kubernetes:postgresql.cnpg.io/v1:Cluster sales-pg does not wait for the cloudnative-pg release that "
        "installs its CRD",
        "kubernetes:example.com/v1:Widget w: no known release installs the CRDs of example.com",
    ]


def test_database_check_names_a_tool_started_before_its_database() -> None:
    domain = record(order.DOMAIN_COMPONENT, "sales", custom=False)
    db = record(order.METADATA_DB_COMPONENT, "sales-metadb", custom=False, parent=domain.urn)
    job = record(order.JOB, "sales-metadb-init", parent=db.urn)
    early = record(order.RELEASE, "sales-dagster", parent=domain.urn)
    # Waiting for the component is waiting for the Job below it.
    late = record(order.RELEASE, "sales-superset", parent=domain.urn, depends_on=[db.urn])
    program = Program("dev", False, [domain, db, job, early, late], {})
    assert order.database_violations(program) == [
        f"{order.RELEASE} sales-dagster does not wait for its metadata-database init Job"
    ]


def test_mount_check_names_a_job_started_before_its_secret() -> None:
    secret = record("kubernetes:core/v1:Secret", "sales-token", {"metadata": {"name": "token", "namespace": "sales"}})
    other_ns = record("kubernetes:core/v1:Secret", "other", {"metadata": {"name": "code", "namespace": "platform"}})
    code = record("kubernetes:core/v1:ConfigMap", "sales-code", {"metadata": {"name": "code", "namespace": "sales"}})

    def job(name: str, spec: dict[str, Any], **kw: Any) -> Resource:
        inputs = {"kind": "Job", "metadata": {"name": name, "namespace": "sales"}, "spec": {"template": {"spec": spec}}}
        return record(order.JOB, name, inputs, **kw)

    volumes = {
        "volumes": [{"name": "t", "secret": {"secretName": "token"}}, {"name": "c", "configMap": {"name": "code"}}]
    }
    early = job("early", volumes, depends_on=[code.urn])
    late = job("late", volumes, depends_on=[code.urn, secret.urn])
    env = job(
        "env",
        {
            "containers": [
                {"name": "c", "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "token", "key": "t"}}}]}
            ]
        },
    )
    optional = job("optional", {"volumes": [{"name": "t", "secret": {"secretName": "token", "optional": True}}]})
    program = Program("dev", False, [secret, other_ns, code, early, late, env, optional], {})
    assert order.mount_violations(program) == [
        f"{order.JOB} early does not wait for the Secret token it needs",
        f"{order.JOB} env does not wait for the Secret token it needs",
    ]


def test_mount_check_names_a_cronjob_or_deployment_started_before_its_secret() -> None:
    """The ingestion CronJobs read superset-credentials; a run scheduled before it exists cannot start."""
    secret = record(
        "kubernetes:core/v1:Secret", "sales-superset", {"metadata": {"name": "creds", "namespace": "sales"}}
    )
    env = {"containers": [{"name": "c", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "creds"}}}]}]}

    def cron(name: str, **kw: Any) -> Resource:
        template = {"spec": {"template": {"spec": env}}}
        inputs = {
            "kind": "CronJob",
            "metadata": {"name": name, "namespace": "sales"},
            "spec": {"jobTemplate": template},
        }
        return record(order.CRONJOB, name, inputs, **kw)

    deployment = record(
        "kubernetes:apps/v1:Deployment",
        "web",
        {"kind": "Deployment", "metadata": {"name": "web", "namespace": "sales"}, "spec": {"template": {"spec": env}}},
    )
    program = Program("dev", False, [secret, cron("ingest"), cron("ok", depends_on=[secret.urn]), deployment], {})
    assert order.mount_violations(program) == [
        f"{order.CRONJOB} ingest does not wait for the Secret creds it needs",
        "kubernetes:apps/v1:Deployment web does not wait for the Secret creds it needs",
    ]


def test_the_ingestion_cronjob_waits_for_the_superset_release() -> None:
    p = program_for("dev")
    closure = order.waits_for(p)
    (release,) = [r for r in p.of_type(order.RELEASE) if r.name == "sales-superset"]
    (cron,) = [r for r in p.of_type(order.CRONJOB) if r.name == "sales-catalog-ingestion"]
    assert release.urn in closure(cron.urn)
    checked = {(w.name, s.name) for w, s in order.mounted_sources(p)}
    assert ("sales-catalog-ingestion", "sales-superset-credentials") in checked


# --- runtime reachability ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pods_on_aws_may_reach_the_pod_identity_agent(stack: str) -> None:
    """Every namespace behind default-deny whose pods use Pod Identity may reach the agent on port 80.

    The AWS SDKs fetch credentials from http://169.254.170.23/v1/credentials; the VPC CNI's network
    policy agent enforces link-local traffic too (aws/aws-network-policy-agent#120).
    """
    p = program_for(stack)
    associations = {r.inputs["namespace"] for r in p.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")}
    guarded = {
        r.inputs["metadata"]["namespace"]
        for r in p.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r.inputs["metadata"]["name"] == "default-deny"
    }
    assert {"sales", "marketing"} <= associations & guarded
    for namespace in associations & guarded:
        allowed = [
            (peer["ipBlock"]["cidr"], int(port["port"]))
            for r in p.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
            if r.inputs["metadata"]["namespace"] == namespace
            for rule in r.inputs["spec"].get("egress", [])
            for peer in rule.get("to", [])
            if "ipBlock" in peer
            for port in rule.get("ports", [])
        ]
        assert ("169.254.170.23/32", 80) in allowed, namespace
