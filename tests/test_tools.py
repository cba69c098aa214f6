"""The tool registry (components/tools/): each tool is one spec, and the domain stack has no per-tool code."""

from __future__ import annotations

import dataclasses
from typing import get_args

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components import tools
from components.charts import PINNED
from components.domain_config import Resources, Tools
from components.sizing import LAPTOP, SizeKey, Sizes, ToolSizes
from components.tools.base import ToolContext, ToolDeployment, ToolSpec
from platformctl import records
from tests.harness import program_for, run_program

CATALOG_SIZES = {"datahub", "opensearch", "opensearch_heap"}  # components/catalog.py sizes these


def test_each_tool_is_a_domain_file_toggle_with_a_pinned_chart():
    names = [t.name for t in tools.TOOLS]
    assert len(names) == len(set(names))
    for spec in tools.TOOLS:
        assert spec.name in Tools.model_fields, f"{spec.name}: no `tools.{spec.name}` in the domain file model"
        if spec.chart is not None:
            assert spec.chart in PINNED, f"{spec.name}: chart {spec.chart} is not pinned in components/charts.py"
        if spec.ui is not None:
            assert spec.ui.health_path.startswith("/")
            # A UI is reached through the sign-in gateway in front of its release.
            assert spec.chart is not None and spec.ui.service(f"d-{spec.name}")[0]


def test_every_tool_size_key_belongs_to_exactly_one_tool():
    owned = [k for t in tools.TOOLS for k in t.size_keys]
    assert len(owned) == len(set(owned))
    assert set(owned) == set(get_args(SizeKey))
    assert {f.name for f in dataclasses.fields(ToolSizes)} == set(owned) | CATALOG_SIZES


def test_the_size_resolver_prefers_the_profile_then_the_domain_file():
    configured = Resources.model_validate(
        {"requests": {"cpu": "300m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "3Gi"}}
    )
    standard, laptop = Sizes(None), Sizes(LAPTOP)
    assert standard.resources("superset_web", configured) == configured.model_dump(by_alias=True)
    assert laptop.resources("superset_web", configured) == LAPTOP.superset_web != configured.model_dump(by_alias=True)
    assert standard.chart_default("dagster_run") is None
    assert laptop.chart_default("dagster_run") == LAPTOP.dagster_run
    assert (standard.replicas(3), laptop.replicas(3)) == (3, 1)


def test_the_derived_maps_follow_the_specs():
    assert {t.name: t.ui.health_path for t in tools.TOOLS if t.ui is not None} == tools.UI_HEALTH_PATHS
    assert set(tools.DATABASES) == {t.name for t in tools.TOOLS if t.database is not None}
    assert all(tools.DATABASES[n].tool == n for n in tools.DATABASES)


def test_the_registered_tools_own_exactly_their_releases_and_secrets():
    program = program_for("dev")
    by_urn = {r.urn: r for r in program.resources}
    stacks = program.of_type("dataplatform:domain:DataDomainStack")
    assert stacks
    for stack in stacks:
        mine = [r for r in program.resources if r.parent == stack.urn]
        releases = {r.name.removeprefix(f"{stack.name}-") for r in mine if r.type == "kubernetes:helm.sh/v3:Release"}
        assert releases == {t.name for t in tools.TOOLS if t.chart is not None}  # every tool is on in the samples
        secrets = {r.inputs["metadata"]["name"] for r in mine if r.type == "kubernetes:core/v1:Secret"}
        for spec in tools.TOOLS:
            assert set(spec.secrets) <= secrets, (stack.name, spec.name)
        assert all(by_urn[r.parent] is stack for r in mine)


def _configmap_tool(domains: set[str]) -> ToolSpec:
    """A tool with no chart, UI, database or ServiceAccount (like the sandbox): one ConfigMap."""

    def deploy(ctx: ToolContext) -> ToolDeployment:
        k8s.core.v1.ConfigMap(
            f"{ctx.domain.name}-probe",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="probe", namespace=ctx.namespace, labels=ctx.labels),
            data={"bucket": ctx.services.s3.bucket},
            opts=pulumi.ResourceOptions(parent=ctx.stack, depends_on=[ctx.guardrails]),
        )
        return ToolDeployment(exports={"probe": "on"})

    return ToolSpec(name="probe", enabled=lambda d: d.name in domains, deploy=deploy, own_service_account=False)


def test_adding_a_tool_is_one_spec_and_changes_nothing_else(monkeypatch: pytest.MonkeyPatch):
    before = records.records(program_for("local"))
    monkeypatch.setattr(tools, "TOOLS", (*tools.TOOLS, _configmap_tool({"sales"})))
    after = records.records(run_program("local"))
    stack = "urn:pulumi:local::dataplatform::dataplatform:domain:DataDomainStack"
    # Marketing, which does not enable it, and everything else of sales stay as they were.
    assert records.diff(before, after) == [
        f"+ {stack}$kubernetes:core/v1:ConfigMap::sales-probe",
        '~ exports.domains.sales.probe: added "on"',
    ]
    (probe,) = [r for r in after["resources"] if r["name"] == "sales-probe"]
    (sales,) = [r for r in after["resources"] if r["urn"].endswith("DataDomainStack::sales")]
    assert probe["parent"] == sales["urn"]
    assert probe["inputs"]["data"]["bucket"].startswith("dp-local-sales")
