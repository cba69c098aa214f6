"""Each UI's load-balancer health check hits the tool's real health endpoint, the one its chart probes.

The AWS Load Balancer Controller checks `/` unless the Ingress says otherwise
(`alb.ingress.kubernetes.io/healthcheck-path`, success code 200), and the UIs answer `/` with a
redirect to their login page: an unhealthy target, so a 503 for every user.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.charts import PINNED
from components.tools import UI_HEALTH_PATHS
from components.values import airbyte as airbyte_values
from components.values import dagster as dagster_values
from components.values import datahub as datahub_values
from components.values import superset as superset_values
from components.workloads import ALB_HEALTHCHECK_PATH
from platformctl.chartkeys import reference_values
from platformctl.render import render_release
from platformctl.validate import helm_releases
from tests.harness import Program, program_for

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
# Each tool's health endpoint, as its own source documents it.
EXPECTED = {"dagster": "/server_info", "airbyte": "/api/v1/health", "superset": "/health"}


@pytest.fixture(scope="module")
def dev() -> Program:
    return program_for("dev")


def _ingresses(program: Program, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["metadata"]["name"]: r.inputs
        for r in program.of_type(INGRESS)
        if r.inputs["metadata"]["namespace"] == namespace
    }


def _rendered(program: Program, namespace: str, release: str) -> list[dict[str, Any]]:
    (rel,) = [r for r in helm_releases(program) if (r.namespace, r.name) == (namespace, release)]
    assert isinstance(rel.values, dict)
    result = render_release(rel.chart, rel.version, rel.values, rel.name, rel.namespace)
    assert result.status == "rendered", result.reason
    return result.manifests


def _probe_paths(objects: list[dict[str, Any]], port: int) -> set[str]:
    """Readiness-probe paths of the containers that listen on `port`."""
    paths = set()
    for obj in objects:
        if obj.get("kind") != "Deployment":
            continue
        for c in obj["spec"]["template"]["spec"]["containers"]:
            if port in {p.get("containerPort") for p in c.get("ports", [])} and "readinessProbe" in c:
                paths.add(c["readinessProbe"]["httpGet"]["path"])
    return paths


@pytest.mark.parametrize("tool", ["dagster", "airbyte", "superset"])
@pytest.mark.parametrize("domain", ["sales", "marketing"])
def test_domain_ui_target_groups_check_the_health_endpoint(dev: Program, domain: str, tool: str) -> None:
    ingress = _ingresses(dev, domain)[tool]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert ingress["metadata"]["annotations"][ALB_HEALTHCHECK_PATH] == EXPECTED[tool] == UI_HEALTH_PATHS[tool]
    # The foundation's annotations are kept.
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/target-type"] == "ip"


def test_every_ui_tool_has_a_health_path() -> None:
    assert set(UI_HEALTH_PATHS) == set(EXPECTED)


@pytest.mark.parametrize("tool", ["dagster", "airbyte", "superset"])
def test_the_sign_in_gateway_lets_the_health_check_through(dev: Program, tool: str) -> None:
    # The Ingress targets the tool's gateway; the health check must reach the tool without a sign-in.
    ingress = _ingresses(dev, "sales")[tool]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    (gateway,) = [r for r in helm_releases(dev) if (r.namespace, r.name) == ("sales", backend)]
    assert isinstance(gateway.values, dict)
    assert f"--skip-auth-route=GET=^{re.escape(EXPECTED[tool])}$" in gateway.values["extraArgs"]


def test_catalog_frontend_target_group_checks_the_health_endpoint(dev: Program) -> None:
    ingress = _ingresses(dev, "platform")["datahub"]
    assert ingress["metadata"]["annotations"][ALB_HEALTHCHECK_PATH] == "/admin" == datahub_values.FRONTEND_HEALTH_PATH


def test_superset_path_is_the_one_its_chart_probes() -> None:
    reference = reference_values("superset", PINNED["superset"].version)
    assert reference is not None
    node = reference["supersetNode"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert node[probe]["httpGet"]["path"] == superset_values.HEALTH_PATH


def test_dagster_path_is_the_one_its_chart_probes() -> None:
    reference = reference_values("dagster", PINNED["dagster"].version)
    assert reference is not None
    probe = reference["dagsterWebserver"]["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == (dagster_values.HEALTH_PATH, dagster_values.dagster_ui_service("x")[1])


def test_airbyte_path_is_the_one_the_rendered_server_probes(dev: Program) -> None:
    port = airbyte_values.airbyte_ui_service("sales-airbyte")[1]
    objects = _rendered(dev, "sales", "sales-airbyte")
    assert _probe_paths(objects, port) == {airbyte_values.HEALTH_PATH}


def test_datahub_frontend_path_is_the_one_the_rendered_frontend_probes(dev: Program) -> None:
    port = datahub_values.datahub_ui_service("datahub")[1]
    objects = _rendered(dev, "platform", "datahub")
    assert _probe_paths(objects, port) == {datahub_values.FRONTEND_HEALTH_PATH}


def test_local_ingresses_carry_no_load_balancer_annotations() -> None:
    local = program_for("local")
    ingresses = [r.inputs for r in local.of_type(INGRESS)]
    assert ingresses
    for ingress in ingresses:
        assert ingress["spec"]["ingressClassName"] != "alb"
        assert ALB_HEALTHCHECK_PATH not in (ingress["metadata"].get("annotations") or {})
