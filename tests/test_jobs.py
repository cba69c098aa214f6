"""The code that runs in containers (components/jobs/): every module is shipped by the program into the pods
that run it, as the file their command names, in an image whose contract has what the module imports.

The modules' behaviour is tested where their component is (tests/test_catalog_feed.py,
tests/test_warehouse_access.py); this checks the seam between the module and its container.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest

from components.images import IMAGES
from platformctl.rendered_checks import containers, pod_spec
from platformctl.validate import k8s_manifests
from tests.harness import PROJECT_DIR, program_for

JOBS_DIR = PROJECT_DIR / "components" / "jobs"
MODULES = sorted(p for p in JOBS_DIR.glob("*.py") if p.name != "__init__.py")
# The oldest Python the datahub-ingestion image was built with in datahub-project/datahub's
# docker/datahub-ingestion/Dockerfile (ARG PYTHON_VERSION: 3.10 in earlier releases, 3.11 at HEAD).
OLDEST_IMAGE_PYTHON = (3, 10)


def _imports(source: str) -> set[str]:
    tree = ast.parse(source)
    out = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    out |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level
    }
    return out - set(sys.stdlib_module_names) - {"__future__"}


def _runs(module: Path) -> list[tuple[str, dict[str, Any]]]:
    """(object, container) for every container, in dev and local, whose command runs `module`."""
    source = module.read_text(encoding="utf-8")
    found = []
    for stack in ("dev", "local"):
        manifests = k8s_manifests(program_for(stack))
        holders = {
            (m["metadata"]["namespace"], m["metadata"]["name"])
            for m in manifests
            if m["kind"] == "ConfigMap" and (m.get("data") or {}).get(module.name) == source
        }
        for obj in manifests:
            spec = pod_spec(obj)
            if not spec:
                continue
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            for _, c in containers(spec):
                for mount in c.get("volumeMounts", []):
                    cm = volumes.get(mount["name"], {}).get("configMap")
                    if cm and (obj["metadata"]["namespace"], cm["name"]) in holders:
                        assert c["command"] == ["python", f"{mount['mountPath']}/{module.name}"], obj["metadata"]
                        found.append((f"{stack}: {obj['kind']} {obj['metadata']['name']}", c))
    return found


def test_there_are_modules_to_check() -> None:
    assert {p.name for p in MODULES} >= {"datahub_issuer.py", "datahub_registration.py", "warehouse_grants.py"}


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_each_module_runs_in_an_image_that_has_what_it_imports(module: Path) -> None:
    runs = _runs(module)
    assert runs, f"{module.name}: no pod runs it (dead code, or its ConfigMap no longer holds the file)"
    imports = _imports(module.read_text(encoding="utf-8"))
    # Only the file is mounted: nothing of this repository is importable next to it.
    assert not imports & {"components", "platformctl", "policy", "tests"}, imports
    for where, c in runs:
        contract = IMAGES[c["image"]]
        assert "python" in contract.executables, where
        assert imports <= contract.python_modules, f"{where}: {imports - contract.python_modules} not in the image"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_each_module_parses_with_the_images_oldest_python(module: Path) -> None:
    ast.parse(module.read_text(encoding="utf-8"), feature_version=OLDEST_IMAGE_PYTHON)
