"""Container contracts over what the whole program sets, on every stack.

- No container command or argument is empty: in every pod the program creates directly, and in every
  command/argument list of the Helm values it passes (a chart copies them into the container).
- Each Dagster code location kind reaches `dagster api grpc` with its own pointer option.
- Every environment variable the example user code reads (Python: os.environ, EnvVar, GX `${VAR}`;
  dbt: `env_var()` in the profile output of the stack's DBT_TARGET, project and models) is set, on each
  foundation, for the code server and for run pods, by the platform's values or the image's ENV. The
  reads are parsed from the example's files, so a new read without a provider fails here.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

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


@pytest.mark.parametrize("stack", ("dev", "prod"))
def test_on_aws_the_code_server_and_runs_pull_the_domain_image_always(stack):
    """checkov CKV_K8S_15: the registry is asked on every pod start (the local stack keeps IfNotPresent for the
    images loaded into kind: tests/test_local_user_code.py)."""
    program = program_for(stack)
    for r in program.of_type(RELEASE):
        if r.inputs["chart"] == "dagster":
            values = _plain(r.inputs["values"])
            [one] = values["dagster-user-deployments"]["deployments"]
            assert one["image"]["pullPolicy"] == "Always", r.name
            assert values["runLauncher"]["config"]["k8sRunLauncher"]["imagePullPolicy"] == "Always", r.name


def test_a_package_code_location_is_served_as_a_package():
    # domains/marketing.yaml: codeLocation.package (the crash-looping `--module-name ''` of issue 10).
    deployments = _dagster_deployments(program_for("dev"))
    assert deployments["marketing"]["dagsterApiGrpcArgs"] == ["--package-name", "marketing_pipelines"]


# ---------------------------------------------------------------- the example user code's environment

EXAMPLE = PROJECT_DIR / "examples" / "domain-user-code"
EXAMPLE_DOMAIN = "sales"  # domains/sales.yaml runs sales_user_code.definitions
TARGETS = ("duckdb", "postgres", "redshift")
FOUNDATION_STACKS = ("dev", "local")  # aws and local


@dataclass(frozen=True)
class EnvRead:
    name: str
    where: str  # file:line
    required: bool  # False: read with a default (os.environ.get, env_var('X', 'default'))
    target: str | None  # only for this DBT_TARGET (a profiles.yml output, or a function named after it)


def _is_environ(node: ast.AST, aliases: set[str]) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "environ":
        return isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id in aliases


def python_env_reads(path: Path, root: Path) -> tuple[list[EnvRead], list[str]]:
    """Every environment read in a module, and every use of os.environ this parser cannot follow."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    shown = path.relative_to(root).as_posix()
    aliases = {
        t.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and _is_environ(node.value, set())
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    reads: list[EnvRead] = []
    followed: set[int] = set()  # ids of os.environ nodes explained by a read or an alias

    def visit(node: ast.AST, function: str | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        target = next((t for t in TARGETS if function and t in function), None)
        name: ast.AST | None = None
        base: ast.AST | None = None
        required = True
        if isinstance(node, ast.Subscript) and _is_environ(node.value, aliases):
            name, base = node.slice, node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            if _is_environ(node.func.value, aliases) and node.args:
                name, base, required = node.args[0], node.func.value, False
        elif isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == "getenv")
            or (isinstance(node.func, ast.Name) and node.func.id == "EnvVar")
        ):
            name, base, required = node.args[0] if node.args else None, None, False
        if name is not None and isinstance(name, ast.Constant) and isinstance(name.value, str):
            reads.append(EnvRead(name.value, f"{shown}:{getattr(node, 'lineno', 0)}", required, target))
            if base is not None:
                followed.add(id(base))
        if isinstance(node, ast.Assign) and _is_environ(node.value, set()):
            followed.add(id(node.value))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    unexplained = [
        f"{shown}:{getattr(node, 'lineno', 0)}: os.environ used in a way this contract cannot read; "
        "use os.environ[...] or .get(...)"
        for node in ast.walk(tree)
        if _is_environ(node, aliases)
        and id(node) not in followed
        and not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store))
    ]
    unexplained += [
        f"{shown}:{node.lineno}: an environment variable name that is not a literal"
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript | ast.Call)
        and (
            (isinstance(node, ast.Subscript) and _is_environ(node.value, aliases))
            or (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and _is_environ(node.func.value, aliases)
            )
        )
        and not any(r.where == f"{shown}:{node.lineno}" for r in reads)
    ]
    return reads, unexplained


