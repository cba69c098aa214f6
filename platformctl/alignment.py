"""Version alignment: pins that must move together, found where they live and compared.

- Dagster: the chart pin, `DAGSTER_VERSION` and every `dagster==` pin of the user code (examples/, kit/)
  are one version; Dagster's integration libraries (`dagster-*`) are released with it as
  `0.<minor + 16>.<patch>` (dagster 1.12.13 with dagster-dbt 0.28.13).
- DataHub: the chart's app version (its Chart.yaml, or `global.datahub.version` of its reference
  values), the ingestion image tag the program runs, and every `acryl-datahub*` pin of the user code
  and jobs share major.minor.patch (server v1.7.0, image v1.7.0, client 1.7.0.x).
- Airbyte: the platform images' tag the values set equals the chart version deployed.

Each `*_problems` function takes `{where: version}` pins and returns one line per disagreement, naming
where each pin lives; tests run them on the repository and on pins moved one at a time.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

PIN = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;#,]+)")
# Dagster's integration libraries: 0.(core minor + 16).(core patch).
DAGSTER_LIBRARY_MINOR_OFFSET = 16
USER_CODE_GLOBS = ("examples/**/requirements*.txt", "examples/**/pyproject.toml", "kit/**/pyproject.toml")


def requirement_pins(project_dir: Path) -> dict[str, dict[str, str]]:
    """package (lowercase) -> {"<file>": version} for every exact pin of the user code and the kit."""
    found: dict[str, dict[str, str]] = {}
    for pattern in USER_CODE_GLOBS:
        for path in sorted(project_dir.glob(pattern)):
            if ".venv" in path.parts or "node_modules" in path.parts:
                continue
            shown = path.relative_to(project_dir).as_posix()
            for line in _requirement_lines(path):
                m = PIN.match(line)
                if m:
                    found.setdefault(m.group(1).lower().replace("_", "-"), {})[shown] = m.group(2)
    return found


def _requirement_lines(path: Path) -> Iterable[str]:
    if path.suffix == ".toml":
        project = tomllib.loads(path.read_text()).get("project", {})
        yield from project.get("dependencies", [])
        for extra in project.get("optional-dependencies", {}).values():
            yield from extra
        return
    yield from path.read_text().splitlines()


def _release(version: str) -> tuple[int, ...]:
    """major.minor.patch of '1.7.0', 'v1.7.0' or '1.7.0.17' (a fourth part is the client's own build)."""
    m = re.match(r"v?(\d+)\.(\d+)\.(\d+)", version)
    if not m:
        raise ValueError(f"not a version: {version!r}")
    return tuple(int(p) for p in m.groups())


def _disagree(pins: Mapping[str, str], key=lambda v: v) -> list[str]:
    values = {key(v) for v in pins.values()}
    if len(values) <= 1:
        return []
    listed = ", ".join(f"{where}={version}" for where, version in sorted(pins.items()))
    return [f"pins disagree: {listed}"]


def dagster_problems(core: Mapping[str, str], libraries: Mapping[str, Mapping[str, str]]) -> list[str]:
    """`core`: where -> Dagster version (chart, DAGSTER_VERSION, dagster== pins); `libraries`: dagster-* pins."""
    problems = [f"Dagster {p}" for p in _disagree(core)]
    versions = sorted(set(core.values()))
    if len(versions) != 1:
        return problems
    _, minor, patch = _release(versions[0])
    expected = f"0.{minor + DAGSTER_LIBRARY_MINOR_OFFSET}.{patch}"
    for package, pins in sorted(libraries.items()):
        for where, version in sorted(pins.items()):
            if version != expected:
                problems.append(
                    f"{where}: {package}=={version} is not released with dagster {versions[0]} (expected {expected})"
                )
    return problems


def datahub_problems(pins: Mapping[str, str]) -> list[str]:
    """where -> version: chart app version, ingestion image tag(s), acryl-datahub* pins; major.minor.patch agree."""
    return [f"DataHub {p}" for p in _disagree(pins, _release)]


def airbyte_problems(pins: Mapping[str, str]) -> list[str]:
    """where -> version: the chart deployed and the image tag its values set."""
    return [f"Airbyte {p}" for p in _disagree(pins)]
