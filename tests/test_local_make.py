"""`make local` / `make local-down` (platformctl/local.py) with stand-in executables on PATH.

Each stand-in (docker, kind, kubectl, pulumi, and the Python that runs the smoke check) records its
argv and the Pulumi environment it was given, and answers queries from a canned table. So the tests
check what can be checked without Docker or a cluster: which prerequisites are reported missing and
how, the exact command sequence (first run, second run, teardown), the generated passphrase file and
that git ignores it, and that the stack settings it writes are valid for the program.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import parse_stack_config, with_user_code_overrides
from components.domain_config import load_domains
from platformctl import local
from tests.harness import PROJECT_DIR, program_for

STUB = """#!{python} -S
import json, os, sys
args = sys.argv[1:]
with open(os.environ["STUB_CALLS"], "a") as f:
    env = {{k: v for k, v in os.environ.items() if k.startswith("PULUMI_")}}
    f.write(json.dumps({{"argv": [os.path.basename(sys.argv[0]), *args], "env": env}}) + "\\n")
with open(os.environ["STUB_RESPONSES"]) as f:
    table = json.load(f)
for prefix, rc, out in table.get(os.path.basename(sys.argv[0]), []):
    if " ".join(args).startswith(prefix):
        sys.stdout.write(out)
        sys.exit(rc)
