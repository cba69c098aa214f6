"""An outside scanner over what the platform would install: checkov (`--framework kubernetes`).

Scanned, per stack: every Kubernetes object the program creates directly and every object of every Helm
release rendered offline from `../shared/charts/src` (or, with `--published`, from the published charts:
CI's render job, the only place Dagster and Superset render; or, with `--chart-source NAME=PATH`, chart NAME
from a local chart folder, see platformctl/render.py). Each object is written to its own file with
the namespace Helm would give it at install time, and a stack is scanned as one folder, so checks that
connect objects (a pod and the NetworkPolicy that selects it) see the whole namespace.

The scan is given the context a folder lacks, as the API server would apply it: the release namespace on
namespaced objects without one (Helm sets it at install), and a pod's automountServiceAccountToken from its
ServiceAccount when the pod does not set it (the ServiceAccount admission rule). Helm test hooks are left
out: Pulumi's Release never runs `helm test`, so they are never created.

A finding is fixed in the program or justified in `scan/skips.yaml`: one entry per check and object (or
chart), each with a reason. checkov pins packaging<24 and the program needs packaging>=26, so checkov runs
from its own venv (`scan/.venv`, made by `make setup`).

    python -m platformctl.scan --stack dev [--published] [--chart-source NAME=PATH] [--out scan-out]

It exits 1 on any finding that `scan/skips.yaml` does not justify. Skip entries no finding needed are listed
(only those of the charts this run scanned: the others cannot be judged here); tests/test_scan.py fails on them.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from platformctl.plan import CLUSTER_SCOPED_KINDS
from platformctl.rendered_checks import pod_spec
from platformctl.simulate import PROJECT_DIR, Program, run_program
from platformctl.validate import helm_release_errors, helm_releases, k8s_manifests

CHECKOV = PROJECT_DIR / "scan" / ".venv" / "bin" / "checkov"
SKIPS_FILE = PROJECT_DIR / "scan" / "skips.yaml"
PROGRAM = "program"  # the source of the objects the program creates directly
CHECK_ID = re.compile(r"^CKV2?_K8S_\d+$")
# Cluster-scoped kinds beyond the plan's list that charts render.
_CLUSTER_SCOPED = CLUSTER_SCOPED_KINDS | {"APIService", "CSIDriver", "RuntimeClass", "VolumeAttachment"}


@dataclass(frozen=True)
class Scanned:
    """One object written for the scanner: where it came from."""

    stack: str
    source: str  # PROGRAM or the chart name
    release: str  # "<namespace>/<release>", or "" for the program's own objects
    ref: str  # "Kind namespace/name"


@dataclass(frozen=True)
class Finding:
    check: str
    name: str  # checkov's check name
    stack: str
    source: str
    release: str
    ref: str

    def __str__(self) -> str:
        where = f"{self.source} {self.release}".strip()
        return f"{self.stack}: {self.check} ({self.name}) on {self.ref} [{where}]"


@dataclass(frozen=True)
class Skip:
    check: str
    reason: str
    chart: str | None = None  # a chart name, or PROGRAM
    object: str | None = None  # a glob over "Kind namespace/name"

    def matches(self, f: Finding) -> bool:
        return (
            f.check == self.check
            and (self.chart is None or self.chart == f.source)
            and (self.object is None or fnmatch.fnmatchcase(f.ref, self.object))
        )


class SkipFileError(ValueError):
    pass


def load_skips(path: Path = SKIPS_FILE) -> list[Skip]:
    """The reviewed skip list; a malformed entry is an error naming the file, entry and field."""
    raw = yaml.safe_load(path.read_text()) or []
    if not isinstance(raw, list):
        raise SkipFileError(f"{path}: must be a list of entries")
    skips, problems = [], []
    for i, entry in enumerate(raw):
        where = f"{path.name} entry {i}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not a mapping")
            continue
        unknown = set(entry) - {"check", "chart", "object", "reason"}
        if unknown:
            problems.append(f"{where}: unknown field(s) {sorted(unknown)}")
        check, reason = entry.get("check"), entry.get("reason")
        if not isinstance(check, str) or not CHECK_ID.match(check):
            problems.append(f"{where}: check must be a checkov Kubernetes check id (CKV_K8S_n), got {check!r}")
        if not isinstance(reason, str) or len(reason.split()) < 4:
            problems.append(f"{where}: reason must say why, in words (got {reason!r})")
        if entry.get("chart") is None and entry.get("object") is None:
            problems.append(f"{where}: needs a chart or an object")
        problems += [
            f"{where}: {key} must be a string"
            for key in ("chart", "object")
            if entry.get(key) is not None and not isinstance(entry[key], str)
        ]
        if not problems:
            skips.append(Skip(str(check), str(reason), entry.get("chart"), entry.get("object")))
    if problems:
        raise SkipFileError("\n".join(problems))
    return skips


def ref(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name") or meta.get("generateName") or "?"
    return f"{obj.get('kind', '?')} {ns}/{name}" if ns else f"{obj.get('kind', '?')} {name}"


def with_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """`obj` as Helm installs it into `namespace`: namespaced objects without one get the release's."""
    if obj.get("kind") in _CLUSTER_SCOPED or (obj.get("metadata") or {}).get("namespace"):
        return obj
    return {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": namespace}}


def whole_numbers(value: Any) -> Any:
    """Mocked inputs carry numbers as floats (65532.0); the API server stores the integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def _is_test_hook(obj: dict[str, Any]) -> bool:
    hooks = str(((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", ""))
    return "test" in [h.strip() for h in hooks.split(",")]


def with_service_account_automount(
    objects: list[tuple[Scanned, dict[str, Any]]],
) -> list[tuple[Scanned, dict[str, Any]]]:
    """Pods that leave automountServiceAccountToken unset get their ServiceAccount's setting."""
    accounts = {
        ((o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")): o.get(
            "automountServiceAccountToken"
        )
        for _, o in objects
        if o.get("kind") == "ServiceAccount"
    }
    out = []
    for origin, obj in objects:
        spec = pod_spec(obj)
        if spec is not None and "automountServiceAccountToken" not in spec:
            namespace = (obj.get("metadata") or {}).get("namespace")
            inherited = accounts.get((namespace, spec.get("serviceAccountName") or "default"))
            if isinstance(inherited, bool):
                obj = copy.deepcopy(obj)
                pod_spec(obj)["automountServiceAccountToken"] = inherited  # type: ignore[index]
        out.append((origin, obj))
    return out


def stack_objects(
    program: Program, *, published: bool = False, chart_sources: Mapping[str, Path] | None = None
) -> list[tuple[Scanned, dict[str, Any]]]:
    """Every object of the stack with its origin: the program's own, then each release's (rendered)."""
    from platformctl import render  # lazy: loads the Helm library only when asked

    stack = program.stack
    out = [(Scanned(stack, PROGRAM, "", ref(o)), whole_numbers(o)) for o in k8s_manifests(program)]
    for rel in helm_releases(program):
        if helm_release_errors(rel) or not isinstance(rel.values, dict):
            continue  # a secret in values: the render checks report it
        result = render.render_one(rel, rel.values, published=published, chart_sources=chart_sources)
        for obj in result.manifests:
            if _is_test_hook(obj):
                continue
            placed = with_namespace(obj, rel.namespace)
            out.append((Scanned(stack, rel.chart, f"{rel.namespace}/{rel.name}", ref(placed)), placed))
    return with_service_account_automount(out)


def write_inputs(objects: Iterable[tuple[Scanned, dict[str, Any]]], folder: Path) -> dict[str, Scanned]:
    """One file per object under `folder/<stack>/`; returns file path (as checkov reports it) -> origin."""
    index: dict[str, Scanned] = {}
    for n, (origin, obj) in enumerate(objects):
        relative = f"{origin.stack}/{origin.source}/{n:04d}.yaml"
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(obj, sort_keys=False))
        index[f"/{relative}"] = origin
    return index


def run_checkov(folder: Path, checkov: Path = CHECKOV) -> dict[str, Any]:
    """checkov's JSON report over `folder`, offline (no platform download, no upload)."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}  # checkov main.py: no guideline download
    done = subprocess.run(
        [
            str(checkov),
            "--directory",
            ".",
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--quiet",
            "--skip-download",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode not in (0, 1) or not done.stdout.strip().startswith("{"):
        raise RuntimeError(f"checkov failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def findings_of(report: dict[str, Any], index: dict[str, Scanned]) -> list[Finding]:
    out = []
    for failed in report["results"]["failed_checks"]:
        origin = index.get(failed["file_path"])
        if origin is None:
            raise RuntimeError(f"checkov reported a file that was not written: {failed['file_path']}")
        out.append(
            Finding(failed["check_id"], failed["check_name"], origin.stack, origin.source, origin.release, origin.ref)
        )
    return out


@dataclass
class ScanResult:
    findings: list[Finding]
    passed: int
    scanned: list[Scanned]

    def unjustified(self, skips: Sequence[Skip]) -> list[Finding]:
        return [f for f in self.findings if not any(s.matches(f) for s in skips)]

    def sources(self) -> set[str]:
        return {o.source for o in self.scanned}

    def unused(self, skips: Sequence[Skip]) -> list[Skip]:
        """Entries no finding needs, among those this scan can judge: a chart's entries only if the chart was
        scanned (Dagster and Superset render only from the published charts or a --chart-source)."""
        judged = self.sources()
        return [
            s for s in skips if (s.chart is None or s.chart in judged) and not any(s.matches(f) for f in self.findings)
        ]

    def counts(self) -> dict[tuple[str, str], int]:
        """Failed checks per (stack, source): the before/after table of the hardening work."""
        return dict(sorted(Counter((f.stack, f.release or f.source) for f in self.findings).items()))


def scan(objects: Iterable[tuple[Scanned, dict[str, Any]]], *, keep: Path | None = None) -> ScanResult:
    """Write `objects`, run checkov once over all of them, map each failed check back to its object."""
    with tempfile.TemporaryDirectory(prefix="dataplatform-scan-") as tmp:
        folder = keep or Path(tmp)
        index = write_inputs(objects, folder)
        report = run_checkov(folder)
    return ScanResult(findings_of(report, index), report["summary"]["passed"], list(index.values()))


def verdict(result: ScanResult, skips: Sequence[Skip]) -> tuple[list[str], int]:
    """The report lines and the exit code: 1 when a finding is not justified by `skips`."""
    lines = [f"{stack} {source}: {n} failed check(s) before skips" for (stack, source), n in result.counts().items()]
    bad = result.unjustified(skips)
    lines += [f"UNJUSTIFIED {f}" for f in bad]
    lines += [
        f"unused skip (no finding of this run needs it): {s.check} {s.chart or ''} {s.object or ''}".rstrip()
        for s in result.unused(skips)
    ]
    lines.append(
        f"{len(result.scanned)} object(s), {result.passed} passed, {len(result.findings)} failed, {len(bad)} unjustified"
    )
    return lines, 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    from platformctl.render import ChartSourceError, parse_chart_sources

    parser = argparse.ArgumentParser(
        prog="python -m platformctl.scan", description="checkov over the rendered platform."
    )
    parser.add_argument("--stack", action="append", required=True, help="stack name (repeatable)")
    parser.add_argument("--published", action="store_true", help="render the published charts (needs network)")
    parser.add_argument(
        "--chart-source",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="render chart NAME from the local chart folder PATH (repeatable; wins over --published for NAME)",
    )
    parser.add_argument("--out", type=Path, help="keep the scanned files here")
    args = parser.parse_args(argv)
    try:
        chart_sources = parse_chart_sources(args.chart_source)
    except ChartSourceError as e:
        parser.error(str(e))
    skips = load_skips()  # a malformed skip file fails before anything is rendered
    objects = [
        o
        for stack in args.stack
        for o in stack_objects(run_program(stack), published=args.published, chart_sources=chart_sources)
    ]
    lines, code = verdict(scan(objects, keep=args.out), skips)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
