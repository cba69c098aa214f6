"""NamespaceGuardrails: PSS labels, quota, limit range and network policies, checked on the records."""

from __future__ import annotations

import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.guardrails import ContainerDefaults, GuardrailsArgs, NamespaceGuardrails, PortsTo, Quota
from tests.harness import Program, run_function

ARGS = GuardrailsArgs(
    namespace="sales",
    owner="sales",
    quota=Quota("4", "8Gi", "8", "16Gi", 40),
    container_defaults=ContainerDefaults("100m", "128Mi", "500m", "512Mi"),
    ingress_cidrs=("10.20.0.0/16",),
    ui_ports=(80, 8088),
    private_egress=(PortsTo("10.20.0.0/16", (5432, 5439)),),
    catalog_namespace="platform",
)


def _run(args: GuardrailsArgs = ARGS) -> Program:
    def build() -> None:
        provider = k8s.Provider("k8s")
        NamespaceGuardrails(args.namespace, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return run_function(build)


@pytest.fixture(scope="module")
def program() -> Program:
    return _run()


def _policies(program: Program) -> dict[str, dict]:
    return {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in program.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }


def test_namespace_has_pod_security_labels(program: Program) -> None:
    labels = program.one("kubernetes:core/v1:Namespace").inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["dataplatform.io/domain"] == "sales"


def test_quota_and_limit_range_come_from_args(program: Program) -> None:
    hard = program.one("kubernetes:core/v1:ResourceQuota").inputs["spec"]["hard"]
    assert hard == {
        "requests.cpu": "4",
        "requests.memory": "8Gi",
        "limits.cpu": "8",
        "limits.memory": "16Gi",
        "pods": "40",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    (item,) = program.one("kubernetes:core/v1:LimitRange").inputs["spec"]["limits"]
    assert item == {
        "type": "Container",
        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        "default": {"cpu": "500m", "memory": "512Mi"},
    }


def test_default_deny_selects_every_pod_both_directions(program: Program) -> None:
    deny = _policies(program)["default-deny"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_allows_are_explicit(program: Program) -> None:
    policies = _policies(program)
    assert set(policies) == {
        "default-deny",
        "allow-same-namespace",
        "allow-dns",
        "allow-https-egress",
        "allow-data-services",
        "allow-load-balancer",
        "allow-catalog",
    }
    dns = policies["allow-dns"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    https = policies["allow-https-egress"]["egress"][0]
    assert https["ports"] == [{"protocol": "TCP", "port": 443}]
    lb = policies["allow-load-balancer"]["ingress"][0]
    assert lb["from"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert [p["port"] for p in lb["ports"]] == [80, 8088]
    data = policies["allow-data-services"]["egress"][0]
    assert [p["port"] for p in data["ports"]] == [5432, 5439]
    catalog = policies["allow-catalog"]["egress"][0]
    assert catalog["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "platform"}


def test_nothing_optional_without_args() -> None:
    bare = GuardrailsArgs(namespace="bare", owner="bare", quota=ARGS.quota, container_defaults=ARGS.container_defaults)
    assert set(_policies(_run(bare))) == {"default-deny", "allow-same-namespace", "allow-dns", "allow-https-egress"}


def test_every_object_is_namespaced_and_valid(program: Program) -> None:
    objects = [r for r in program.resources if r.type.startswith("kubernetes:") and "providers" not in r.type]
    assert len(objects) == 10
    for r in objects:
        if r.inputs["kind"] != "Namespace":
            assert r.inputs["metadata"]["namespace"] == "sales"
            assert r.depends_on, f"{r.name} must wait for its namespace"
        kubernetes_validate.validate(dict(r.inputs), "1.35.0", strict=True)
        assert r.provider_urn.endswith("pulumi:providers:kubernetes::k8s")
