"""OpenCost (actual spend per namespace): values keys exist in chart 2.5.17, the rendered chart runs
the collector without Prometheus, hardened, and the program deploys it in its own guarded namespace
on AWS stacks only."""

from __future__ import annotations

import shutil
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from components.charts import PINNED
from components.cost_monitoring import NAMESPACE, RELEASE
from components.domain_config import RESERVED_NAMES
from components.values.opencost import CONFIG_DIR, DAILY_RETENTION_DAYS, IMAGE_UID, opencost_values
from platformctl.chartkeys import reference_values, shared_charts_dir, unknown_keys
from tests.harness import program_for

CHART_SOURCE = shared_charts_dir() / "src" / "opencost-2.5.17"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def build() -> dict[str, Any]:
    return opencost_values(cluster_id="dp-dev", storage_class="gp3")


def test_pinned_chart_is_the_reference_version() -> None:
    assert PINNED["opencost"].version == "2.5.17"
    assert PINNED["opencost"].repo == "https://opencost.github.io/opencost-helm-chart"
    assert yaml.safe_load((CHART_SOURCE / "Chart.yaml").read_text())["version"] == "2.5.17"


def test_every_key_exists_in_the_chart_defaults() -> None:
    reference = reference_values("opencost", PINNED["opencost"].version)
    assert reference is not None
    assert unknown_keys(build(), reference) == []


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    copy = tmp_path_factory.mktemp("chart") / "opencost"
    shutil.copytree(CHART_SOURCE, copy)
    with helm.Chart.load(str(copy)) as chart:
        manifests = chart.render(build(), name=RELEASE, namespace=NAMESPACE)
    docs = (yaml.safe_load_all(text) for path, text in manifests.items() if path.endswith(".yaml"))
    return [doc for stream in docs for doc in stream if doc]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


def test_rendered_objects_are_valid_kubernetes(rendered: list[dict[str, Any]]) -> None:
    assert {o["kind"] for o in rendered} >= {"Deployment", "Service", "PersistentVolumeClaim", "ClusterRole"}
    for obj in rendered:
        kubernetes_validate.validate(obj, "1.35", strict=True)


def test_collector_replaces_prometheus_and_keeps_a_month(rendered: list[dict[str, Any]]) -> None:
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]  # no UI container, no SigV4 proxy
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["COLLECTOR_DATA_SOURCE_ENABLED"] == "true"
    assert env["COLLECTOR_RESOLUTION_1D_RETENTION"] == str(DAILY_RETENTION_DAYS)
    assert env["CLUSTER_ID"] == "dp-dev" and env["MCP_SERVER_ENABLED"] == "false"
    # The collector's series survive restarts on the gp3 volume.
    pvc = one(rendered, "PersistentVolumeClaim")
    assert pvc["spec"]["storageClassName"] == "gp3"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/mnt/export"] == "opencost-export" and env["PV_MOUNT_PATH"] == "/mnt/export"
    # Node usage comes through the API server (nodes/proxy), read-only.
    rules = one(rendered, "ClusterRole")["rules"]
    assert any("nodes/proxy" in r["resources"] for r in rules)
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in rules)


def test_container_is_hardened_with_writable_dirs_only_where_opencost_writes(rendered: list[dict[str, Any]]) -> None:
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "fsGroup": IMAGE_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsNonRoot"] is True
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "1Gi"}
    assert container["image"].startswith("ghcr.io/opencost/opencost:1.120.1@sha256:")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {CONFIG_DIR, "/tmp"} <= mounts
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert empty_dirs == {"opencost-configs", "opencost-tmp"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_program_deploys_opencost_in_its_own_guarded_namespace(stack: str) -> None:
    program = program_for(stack)
    release = next(r for r in program.of_type(HELM_RELEASE) if r.inputs.get("name") == RELEASE)
    assert release.inputs["namespace"] == NAMESPACE and release.inputs["chart"] == "opencost"
    assert release.inputs["version"] == "2.5.17"
    assert release.inputs["values"]["opencost"]["exporter"]["defaultClusterId"] == f"dp-{stack}"
    # The foundation's workload provider, like the catalog's release: it waits for the ALB controller's webhooks.
    datahub = next(r for r in program.of_type(HELM_RELEASE) if r.inputs.get("name") == "datahub")
    assert release.provider_urn == datahub.provider_urn
    assert program.by_urn(release.provider_urn).type == "pulumi:providers:kubernetes"
    namespace = next(
        r
        for r in program.of_type("kubernetes:core/v1:Namespace")
        if (r.inputs.get("metadata") or {}).get("name") == NAMESPACE
    )
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    guardrails = program.descendants(namespace.parent)  # depends_on a component means on its children
    assert {r.urn for r in guardrails} <= set(release.depends_on), "the release waits for the namespace guardrails"
    policies = {
        r.inputs["metadata"]["name"]
        for r in program.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r.inputs["metadata"]["namespace"] == NAMESPACE
    }
    assert policies == {"default-deny", "allow-same-namespace", "allow-dns", "allow-https-egress"}


def test_local_stack_has_no_opencost_and_domains_cannot_take_its_namespace() -> None:
    assert not [r for r in program_for("local").of_type(HELM_RELEASE) if r.inputs.get("name") == RELEASE]
    assert NAMESPACE in RESERVED_NAMES
