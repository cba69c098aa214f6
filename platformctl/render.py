"""Render every Helm release of the program offline, then check what it would install.

Chart sources live in `<project>/../shared/charts/src/` (the shared folder can be moved with
DATAPLATFORM_SHARED_DIR). Rendering uses helm-python-sdk (Helm's Go SDK in-process), always from a
temporary copy of the source, prepared once per process:
- `file://` subcharts are packaged into the copy's `charts/` with `helm.dependency_update(skip_refresh=True)`;
- dependencies from other repositories are not available offline: they are removed from the copy's
  Chart.yaml; when a release's values enable one (its `condition`/`tags`), the rest still renders and
  the dependency is reported as not rendered.
Helm validates values against the chart's values.schema.json as part of rendering (checked: a
schema violation raises HelmValuesError), so schema errors are reported as render errors.

    python -m platformctl.render --stack dev --out plan-out/rendered             # offline, from sources
    python -m platformctl.render --stack dev --out plan-out/rendered --published # CI: pulls charts (network)
    python -m platformctl.render --stack dev --chart-source dagster=/tmp/dagster-1.13.27  # a local chart folder

`--chart-source NAME=PATH` (repeatable, for developers) renders chart NAME from the chart folder PATH (for example
one `git archive`d from the chart's repository at its release tag), also with `--published`: for charts that have
no source in the shared folder, without the network.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import helm_python as helm
import yaml

from platformctl import rendered_checks
from platformctl.simulate import PROJECT_DIR, Program, Secret, run_program
from platformctl.validate import (
    HelmRelease,
    cluster_version,
    helm_release_errors,
    helm_releases,
    k8s_manifests,
)

SHARED_DIR_ENV = "DATAPLATFORM_SHARED_DIR"
# libyaml's loader: rendered charts are megabytes of YAML (CRDs), pure-Python parsing dominated render time.
_YAML = yaml.CSafeLoader
NOT_OFFLINE = "chart source not present offline; rendered in CI from the published repository"


def charts_src_dir() -> Path:
    shared = os.environ.get(SHARED_DIR_ENV)
    return (Path(shared) if shared else PROJECT_DIR.parent / "shared") / "charts" / "src"


@dataclass(frozen=True)
class ChartSource:
    path: Path
    name: str
    version: str  # as Chart.yaml says
    named: bool = False  # a folder a developer named with --chart-source: its Chart.yaml version is taken as given

    @property
    def trusted_version(self) -> bool:
        """Folders are named `<chart>-<version>` when Chart.yaml carries the published version; a folder
        named after a commit (airbyte-310e6cb) holds a placeholder version."""
        return self.named or self.path.name == f"{self.name}-{self.version}"


class ChartSourceError(ValueError):
    pass


def chart_source_at(chart: str, path: Path) -> ChartSource:
    """The chart folder a developer named for `chart` (`--chart-source chart=path`); its Chart.yaml must name it."""
    meta_file = path / "Chart.yaml"
    if not meta_file.is_file():
        raise ChartSourceError(f"--chart-source {chart}={path}: no Chart.yaml in {path}")
    meta = yaml.safe_load(meta_file.read_text()) or {}
    if meta.get("name") != chart:
        raise ChartSourceError(
            f"--chart-source {chart}={path}: {meta_file} names chart {meta.get('name')!r}, not {chart!r}"
        )
    return ChartSource(path, chart, str(meta.get("version", "")), named=True)


def parse_chart_sources(items: Iterable[str]) -> dict[str, Path]:
    """`NAME=PATH` arguments -> {chart name: folder}, each checked (its Chart.yaml names the chart)."""
    out: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ChartSourceError(f"--chart-source {item!r}: expected NAME=PATH, e.g. dagster=/tmp/dagster-1.13.27")
        if name in out:
            raise ChartSourceError(f"--chart-source: {name} given twice")
        out[name] = chart_source_at(name, Path(path)).path
    return out


def find_source(chart: str, charts_src: Path) -> ChartSource | None:
    """The source folder of `chart` (matched by the name in Chart.yaml), or None."""
    if not charts_src.is_dir():
        return None
    for path in sorted(charts_src.iterdir()):
        meta_file = path / "Chart.yaml"
        if meta_file.is_file():
            name, version = _chart_meta(meta_file.read_text())
            if name == chart:
                return ChartSource(path, chart, version)
    return None


@lru_cache(maxsize=256)
def _chart_meta(text: str) -> tuple[object, str]:
    """(name, version) of a Chart.yaml text; every lookup reads all of them, so each text is parsed once."""
    meta = yaml.load(text, Loader=_YAML) or {}
    return meta.get("name"), str(meta.get("version", ""))


@dataclass
class RenderResult:
    chart: str
    version: str
    name: str
    namespace: str
    status: Literal["rendered", "not rendered"]
    reason: str = ""
    manifests: list[dict[str, Any]] = field(default_factory=list)  # every object, in template order
    templates: dict[str, str] = field(default_factory=dict)  # template path -> rendered YAML
    crds: list[dict[str, Any]] = field(default_factory=list)  # crds/: installed by Helm before the templates
    missing_dependencies: list[str] = field(default_factory=list)  # enabled by the values, absent offline
    approximate: bool = False
    source: str = ""
    errors: list[str] = field(default_factory=list)  # values or templates the release would fail on
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# ---- preparing sources --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    path: Path
    external: tuple[dict[str, Any], ...]  # dependencies removed from Chart.yaml: not available offline


_workdir: Path | None = None
_prepared: dict[Path, _Prepared] = {}
_cache: dict[tuple[str, ...], RenderResult] = {}


def _scratch() -> Path:
    global _workdir
    if _workdir is None:
        _workdir = Path(tempfile.mkdtemp(prefix="dataplatform-charts-"))
        atexit.register(shutil.rmtree, _workdir, ignore_errors=True)
    return _workdir


def _vendored(chart_dir: Path, dep: dict[str, Any]) -> bool:
    charts = chart_dir / "charts"
    return charts.is_dir() and any(
        p.name == dep["name"] or p.name.startswith(f"{dep['name']}-") for p in charts.iterdir()
    )


def _prepare(source: ChartSource) -> _Prepared:
    """A private copy of `source` with its local subcharts packaged, made once per process."""
    if source.path in _prepared:
        return _prepared[source.path]
    copy = _scratch() / f"{len(_prepared)}-{source.path.name}"
    shutil.copytree(source.path, copy)
    meta_file = copy / "Chart.yaml"
    meta = yaml.safe_load(meta_file.read_text()) or {}
    deps = meta.get("dependencies") or []
    local = [d for d in deps if str(d.get("repository", "")).startswith("file://")]
    external = [d for d in deps if d not in local and not _vendored(copy, d)]
    if external:
        meta["dependencies"] = [d for d in deps if d not in external]
        meta_file.write_text(yaml.safe_dump(meta, sort_keys=False))
        (copy / "Chart.lock").unlink(missing_ok=True)  # it pins the removed dependencies
    if local:
        helm.dependency_update(copy, skip_refresh=True)
    prepared = _Prepared(copy, tuple(external))
    _prepared[source.path] = prepared
    return prepared


def _lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def dependency_enabled(dep: dict[str, Any], values: dict[str, Any]) -> bool:
    """Helm's rule: the first `condition` path that holds a boolean decides; else any true tag enables and
    all-false tags disable; else the dependency is enabled."""
    for path in str(dep.get("condition") or "").split(","):
        value = _lookup(values, path.strip()) if path.strip() else None
        if isinstance(value, bool):
            return value
    tag_values = values.get("tags") or {}
    tags = [tag_values[t] for t in dep.get("tags") or [] if isinstance(tag_values.get(t), bool)]
    return any(tags) if tags else True


# ---- rendering ----------------------------------------------------------------------------------


def _parse(rendered: dict[str, str], result: RenderResult) -> None:
    for path, text in rendered.items():
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        try:
            docs = [d for d in yaml.load_all(text, Loader=_YAML) if d is not None]
        except yaml.YAMLError as e:
            result.errors.append(f"{path} renders invalid YAML: {e}")
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
                result.manifests += doc["items"]  # Helm installs a List's items, as kubectl does
            elif isinstance(doc, dict):
                result.manifests.append(doc)
            else:
                result.errors.append(f"{path} renders a {type(doc).__name__}, not an object")
        result.templates[path] = text


def _render_chart(chart: helm.Chart, values: dict[str, Any], result: RenderResult) -> None:
    try:
        rendered = chart.render(values, name=result.name, namespace=result.namespace)
    except helm.HelmValuesError as e:
        result.errors.append(f"values rejected by the chart's values.schema.json: {e.detail}")
    except helm.HelmError as e:
        result.errors.append(f"render failed: {e.detail}")
    else:
        _parse(rendered, result)
        result.crds = [d for crd in chart.crds for d in yaml.load_all(crd["data"], Loader=_YAML) if isinstance(d, dict)]
    if result.errors:
        result.status, result.reason = "not rendered", result.errors[0]


def render_release(
    chart: str,
    version: str,
    values: dict[str, Any],
    name: str,
    namespace: str,
    *,
    charts_src: Path | None = None,
    chart_dir: Path | None = None,
) -> RenderResult:
    """Render one release offline from its chart source (`chart_dir`, else the one in `charts_src`). Results are
    cached per process; treat them as read-only."""
    src = charts_src or charts_src_dir()
    values_hash = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
    key = (chart, version, name, namespace, str(chart_dir or src), values_hash)
    if key not in _cache:
        _cache[key] = _render_release(chart, version, values, name, namespace, src, chart_dir)
    return _cache[key]


def _render_release(
    chart: str, version: str, values: dict[str, Any], name: str, namespace: str, src: Path, chart_dir: Path | None
) -> RenderResult:
    result = RenderResult(chart, version, name, namespace, status="rendered")
    short = chart.rsplit("/", 1)[-1]
    source = chart_source_at(short, chart_dir) if chart_dir else find_source(short, src)
    if source is None:
        result.status, result.reason = "not rendered", NOT_OFFLINE
        return result
    result.source = str(source.path) if source.named else source.path.name
    if not source.trusted_version:
        result.approximate = True
        result.notes.append(
            f"approximate: rendered from source {source.path.name}, whose Chart.yaml version {source.version} "
            f"is not a published version; the release pins {version}"
        )
    elif source.version != version:
        result.approximate = True
        result.notes.append(f"approximate: the release pins {version}, the offline source is {source.version}")
    prepared = _prepare(source)
    # A fresh handle per render: Helm removes the subcharts the values disable from the loaded chart itself.
    with helm.Chart.load(prepared.path) as loaded:
        merged = loaded.merge_values(values)
        result.missing_dependencies = [
            str(d.get("alias") or d["name"]) for d in prepared.external if dependency_enabled(d, merged)
        ]
        if result.missing_dependencies:
            result.notes.append(
                f"not rendered: dependencies {result.missing_dependencies} (from other chart repositories, "
                "absent offline); the rest of the chart is rendered"
            )
        _render_chart(loaded, values, result)
    return result


def render_published(
    chart: str, version: str, repo: str, values: dict[str, Any], name: str, namespace: str
) -> RenderResult:
    """CI: pull the published chart (repo + version, network needed) and render it with its own dependencies."""
    result = RenderResult(chart, version, name, namespace, status="rendered", source=f"{repo} {chart} {version}")
    with tempfile.TemporaryDirectory() as tmp:
        oci = repo.startswith("oci://")
        try:
            helm.pull(
                f"{repo.rstrip('/')}/{chart}" if oci else chart,
                repo_url=None if oci else repo,
                version=version,
                destination=tmp,
                untar=True,
                untar_dir=tmp,
            )
            loaded = helm.Chart.load(Path(tmp) / chart)
        except helm.HelmError as e:
            result.status, result.reason = "not rendered", f"pull failed: {e.detail}"
            result.errors.append(result.reason)
            return result
        with loaded:
            _render_chart(loaded, values, result)
    return result


# ---- the whole program --------------------------------------------------------------------------


@dataclass
class RenderReport:
    release: HelmRelease
    result: RenderResult
    findings: list[rendered_checks.Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    out_dir: str = ""

    def summary(self) -> dict[str, Any]:
        r, res = self.release, self.result
        return {
            "release": f"{r.namespace}/{r.name}",
            "resource": r.resource,
            "chart": r.chart,
            "version": r.version,
            "repo": r.repo,
            "status": res.status,
            "reason": res.reason,
            "approximate": res.approximate,
            "source": res.source,
            "missingDependencies": res.missing_dependencies,
            "objects": len(res.manifests),
            "errors": res.errors,
            "findings": [str(f) for f in self.findings],
            "notes": res.notes + self.notes,
            "outDir": self.out_dir,
        }


def known_secrets(program: Program, min_length: int = 8) -> set[str]:
    """The secret strings the program handles, to look for leaks: Secret-wrapped values under
    secret-looking keys (a Secret's `password`, not the `host` next to it) and generated passwords."""
    found: set[str] = set()

    def walk(value: Any, key: str, secret: bool) -> None:
        if isinstance(value, Secret):
            walk(value.value, key, True)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, str(k), secret)
        elif isinstance(value, list):
            for v in value:
                walk(v, key, secret)
        elif secret and isinstance(value, str) and len(value) >= min_length and rendered_checks.secret_like(key):
            found.add(value)

    for r in program.resources:
        walk(r.inputs, "", False)
        walk(r.outputs, "", False)
        result = r.outputs.get("result")
        if r.type == "random:index/randomPassword:RandomPassword" and isinstance(result, str | Secret):
            walk(result, "password", True)
    return found


