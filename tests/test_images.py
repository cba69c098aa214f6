"""Image contracts: every image the program runs is pinned with what it must contain
(components/images.py), every command it is given calls only what its image has, and no image,
set by us or defaulted by a chart we deploy, comes from a repository that stopped serving its tags.

Charts are read three ways: rendered offline from their source (platformctl/render.py) where
../shared/charts/src has it; from their reference default values merged with ours where
../shared/charts has those; and, for subcharts neither has, from the defaults recorded in
`SUBCHART_DEFAULT_IMAGES`. Charts with none of these are listed in `NOT_CHECKED_OFFLINE` with the
reason, so a new chart cannot slip through unchecked.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
import yaml

from components.catalog_feed import PULL_SOURCES
from components.charts import PINNED
from components.images import (
    DATAHUB_INGESTION,
    IMAGES,
    SUBCHART_DEFAULT_IMAGES,
    SUPERSET,
    SUPERSET_REDIS,
    dead_repository,
    normalise,
)
from components.values import superset as superset_values
from platformctl.chartkeys import reference_values
from platformctl.contracts import executables, script_executables, value_images
from platformctl.render import render_release
from platformctl.rendered_checks import containers, pod_spec
from platformctl.validate import HelmRelease, helm_releases, k8s_manifests
from tests.harness import Program, program_for
from tests.test_values_superset import CASES as SUPERSET_CASES
from tests.test_values_superset import DRIVER_CASES

STACKS = ("dev", "local")
# Charts deployed by the local foundation only, with no source or reference values offline.
NOT_CHECKED_OFFLINE = {
    "minio": "local foundation only; no chart source or reference values under ../shared/charts",
    "cloudnative-pg": "local foundation only; no chart source or reference values under ../shared/charts",
    "ingress-nginx": "local foundation only; no chart source or reference values under ../shared/charts",
}


@pytest.fixture(scope="module", params=STACKS)
def program(request: pytest.FixtureRequest) -> Program:
    return program_for(request.param)


def _pods(program: Program) -> list[tuple[str, dict[str, Any]]]:
    """(object, container) for every container of the objects the program creates directly."""
    out = []
    for obj in k8s_manifests(program):
        spec = pod_spec(obj)
        for _, c in containers(spec) if spec else ():
            meta = obj["metadata"]
            out.append((f"{obj['kind']} {meta.get('namespace')}/{meta['name']}", c))
    return out


def _names(found: set[str]) -> set[str]:
    return {os.path.basename(e) for e in found}


# --- contracts of the images the program sets ------------------------------------------------------------


def test_every_directly_run_container_has_a_pinned_image_with_a_contract(program: Program) -> None:
    pods = _pods(program)
    assert pods
    for where, c in pods:
        assert c["image"] in IMAGES, f"{where}: image {c['image']} has no contract in components/images.py"


def test_every_job_command_calls_only_what_its_image_has(program: Program) -> None:
    for where, c in _pods(program):
        assert c.get("command"), f"{where}: no command (the image's entrypoint is not under contract)"
        contract = IMAGES[c["image"]]
        missing = _names(executables(c["command"])) - contract.executables
        assert not missing, f"{where}: calls {sorted(missing)}, not in the contract of {contract.ref}"


@pytest.mark.parametrize("case", [*SUPERSET_CASES, *DRIVER_CASES])
def test_superset_commands_call_only_what_its_image_has(case: str) -> None:
    args = SUPERSET_CASES[case] if case in SUPERSET_CASES else DRIVER_CASES[case][0]
    values = superset_values.superset_values(args)
    assert values["image"] == {"repository": SUPERSET.repository, "tag": SUPERSET.tag, "pullPolicy": "Always"}
    commands = [values["init"]["command"]] + [
        c["command"] for part in ("supersetNode", "supersetWorker", "init") for c in values[part]["extraInitContainers"]
    ]
    # Sourced by every Superset container before it starts.
    called = script_executables(values["bootstrapScript"])
    for command in commands:
        called |= executables(command)
    assert _names(called) - SUPERSET.executables == set()
    assert "uv" in called  # the drivers: the lean image has none (test_values_superset)


def test_ingestion_recipes_use_source_plugins_the_image_has(program: Program) -> None:
    assert set(PULL_SOURCES) <= {"warehouse", "lake", "dbt", "superset"}
    recipes = [
        yaml.safe_load(text)
        for obj in k8s_manifests(program)
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "datahub-ingestion-recipes"
        for text in obj["data"].values()
    ]
    assert recipes
    for recipe in recipes:
        assert recipe["source"]["type"] in DATAHUB_INGESTION.datahub_sources, recipe["pipeline_name"]


# --- no image from a repository that no longer serves its tags -------------------------------------------


@pytest.mark.parametrize(
    ("image", "dead"),
    [
        ("bitnami/redis:7.0.10-debian-11-r4", True),
        ("docker.io/bitnami/redis:7.0.10-debian-11-r4", True),
        ("registry-1.docker.io/bitnami/postgresql:16", True),
        ("index.docker.io/bitnami/kafka:3.6", True),
        ("docker.io/bitnamilegacy/redis:7.0.10-debian-11-r4", False),
        ("bitnamilegacy/mysql:8.0.40-debian-12-r5", False),
        ("public.ecr.aws/bitnami/redis:7.0.10", False),
        ("postgres:17.2-alpine", False),
    ],
)
def test_dead_repositories_are_recognised(image: str, dead: bool) -> None:
    assert (dead_repository(image) is not None) is dead
    assert normalise("postgres:17.2-alpine") == "docker.io/library/postgres:17.2-alpine"


def test_no_image_the_program_sets_comes_from_a_dead_repository(program: Program) -> None:
    for where, c in _pods(program):
        assert dead_repository(c["image"]) is None, where
    for contract in IMAGES.values():
        assert dead_repository(contract.ref) is None, contract.ref


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in override.items()}}
    return copy.deepcopy(override)


def _effective_values(rel: HelmRelease, values: dict[str, Any]) -> dict[str, Any] | None:
    reference = reference_values(rel.chart, rel.version)
    if reference is None:
        return None
    if rel.chart == "superset":
        # The reference is a later branch that already moved `redis.image` to bitnamilegacy; the published
        # 0.22.8 leaves the subchart's default (SUBCHART_DEFAULT_IMAGES), so only our values may override it.
        reference.get("redis", {}).pop("image", None)
    merged = _merge(reference, values)
    for (chart, key), (registry, repository, tag) in SUBCHART_DEFAULT_IMAGES.items():
        if chart == rel.chart and merged.get(key, {}).get("enabled", True) is not False:
            default = {"registry": registry, "repository": repository, "tag": tag}
            merged[key] = {**merged.get(key, {}), "image": _merge(default, merged.get(key, {}).get("image") or {})}
    return merged


def chart_images(rel: HelmRelease) -> tuple[list[str], list[str]]:
    """(images the release runs, how they were found) from its render, its reference values, or both."""
    assert isinstance(rel.values, dict), f"{rel.namespace}/{rel.name}: values are not plain"
    images: list[str] = []
    how: list[str] = []
    result = render_release(rel.chart, rel.version, rel.values, rel.name, rel.namespace)
    if result.status == "rendered" and result.manifests:
        for obj in result.manifests:
            spec = pod_spec(obj)
            images += [c["image"] for _, c in containers(spec)] if spec else []
        how.append("rendered")
    effective = _effective_values(rel, rel.values)
    if effective is not None:
        images += value_images(effective)
        how.append("values")
    return images, how


def test_no_chart_runs_an_image_from_a_dead_repository(program: Program) -> None:
    for rel in helm_releases(program):
        if rel.chart in NOT_CHECKED_OFFLINE:
            continue
        images, how = chart_images(rel)
        assert how, f"{rel.namespace}/{rel.name} ({rel.chart}): no offline source or reference; list it"
        assert images, f"{rel.namespace}/{rel.name}: no image found ({how})"
        dead = [d for d in map(dead_repository, images) if d]
        assert not dead, f"{rel.namespace}/{rel.name}: {dead}"


def test_every_chart_is_checked_or_listed_with_the_reason() -> None:
    assert set(NOT_CHECKED_OFFLINE) <= set(PINNED)
    for chart in NOT_CHECKED_OFFLINE:
        assert reference_values(chart, PINNED[chart].version) is None, f"{chart} has reference values: check it"


def test_superset_bundled_redis_runs_the_legacy_repository() -> None:
    # Without our override the release would run the subchart's default, which is gone.
    values = superset_values.superset_values(SUPERSET_CASES["bundled-redis"])
    rel = HelmRelease("s", "sales", "superset", PINNED["superset"].version, "", values, "sales-superset")
    images, _ = chart_images(rel)
    assert f"docker.io/{SUPERSET_REDIS.ref}" in images
    bare = {**values, "redis": {k: v for k, v in values["redis"].items() if k != "image"}}
    stale, _ = chart_images(rel._replace(values=bare))
    assert "docker.io/bitnami/redis:7.0.10-debian-11-r4" in stale
    assert any(dead_repository(i) for i in stale)
    external, _ = chart_images(rel._replace(values=superset_values.superset_values(SUPERSET_CASES["external-redis"])))
    assert not any("redis" in i for i in external)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("set -eu\npsql -v a=1 <<'SQL'\nSELECT 1; rm -rf /\nSQL\n", {"psql"}),
        ('status=0\necho "x"; datahub ingest -c r.yml || status=1\nexit $status\n', {"datahub"}),
        (
            "if superset fab list-users | grep -qF x; then echo y; else superset fab create-admin; fi",
            {"superset", "grep"},
        ),
        (
            'for t in "a:1" "b:2"; do until (exec 3<>"/dev/tcp/${t%:*}/1") 2>/dev/null; do sleep 2; done; done',
            {"sleep"},
        ),
        ("X=1 Y=2 mc mb a/b && cat > /tmp/f <<'JSON'\n{}\nJSON\nmc admin policy create a p /tmp/f", {"mc", "cat"}),
        (". /app/pythonpath/superset_bootstrap.sh; /usr/bin/run-server.sh 2>&1", {"/usr/bin/run-server.sh"}),
    ],
)
def test_script_executables_reads_the_command_words(script: str, expected: set[str]) -> None:
    assert script_executables(script) == expected
    assert executables(["/bin/sh", "-c", script]) == {"/bin/sh", *expected}


def test_superset_releases_install_what_their_configuration_imports(program: Program) -> None:
    releases = [r for r in helm_releases(program) if r.chart == "superset"]
    assert releases
    for rel in releases:
        assert isinstance(rel.values, dict)
        script, overrides = rel.values["bootstrapScript"], "\n".join(rel.values["configOverrides"].values())
        init = rel.values["init"]["command"][-1]
        needed = [superset_values.PSYCOPG2]  # the metadata database
        if "redshift+psycopg2://" in init:
            needed.append(superset_values.REDSHIFT_DIALECT)
        if "import boto3" in overrides:
            needed += superset_values.BOTO3
        if "AUTH_OAUTH" in overrides:
            needed.append(superset_values.AUTHLIB)
        for package in needed:
            assert package.pin in script, f"{rel.namespace}/{rel.name}: the bootstrap does not install {package.pin}"