_ENV_VAR = re.compile(r"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*(,)?""")
_GX_SUBSTITUTION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def dbt_env_reads(text: str, shown: str, target: str | None) -> list[EnvRead]:
    return [EnvRead(m.group(1), shown, m.group(2) is None, target) for m in _ENV_VAR.finditer(text)]


def example_env_reads() -> tuple[list[EnvRead], list[str]]:
    """What the example reads: Python (Dagster definitions, lake, warehouse, GX), dbt profile, project and models."""
    reads: list[EnvRead] = []
    problems: list[str] = []
    for path in sorted((EXAMPLE / "sales_user_code").rglob("*.py")):
        found, unexplained = python_env_reads(path, EXAMPLE)
        reads += found
        problems += unexplained
        # GX config substitution (${VAR}) in any string of the code.
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for name in _GX_SUBSTITUTION.findall(node.value):
                    reads.append(EnvRead(name, f"{path.name}:{node.lineno}", True, None))
    profiles = yaml.safe_load((EXAMPLE / "dbt" / "profiles.yml").read_text())
    for profile in profiles.values():
        reads += dbt_env_reads(str(profile["target"]), "dbt/profiles.yml target", None)
        for output, settings in profile["outputs"].items():
            reads += dbt_env_reads(json.dumps(settings), f"dbt/profiles.yml {output}", output)
    for path in sorted((EXAMPLE / "dbt").rglob("*")):
        if path.suffix in (".sql", ".yml") and path.name != "profiles.yml" and "target" not in path.parts:
            reads += dbt_env_reads(path.read_text(), path.relative_to(EXAMPLE).as_posix(), None)
    return reads, problems


def image_env() -> set[str]:
    """Names the example's Dockerfile sets with ENV."""
    text = (EXAMPLE / "Dockerfile").read_text().replace("\\\n", " ")
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("ENV "):
            names |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", line))
    return names


def _secret_keys(program: Program, namespace: str) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for r in program.of_type("kubernetes:core/v1:Secret"):
        meta = _plain(r.inputs["metadata"])
        if meta.get("namespace") == namespace:
            data = {**(_plain(r.inputs.get("stringData")) or {}), **(_plain(r.inputs.get("data")) or {})}
            keys[meta["name"]] = set(data)
    return keys


