"""The AWS Load Balancer Controller values: keys exist in chart 3.5.0, and the rendered chart is valid and hardened."""

from __future__ import annotations

import shutil
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from components.charts import PINNED
from components.values.alb_controller import alb_controller_values
from platformctl.chartkeys import reference_values, shared_charts_dir, unknown_keys

CHART_SOURCE = shared_charts_dir() / "src" / "aws-load-balancer-controller-3.5.0"
SERVICE_ACCOUNT = "aws-load-balancer-controller"


def build(replicas: int = 2) -> dict[str, Any]:
    return alb_controller_values(
        cluster_name="dp-dev",
        region="eu-west-1",
        vpc_id="vpc-0123456789abcdef0",
        service_account=SERVICE_ACCOUNT,
        replicas=replicas,
    )


def reference() -> dict[str, Any]:
    found = reference_values("aws-load-balancer-controller", PINNED["aws-load-balancer-controller"].version)
    assert found is not None
    return found


def test_pinned_chart_is_the_reference_version():
    assert PINNED["aws-load-balancer-controller"].version == "3.5.0"
    assert yaml.safe_load((CHART_SOURCE / "Chart.yaml").read_text())["version"] == "3.5.0"


def test_every_key_exists_in_the_chart_defaults():
    assert unknown_keys(build(), reference()) == []


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    copy = tmp_path_factory.mktemp("chart") / "aws-load-balancer-controller"
    shutil.copytree(CHART_SOURCE, copy)
    with helm.Chart.load(str(copy)) as chart:
        manifests = chart.render(build(), name="aws-load-balancer-controller", namespace="kube-system")
    docs = (yaml.safe_load_all(text) for path, text in manifests.items() if path.endswith(".yaml"))
    objects = [doc for stream in docs for doc in stream if doc]
    # ingressclass.yaml renders a v1 List; validate its items.
    return [item for obj in objects for item in (obj["items"] if obj["kind"] == "List" else [obj])]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


def test_rendered_objects_are_valid_kubernetes(rendered):
    custom = []
    for obj in rendered:
        if obj["apiVersion"].split("/")[0].endswith(".k8s.aws"):
            custom.append(obj["kind"])  # the chart's own CRDs: not in the Kubernetes schema
            continue
        kubernetes_validate.validate(obj, "1.35.0", strict=True)
    assert custom == ["IngressClassParams"]


def test_controller_container_is_hardened_and_bounded(rendered):
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == SERVICE_ACCOUNT
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["runAsNonRoot"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) == {"cpu", "memory"}


def test_controller_gets_cluster_region_and_vpc_without_imds(rendered):
    args = one(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {"--cluster-name=dp-dev", "--aws-region=eu-west-1", "--aws-vpc-id=vpc-0123456789abcdef0"} <= set(args)


def test_service_account_and_disruption_budget(rendered):
    assert one(rendered, "ServiceAccount")["metadata"]["name"] == SERVICE_ACCOUNT
    assert one(rendered, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_replicas_must_be_positive():
    with pytest.raises(ValueError, match="replicas"):
        build(replicas=0)
