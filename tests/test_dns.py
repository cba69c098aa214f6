"""DNS and TLS on the aws foundation: external-dns records the UIs' hosts in one zone; HTTPS wherever a
certificate is configured. The local foundation has neither (localtest.me resolves to 127.0.0.1)."""

from __future__ import annotations

import json
import shutil
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from components.aws.dns import external_dns_policy
from components.charts import PINNED
from components.config import parse_stack_config
from components.validation import ConfigError
from components.values.external_dns import external_dns_values
from platformctl.chartkeys import reference_values, shared_charts_dir, unknown_keys
from platformctl.validate import iam_findings
from tests.harness import Program, Resource, program_for, stack_config

CHART_SOURCE = shared_charts_dir() / "src" / "external-dns-1.21.1"
RELEASE = "kubernetes:helm.sh/v3:Release"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
ZONE = "Z04512345ABCDEFGHIJK"


def build(zone_id: str = ZONE) -> dict[str, Any]:
    return external_dns_values(
        zone_id=zone_id,
        domain="dev.data.acme-corp.io",
        txt_owner_id="dp-dev",
        region="eu-west-1",
        service_account="external-dns",
    )


def ingress_config(stack: str) -> dict[str, Any]:
    return json.loads(stack_config(stack)["dataplatform:ingress"])


# ---- values and the rendered chart ----------------------------------------------------------------


def test_pinned_chart_is_the_source_version() -> None:
    assert PINNED["external-dns"].version == "1.21.1"
    assert yaml.safe_load((CHART_SOURCE / "Chart.yaml").read_text())["version"] == "1.21.1"


def test_every_key_exists_in_the_chart_defaults() -> None:
    reference = reference_values("external-dns", "1.21.1")
    assert reference is not None
    assert unknown_keys(build(), reference) == []


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    copy = tmp_path_factory.mktemp("chart") / "external-dns"
    shutil.copytree(CHART_SOURCE, copy)
    with helm.Chart.load(str(copy)) as chart:
        manifests = chart.render(build(), name="external-dns", namespace="kube-system")
    docs = (yaml.safe_load_all(text) for path, text in manifests.items() if path.endswith(".yaml"))
    return [doc for stream in docs for doc in stream if doc]


def _container(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [o for o in rendered if o["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "external-dns"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_rendered_objects_are_valid_kubernetes(rendered: list[dict[str, Any]]) -> None:
    assert {o["kind"] for o in rendered} >= {"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
    for obj in rendered:
        kubernetes_validate.validate(obj, "1.35.0", strict=True)


def test_external_dns_is_confined_to_the_zone_and_the_base_domain(rendered: list[dict[str, Any]]) -> None:
    args = _container(rendered)["args"]
    assert {
        "--provider=aws",
        "--source=ingress",
        "--registry=txt",
        "--txt-owner-id=dp-dev",
        "--domain-filter=dev.data.acme-corp.io",
        f"--zone-id-filter={ZONE}",
        "--policy=sync",
    } <= set(args)
    assert all(a and a.split("=", 1)[-1] for a in args), args


def test_region_is_set_because_pods_cannot_reach_imds(rendered: list[dict[str, Any]]) -> None:
    container = _container(rendered)
    assert {"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"} in container["env"]
    assert container["image"].endswith(":v0.21.0")
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize("zone", ["", "/hostedzone/Z123", "z0123", "Z012-345"])
def test_a_bad_zone_id_is_refused(zone: str) -> None:
    with pytest.raises(ValueError, match="zone_id"):
        build(zone)


def test_the_role_policy_is_scoped_to_one_zone_and_passes_parliament() -> None:
    policy = external_dns_policy(partition="aws", zone_id=ZONE)
    assert iam_findings(policy, "identity") == []
    change, list_zones = policy["Statement"]
    assert change["Resource"] == f"arn:aws:route53:::hostedzone/{ZONE}"
    assert "route53:ChangeResourceRecordSets" in change["Action"]
    assert list_zones == {"Effect": "Allow", "Action": "route53:ListHostedZones", "Resource": "*"}


# ---- the whole program ----------------------------------------------------------------------------


def _external_dns(program: Program) -> dict[str, Resource]:
    component = program.one("dataplatform:dns:ExternalDns")
    return {r.type: r for r in program.descendants(component.urn)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_aws_stacks_run_external_dns_for_their_zone(stack: str) -> None:
    program = program_for(stack)
    ingress = ingress_config(stack)
    parts = _external_dns(program)
    release = parts[RELEASE]
    assert release.inputs["namespace"] == "kube-system"
    assert release.inputs["chart"] == "external-dns" and release.inputs["version"] == "1.21.1"
    assert release.inputs["values"] == external_dns_values(
        zone_id=ingress["hostedZoneId"],
        domain=ingress["baseDomain"],
        txt_owner_id=f"dp-{stack}",
        region="eu-west-1",
        service_account="external-dns",
    )
    # The cluster's provider, after its credentials exist and after the controller that gives Ingresses their ALB.
    cluster = program.one("dataplatform:cluster:KubernetesCluster")
    provider = program.by_urn(release.provider_urn)
    assert provider.parent == cluster.urn
    alb = next(r for r in program.descendants(cluster.urn) if r.type == RELEASE)
    assert alb.urn in provider.depends_on
    assert {
        parts["aws:iam/rolePolicy:RolePolicy"].urn,
        parts["aws:eks/podIdentityAssociation:PodIdentityAssociation"].urn,
    } <= set(release.depends_on)
    association = parts["aws:eks/podIdentityAssociation:PodIdentityAssociation"].inputs
    assert (association["namespace"], association["serviceAccount"]) == ("kube-system", "external-dns")
    assert association["roleArn"] == parts["aws:iam/role:Role"].outputs["arn"]
    trust = json.loads(parts["aws:iam/role:Role"].inputs["assumeRolePolicy"])["Statement"][0]["Condition"]
    assert trust["StringEquals"]["aws:RequestTag/kubernetes-service-account"] == "external-dns"
    policy = json.loads(parts["aws:iam/rolePolicy:RolePolicy"].inputs["policy"])
    assert policy == external_dns_policy(partition="aws", zone_id=ingress["hostedZoneId"])


def test_local_has_no_external_dns_and_refuses_a_zone() -> None:
    program = program_for("local")
    assert not program.of_type("dataplatform:dns:ExternalDns")
    assert not [r for r in program.of_type(RELEASE) if r.inputs["chart"] == "external-dns"]
    raw = {k.split(":", 1)[1]: v for k, v in stack_config("local").items()}
    parsed: dict[str, Any] = {k: json.loads(v) if v[:1] in "{[" else v for k, v in raw.items()}
    parsed["ingress"] = {**ingress_config("local"), "hostedZoneId": ZONE}
    with pytest.raises(ConfigError, match="hostedZoneId"):
        parse_stack_config(parsed)


# ---- TLS --------------------------------------------------------------------------------------------


def _annotations(program: Program) -> list[dict[str, str]]:
    ingresses = program.of_type(INGRESS)
    assert ingresses
    return [r.inputs["metadata"]["annotations"] for r in ingresses]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_ui_is_https_with_the_certificate_and_http_redirects(stack: str) -> None:
    program = program_for(stack)
    certificate = ingress_config(stack)["certificateArn"]
    for notes in _annotations(program):
        assert notes["alb.ingress.kubernetes.io/certificate-arn"] == certificate
        assert json.loads(notes["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
        assert notes["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    for urls in (d["urls"] for d in program.exports["domains"].values()):
        assert all(u.startswith("https://") for u in urls.values()), urls
    assert program.exports["catalog"]["url"].startswith("https://")