def _namespace_of(obj: dict[str, Any], default: str) -> str:
    return (obj.get("metadata") or {}).get("namespace") or default


def _write(report: RenderReport, out_dir: Path) -> None:
    rel = report.release
    target = out_dir / f"{rel.namespace}-{rel.name}"
    shutil.rmtree(target, ignore_errors=True)
    for path, text in report.result.templates.items():
        file = target / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
    if report.result.crds:
        crds = target / "crds.yaml"
        crds.parent.mkdir(parents=True, exist_ok=True)
        crds.write_text(yaml.dump_all(report.result.crds, Dumper=yaml.CSafeDumper, sort_keys=False))  # megabytes
    report.out_dir = str(target) if target.exists() else ""


def render_one(
    rel: HelmRelease,
    values: dict[str, Any],
    *,
    published: bool = False,
    charts_src: Path | None = None,
    chart_sources: Mapping[str, Path] | None = None,
) -> RenderResult:
    """One release: from the developer's chart folder if one is named for its chart, else published or offline."""
    chart_dir = (chart_sources or {}).get(rel.chart.rsplit("/", 1)[-1])
    if published and chart_dir is None:
        return render_published(rel.chart, rel.version, rel.repo, values, rel.name, rel.namespace)
    return render_release(
        rel.chart, rel.version, values, rel.name, rel.namespace, charts_src=charts_src, chart_dir=chart_dir
    )


