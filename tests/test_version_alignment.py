"""Pins that must move together (issue 11): compared where they live, so all can move at once but never one alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.charts import DAGSTER_VERSION, PINNED
from components.config import parse_stack_config
from components.validation import ConfigError
from platformctl.alignment import (
    airbyte_problems,
    dagster_problems,
    datahub_problems,
    requirement_pins,
)
from platformctl.chartkeys import reference_values, shared_charts_dir
from tests.harness import PROJECT_DIR, Program, Secret, program_for, stack_config
from tests.requires import require

RELEASE = "kubernetes:helm.sh/v3:Release"
INGESTION_REPOSITORY = "acryldata/datahub-ingestion"


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Secret) else value


def _images(program: Program) -> set[str]:
    """Every container image of the Kubernetes objects the program creates itself."""
    found: set[str] = set()
    for r in program.resources:
        if not r.type.startswith("kubernetes:") or r.type == RELEASE:
            continue
        stack = [_plain(r.inputs)]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if isinstance(node.get("image"), str) and "containers" not in node:
                    found.add(node["image"])
                stack += [_plain(v) for v in node.values()]
            elif isinstance(node, list):
                stack += [_plain(v) for v in node]
    return found


# --- where the pins live ----------------------------------------------------------------------------


def dagster_core_pins() -> dict[str, str]:
    pins = {"components/charts.py: PINNED['dagster']": PINNED["dagster"].version}
    pins["components/charts.py: DAGSTER_VERSION"] = DAGSTER_VERSION
    for where, version in requirement_pins(PROJECT_DIR).get("dagster", {}).items():
        pins[f"{where}: dagster"] = version
    return pins


def dagster_library_pins() -> dict[str, dict[str, str]]:
    return {
        package: pins
        for package, pins in requirement_pins(PROJECT_DIR).items()
        # dagster-* integration libraries; dagster-pipes and friends follow the same scheme.
        if package.startswith("dagster-")
    }


def datahub_app_version(version: str) -> dict[str, str]:
    """The chart's app version: its Chart.yaml (source) and the image tag its reference values default to."""
    pins: dict[str, str] = {}
    chart_yaml = shared_charts_dir() / "src" / f"datahub-{version}" / "Chart.yaml"
    if chart_yaml.is_file():
        pins[f"datahub chart {version} Chart.yaml appVersion"] = yaml.safe_load(chart_yaml.read_text())["appVersion"]
    reference = reference_values("datahub", version)
    if reference is not None:
        pins[f"datahub chart {version} values global.datahub.version"] = reference["global"]["datahub"]["version"]
    return pins


def datahub_pins(program: Program) -> dict[str, str]:
    pins = datahub_app_version(PINNED["datahub"].version)
    for image in sorted(i for i in _images(program) if i.startswith(f"{INGESTION_REPOSITORY}:")):
        pins[f"ingestion image {image}"] = image.rsplit(":", 1)[1]
    for release in program.of_type(RELEASE):
        if release.inputs.get("chart") == "datahub":
            tag = ((_plain(release.inputs["values"]).get("global") or {}).get("datahub") or {}).get("version")
            if tag:
                pins["datahub release values global.datahub.version"] = tag
    for package, found in requirement_pins(PROJECT_DIR).items():
        if package.startswith("acryl-datahub"):
            pins.update({f"{where}: {package}": version for where, version in found.items()})
    return pins


def airbyte_pins(program: Program) -> list[dict[str, str]]:
    out = []
    for release in program.of_type(RELEASE):
        if release.inputs.get("chart") == "airbyte":
            values = _plain(release.inputs["values"])
            out.append(
                {
                    f"{release.name} chart version": release.inputs["version"],
                    f"{release.name} values global.image.tag": values["global"]["image"]["tag"],
                }
            )
    return out


# --- the repository's pins agree --------------------------------------------------------------------


def test_dagster_chart_constant_and_user_code_pins_agree() -> None:
    core = dagster_core_pins()
    assert any(w.startswith("examples/") for w in core), "no dagster== pin found in the example user code"
    assert dagster_problems(core, dagster_library_pins()) == []


def test_datahub_server_ingestion_image_and_client_libraries_agree() -> None:
    require(shared_charts_dir() / "src" / f"datahub-{PINNED['datahub'].version}", "the shared chart sources")
    pins = datahub_pins(program_for("dev"))
    assert any("Chart.yaml" in w for w in pins) and any(w.startswith("ingestion image") for w in pins), pins
    assert datahub_problems(pins) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_airbyte_images_follow_the_chart_deployed(stack: str) -> None:
    releases = airbyte_pins(program_for(stack))
    assert releases
    for pins in releases:
        assert airbyte_problems(pins) == []


# --- one pin moved alone is caught --------------------------------------------------------------------


def _bump(version: str) -> str:
    head, _, last = version.rpartition(".")
    prefix = "".join(c for c in last if not c.isdigit())
    return f"{head}.{prefix}{int(last.lstrip('v') or 0) + 1}"


@pytest.mark.parametrize("which", ["chart", "constant", "requirement"])
def test_moving_one_dagster_pin_alone_fails(which: str) -> None:
    core = dagster_core_pins()
    key = next(
        k for k in core if {"chart": "PINNED", "constant": "DAGSTER_VERSION", "requirement": "examples/"}[which] in k
    )
    core[key] = _bump(core[key])
    problems = dagster_problems(core, dagster_library_pins())
    assert len(problems) == 1 and key in problems[0] and problems[0].startswith("Dagster pins disagree")


