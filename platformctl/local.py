"""`make local` / `make local-down`: the whole platform on a laptop kind cluster, one command each way.

    python -m platformctl.local up [--context NAME]     # make local [CONTEXT=NAME]
    python -m platformctl.local down                    # make local-down

`up` checks the prerequisites and names every one that is missing; creates the kind cluster
`dataplatform` from `kind-dataplatform.yaml` unless it exists (or uses an existing kubeconfig
context given with --context); builds the example user-code image with a tag derived from its
sources and loads it into kind (and, when a domain of the stack enables the sandbox, the analysts'
notebook image from images/sandbox-notebook the same way); keeps the Pulumi state in a file backend under `.local-stack/`
(git-ignored) with a generated passphrase file (mode 0600); deploys `pulumi up -s local` without
prompts; runs `python -m platformctl smoke --stack local`; prints the UI URLs and how to sign in.

Pulumi is pointed at the file backend with PULUMI_BACKEND_URL (what `pulumi login file://...` would
store, but only for these commands, so the user's own login is untouched). Nothing in the repository
is written: the stack's settings go to `.local-stack/Pulumi.local.yaml` (`--config-file`), a copy of
the committed `Pulumi.local.yaml` plus the passphrase salt, `dataplatform:local.userCode`, which
maps every domain of the stack to the locally built image, and `dataplatform:notebooks.image`; `stack init` runs in `.local-stack/init`
so its salt lands there too, and `stack rm` keeps the committed file (`--preserve-config`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.catalog import USERS_SECRET
from components.domain_config import load_domains
from components.identity_provider import DEX_USERS_SECRET
from components.local.domain_services import LAKE_CREDENTIALS_SECRET
from components.local.foundation import IDENTITY_NAMESPACE as DEX_NAMESPACE
from components.notebooks import sandbox_domains
from components.tools.superset import ADMIN as SUPERSET_ADMIN
from components.tools.superset import CREDENTIALS_SECRET as SUPERSET_CREDENTIALS_SECRET

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACK = "local"
STATE_DIR = PROJECT_DIR / ".local-stack"
KIND_CLUSTER = "dataplatform"
KIND_CONFIG = PROJECT_DIR / "kind-dataplatform.yaml"
EXAMPLE_DIR = PROJECT_DIR / "examples" / "domain-user-code"
# The image installs the platform kit too, so it is built from the repository root (its Dockerfile says so).
KIT_DIR = PROJECT_DIR / "kit"
EXAMPLE_MODULE = "sales_user_code.definitions"
IMAGE_REPOSITORY = "dataplatform-local/user-code"
# The analysts' notebook image (docs/notebooks.md), built when a domain of the stack enables the sandbox.
NOTEBOOK_DIR = PROJECT_DIR / "images" / "sandbox-notebook"
NOTEBOOK_REPOSITORY = "dataplatform-local/sandbox-notebook"
# The port `kubectl port-forward` opens for ingress-nginx (the stack's `uiPortForward` output).
UI_PORT = 8080
# Airbyte's bootloader generates the instance admin password into this Secret (airbyte chart,
# templates/config/_auth.tpl: auth.managedSecretName default, key instance-admin-password).
AIRBYTE_AUTH_SECRET = "airbyte-auth-secrets"
# Build outputs and caches that are not part of the image's sources.
_NOT_SOURCES = {".venv", "__pycache__", ".pytest_cache", "target", "dbt_packages", "logs", "lake-local"}


class LocalError(Exception):
    """A step failed or a prerequisite is missing; the message says what to do."""


def run(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run one command with its output on the terminal; raise LocalError naming it if it fails."""
    print(f"+ {' '.join(argv)}", flush=True)
    done = subprocess.run(list(argv), env=dict(env), cwd=cwd or PROJECT_DIR, text=True, check=False)
    if done.returncode != 0:
        raise LocalError(f"`{' '.join(argv)}` failed with exit code {done.returncode}")
    return done