"""

OUTPUTS = {
    "kubeContext": "kind-dataplatform",
    "uiPortForward": "kubectl --context kind-dataplatform -n ingress-nginx port-forward svc/ingress-nginx-controller 8080:80",
    "minioConsole": "http://minio.localtest.me",
    "catalog": {"namespace": "platform", "url": "http://datahub.localtest.me"},
    "notebooks": {"url": "http://notebooks.localtest.me:8080", "namespace": "sandbox", "profiles": ["marketing"]},
    "domains": {
        "sales": {
            "namespace": "sales",
            "urls": {
                "dagster": "http://dagster.sales.localtest.me",
                "airbyte": "http://airbyte.sales.localtest.me",
                "superset": "http://superset.sales.localtest.me",
            },
        }
    },
}


class Stubs:
    def __init__(self, root: Path, tools: tuple[str, ...] = ("docker", "kind", "kubectl", "pulumi")) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.calls_file = root / "calls.jsonl"
        self.responses_file = root / "responses.json"
        self.responses: dict[str, list[tuple[str, int, str]]] = {
            "kind": [("get clusters", 0, "")],
            "kubectl": [("config get-contexts", 0, "kind-dataplatform\n")],
            "pulumi": [("stack ls", 0, "[]"), ("stack output", 0, json.dumps(OUTPUTS))],
        }
        for tool in (*tools, "python"):
            path = self.bin / tool
            path.write_text(STUB.format(python=sys.executable))
            path.chmod(0o755)
        self.python = str(self.bin / "python")

    def answer(self, tool: str, prefix: str, rc: int = 0, out: str = "") -> None:
        self.responses.setdefault(tool, []).insert(0, (prefix, rc, out))

    def env(self) -> dict[str, str]:
        self.responses_file.write_text(json.dumps(self.responses))
        return {
            "PATH": str(self.bin),
            "HOME": str(self.bin.parent),
            "STUB_CALLS": str(self.calls_file),
            "STUB_RESPONSES": str(self.responses_file),
        }

    def calls(self) -> list[dict[str, Any]]:
        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text().splitlines()]

    def argvs(self) -> list[list[str]]:
        # Queries (docker info, get-contexts, stack ls) are checked where they matter, not in sequences.
        queries = (["docker", "info"], ["kubectl", "config"], ["pulumi", "stack", "ls"])
        return [c["argv"] for c in self.calls() if not any(c["argv"][: len(q)] == q for q in queries)]


@pytest.fixture
def stubs(tmp_path: Path) -> Stubs:
    return Stubs(tmp_path)


@pytest.fixture
def ws(tmp_path: Path) -> local.Workspace:
    return local.Workspace(tmp_path / "ws")


def _up(ws: local.Workspace, stubs: Stubs, context: str | None = None) -> int:
    return local.up(ws, stubs.env(), context=context, python=stubs.python)


# ---- prerequisites --------------------------------------------------------------------------------


def test_every_missing_prerequisite_is_named_with_how_to_get_it(tmp_path: Path, ws: local.Workspace, capsys) -> None:
    stubs = Stubs(tmp_path, tools=("pulumi",))
    assert _up(ws, stubs) == 2
    err = capsys.readouterr().err
    assert "docker not found on PATH: install Docker: https://docs.docker.com/get-docker/" in err
    assert "kubectl not found on PATH" in err
    assert "kind not found on PATH: install kind 0.24 or newer" in err
    assert "make local CONTEXT=<name>" in err  # the way around kind
    assert "pulumi not found" not in err
    assert stubs.argvs() == []  # nothing was created, built or deployed
    assert not ws.root.exists()


def test_a_stopped_docker_daemon_is_reported(stubs: Stubs, ws: local.Workspace, capsys) -> None:
    stubs.answer("docker", "info", rc=1)
    assert _up(ws, stubs) == 2
    assert "its daemon does not answer (`docker info` failed): start Docker" in capsys.readouterr().err


def test_an_existing_context_needs_no_kind_but_must_exist(tmp_path: Path, ws: local.Workspace, capsys) -> None:
    stubs = Stubs(tmp_path, tools=("docker", "kubectl", "pulumi"))
    assert _up(ws, stubs, context="k3d-laptop") == 2
    err = capsys.readouterr().err
    assert "kubeconfig context 'k3d-laptop' not found (contexts: kind-dataplatform)" in err
    assert "kind not found" not in err


# ---- up -------------------------------------------------------------------------------------------


def test_first_run_creates_the_cluster_builds_loads_deploys_and_checks(
    stubs: Stubs, ws: local.Workspace, capsys
) -> None:
    committed = (PROJECT_DIR / "Pulumi.local.yaml").read_text()
    assert _up(ws, stubs) == 0
    image = f"{local.IMAGE_REPOSITORY}:{local.source_tag()}"
    notebook = f"{local.NOTEBOOK_REPOSITORY}:{local.notebook_tag()}"
    assert stubs.argvs() == [
        ["kind", "get", "clusters"],
        [
            "kind",
            "create",
            "cluster",
            "--name",
            "dataplatform",
            "--config",
            str(PROJECT_DIR / "kind-dataplatform.yaml"),
        ],
        # From the repository root: the image installs the platform kit (kit/) too.
        ["docker", "build", "--file", str(local.EXAMPLE_DIR / "Dockerfile"), "--tag", image, str(PROJECT_DIR)],
        ["kind", "load", "docker-image", image, "--name", "dataplatform"],
        # marketing enables the sandbox: the notebook image is built from its folder and loaded too.
        [
            "docker",
            "build",
            "--file",
            str(local.NOTEBOOK_DIR / "Dockerfile"),
            "--tag",
            notebook,
            str(local.NOTEBOOK_DIR),
        ],
        ["kind", "load", "docker-image", notebook, "--name", "dataplatform"],
        [
            "pulumi",
            "--cwd",
            str(ws.init_dir),
            "stack",
            "init",
            "local",
            "--secrets-provider",
            "passphrase",
            "--no-select",
        ],
        ["pulumi", "up", "--stack", "local", "--config-file", str(ws.config_file), "--yes", "--non-interactive"],
        ["python", "-m", "platformctl", "smoke", "--stack", "local"],
        ["pulumi", "stack", "output", "--stack", "local", "--json"],
    ]
    # Every Pulumi command uses the file backend inside the workspace and the generated passphrase.
    for call in stubs.calls():
        if call["argv"][0] == "pulumi":
            assert call["env"]["PULUMI_BACKEND_URL"] == ws.backend.resolve().as_uri()
            assert call["env"]["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(ws.passphrase.resolve())
            assert "PULUMI_CONFIG_PASSPHRASE" not in call["env"]  # never the passphrase itself
    # The committed stack file is neither edited nor handed to `stack init` (which writes the salt).
    assert (PROJECT_DIR / "Pulumi.local.yaml").read_text() == committed
    assert (ws.init_dir / "Pulumi.yaml").read_text() == (PROJECT_DIR / "Pulumi.yaml").read_text()
    out = capsys.readouterr().out
    assert "http://dagster.sales.localtest.me:8080" in out
    assert "http://datahub.localtest.me:8080" in out
    assert "Notebooks http://notebooks.localtest.me:8080" in out
    assert OUTPUTS["uiPortForward"] in out


def test_the_first_up_has_a_preview(stubs: Stubs, ws: local.Workspace) -> None:
    assert _up(ws, stubs) == 0
    [up] = [c for c in stubs.argvs() if c[:2] == ["pulumi", "up"]]
    assert "--skip-preview" not in up and "-f" not in up


def test_a_second_run_reuses_the_cluster_and_the_stack(stubs: Stubs, ws: local.Workspace) -> None:
    stubs.answer("kind", "get clusters", out="dataplatform\n")
    stubs.answer("pulumi", "stack ls", out=json.dumps([{"name": "organization/dataplatform/local"}]))
    assert _up(ws, stubs) == 0
    commands = [" ".join(a[:3]) for a in stubs.argvs()]
    assert "kind create cluster" not in commands
    assert not any("init" in a for a in stubs.argvs())
    assert "pulumi up --stack" in commands


def test_a_failing_step_stops_the_run(stubs: Stubs, ws: local.Workspace) -> None:
    stubs.answer("docker", "build", rc=1)
    with pytest.raises(local.LocalError, match=r"`docker build --file .* --tag .*` failed with exit code 1"):
        _up(ws, stubs)
    assert not any(a[0] == "pulumi" for a in stubs.argvs())


def test_an_existing_context_is_used_as_is(stubs: Stubs, ws: local.Workspace) -> None:
    stubs.answer("kubectl", "config get-contexts", out="docker-desktop\n")
    assert _up(ws, stubs, context="docker-desktop") == 0
    assert not any(a[0] == "kind" for a in stubs.argvs())  # no cluster created, no kind load
    assert ["python", "-m", "platformctl", "smoke", "--stack", "local", "--context", "docker-desktop"] in stubs.argvs()
    settings = yaml.safe_load(ws.config_file.read_text())
    assert settings["config"]["dataplatform:local"]["kubeContext"] == "docker-desktop"


# ---- passphrase, state, settings ------------------------------------------------------------------


def test_the_passphrase_is_generated_once_and_private(tmp_path: Path) -> None:
    ws = local.Workspace(tmp_path / "ws")
    path = ws.ensure_passphrase()
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(ws.root.stat().st_mode) == 0o700
    assert len(first.strip()) >= 40
    assert ws.ensure_passphrase().read_text() == first  # kept: the state is encrypted with it
    assert local.Workspace(tmp_path / "other").ensure_passphrase().read_text() != first


def test_git_ignores_the_workspace() -> None:
    if shutil.which("git") is None:
        pytest.fail("git is needed to check .gitignore")
    for path in (".local-stack/passphrase", ".local-stack/state/.pulumi/stacks/dataplatform/local.json"):
        done = subprocess.run(["git", "check-ignore", "-q", path], cwd=PROJECT_DIR, check=False)
        assert done.returncode == 0, f"{path} is not ignored by git"
    assert local.STATE_DIR == PROJECT_DIR / ".local-stack"


def test_the_written_settings_are_valid_for_the_program(stubs: Stubs, ws: local.Workspace) -> None:
    assert _up(ws, stubs) == 0
    settings = yaml.safe_load(ws.config_file.read_text())
    committed = yaml.safe_load((PROJECT_DIR / "Pulumi.local.yaml").read_text())["config"]
    assert set(settings["config"]) == set(committed)  # the committed keys, nothing lost
    raw = {k.removeprefix("dataplatform:"): v for k, v in settings["config"].items()}
    config = parse_stack_config(raw)
    assert config.local.kube_context == "kind-dataplatform"
    domains = with_user_code_overrides(load_domains(PROJECT_DIR / "domains", stack="local"), config)
    for domain in domains:
        image = domain.tools.dagster.image
        assert image is not None and image.reference == f"{local.IMAGE_REPOSITORY}:{local.source_tag()}"
        assert domain.tools.dagster.code_location is not None
        assert domain.tools.dagster.code_location.module == local.EXAMPLE_MODULE
    # The notebooks run the image built on this laptop (not the example, which no one could pull).
    assert config.notebooks.image.reference == f"{local.NOTEBOOK_REPOSITORY}:{local.notebook_tag()}"


def test_the_salt_of_this_laptop_goes_into_the_settings() -> None:
    committed = {"config": {"dataplatform:environment": "local"}}
    settings = local.stack_settings(committed, salt="v1:abc", context="kind-dataplatform", user_code={})
    assert settings["encryptionsalt"] == "v1:abc"
    assert "encryptionsalt" not in local.stack_settings(committed, salt=None, context="c", user_code={})


def test_the_image_tag_follows_the_sources(tmp_path: Path) -> None:
    src = tmp_path / "code"
    shutil.copytree(local.EXAMPLE_DIR, src, ignore=shutil.ignore_patterns(".venv", "target", "__pycache__"))
    tag = local.source_tag(src)
    assert tag.startswith("src-") and tag != "src-latest"
    (src / ".venv").mkdir(exist_ok=True)
    (src / ".venv" / "junk").write_text("not a source")
    assert local.source_tag(src) == tag
    (src / "requirements.txt").write_text((src / "requirements.txt").read_text() + "\n# changed\n")
    assert local.source_tag(src) != tag
    # The kit is in the image too.
    kit = tmp_path / "kit"
    shutil.copytree(local.KIT_DIR, kit, ignore=shutil.ignore_patterns(".venv", "__pycache__", "*.egg-info"))
    before = local.source_tag(src, kit)
    (kit / "dataplatform_kit" / "settings.py").write_text("# changed\n", encoding="utf-8")
    assert local.source_tag(src, kit) != before


# ---- down -----------------------------------------------------------------------------------------


def test_down_deletes_our_kind_cluster_and_drops_the_stack(stubs: Stubs, ws: local.Workspace) -> None:
    assert _up(ws, stubs) == 0
    stubs.calls_file.unlink()
    stubs.answer("kind", "get clusters", out="dataplatform\n")
    stubs.answer("pulumi", "stack ls", out=json.dumps([{"name": "local"}]))
    assert local.down(ws, stubs.env()) == 0
    assert stubs.argvs() == [
        ["kind", "get", "clusters"],
        ["kind", "delete", "cluster", "--name", "dataplatform"],
        # Keeps the committed Pulumi.local.yaml, which `stack rm` would otherwise delete.
        ["pulumi", "stack", "rm", "local", "--yes", "--force", "--preserve-config"],
    ]
    assert not ws.root.exists()
    assert (PROJECT_DIR / "Pulumi.local.yaml").exists()


def test_down_on_someone_elses_cluster_destroys_only_the_stack(stubs: Stubs, ws: local.Workspace) -> None:
    stubs.answer("kubectl", "config get-contexts", out="docker-desktop\n")
    assert _up(ws, stubs, context="docker-desktop") == 0
    stubs.calls_file.unlink()
    stubs.answer("pulumi", "stack ls", out=json.dumps([{"name": "local"}]))
    assert local.down(ws, stubs.env()) == 0
    assert stubs.argvs() == [
        ["pulumi", "destroy", "--stack", "local", "--config-file", str(ws.config_file), "--yes", "--non-interactive"],
        ["pulumi", "stack", "rm", "local", "--yes", "--preserve-config"],
    ]


def test_down_when_nothing_is_there_does_nothing_harmful(stubs: Stubs, ws: local.Workspace) -> None:
    assert local.down(ws, stubs.env()) == 0
    assert stubs.argvs() == [["kind", "get", "clusters"]]


# ---- what it prints -------------------------------------------------------------------------------


def test_sign_in_hints_name_secrets_the_stack_creates() -> None:
    program = program_for("local")
    secrets = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"])
        for r in program.of_type("kubernetes:core/v1:Secret")
    }
    lines = "\n".join(local.access_lines(OUTPUTS))
    for namespace, name in (
        ("sales", local.SUPERSET_CREDENTIALS_SECRET),
        ("platform", local.USERS_SECRET),
        ("identity", local.DEX_USERS_SECRET),
    ):
        assert f"-n {namespace} get secret {name} " in lines
        assert (namespace, name) in secrets, f"{namespace}/{name} is not created by the stack"
    assert f"-n sales get secret {local.LAKE_CREDENTIALS_SECRET} " in lines
    assert "jsonpath='{.data.user\\.props}'" in lines
    assert f"user {local.SUPERSET_ADMIN};" in lines


def test_printed_urls_are_the_stacks_through_the_port_forward() -> None:
    exports = program_for("local").exports
    lines = "\n".join(local.access_lines(exports))
    assert "http://superset.sales.localtest.me:8080" in lines
    assert "http://datahub.localtest.me:8080" in lines
    assert ":8080:8080" not in lines


def test_make_targets_call_the_module() -> None:
    makefile = (PROJECT_DIR / "Makefile").read_text()
    assert "local:\n\t$(BIN)/python -m platformctl.local up" in makefile
    assert "local-down:\n\t$(BIN)/python -m platformctl.local down" in makefile
    assert os.access(PROJECT_DIR / "kind-dataplatform.yaml", os.R_OK)
    kind = yaml.safe_load((PROJECT_DIR / "kind-dataplatform.yaml").read_text())
    assert (kind["kind"], kind["apiVersion"], kind["name"]) == ("Cluster", "kind.x-k8s.io/v1alpha4", "dataplatform")


# ---- the e2e workflow ------------------------------------------------------------------------------


def test_e2e_runs_make_local_then_always_make_local_down() -> None:
    doc = yaml.safe_load((PROJECT_DIR / ".github" / "workflows" / "e2e.yml").read_text())
    triggers = doc[True]  # YAML 1.1 reads `on:` as a boolean
    paths = triggers["pull_request"]["paths"]
    assert {"__main__.py", "components/**", "domains/**", "Pulumi.local.yaml", "platformctl/**"} <= set(paths)
    assert triggers["schedule"], "nightly"
    job = doc["jobs"]["e2e"]
    runs = [(s.get("run", "").strip(), s.get("if")) for s in job["steps"] if "run" in s]
    commands = [r for r, _ in runs]
    assert commands.index("make setup") < commands.index("make local") < commands.index("make local-down")
    assert dict(runs)["make local-down"] == "always()"
    # Everything it needs is installed in the job, pinned: kind, kubectl, and the CLI matching the SDK.
    [kind] = [s for s in job["steps"] if str(s.get("uses", "")).startswith("helm/kind-action@")]
    assert kind["with"]["install_only"] is True and kind["with"]["version"].startswith("v0.")
    sdk = next(
        line for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines() if line.startswith("pulumi==")
    )
    assert doc["env"]["PULUMI_VERSION"] == sdk.removeprefix("pulumi==")
    # No cloud, no secrets: the state is a file backend on the runner.
    text = (PROJECT_DIR / ".github" / "workflows" / "e2e.yml").read_text()
    assert "secrets." not in text and "id-token" not in text