def test_moving_dagster_without_its_libraries_fails() -> None:
    core = {k: _bump(v) for k, v in dagster_core_pins().items()}
    libraries = dagster_library_pins()
    assert libraries, "the example pins at least one dagster-* library"
    problems = dagster_problems(core, libraries)
    assert problems and all("is not released with dagster" in p for p in problems)


def test_moving_one_datahub_pin_alone_fails() -> None:
    require(shared_charts_dir() / "src" / f"datahub-{PINNED['datahub'].version}", "the shared chart sources")
    pins = datahub_pins(program_for("dev"))
    for key in pins:
        moved = {**pins, key: _bump(pins[key]) if key.endswith("appVersion") or "image" in key else pins[key]}
        if "acryl-datahub" in key:  # client 1.7.0.17 -> 1.8.0.17 moves the release, not the build
            major, minor, rest = pins[key].split(".", 2)
            moved[key] = f"{major}.{int(minor) + 1}.{rest}"
        elif moved[key] == pins[key]:
            major, minor, rest = pins[key].lstrip("v").split(".", 2)
            moved[key] = f"{'v' if pins[key].startswith('v') else ''}{major}.{int(minor) + 1}.{rest}"
        problems = datahub_problems(moved)
        assert len(problems) == 1 and key in problems[0], (key, problems)
    # The client's fourth part is its own build number and may move alone.
    assert datahub_problems({"server": "v1.7.0", "client": "1.7.0.17", "other": "1.7.0.2"}) == []


def test_an_airbyte_image_tag_left_behind_fails() -> None:
    [pins, *_] = airbyte_pins(program_for("dev"))
    tag_key = next(k for k in pins if k.endswith("global.image.tag"))
    assert airbyte_problems({**pins, tag_key: _bump(pins[tag_key])})


# --- stack-config overrides keep working and are held to the same rules ---------------------------------


def _config(stack: str, charts: dict[str, Any]) -> dict[str, Any]:
    raw = {k: json.loads(v) if v[:1] in "{[" else v for k, v in stack_config(stack).items()}
    raw["dataplatform:charts"] = charts
    return raw


MIRROR = "https://charts.mirror.example.com/dagster"


@pytest.fixture(scope="module")
def overridden() -> Program:
    """dev with an Airbyte version override and a repository override of an aligned chart (one run for both)."""
    charts = {
        "airbyte": {"version": _bump(PINNED["airbyte"].version)},
        "dagster": {"repo": MIRROR, "version": DAGSTER_VERSION},
    }
    return program_for("dev", config=_config("dev", charts))


def test_an_airbyte_chart_override_moves_its_images_too(overridden: Program) -> None:
    version = _bump(PINNED["airbyte"].version)
    pins = airbyte_pins(overridden)
    assert pins and all(p[next(k for k in p if k.endswith("chart version"))] == version for p in pins)
    for p in pins:
        assert airbyte_problems(p) == []


def test_a_repository_override_of_an_aligned_chart_keeps_working(overridden: Program) -> None:
    dagster = [r for r in overridden.of_type(RELEASE) if r.inputs.get("chart") == "dagster"]
    assert dagster and {r.inputs["repositoryOpts"]["repo"] for r in dagster} == {MIRROR}
    assert {r.inputs["version"] for r in dagster} == {DAGSTER_VERSION}


@pytest.mark.parametrize("chart", ["dagster", "datahub", "aws-load-balancer-controller"])
def test_an_override_moving_an_aligned_chart_alone_is_refused(chart: str) -> None:
    raw = {k.split(":", 1)[1]: v for k, v in _config("dev", {chart: {"version": _bump(PINNED[chart].version)}}).items()}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw)
    assert isinstance(caught.value, pulumi.RunError)
    [problem] = caught.value.problems
    assert problem.startswith(f"dataplatform:charts: {chart}.version must stay {PINNED[chart].version}")
    assert f"docs/runbooks/{chart}.md" in problem


def test_every_stack_files_overrides_pass_the_rules() -> None:
    for path in sorted(PROJECT_DIR.glob("Pulumi.*.yaml")):
        stack = path.name.split(".")[1]
        raw: dict[str, Any] = {
            k.split(":", 1)[1]: json.loads(v) if v[:1] in "{[" else v for k, v in stack_config(stack).items()
        }
        config = parse_stack_config(raw)  # raises on a misaligned override
        airbyte = config.charts.get("airbyte")
        if airbyte is not None and airbyte.version is not None:
            assert all(not airbyte_problems(p) for p in airbyte_pins(program_for(stack)))


def test_pins_are_found_in_the_files_that_hold_them(tmp_path: Path) -> None:
    (tmp_path / "examples" / "x").mkdir(parents=True)
    (tmp_path / "examples" / "x" / "requirements.txt").write_text(
        "# c\ndagster==1.2.3\nacryl-datahub[datahub-rest]==1.7.0.17 ; python_version>'3'\nboto3>=1\n"
    )
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "pyproject.toml").write_text('[project]\ndependencies = ["acryl_datahub_gx_plugin==1.7.0.2"]\n')
    assert requirement_pins(tmp_path) == {
        "dagster": {"examples/x/requirements.txt": "1.2.3"},
        "acryl-datahub": {"examples/x/requirements.txt": "1.7.0.17"},
        "acryl-datahub-gx-plugin": {"kit/pyproject.toml": "1.7.0.2"},
    }