def render_program(
    program: Program,
    out_dir: Path,
    *,
    charts_src: Path | None = None,
    published: bool = False,
    chart_sources: Mapping[str, Path] | None = None,
) -> list[RenderReport]:
    """Render every Helm release (values, name and namespace exactly as registered), write one file per
    template under `out_dir/<namespace>-<release>/` and `out_dir/summary.json`, and run the rendered checks:
    schema, PSS baseline, image tags and secrets per release; quota fit per namespace, over every release
    and directly created workload in it. `chart_sources` names local chart folders by chart (`--chart-source`)."""
    version = cluster_version(program)
    direct = k8s_manifests(program)
    secrets = known_secrets(program)
    reports: list[RenderReport] = []
    for rel in helm_releases(program):
        leaks, values = helm_release_errors(rel), rel.values
        if leaks or not isinstance(values, dict):
            result = RenderResult(
                rel.chart, rel.version, rel.name, rel.namespace, "not rendered", leaks[0], errors=leaks
            )
        else:
            result = render_one(rel, values, published=published, charts_src=charts_src, chart_sources=chart_sources)
        report = RenderReport(rel, result)
        findings, notes = rendered_checks.check_objects(
            result.manifests + result.crds, version=version, namespace=rel.namespace, known_secrets=secrets
        )
        report.findings, report.notes = findings, notes
        reports.append(report)

    for namespace, members in _by_namespace(reports).items():
        objects = [o for r in members for o in r.result.manifests if _namespace_of(o, namespace) == namespace]
        objects += [o for o in direct if _namespace_of(o, "") == namespace]
        quotas = [o for o in objects if o.get("kind") == "ResourceQuota"]
        limit_ranges = [o for o in objects if o.get("kind") == "LimitRange"]
        unrendered = [r.release.name for r in members if r.result.status != "rendered"]
        for quota in quotas:
            fit = rendered_checks.quota_fit(objects, quota, limit_ranges, namespace=namespace)
            partial = (
                [f"quota {namespace}: partial, without the releases not rendered: {unrendered}"] if unrendered else []
            )
            for r in members:
                r.findings += fit.findings()
                r.notes += [f"quota {namespace}: {f}" for f in fit.fits] + fit.notes + partial

    out_dir.mkdir(parents=True, exist_ok=True)
    for report in reports:
        _write(report, out_dir)
    (out_dir / "summary.json").write_text(json.dumps([r.summary() for r in reports], indent=2) + "\n")
    return reports