def capture(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a query command quietly; the caller looks at its exit code and output."""
    return subprocess.run(list(argv), env=dict(env), cwd=PROJECT_DIR, capture_output=True, text=True, check=False)


# ---- prerequisites --------------------------------------------------------------------------------

INSTALL_HINTS = {
    "docker": "Docker: https://docs.docker.com/get-docker/ (and start the daemon)",
    "pulumi": "the Pulumi CLI: https://www.pulumi.com/docs/install/",
    "kubectl": "kubectl: https://kubernetes.io/docs/tasks/tools/",
    "kind": "kind 0.24 or newer: https://kind.sigs.k8s.io/docs/user/quick-start/#installation "
    "(or pass an existing kubeconfig context: make local CONTEXT=<name>)",
}


def missing_prerequisites(env: Mapping[str, str], context: str | None) -> list[str]:
    """One line per missing prerequisite, saying what to install or start; empty when all are there."""
    path = env.get("PATH", "")
    problems = [
        f"{tool} not found on PATH: install {INSTALL_HINTS[tool]}"
        for tool in ("docker", "pulumi", "kubectl", *(() if context else ("kind",)))
        if shutil.which(tool, path=path) is None
    ]
    if shutil.which("docker", path=path) and capture(["docker", "info"], env).returncode != 0:
        problems.append("docker is installed but its daemon does not answer (`docker info` failed): start Docker")
    if context and shutil.which("kubectl", path=path):
        contexts = capture(["kubectl", "config", "get-contexts", "-o", "name"], env).stdout.split()
        if context not in contexts:
            known = ", ".join(contexts) or "none"
            problems.append(f"kubeconfig context '{context}' not found (contexts: {known})")
    if not (PROJECT_DIR / ".venv" / "bin" / "python").exists():
        problems.append("the project's .venv is missing (Pulumi.yaml runs the program from it): run `make setup`")
    return problems


# ---- the user-code image --------------------------------------------------------------------------


def source_tag(directory: Path = EXAMPLE_DIR, kit: Path = KIT_DIR) -> str:
    """An image tag that changes whenever a source file of the image (example or kit) changes (so pods roll)."""
    return _tree_tag(directory, kit)


def notebook_tag(directory: Path = NOTEBOOK_DIR) -> str:
    """The notebook image's tag, from its sources likewise."""
    return _tree_tag(directory)


def _tree_tag(*roots: Path) -> str:
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root)
            if _NOT_SOURCES & set(relative.parts) or path.suffix in (".pyc", ".duckdb") or relative.parts[0] == "tests":
                continue
            digest.update(f"{root.name}/{relative.as_posix()}".encode() + b"\0" + path.read_bytes() + b"\0")
    return f"src-{digest.hexdigest()[:12]}"


