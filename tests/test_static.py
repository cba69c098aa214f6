"""The whole program, per stack: IAM documents lint clean, every directly created manifest passes strict
schema validation and the rendered checks, no Helm release carries a secret in its values, and every
Helm release whose chart source is present offline renders and passes the rendered checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platformctl.render import NOT_OFFLINE, known_secrets, render_program
from platformctl.rendered_checks import check_objects
from platformctl.validate import (
    cluster_version,
    helm_release_errors,
    helm_releases,
    iam_documents,
    iam_findings,
    k8s_manifests,
    schema_check,
)
from tests.harness import Program, Secret, program_for
from tests.test_render import ALB_VALUES
from tests.test_validate import GOOD_DEPLOYMENT, GOOD_IDENTITY, GOOD_TRUST, policy, record

STACKS = ("dev", "prod", "local")


def iam_problems(program: Program) -> dict[str, list[str]]:
    found = {d.label: [str(f) for f in iam_findings(d.doc, d.kind)] for d in iam_documents(program)}
    return {label: problems for label, problems in found.items() if problems}


def manifest_problems(program: Program) -> list[str]:
    version = cluster_version(program)
    manifests = k8s_manifests(program)
    problems = [f"{m['kind']} {m['metadata'].get('name')}: {e}" for m in manifests for e in schema_check(m, version)[0]]
    findings, _ = check_objects(manifests, version=version, known_secrets=known_secrets(program))
    return problems + [str(f) for f in findings if f.check != "schema"]


def helm_value_problems(program: Program) -> list[str]:
    return [e for r in helm_releases(program) for e in helm_release_errors(r)]


def render_problems(program: Program, out_dir: Path) -> list[str]:
    """Errors and check findings of every release; a release may go unrendered only for lack of its source."""
    problems = []
    for report in render_program(program, out_dir):
        name = f"{report.release.namespace}/{report.release.name} ({report.release.chart})"
        result = report.result
        if result.status != "rendered" and result.reason != NOT_OFFLINE:
            problems.append(f"{name}: {result.reason}")
        problems += [f"{name}: {e}" for e in result.errors if e != result.reason]
        problems += [f"{name}: {f}" for f in report.findings]
    return problems


@pytest.fixture(scope="module", params=STACKS)
def program(request: pytest.FixtureRequest) -> Program:
    return program_for(request.param)


def test_iam_documents_pass_parliament_and_project_rules(program: Program) -> None:
    assert iam_problems(program) == {}


def test_manifests_pass_strict_schema_and_rendered_checks(program: Program) -> None:
    assert manifest_problems(program) == []


def test_no_helm_release_carries_secret_values(program: Program) -> None:
    assert helm_value_problems(program) == []


def test_every_helm_release_renders_and_passes_rendered_checks(program: Program, tmp_path: Path) -> None:
    assert render_problems(program, tmp_path) == []
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary) == len(helm_releases(program))


# ---- guard: the iterators find what they should, and the checks above can fail -----------------


def _crafted(*, bad: bool) -> Program:
    action = "s3:*" if bad else "s3:GetObject"
    identity = policy(
        {"Effect": "Allow", "Action": action, "Resource": "*" if bad else GOOD_IDENTITY["Statement"][0]["Resource"]}
    )
    replicas = "two" if bad else 2
    deployment = {**GOOD_DEPLOYMENT, "spec": {**GOOD_DEPLOYMENT["spec"], "replicas": replicas}}
    values = {**ALB_VALUES, "replicaCount": replicas}
    return Program(
        "dev",
        False,
        [
            record("aws:iam/role:Role", "sales-role", {"assumeRolePolicy": json.dumps(GOOD_TRUST)}),
            record("aws:iam/rolePolicy:RolePolicy", "sales-role-policy", {"policy": json.dumps(identity)}),
            record("kubernetes:apps/v1:Deployment", "sales-web", deployment),
            record(
                "kubernetes:helm.sh/v3:Release",
                "alb",
                {
                    "chart": "aws-load-balancer-controller",
                    "version": "3.5.0",
                    "repositoryOpts": {"repo": "https://aws.github.io/eks-charts"},
                    "namespace": "kube-system",
                    "name": "aws-load-balancer-controller",
                    "values": values,
                },
            ),
            record(
                "kubernetes:helm.sh/v3:Release",
                "superset",
                {
                    "chart": "superset",
                    "version": "0.22.8",
                    "namespace": "sales",
                    "name": "superset",
                    "values": {"secretEnv": {"create": False}} if not bad else Secret({"x": "y"}),
                },
            ),
        ],
        {},
    )


def test_iterators_find_the_crafted_resources() -> None:
    program = _crafted(bad=False)
    assert [(d.label, d.kind) for d in iam_documents(program)] == [
        ("aws:iam/role:Role sales-role assumeRolePolicy", "trust"),
        ("aws:iam/rolePolicy:RolePolicy sales-role-policy policy", "identity"),
    ]
    assert [m["kind"] for m in k8s_manifests(program)] == ["Deployment"]
    assert [(r.name, r.chart) for r in helm_releases(program)] == [
        ("aws-load-balancer-controller", "aws-load-balancer-controller"),
        ("superset", "superset"),
    ]


def test_static_checks_pass_a_good_program_and_fail_a_bad_one(tmp_path: Path) -> None:
    good, bad = _crafted(bad=False), _crafted(bad=True)
    assert (iam_problems(good), manifest_problems(good), helm_value_problems(good)) == ({}, [], [])
    assert render_problems(good, tmp_path / "good") == []

    assert list(iam_problems(bad)) == ["aws:iam/rolePolicy:RolePolicy sales-role-policy policy"]
    assert manifest_problems(bad)[0].startswith("Deployment web: spec.replicas: 'two' is not of type")
    assert "sales/superset" in helm_value_problems(bad)[0]
    problems = render_problems(bad, tmp_path / "bad")
    assert any("spec.replicas: 'two' is not of type" in p for p in problems), problems
    assert any(p.startswith("sales/superset (superset): release sales/superset: secret value") for p in problems)