PSS_ENFORCE = "pod-security.kubernetes.io/enforce"


def restricted_namespaces(program: Program) -> list[str]:
    """The namespaces the program creates with Pod Security enforce `restricted`."""
    return sorted(
        o["metadata"]["name"]
        for o in k8s_manifests(program)
        if o.get("kind") == "Namespace"
        and ((o.get("metadata") or {}).get("labels") or {}).get(PSS_ENFORCE) == "restricted"
    )


def pss_restricted_findings(program: Program, reports: Iterable[RenderReport]) -> list[rendered_checks.Finding]:
    """Proof per namespace that enforces `restricted`: every workload in it, created directly or rendered from a
    release, passes the profile, and every release installed into it was rendered (else it is unproven)."""
    reports = list(reports)
    return [f for namespace in restricted_namespaces(program) for f in _restricted_proof(program, namespace, reports)]


def _restricted_proof(program: Program, namespace: str, reports: list[RenderReport]) -> list[rendered_checks.Finding]:
    version = cluster_version(program)
    members = [r for r in reports if r.release.namespace == namespace]
    reported = {r.release.name for r in members}
    unrendered = [r.release.name for r in members if r.result.status != "rendered" or r.result.missing_dependencies]
    unrendered += [r.name for r in helm_releases(program) if r.namespace == namespace and r.name not in reported]
    findings = [
        rendered_checks.Finding(
            "pss-restricted", f"Namespace {namespace}", f"release {name} not rendered: cannot prove it"
        )
        for name in unrendered
    ]
    objects = [o for r in members for o in r.result.manifests if _namespace_of(o, namespace) == namespace]
    objects += [o for o in k8s_manifests(program) if _namespace_of(o, "") == namespace]
    return findings + [
        rendered_checks.Finding("pss-restricted", rendered_checks.ref(o, namespace), v)
        for o in objects
        for v in rendered_checks.pss_restricted_violations(o, version)
    ]


