"""checkov over the rendered platform (platformctl/scan.py): every finding is fixed or justified in scan/skips.yaml.

One checkov run per session covers dev, prod and a crafted bad object, so the test proves on the same run
that an unjustified finding is reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl import scan
from platformctl.render import charts_src_dir
from platformctl.scan import PROGRAM, Finding, Scanned, Skip, SkipFileError, load_skips
from tests.harness import PROJECT_DIR, program_for
from tests.requires import require

STACKS = ("dev", "prod")
CRAFTED = "crafted"
# A Deployment whose container sets no securityContext at all, in a namespace of its own.
BAD_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "no-security-context", "namespace": "sales"},
    "spec": {
        "selector": {"matchLabels": {"app": "bad"}},
        "template": {
            "metadata": {"labels": {"app": "bad"}},
            "spec": {"containers": [{"name": "app", "image": "ghcr.io/example-org/app:1.0.0"}]},
        },
    },
}


@pytest.fixture(scope="module")
def result() -> scan.ScanResult:
    require(scan.CHECKOV, "make setup (creates scan/.venv from scan/requirements.txt)")
    require(charts_src_dir() / "datahub-1.1.0", "the shared chart sources (../shared/charts/src)")
    objects = [o for stack in STACKS for o in scan.stack_objects(program_for(stack))]
    crafted = (Scanned(CRAFTED, PROGRAM, "", scan.ref(BAD_DEPLOYMENT)), BAD_DEPLOYMENT)
    return scan.scan([*objects, crafted])


@pytest.fixture(scope="module")
def skips() -> list[Skip]:
    return load_skips()


def _stack(result: scan.ScanResult, stack: str) -> list[Finding]:
    return [f for f in result.findings if f.stack == stack]


@pytest.mark.parametrize("stack", STACKS)
def test_every_finding_is_fixed_or_justified(result: scan.ScanResult, skips: list[Skip], stack: str) -> None:
    bad = [str(f) for f in scan.ScanResult(_stack(result, stack), 0, []).unjustified(skips)]
    assert bad == [], "fix these or justify them in scan/skips.yaml:\n" + "\n".join(bad)


@pytest.mark.parametrize("stack", STACKS)
def test_the_scan_covers_the_program_and_every_rendered_release(result: scan.ScanResult, stack: str) -> None:
    scanned = [o for o in result.scanned if o.stack == stack]
    program = program_for(stack)
    assert len([o for o in scanned if o.source == PROGRAM]) == len(scan.k8s_manifests(program))
    releases = {f"{r.namespace}/{r.name}": r.chart for r in scan.helm_releases(program)}
    missing = {chart for release, chart in releases.items() if release not in {o.release for o in scanned}}
    # No chart source offline (Dagster, Superset), or every object comes from subcharts of other repositories
    # (datahub-prerequisites): CI's render job scans these from the published charts (--published).
    assert missing <= {"dagster", "superset", "datahub-prerequisites"}, missing
    assert {"datahub", "airbyte", "aws-load-balancer-controller"} <= {o.source for o in scanned}


def test_an_unjustified_finding_fails(result: scan.ScanResult, skips: list[Skip]) -> None:
    crafted = scan.ScanResult(_stack(result, CRAFTED), 0, []).unjustified(skips)
    checks = {f.check for f in crafted}
    # No securityContext: privilege escalation (20), root (23), capabilities (28, 37), seccomp (31).
    assert {"CKV_K8S_20", "CKV_K8S_23", "CKV_K8S_28", "CKV_K8S_31", "CKV_K8S_37"} <= checks, checks
    assert {f.ref for f in crafted} == {"Deployment sales/no-security-context"}


def test_every_skip_is_used_and_the_file_stays_short(result: scan.ScanResult, skips: list[Skip]) -> None:
    real = scan.ScanResult(
        [f for f in result.findings if f.stack in STACKS], 0, [o for o in result.scanned if o.stack in STACKS]
    )
    # Entries of charts not rendered here (Dagster, Superset) are judged by the published-render scan.
    assert [s for s in real.unused(skips)] == [], "remove skips that no finding needs any more"
    assert len(skips) <= 46


# ---- the verdict, as CI's published-render scan applies it (no checkov needed) -------------------------------

DAGSTER_FINDING = Finding(
    "CKV_K8S_23", "root", "dev", "dagster", "sales/sales-dagster", "Deployment sales/sales-dagster-daemon"
)


def _scanned(*sources: str) -> list[Scanned]:
    return [Scanned("dev", source, "", f"Deployment sales/{source}") for source in sources]


def test_the_verdict_fails_on_an_unjustified_finding_of_a_published_chart() -> None:
    result = scan.ScanResult([DAGSTER_FINDING], 10, _scanned("dagster"))
    lines, code = scan.verdict(result, [Skip("CKV_K8S_23", "the daemon needs root for a reason", chart="superset")])
    assert code == 1
    assert f"UNJUSTIFIED {DAGSTER_FINDING}" in lines
    lines, code = scan.verdict(result, [Skip("CKV_K8S_23", "the daemon needs root for a reason", chart="dagster")])
    assert (code, [line for line in lines if "UNJUSTIFIED" in line]) == (0, [])


def test_unused_skips_are_judged_only_for_the_charts_scanned() -> None:
    skips = [
        Skip("CKV_K8S_40", "superset runs as its own user", chart="superset"),
        Skip("CKV_K8S_40", "dagster runs as its own user", chart="dagster"),
        Skip("CKV_K8S_23", "the daemon needs root for a reason", chart="dagster"),
    ]
    offline = scan.ScanResult([], 10, _scanned(PROGRAM, "datahub"))
    assert offline.unused(skips) == []  # neither chart rendered: nothing to judge
    published = scan.ScanResult([DAGSTER_FINDING], 10, _scanned(PROGRAM, "dagster"))
    assert published.unused(skips) == [skips[1]]
    lines, code = scan.verdict(published, skips)
    assert code == 0 and "unused skip (no finding of this run needs it): CKV_K8S_40 dagster" in lines


def test_the_cli_scans_published_charts_against_the_skip_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`python -m platformctl.scan --stack dev --published` (CI's render job): the published render, the reviewed
    skip file, exit 1 on an unjustified finding."""
    asked: dict[str, Any] = {}

    def stack_objects(program: Any, *, published: bool, chart_sources: dict[str, Path]) -> list[Any]:
        asked.update(stack=program, published=published, chart_sources=chart_sources)
        return []

    monkeypatch.setattr(scan, "run_program", lambda stack: stack)
    monkeypatch.setattr(scan, "stack_objects", stack_objects)
    monkeypatch.setattr(scan, "scan", lambda objects, keep: scan.ScanResult([DAGSTER_FINDING], 1, _scanned("dagster")))
    assert scan.main(["--stack", "dev", "--published"]) == 1
    assert asked == {"stack": "dev", "published": True, "chart_sources": {}}
    # The reviewed file is the one read: an entry there for the finding makes the same run pass.
    loaded: list[Path] = []

    def load(path: Path = scan.SKIPS_FILE) -> list[Skip]:
        loaded.append(path)
        return [Skip("CKV_K8S_23", "the daemon needs root for a reason", chart="dagster")]

    monkeypatch.setattr(scan, "load_skips", load)
    assert scan.main(["--stack", "dev", "--published"]) == 0
    assert loaded == [PROJECT_DIR / "scan" / "skips.yaml"]