def platform_env(program: Program, domain: str) -> dict[str, dict[str, str]]:
    """What the code server and a run pod of `domain` get: name -> value (Secret keys as '<secret>')."""
    [release] = [
        r for r in program.of_type(RELEASE) if r.inputs["chart"] == "dagster" and r.inputs["namespace"] == domain
    ]
    values = _plain(release.inputs["values"])
    [server] = values["dagster-user-deployments"]["deployments"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    secrets = _secret_keys(program, domain)

    def from_secrets(refs: list[dict[str, str]]) -> dict[str, str]:
        return {key: f"<{ref['name']}>" for ref in refs for key in secrets[ref["name"]]}

    return {
        "code server": {
            **{e["name"]: e.get("value", "<valueFrom>") for e in server["env"]},
            **from_secrets(server["envSecrets"]),
        },
        "run pod": {
            **dict(v.split("=", 1) for v in launcher["envVars"]),
            **from_secrets(launcher["envSecrets"]),
        },
    }


def test_the_example_env_parser_sees_every_kind_of_read(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nfrom dagster import EnvVar\nenv = os.environ\n"
        "def _redshift_login():\n    return env['ONLY_REDSHIFT']\n"
        "A = os.environ['REQUIRED']\nB = os.environ.get('OPTIONAL', 'x')\nC = EnvVar('FROM_DAGSTER')\n"
        "D = os.getenv('LEGACY')\nE = dict(os.environ)\nF = list(env)\n"
    )
    reads, unexplained = python_env_reads(sample, tmp_path)
    assert {(r.name, r.required, r.target) for r in reads} == {
        ("ONLY_REDSHIFT", True, "redshift"),
        ("REQUIRED", True, None),
        ("OPTIONAL", False, None),
        ("FROM_DAGSTER", False, None),
        ("LEGACY", False, None),
    }
    assert [u.split(": ", 1)[0] for u in unexplained] == ["sample.py:10", "sample.py:11"]
    assert {(r.name, r.required) for r in dbt_env_reads("{{ env_var('A') }} {{ env_var('B', 'x') }}", "p", None)} == {
        ("A", True),
        ("B", False),
    }


def test_the_example_reads_only_what_it_can_parse():
    reads, problems = example_env_reads()
    assert problems == []
    names = {r.name for r in reads}
    # The reads this contract exists for (a parse that found nothing would pass everything).
    assert {
        "DBT_TARGET",
        "WAREHOUSE_HOST",
        "WAREHOUSE_WORKGROUP",
        "WAREHOUSE_PASSWORD",
        "DATAHUB_GMS_TOKEN_FILE",
    } <= names
    by_output = {t: {r.name for r in reads if r.where == f"dbt/profiles.yml {t}"} for t in TARGETS}
    assert {"WAREHOUSE_HOST", "WAREHOUSE_DB", "WAREHOUSE_WORKGROUP", "AWS_REGION"} <= by_output["redshift"]
    assert {"WAREHOUSE_HOST", "WAREHOUSE_USER", "WAREHOUSE_PASSWORD"} <= by_output["postgres"]


@pytest.mark.parametrize("stack", FOUNDATION_STACKS)
def test_every_env_var_the_example_reads_is_provided_by_the_platform(stack):
    reads, _ = example_env_reads()
    image = image_env()
    provided_somewhere = set(image)
    for other in FOUNDATION_STACKS:
        for env in platform_env(program_for(other), EXAMPLE_DOMAIN).values():
            provided_somewhere |= set(env)
    missing: list[str] = []
    for pod, env in platform_env(program_for(stack), EXAMPLE_DOMAIN).items():
        target = env["DBT_TARGET"]
        for read in reads:
            if read.target not in (None, target):
                continue
            if read.name in env or read.name in image:
                continue
            # A read with a default may be absent on one foundation, but something must provide it.
            if not read.required and read.name in provided_somewhere:
                continue
            missing.append(f"{stack} {pod} (DBT_TARGET={target}): {read.name} read at {read.where}")
    assert missing == []


@pytest.mark.parametrize("stack", FOUNDATION_STACKS)
def test_the_catalog_token_file_is_a_mounted_secret(stack):
    program = program_for(stack)
    [release] = [
        r
        for r in program.of_type(RELEASE)
        if r.inputs["chart"] == "dagster" and r.inputs["namespace"] == EXAMPLE_DOMAIN
    ]
    values = _plain(release.inputs["values"])
    [server] = values["dagster-user-deployments"]["deployments"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    secrets = _secret_keys(program, EXAMPLE_DOMAIN) | {
        _plain(r.inputs["metadata"])["name"]: set() for r in program.of_type("kubernetes:core/v1:Secret")
    }
    for env, volumes, mounts in (
        ({e["name"]: e.get("value") for e in server["env"]}, server["volumes"], server["volumeMounts"]),
        (dict(v.split("=", 1) for v in launcher["envVars"]), launcher["volumes"], launcher["volumeMounts"]),
    ):
        path = Path(env["DATAHUB_GMS_TOKEN_FILE"])
        [mount] = [m for m in mounts if path.parent == Path(m["mountPath"])]
        [volume] = [v for v in volumes if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] in secrets
        assert [i["path"] for i in volume["secret"]["items"]] == [path.name]
        assert "subPath" not in mount
        assert "DATAHUB_GMS_TOKEN" not in env