def restricted_outlook(program: Program, reports: Iterable[RenderReport]) -> list[str]:
    """For each namespace the program creates below `restricted`: what in this render keeps it there (a release not
    rendered, a workload failing the profile), or that nothing rendered does. Pods started at run time (Dagster
    runs, Airbyte's connectors) are not rendered, so a namespace with nothing listed is a candidate, not a proof."""
    reports = list(reports)
    lines = []
    for o in k8s_manifests(program):
        level = ((o.get("metadata") or {}).get("labels") or {}).get(PSS_ENFORCE)
        if o.get("kind") != "Namespace" or level in (None, "restricted"):
            continue
        namespace = o["metadata"]["name"]
        blockers = _restricted_proof(program, namespace, reports)
        head = f"pod security: namespace {namespace} enforces {level};"
        if blockers:
            lines.append(f"{head} restricted is blocked by {len(blockers)} finding(s):")
            lines += [f"  {b.object}: {b.message}" for b in blockers]
        else:
            lines.append(f"{head} every rendered workload passes restricted (pods started at run time not rendered)")
    return lines


def _by_namespace(reports: Iterable[RenderReport]) -> dict[str, list[RenderReport]]:
    out: dict[str, list[RenderReport]] = {}
    for r in reports:
        out.setdefault(r.release.namespace, []).append(r)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platformctl.render", description="Render every Helm release.")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", type=Path, default=Path("plan-out/rendered"))
    parser.add_argument("--published", action="store_true", help="pull the published charts (needs network)")
    parser.add_argument(
        "--chart-source",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="render chart NAME from the local chart folder PATH (repeatable; wins over --published for NAME)",
    )
    args = parser.parse_args(argv)
    try:
        chart_sources = parse_chart_sources(args.chart_source)
    except ChartSourceError as e:
        parser.error(str(e))
    program = run_program(args.stack)
    reports = render_program(program, args.out, published=args.published, chart_sources=chart_sources)
    failed = False
    for r in reports:
        res = r.result
        flags = " (approximate)" if res.approximate else ""
        print(f"{r.release.namespace}/{r.release.name}: {res.chart} {res.version}: {res.status}{flags}")
        for line in [*res.errors, *(str(f) for f in r.findings)]:
            print(f"  ERROR {line}")
        for line in [res.reason] if res.status != "rendered" and not res.errors else []:
            print(f"  {line}")
        failed |= bool(res.errors or r.findings)
    # Informational: whether Dagster and Superset (rendered only here or from --chart-source) block `restricted`.
    print("\n".join(restricted_outlook(program, reports)))
    print(f"{len(reports)} release(s); manifests and summary.json in {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