def user_code_overrides(image_tag: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """`dataplatform:local.userCode`: every domain of the local stack whose Dagster is on runs the example."""
    domains = load_domains(project_dir / "domains", stack=STACK)
    override = {
        "image": {"repository": IMAGE_REPOSITORY, "tag": image_tag},
        "codeLocation": {"module": EXAMPLE_MODULE},
    }
    return {d.name: override for d in domains if d.tools.dagster.enabled and not d.retired}


# ---- Pulumi state, passphrase and stack settings --------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """Everything `make local` keeps on the laptop, under one git-ignored folder."""

    root: Path

    @property
    def backend(self) -> Path:
        return self.root / "state"

    @property
    def passphrase(self) -> Path:
        return self.root / "passphrase"

    @property
    def config_file(self) -> Path:
        return self.root / f"Pulumi.{STACK}.yaml"

    @property
    def init_dir(self) -> Path:
        return self.root / "init"

    @property
    def cluster_file(self) -> Path:
        return self.root / "cluster.json"

    def ensure_passphrase(self) -> Path:
        """Generate the secrets passphrase once; only the owner can read it."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.backend.mkdir(mode=0o700, exist_ok=True)
        if not self.passphrase.exists():
            fd = os.open(self.passphrase, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
        return self.passphrase

    def pulumi_env(self, base: Mapping[str, str]) -> dict[str, str]:
        return {
            **base,
            "PULUMI_BACKEND_URL": self.backend.resolve().as_uri(),
            "PULUMI_CONFIG_PASSPHRASE_FILE": str(self.passphrase.resolve()),
            # The settings file here may lack the salt (e.g. init/ was deleted): use the one in the state.
            "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER": "true",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }


def stack_settings(
    committed: Mapping[str, Any],
    *,
    salt: str | None,
    context: str,
    user_code: Mapping[str, Any],
    notebook_image: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The stack settings `pulumi up` reads: the committed file's config, this laptop's kube context,
    user-code and notebook images, and the passphrase salt of this laptop's stack."""
    config = dict(committed.get("config") or {})
    local = dict(config.get("dataplatform:local") or {})
    local["kubeContext"] = context
    local["userCode"] = dict(user_code)
    config["dataplatform:local"] = local
    if notebook_image is not None:
        config["dataplatform:notebooks"] = {
            **(config.get("dataplatform:notebooks") or {}),
            "image": dict(notebook_image),
        }
    settings: dict[str, Any] = {"config": config}
    if salt:
        settings = {"encryptionsalt": salt, **settings}
    return settings


def _salt(ws: Workspace) -> str | None:
    for path in (ws.init_dir / f"Pulumi.{STACK}.yaml", ws.config_file):
        if path.exists():
            salt = (yaml.safe_load(path.read_text()) or {}).get("encryptionsalt")
            if salt:
                return str(salt)
    return None


def _stack_exists(env: Mapping[str, str]) -> bool:
    listed = capture(["pulumi", "stack", "ls", "--json"], env)
    if listed.returncode != 0:
        raise LocalError(f"`pulumi stack ls` failed: {listed.stderr.strip()}")
    # Names are short ("local") from the project folder, fully qualified on some backends.
    names = [str(s.get("name", "")) for s in json.loads(listed.stdout or "[]")]
    return any(n == STACK or n.endswith(f"/{STACK}") for n in names)


# ---- what to print at the end ---------------------------------------------------------------------


def _with_port(url: str) -> str:
    """The URL through the port-forward (the stack's URLs already carry it; older outputs did not)."""
    has_port = url.startswith("http://") and ":" in url.removeprefix("http://")
    return f"{url}:{UI_PORT}" if url.startswith("http://") and not has_port else url


def access_lines(outputs: Mapping[str, Any]) -> list[str]:
    """The UI URLs from the stack outputs and how to sign in to each (commands that read the Secrets,
    never the passwords themselves: this output ends up in CI logs)."""
    kubectl = f"kubectl --context {outputs.get('kubeContext')}"

    def secret(namespace: str, name: str, key: str) -> str:
        path = key.replace(".", "\\.")  # jsonpath escapes dots inside a key
        return f"{kubectl} -n {namespace} get secret {name} -o jsonpath='{{.data.{path}}}' | base64 -d"

    lines = [
        f"Open the UIs: keep this running in another terminal:  {outputs.get('uiPortForward')}",
        "Every UI signs you in through the bundled Dex (docs/identity.md): the users and groups are in",
        "  Pulumi.local.yaml (identity.users); their generated passwords:",
        f"  {kubectl} -n {DEX_NAMESPACE} get secret {DEX_USERS_SECRET} -o go-template="
        "'{{range $k, $v := .data}}{{$k}}: {{$v | base64decode}}{{\"\\n\"}}{{end}}'",
        "Emergency logins, should the identity provider be down:",
    ]
    catalog = outputs.get("catalog") or {}
    if catalog.get("url"):
        lines += [
            f"  DataHub   {_with_port(catalog['url'])}",
            f"            user datahub; password after 'datahub:' in: {secret(catalog['namespace'], USERS_SECRET, 'user.props')}",
        ]
    if outputs.get("minioConsole"):
        lines.append(f"  MinIO     {_with_port(outputs['minioConsole'])}  (log in with a domain's lake keys, below)")
    notebooks = outputs.get("notebooks") or {}
    if notebooks.get("url"):
        lines.append(
            f"  Notebooks {_with_port(notebooks['url'])}  (no emergency login: Dex only; one profile per sandbox domain "
            "of your groups)"
        )
    for name, domain in sorted((outputs.get("domains") or {}).items()):
        ns, urls = domain.get("namespace", name), domain.get("urls") or {}
        lines.append(f"  domain {name}:")
        if "dagster" in urls:
            lines.append(
                f"    Dagster   {_with_port(urls['dagster'])}  (behind sign-in only: Dagster OSS has no users)"
            )
        if "airbyte" in urls:
            lines += [
                f"    Airbyte   {_with_port(urls['airbyte'])}",
                f"              password: {secret(ns, AIRBYTE_AUTH_SECRET, 'instance-admin-password')}",
            ]
        if "superset" in urls:
            lines += [
                f"    Superset  {_with_port(urls['superset'])}",
                f"              emergency admin (REST API only) user {SUPERSET_ADMIN}; password: "
                f"{secret(ns, SUPERSET_CREDENTIALS_SECRET, 'SUPERSET_ADMIN_PASSWORD')}",
            ]
        lines.append(
            f"    lake keys: {secret(ns, LAKE_CREDENTIALS_SECRET, 'AWS_ACCESS_KEY_ID')}, and AWS_SECRET_ACCESS_KEY"
        )
    return lines


# ---- the two commands -----------------------------------------------------------------------------


def up(ws: Workspace, env: Mapping[str, str], *, context: str | None, python: str) -> int:
    problems = missing_prerequisites(env, context)
    if problems:
        print("make local needs:", *(f"  - {p}" for p in problems), sep="\n", file=sys.stderr)
        return 2

    own_cluster = context is None
    context = context or f"kind-{KIND_CLUSTER}"
    if own_cluster and KIND_CLUSTER not in capture(["kind", "get", "clusters"], env).stdout.split():
        run(["kind", "create", "cluster", "--name", KIND_CLUSTER, "--config", str(KIND_CONFIG)], env)
    ws.ensure_passphrase()
    ws.cluster_file.write_text(json.dumps({"context": context, "kindCluster": KIND_CLUSTER if own_cluster else None}))

    tag = source_tag()
    _build_and_load(f"{IMAGE_REPOSITORY}:{tag}", EXAMPLE_DIR / "Dockerfile", PROJECT_DIR, env, context)
    notebook_image = None
    if sandbox_domains(load_domains(PROJECT_DIR / "domains", stack=STACK)):
        notebook_image = {"repository": NOTEBOOK_REPOSITORY, "tag": notebook_tag()}
        image = f"{NOTEBOOK_REPOSITORY}:{notebook_image['tag']}"
        _build_and_load(image, NOTEBOOK_DIR / "Dockerfile", NOTEBOOK_DIR, env, context)

    penv = ws.pulumi_env(env)
    if not _stack_exists(penv):
        # In a folder of its own, so the salt `stack init` writes does not land in the committed file.
        ws.init_dir.mkdir(exist_ok=True)
        shutil.copyfile(PROJECT_DIR / "Pulumi.yaml", ws.init_dir / "Pulumi.yaml")
        run(
            [
                "pulumi",
                "--cwd",
                str(ws.init_dir),
                "stack",
                "init",
                STACK,
                "--secrets-provider",
                "passphrase",
                "--no-select",
            ],
            penv,
        )
    committed = yaml.safe_load((PROJECT_DIR / f"Pulumi.{STACK}.yaml").read_text())
    settings = stack_settings(
        committed,
        salt=_salt(ws),
        context=context,
        user_code=user_code_overrides(tag),
        notebook_image=notebook_image,
    )
    ws.config_file.write_text(yaml.safe_dump(settings, sort_keys=False))

    run(
        ["pulumi", "up", "--stack", STACK, "--config-file", str(ws.config_file), "--yes", "--non-interactive"],
        penv,
        None,
    )
    # The smoke check reads the committed stack file's kube context; name another one explicitly.
    smoke_context = [] if own_cluster else ["--context", context]
    run([python, "-m", "platformctl", "smoke", "--stack", STACK, *smoke_context], penv)
    outputs = capture(["pulumi", "stack", "output", "--stack", STACK, "--json"], penv)
    if outputs.returncode != 0:
        raise LocalError(f"`pulumi stack output` failed: {outputs.stderr.strip()}")
    print("\nThe platform is up.", *access_lines(json.loads(outputs.stdout or "{}")), sep="\n")
    return 0


def _build_and_load(image: str, dockerfile: Path, build_dir: Path, env: Mapping[str, str], context: str) -> None:
    run(["docker", "build", "--file", str(dockerfile), "--tag", image, str(build_dir)], env)
    if context.startswith("kind-"):
        run(["kind", "load", "docker-image", image, "--name", context.removeprefix("kind-")], env)
    else:
        print(
            f"note: make {image} available to the nodes of '{context}' yourself "
            "(k3d image import, minikube image load; Docker Desktop shares its images)",
            file=sys.stderr,
        )


def down(ws: Workspace, env: Mapping[str, str]) -> int:
    missing = [t for t in ("pulumi", "kind") if shutil.which(t, path=env.get("PATH", "")) is None]
    recorded = json.loads(ws.cluster_file.read_text()) if ws.cluster_file.exists() else {"kindCluster": KIND_CLUSTER}
    kind_cluster = recorded.get("kindCluster")
    if "pulumi" in missing or (kind_cluster and "kind" in missing):
        print("make local-down needs:", *(f"  - {INSTALL_HINTS[t]}" for t in missing), sep="\n", file=sys.stderr)
        return 2
    penv = ws.pulumi_env(env)
    stack = ws.backend.exists() and _stack_exists(penv)
    if kind_cluster:
        # The cluster is ours and throwaway: deleting it removes every object; Helm releases cannot be
        # uninstalled from a deleted cluster, so the state is then dropped with the stack.
        if kind_cluster in capture(["kind", "get", "clusters"], env).stdout.split():
            run(["kind", "delete", "cluster", "--name", kind_cluster], env)
        if stack:
            run(["pulumi", "stack", "rm", STACK, "--yes", "--force", "--preserve-config"], penv)
    elif stack:
        # Someone else's cluster: remove exactly what the stack created.
        run(
            ["pulumi", "destroy", "--stack", STACK, "--config-file", str(ws.config_file), "--yes", "--non-interactive"],
            penv,
        )
        run(["pulumi", "stack", "rm", STACK, "--yes", "--preserve-config"], penv)
    if ws.root.exists():
        shutil.rmtree(ws.root)
    print("The local platform is removed.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platformctl.local",
        description="The local platform on a laptop: up (make local) or down (make local-down).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("up", help="create or update the local platform (make local)")
    p.add_argument("--context", help="an existing kubeconfig context instead of the kind cluster 'dataplatform'")
    commands.add_parser("down", help="remove the local platform (make local-down)")
    args = parser.parse_args(argv)
    ws = Workspace(STATE_DIR)
    try:
        if args.command == "up":
            return up(ws, os.environ, context=args.context or None, python=sys.executable)
        return down(ws, os.environ)
    except LocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
