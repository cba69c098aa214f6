"""Pod Security `restricted` per namespace: enforced only where the render check proves every workload passes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.tools import NOT_RESTRICTED_TOOLS
from platformctl import render
from platformctl.render import RenderReport, RenderResult, charts_src_dir, pss_restricted_findings
from platformctl.rendered_checks import pss_restricted_violations
from platformctl.validate import HelmRelease
from tests.harness import Program, program_for
from tests.requires import require
from tests.test_domain_stack import sample, write_domains

VERSION = "1.35"
GOOD_POD: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "app",
            "image": "ghcr.io/example-org/app:1.0.0",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}


def job(pod: dict[str, Any], namespace: str = "jobsonly") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "namespace": namespace},
        "spec": {"template": {"spec": pod}},
    }


def test_restricted_profile_catches_what_baseline_allows() -> None:
    assert pss_restricted_violations(job(GOOD_POD), VERSION) == []
    container = GOOD_POD["containers"][0]
    cases = {
        "allowPrivilegeEscalation": {
            **GOOD_POD,
            "containers": [{**container, "securityContext": {"capabilities": {"drop": ["ALL"]}}}],
        },
        "runAsNonRoot": {**GOOD_POD, "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
        "seccompProfile": {**GOOD_POD, "securityContext": {"runAsNonRoot": True}},
        "drop ALL": {
            **GOOD_POD,
            "containers": [{**container, "securityContext": {"allowPrivilegeEscalation": False}}],
        },
        "adds capabilities": {
            **GOOD_POD,
            "containers": [
                {
                    **container,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]},
                    },
                }
            ],
        },
        "is a gitRepo": {**GOOD_POD, "volumes": [{"name": "src", "gitRepo": {"repository": "x"}}]},
        "runAsUser 0": {**GOOD_POD, "securityContext": {**GOOD_POD["securityContext"], "runAsUser": 0}},
    }
    for expected, pod in cases.items():
        violations = pss_restricted_violations(job(pod), VERSION)
        assert any(expected in v for v in violations), (expected, violations)


@pytest.fixture(scope="module")
def jobs_only(tmp_path_factory: pytest.TempPathFactory) -> Program:
    """dev with a domain that runs none of Dagster, Airbyte and Superset: only the platform's Jobs."""
    doc: dict[str, Any] = sample("sales") | {"name": "jobsonly"}
    tools: dict[str, Any] = doc["tools"]
    for tool in NOT_RESTRICTED_TOOLS:
        tools.setdefault(tool, {})["enabled"] = False
    return program_for("dev", domains_dir=write_domains(tmp_path_factory.mktemp("pss") / "domains", {"jobsonly": doc}))


def test_only_a_namespace_without_unproven_tools_enforces_restricted(jobs_only: Program) -> None:
    assert render.restricted_namespaces(jobs_only) == ["jobsonly"]
    for stack in ("dev", "prod"):
        # The sample domains run Dagster, Airbyte and Superset; the platform namespace runs DataHub's prerequisites.
        # The analysts' notebooks (marketing enables the sandbox) are proven in tests/test_notebooks.py.
        assert render.restricted_namespaces(program_for(stack)) == ["sandbox"]


def test_render_check_proves_the_restricted_namespace(jobs_only: Program, tmp_path: Path) -> None:
    require(charts_src_dir() / "datahub-1.1.0", "the shared chart sources (../shared/charts/src)")
    reports = render.render_program(jobs_only, tmp_path)
    workloads = [
        o
        for o in render.k8s_manifests(jobs_only)
        if o["metadata"].get("namespace") == "jobsonly" and o["kind"] in ("Job", "CronJob")
    ]
    assert len(workloads) >= 2  # the metadata-DB init Job, the registration Job, the ingestion CronJob
    assert pss_restricted_findings(jobs_only, reports) == []


def test_render_check_reports_a_workload_that_breaks_restricted(jobs_only: Program) -> None:
    bad = job({**GOOD_POD, "securityContext": {"runAsNonRoot": True}})
    release = HelmRelease("extra", "jobsonly", "extra", "1.0.0", "https://example.org", {}, "extra")
    rendered = RenderReport(release, RenderResult("extra", "1.0.0", "extra", "jobsonly", "rendered", manifests=[bad]))
    unrendered = RenderReport(
        release._replace(name="other"), RenderResult("other", "1.0.0", "other", "jobsonly", "not rendered")
    )
    findings = pss_restricted_findings(jobs_only, [rendered, unrendered])
    assert {(f.object, f.message) for f in findings} == {
        ("Job jobsonly/j", "containers app: seccompProfile is not RuntimeDefault or Localhost"),
        ("Namespace jobsonly", "release other not rendered: cannot prove it"),
    }


def _rendered(release: HelmRelease, *objects: dict[str, Any]) -> RenderReport:
    r = release
    return RenderReport(r, RenderResult(r.chart, r.version, r.name, r.namespace, "rendered", manifests=list(objects)))


def test_the_outlook_says_what_keeps_a_baseline_namespace_from_restricted() -> None:
    """What CI's published render (and a --chart-source render) prints for Dagster and Superset: per namespace below
    restricted, the rendered workloads failing it and the releases not rendered, or that nothing rendered does."""
    program = program_for("dev")
    releases = [r for r in render.helm_releases(program) if r.namespace == "sales"]
    assert {r.chart for r in releases} >= {"dagster", "superset", "airbyte"}
    good = job(GOOD_POD, "sales")
    reports = [_rendered(r, good) for r in releases]
    lines = render.restricted_outlook(program, reports)
    assert (
        "pod security: namespace sales enforces baseline; every rendered workload passes restricted "
        "(pods started at run time not rendered)"
    ) in lines
    # Marketing's releases were not rendered at all: each is named.
    marketing = lines.index(
        "pod security: namespace marketing enforces baseline; restricted is blocked by "
        f"{len([r for r in render.helm_releases(program) if r.namespace == 'marketing'])} finding(s):"
    )
    assert lines[marketing + 1].startswith("  Namespace marketing: release ") and "not rendered" in lines[marketing + 1]
    # One workload of one release failing the profile is named with its violation.
    dagster = next(r for r in releases if r.chart == "dagster")
    bad = job({**GOOD_POD, "securityContext": {"runAsNonRoot": True}}, "sales")
    reports = [_rendered(r, bad if r is dagster else good) for r in releases]
    lines = render.restricted_outlook(program, reports)
    start = lines.index("pod security: namespace sales enforces baseline; restricted is blocked by 1 finding(s):")
    assert lines[start + 1] == "  Job sales/j: containers app: seccompProfile is not RuntimeDefault or Localhost"
