"""Container contracts over what the whole program sets, on every stack.

- No container command or argument is empty: in every pod the program creates directly, and in every
  command/argument list of the Helm values it passes (a chart copies them into the container).
- Each Dagster code location kind reaches `dagster api grpc` with its own pointer option.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.domain_config import load_domains
from components.values.dagster import GRPC_POINTER_OPTIONS
from platformctl.simulate import Resource
from tests.harness import PROJECT_DIR, Program, Secret, program_for

STACKS = ("dev", "prod", "local")
RELEASE = "kubernetes:helm.sh/v3:Release"
# Helm value keys whose list becomes a container's command or arguments.
ARG_KEYS = {"command", "args", "extraArgs", "dagsterApiGrpcArgs", "codeServerArgs"}


def _plain(value: Any) -> Any:
    return _plain(value.value) if isinstance(value, Secret) else value


def _pod_specs(inputs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Pod specs of a Kubernetes object record (Pod, Job, CronJob and the workload kinds)."""
    spec = inputs.get("spec") or {}
    kind = inputs.get("kind")
    if kind == "Pod":
        yield spec
    elif kind == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind in ("Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        yield spec["template"]["spec"]


def empty_args(program: Program) -> list[str]:
    """Where a container command or argument is missing its text, named by resource and path."""
    problems: list[str] = []

    def check(where: str, items: Any) -> None:
        items = _plain(items)
        if not isinstance(items, list) or not items:
            problems.append(f"{where}: must be a non-empty list, got {items!r}")
            return
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                problems.append(f"{where}[{i}]: empty argument {item!r}")

    for r in program.resources:
        if not r.type.startswith("kubernetes:"):
            continue
        if r.type == RELEASE:
            for path, items in _arg_lists(_plain(r.inputs.get("values")), "values"):
                check(f"{r.name} {path}", items)
            continue
        for spec in _pod_specs(r.inputs):
            for group in ("initContainers", "containers"):
                for c in spec.get(group) or []:
                    for key in ("command", "args"):
                        if key in c:
                            check(f"{r.name} {group}[{c.get('name')}].{key}", c[key])
    return problems


def _arg_lists(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    value = _plain(value)
    if isinstance(value, dict):
        for key, sub in value.items():
            if key in ARG_KEYS and sub is not None:
                yield f"{path}.{key}", sub
            else:
                yield from _arg_lists(sub, f"{path}.{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _arg_lists(sub, f"{path}[{i}]")


@pytest.mark.parametrize("stack", STACKS)
def test_no_container_command_or_argument_is_empty(stack):
    assert empty_args(program_for(stack)) == []


def test_the_check_names_an_empty_argument():
    # The failure this check exists for: a `package` code location used to get `--module-name ''`.
    program = Program(
        "dev",
        False,
        [
            _release("bad", {"dagster-user-deployments": {"deployments": [{"dagsterApiGrpcArgs": ["-m", ""]}]}}),
        ],
        {},
    )
    assert empty_args(program) == [
        "bad values.dagster-user-deployments.deployments[0].dagsterApiGrpcArgs[1]: empty argument ''"
    ]


def _release(name: str, values: dict[str, Any]) -> Resource:
    return Resource(
        type=RELEASE,
        name=name,
        urn=f"urn:{name}",
        custom=True,
        inputs={"chart": "dagster", "values": values},
        parent="",
        provider="",
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        ignore_changes=[],
        aliases=[],
        depends_on=[],
        outputs={},
    )


def _dagster_deployments(program: Program) -> dict[str, dict[str, Any]]:
    found = {}
    for r in program.of_type(RELEASE):
        if r.inputs["chart"] == "dagster":
            [one] = _plain(r.inputs["values"])["dagster-user-deployments"]["deployments"]
            found[r.inputs["namespace"]] = one
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_each_code_location_gets_the_pointer_of_its_kind(stack):
    deployments = _dagster_deployments(program_for(stack))
    domains = {d.name: d for d in load_domains(PROJECT_DIR / "domains", stack=stack) if d.tools.dagster.enabled}
    assert set(deployments) == set(domains)
    for name, domain in domains.items():
        location = domain.tools.dagster.code_location
        assert location is not None
        args = deployments[name]["dagsterApiGrpcArgs"]
        assert args == location.dagster_api_grpc_args, name
        assert set(args[::2]) <= set(GRPC_POINTER_OPTIONS), name
        assert deployments[name]["port"] == domain.tools.dagster.port, name


def test_a_package_code_location_is_served_as_a_package():
    # domains/marketing.yaml: codeLocation.package (the crash-looping `--module-name ''` of issue 10).
    deployments = _dagster_deployments(program_for("dev"))
    assert deployments["marketing"]["dagsterApiGrpcArgs"] == ["--package-name", "marketing_pipelines"]