def test_skip_entries_need_a_check_a_target_and_a_reason(tmp_path: Path) -> None:
    good = {"check": "CKV_K8S_43", "chart": "airbyte", "reason": "chart-managed images are pinned by tag"}
    path = tmp_path / "skips.yaml"
    for entry, problem in [
        ({**good, "reason": ""}, "reason must say why"),
        ({k: v for k, v in good.items() if k != "chart"}, "needs a chart or an object"),
        ({**good, "check": "K8S_43"}, "check must be"),
        ({**good, "note": "x"}, "unknown field"),
    ]:
        path.write_text(yaml.safe_dump([entry]))
        with pytest.raises(SkipFileError, match=problem):
            load_skips(path)
    path.write_text(yaml.safe_dump([good]))
    (skip,) = load_skips(path)
    finding = Finding("CKV_K8S_43", "digest", "dev", "airbyte", "sales/sales-airbyte", "Deployment sales/x")
    assert skip.matches(finding)
    assert not skip.matches(Finding("CKV_K8S_43", "digest", "dev", PROGRAM, "", "Job sales/x"))


def test_helm_namespace_is_given_to_namespaced_objects_only() -> None:
    svc = {"kind": "Service", "metadata": {"name": "gms"}}
    assert scan.with_namespace(svc, "platform")["metadata"]["namespace"] == "platform"
    role = {"kind": "ClusterRole", "metadata": {"name": "r"}}
    assert "namespace" not in scan.with_namespace(role, "platform")["metadata"]
    placed = {"kind": "Service", "metadata": {"name": "a", "namespace": "other"}}
    assert scan.with_namespace(placed, "platform")["metadata"]["namespace"] == "other"
