"""`python -m platformctl up|preview --stack <env>`: drive an environment's stacks with the Automation API.

An environment is one stack (`dataplatform:scope` absent or `environment`: today's shape) or, split
(`dataplatform:scope: platform` in `Pulumi.<env>.yaml`), the platform stack `<env>` plus one stack per
domain, `<env>-<domain>`, each with the environment's config and `dataplatform:scope: domain/<name>`.

Order and isolation: the environment's stack first; if it fails, no domain stack runs. Then the domain
stacks in parallel, at most `parallel` at a time; one domain's failure is reported and the others go on.
A missing domain stack is created (and every domain stack gets the environment's config again before it
runs, so a change of `Pulumi.<env>.yaml` reaches them). A domain stack whose file is gone goes through the
offboarding path (docs/runbooks/offboarding.md): only once the domain was retired (its record in
`domains/retired/` and every resource in its state retained on delete) is the stack destroyed, which drops
the retained resources from the state and leaves them in AWS, and then removed; otherwise it is BLOCKED.

Selection: `--domains a,b` runs those domain stacks only; `--changed-since <ref>` reads `git diff` and
runs the domains whose files changed (and the domains consuming their products), or, when anything of
the program changed, the environment's stack and every domain stack (`changed_stacks`).

Everything that talks to Pulumi sits behind `Workspace`; `AutomationWorkspace` is the real one
(`pulumi.automation`, which needs the Pulumi CLI), tests use a stand-in.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCOPE_KEY = "dataplatform:scope"
SINGLE, PLATFORM = "environment", "platform"
DOMAIN_SCOPE_PREFIX = "domain/"

Op = Literal["up", "preview"]
Action = Literal["deploy", "offboard"]
Status = Literal["ok", "failed", "blocked", "skipped"]


@dataclass(frozen=True)
class ConfigItem:
    """One config value as the stack holds it: structured values as JSON text, like the CLI passes them."""

    value: str
    secret: bool = False


@dataclass
class RunResult:
    ok: bool
    changes: dict[str, int] = field(default_factory=dict)  # operation -> count, from the engine's summary
    error: str = ""


class Workspace(Protocol):
    """What the orchestration needs from Pulumi. Stack names are short (`dev-sales`)."""

    def list_stacks(self) -> set[str]: ...

    def get_config(self, stack: str) -> dict[str, ConfigItem]: ...

    def prepare(self, stack: str, config: Mapping[str, ConfigItem] | None) -> None:
        """Select the stack, creating it when missing; with `config`, make its config exactly that."""
        ...

    def run(self, stack: str, op: Op, on_output: Callable[[str], None]) -> RunResult: ...

    def not_retained(self, stack: str) -> list[str]:
        """URNs in the stack's state that a destroy would delete in the cloud (custom, not retain_on_delete)."""
        ...

    def drop(self, stack: str, op: Op, on_output: Callable[[str], None]) -> RunResult:
        """Destroy (preview: preview the destroy of) the stack and, on up, remove it."""
        ...

    def domains_in_state(self, stack: str) -> list[str]:
        """Names of the DataDomainStacks in the stack's state."""
        ...


@dataclass(frozen=True)
class Target:
    stack: str
    domain: str | None  # None: the environment's stack
    action: Action = "deploy"


@dataclass
class StackReport:
    stack: str
    domain: str | None
    action: Action
    status: Status
    changes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    detail: str = ""
    output: list[str] = field(default_factory=list)


@dataclass
class Report:
    environment: str
    op: Op
    split: bool
    stacks: list[StackReport]

    @property
    def ok(self) -> bool:
        return all(s.status == "ok" for s in self.stacks)


class OrchestrationError(Exception):
    """Bad input to the orchestration (unknown domain, wrong scope): nothing was run."""


# ---------------------------------------------------------------- names and scope


def domain_stack(environment: str, domain: str) -> str:
    return f"{environment}-{domain}"


def environment_shape(config: Mapping[str, ConfigItem], stack: str) -> bool:
    """True when the environment's stack is split (scope `platform`); raises on a scope it cannot hold."""
    scope = config.get(SCOPE_KEY)
    value = scope.value if scope else SINGLE
    if value == SINGLE:
        return False
    if value == PLATFORM:
        return True
    raise OrchestrationError(
        f"Pulumi.{stack}.yaml: {SCOPE_KEY}: the environment's stack has scope '{SINGLE}' (one stack) or "
        f"'{PLATFORM}' (split: one stack per domain); '{value}' is for a domain stack"
    )


def domain_config(environment: Mapping[str, ConfigItem], domain: str) -> dict[str, ConfigItem]:
    """A domain stack's config: the environment's, with the domain's scope."""
    return {**environment, SCOPE_KEY: ConfigItem(f"{DOMAIN_SCOPE_PREFIX}{domain}")}


# ---------------------------------------------------------------- what changed


# Paths that never change what a stack deploys: docs, tests, tooling outside the program, user code.
_INERT = re.compile(
    r"^(docs/|tests/|benchmarks/|kit/|examples/|scan/|pricing/|\.github/|\.ci/|domains/README\.md$"
    r"|domains/[^/]+\.sample$|Makefile$|\.gitignore$|kind-dataplatform\.yaml$|requirements-dev\.txt$)|\.md$"
)
_DOMAIN_FILE = re.compile(r"^domains/(?:retired/)?([a-z0-9][a-z0-9-]*)\.yaml$")
_STACK_FILE = re.compile(r"^Pulumi\.(.+)\.yaml$")


@dataclass(frozen=True)
class Change:
    """What a set of changed paths means for one environment."""

    everything: bool  # the program (or this environment's stack file) changed: every stack
    domains: frozenset[str]  # otherwise: these domains' files changed
    reasons: tuple[str, ...] = ()


def classify(paths: Iterable[str], environment: str) -> Change:
    """Map changed paths (relative to the repository root) to the stacks of `environment` they touch.

    A domain file (or its retired record) touches that domain. Another environment's stack file, or a
    generated domain stack file (`Pulumi.<env>-<domain>.yaml`), touches nothing here; docs, tests and
    tooling outside the program touch nothing. Anything else is the program: every stack. Unknown paths
    count as the program, so a new kind of input is previewed everywhere rather than nowhere.
    """
    everything, domains, reasons = False, set(), []
    for path in sorted(set(paths)):
        if m := _DOMAIN_FILE.match(path):
            domains.add(m.group(1))
            continue
        if m := _STACK_FILE.match(path):
            if m.group(1) == environment:
                everything = True
                reasons.append(path)
            continue
        if _INERT.search(path):
            continue
        everything = True
        reasons.append(path)
    return Change(everything, frozenset(domains), tuple(reasons))


def changed_paths(ref: str, repo: Path = PROJECT_DIR) -> list[str]:
    """Paths changed between the merge base of `ref` and HEAD and the working tree, plus untracked files."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise OrchestrationError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    changed = git("diff", "--name-only", "--no-renames", "-z", merge_base(ref, repo)).split("\0")
    untracked = git("ls-files", "--others", "--exclude-standard", "-z").split("\0")
    return sorted({p for p in changed + untracked if p})


def consumers_of(producers: Iterable[str], domains_dir: Path) -> set[str]:
    """Domains whose file consumes a product of one of `producers` (their grants follow the producer's file)."""
    wanted, out = set(producers), set()
    for path in sorted(domains_dir.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if any(str(ref).partition(".")[0] in wanted for ref in doc.get("consumes") or []):
            out.add(path.stem)
    return out


def git_file(ref: str, path: str, repo: Path = PROJECT_DIR) -> str | None:
    """The text of `path` at `ref`, or None if it did not exist there."""
    done = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=repo, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


# What the environment's stack reads of a domain file: the sign-in redirect URIs (which tools have a UI) and
# the analysts' notebooks, a profile and ServiceAccount per sandbox domain gated by its access groups.
ENVIRONMENT_KEYS = ("tools", "access", "stacks", "retired")


def _keys(text: str | None, keys: Sequence[str]) -> Any:
    if text is None:
        return None
    doc = yaml.safe_load(text) or {}
    return {k: doc.get(k) for k in keys}


def file_keys_changed(
    name: str, base: str, keys: Sequence[str], repo: Path = PROJECT_DIR, domains_dir: Path | None = None
) -> bool:
    """Whether `keys` of `domains/<name>.yaml` differ between `base` and the working tree (or it came or went)."""
    head = (domains_dir or repo / "domains") / f"{name}.yaml"
    now = head.read_text(encoding="utf-8") if head.is_file() else None
    return _keys(now, keys) != _keys(git_file(base, f"domains/{name}.yaml", repo), keys)


def products_changed(name: str, base: str, repo: Path = PROJECT_DIR, domains_dir: Path | None = None) -> bool:
    """Whether `name`'s products (what consumers' grants are made of) differ between `base` and the working tree."""
    return file_keys_changed(name, base, ("products",), repo, domains_dir)


# ---------------------------------------------------------------- plan


@dataclass(frozen=True)
class Selection:
    environment: bool  # run the environment's stack
    domains: frozenset[str] | None  # None: every domain (and every orphaned domain stack)
    explicit: bool = False  # named with --domains (a name must exist) rather than found in a diff

    @classmethod
    def everything(cls) -> Selection:
        return cls(True, None)

    @classmethod
    def named(cls, domains: Iterable[str]) -> Selection:
        return cls(False, frozenset(domains), explicit=True)

    @classmethod
    def from_change(cls, change: Change) -> Selection:
        return cls.everything() if change.everything else cls(False, change.domains)


def plan_targets(
    environment: str,
    selection: Selection,
    *,
    split: bool,
    active: Sequence[str],
    existing: set[str],
) -> list[Target]:
    """The stacks to run, the environment's first. `active`: the domains whose files include `environment`;
    `existing`: the stacks that exist. A domain stack without a file here is offboarded."""
    if not split:
        if selection.explicit:
            raise OrchestrationError(
                f"stack '{environment}' is one stack ({SCOPE_KEY}: {SINGLE}), its domains deploy with it: run it "
                f"without --domains, or split it ({SCOPE_KEY}: {PLATFORM}; docs/runbooks/split-stacks.md)"
            )
        # Any change to a domain file is a change of the one stack.
        run = selection.environment or selection.domains is None or bool(selection.domains)
        return [Target(environment, None)] if run else []
    prefix = f"{environment}-"
    orphans = {s[len(prefix) :] for s in existing if s.startswith(prefix)} - set(active)
    if selection.explicit:
        unknown = sorted(set(selection.domains or ()) - set(active) - orphans)
        if unknown:
            raise OrchestrationError(
                f"--domains: no domain file includes stack '{environment}' and no stack exists for: "
                f"{', '.join(unknown)} (domains here: {', '.join(sorted(active)) or 'none'})"
            )
    wanted = set(active) | orphans if selection.domains is None else set(selection.domains)
    targets = [Target(environment, None)] if selection.environment else []
    for name in sorted(wanted):
        if name in active:
            targets.append(Target(domain_stack(environment, name), name))
        elif name in orphans:
            targets.append(Target(domain_stack(environment, name), name, "offboard"))
        # else: a changed file of a domain that is neither here nor deployed here (another environment's)
    return targets


# ---------------------------------------------------------------- run


def orchestrate(
    workspace: Workspace,
    environment: str,
    op: Op,
    selection: Selection,
    *,
    active: Sequence[str],
    retired_records: set[str],
    parallel: int = 4,
    on_line: Callable[[str, str], None] | None = None,
) -> Report:
    """Run the selected stacks of `environment`: its own first, then the domain stacks, `parallel` at a time."""
    if parallel < 1:
        raise OrchestrationError("--parallel must be at least 1")
    workspace.prepare(environment, None)
    env_config = workspace.get_config(environment)
    split = environment_shape(env_config, environment)
    existing = workspace.list_stacks() if split else set()
    targets = plan_targets(environment, selection, split=split, active=active, existing=existing)
    lock = threading.Lock()

    def emit(stack: str, report: StackReport) -> Callable[[str], None]:
        def line(text: str) -> None:
            text = text.rstrip("\n")
            report.output.append(text)
            if on_line:
                with lock:
                    on_line(stack, text)

        return line

    def run_one(target: Target) -> StackReport:
        report = StackReport(target.stack, target.domain, target.action, "ok")
        started = time.monotonic()
        try:
            if target.action == "offboard":
                assert target.domain is not None
                result = _offboard(workspace, target, op, retired_records, emit(target.stack, report))
                if result is None:
                    report.status = "blocked"
                    report.detail = (
                        f"domains/{target.domain}.yaml is gone but the domain was not retired first: restore the "
                        "file, retire it (docs/runbooks/offboarding.md) and deploy, then delete the file"
                    )
                    return report
            else:
                if target.domain is not None:
                    workspace.prepare(target.stack, domain_config(env_config, target.domain))
                elif split and (left := workspace.domains_in_state(target.stack)):
                    # Split, its program has no domain: an update would delete (or, protected, fail on) them.
                    report.status = "blocked"
                    report.detail = (
                        f"the environment's stack still holds the domains {', '.join(sorted(left))}: move them to "
                        "their stacks first (python -m platformctl.migrate, docs/runbooks/split-stacks.md)"
                    )
                    return report
                result = workspace.run(target.stack, op, emit(target.stack, report))
            report.changes = dict(result.changes)
            if not result.ok:
                report.status, report.detail = "failed", result.error
        except Exception as exc:  # one stack's failure must not stop the others
            report.status, report.detail = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            report.seconds = time.monotonic() - started
        return report

    domain_targets = [t for t in targets if t.domain is not None]
    reports = [run_one(t) for t in targets if t.domain is None]
    if any(r.status != "ok" for r in reports):
        reports += [
            StackReport(
                t.stack,
                t.domain,
                t.action,
                "skipped",
                detail=f"environment stack '{environment}' did not succeed first",
            )
            for t in domain_targets
        ]
    elif domain_targets:
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="stack") as pool:
            reports += list(pool.map(run_one, domain_targets))
    return Report(environment, op, split, reports)


def _offboard(
    workspace: Workspace,
    target: Target,
    op: Op,
    retired_records: set[str],
    on_output: Callable[[str], None],
) -> RunResult | None:
    """The last step of offboarding in split mode; None when the domain was not retired first."""
    assert target.domain is not None
    if target.domain not in retired_records:
        return None
    left = workspace.not_retained(target.stack)
    if left:
        on_output(f"not retained on delete (a destroy would delete them): {', '.join(left)}")
        return None
    return workspace.drop(target.stack, op, on_output)


# ---------------------------------------------------------------- output


def format_report(report: Report) -> str:
    shape = "split" if report.split else "one stack"
    lines = [f"{report.op} of environment '{report.environment}' ({shape}):", ""]
    width = max([len(s.stack) for s in report.stacks] + [5])
    for s in report.stacks:
        changes = ", ".join(f"{k} {v}" for k, v in sorted(s.changes.items())) or "-"
        action = " (offboard)" if s.action == "offboard" else ""
        lines.append(f"  {s.stack:<{width}}  {s.status.upper():<7}  {s.seconds:6.1f} s  {changes}{action}")
        if s.detail:
            lines.append(f"  {'':<{width}}  {s.detail}")
    if not report.stacks:
        lines.append("  nothing to run")
    return "\n".join(lines)


def format_markdown(s: StackReport, op: Op, *, max_output: int = 60000) -> str:
    """One stack's PR comment: status, change counts and the engine's output (its tail, if long)."""
    changes = ", ".join(f"{k}: {v}" for k, v in sorted(s.changes.items())) or "no changes reported"
    head = f"#### `pulumi {op}` of `{s.stack}`: {s.status.upper()}\n\n{changes}\n"
    if s.detail:
        head += f"\n> {s.detail}\n"
    text = "\n".join(s.output)
    if len(text) > max_output:
        text = "...\n" + text[-max_output:]
    return f"{head}\n<details><summary>output</summary>\n\n```\n{text}\n```\n</details>\n"


def write_outputs(report: Report, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for s in report.stacks:
        (out / f"{s.stack}.md").write_text(format_markdown(s, report.op), encoding="utf-8")
    summary = {
        "environment": report.environment,
        "op": report.op,
        "split": report.split,
        "stacks": [{k: v for k, v in asdict(s).items() if k != "output"} for s in report.stacks],
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(f"```\n{format_report(report)}\n```\n", encoding="utf-8")


# ---------------------------------------------------------------- the real workspace


class AutomationWorkspace:
    """`Workspace` on `pulumi.automation.LocalWorkspace` over this project directory (needs the Pulumi CLI).

    Safe from the pool's threads: every CLI command it runs names its stack (`--stack`), none relies on
    the workspace's selected stack."""

    def __init__(
        self,
        project_dir: Path = PROJECT_DIR,
        *,
        org: str | None = None,
        secrets_provider: str | None = None,
        policy_packs: Sequence[str] = ("policy",),
        message: str | None = None,
    ) -> None:
        from pulumi import automation as auto

        self._auto = auto
        self.project_dir = project_dir
        self.org = org
        self.policy_packs = [str(project_dir / p) for p in policy_packs]
        self.message = message
        self._ws = auto.LocalWorkspace(work_dir=str(project_dir), secrets_provider=secrets_provider)

    def _name(self, stack: str) -> str:
        return f"{self.org}/{stack}" if self.org else stack

    def _stack(self, stack: str) -> Any:
        return self._auto.Stack.select(self._name(stack), self._ws)

    def list_stacks(self) -> set[str]:
        return {s.name.rsplit("/", 1)[-1] for s in self._ws.list_stacks()}

    def get_config(self, stack: str) -> dict[str, ConfigItem]:
        values = self._stack(stack).get_all_config()
        return {k: ConfigItem(v.value, bool(v.secret)) for k, v in values.items()}

    def prepare(self, stack: str, config: Mapping[str, ConfigItem] | None) -> None:
        s = self._auto.Stack.create_or_select(self._name(stack), self._ws)
        if config is None:
            return
        stale = [k for k in s.get_all_config() if k not in config]
        if stale:
            s.remove_all_config(stale)
        s.set_all_config({k: self._auto.ConfigValue(v.value, secret=v.secret) for k, v in config.items()})

    def run(self, stack: str, op: Op, on_output: Callable[[str], None]) -> RunResult:
        s = self._stack(stack)
        try:
            if op == "up":
                up = s.up(policy_packs=self.policy_packs, message=self.message, on_output=on_output)
                return RunResult(True, dict(up.summary.resource_changes or {}))
            preview = s.preview(policy_packs=self.policy_packs, message=self.message, on_output=on_output)
            return RunResult(True, {str(k): int(v) for k, v in preview.change_summary.items()})
        except self._auto.errors.CommandError as exc:
            return RunResult(False, error=str(exc).strip().splitlines()[-1] if str(exc).strip() else "failed")

    def not_retained(self, stack: str) -> list[str]:
        deployment = self._ws.export_stack(self._name(stack)).deployment or {}
        return [
            r["urn"]
            for r in deployment.get("resources", [])
            if r.get("custom") and not r["type"].startswith("pulumi:") and not r.get("retainOnDelete")
        ]

    def domains_in_state(self, stack: str) -> list[str]:
        deployment = self._ws.export_stack(self._name(stack)).deployment or {}
        return [
            r["urn"].rsplit("::", 1)[-1]
            for r in deployment.get("resources", [])
            if r.get("type") == "dataplatform:domain:DataDomainStack"
        ]

    def drop(self, stack: str, op: Op, on_output: Callable[[str], None]) -> RunResult:
        s = self._stack(stack)
        try:
            if op == "preview":
                preview = s.preview_destroy(on_output=on_output)
                return RunResult(True, {str(k): int(v) for k, v in preview.change_summary.items()})
            destroyed = s.destroy(message=self.message, on_output=on_output)
            self._ws.remove_stack(self._name(stack))
            return RunResult(True, dict(destroyed.summary.resource_changes or {}))
        except self._auto.errors.CommandError as exc:
            return RunResult(False, error=str(exc).strip().splitlines()[-1] if str(exc).strip() else "failed")


# ---------------------------------------------------------------- inputs from the repository


def file_scope(environment: str, project_dir: Path = PROJECT_DIR) -> str:
    """`dataplatform:scope` as `Pulumi.<environment>.yaml` sets it (default: one stack)."""
    path = project_dir / f"Pulumi.{environment}.yaml"
    if not path.is_file():
        raise OrchestrationError(f"no stack file {path.name}")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return str((doc.get("config") or {}).get(SCOPE_KEY, SINGLE))


def active_domains(domains_dir: Path, environment: str) -> list[str]:
    """The domains whose files include `environment` (retired ones too: they keep their data services)."""
    from components.domain_config import load_domains

    return [d.name for d in load_domains(domains_dir, stack=environment)]


def retired_in(domains_dir: Path, environment: str) -> set[str]:
    """Domains with a retired record for `environment` (written by `platformctl offboard`)."""
    from components.retirement import load_retired_records

    return {name for name, record in load_retired_records(domains_dir).items() if environment in record.stacks}


def selection_from_diff(
    paths: Sequence[str],
    environment: str,
    domains_dir: Path,
    *,
    products_changed: Callable[[str], bool] = lambda _name: True,
    environment_changed: Callable[[str], bool] = lambda _name: True,
) -> Selection:
    """What `--changed-since` runs: every stack if the program changed, else the changed domains, plus the
    consumers of those whose products changed (a consumer's grants are built from the producer's products),
    plus the environment's stack if what it reads of a changed file changed (`ENVIRONMENT_KEYS`)."""
    change = classify(paths, environment)
    if change.everything:
        return Selection.everything()
    producers = {d for d in change.domains if products_changed(d)}
    return Selection(
        any(environment_changed(d) for d in change.domains),
        frozenset(change.domains | consumers_of(producers, domains_dir)),
    )


def _since(base: str, repo: Path, domains_dir: Path) -> dict[str, Callable[[str], bool]]:
    return {
        "products_changed": lambda name: products_changed(name, base, repo, domains_dir),
        "environment_changed": lambda name: file_keys_changed(name, base, ENVIRONMENT_KEYS, repo, domains_dir),
    }


def merge_base(ref: str, repo: Path = PROJECT_DIR) -> str:
    done = subprocess.run(["git", "merge-base", ref, "HEAD"], cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OrchestrationError(f"git merge-base {ref} HEAD: {done.stderr.strip()}")
    return done.stdout.strip()


def selection_since(ref: str, environment: str, domains_dir: Path, repo: Path = PROJECT_DIR) -> Selection:
    base = merge_base(ref, repo)
    return selection_from_diff(changed_paths(ref, repo), environment, domains_dir, **_since(base, repo, domains_dir))


def _base_file_includes(name: str, environment: str, base: str, repo: Path) -> bool:
    """Whether `domains/<name>.yaml` at `base` included `environment` (a deleted file's stack exists)."""
    text = git_file(base, f"domains/{name}.yaml", repo)
    if text is None:
        return False
    return environment in ((yaml.safe_load(text) or {}).get("stacks") or ["dev", "prod", "local"])


def ci_matrix(
    environments: Sequence[str],
    ref: str,
    *,
    repo: Path = PROJECT_DIR,
    domains_dir: Path | None = None,
) -> list[dict[str, str]]:
    """The preview matrix of a pull request: one entry per stack to preview, `{environment, stack, domain}`.

    One-stack environments: the environment's stack whenever the program or any domain file changed.
    Split environments: the environment's stack and every domain stack when the program changed, else
    only the changed domains' stacks (and their consumers'); a deleted domain file's stack too (its
    preview shows the offboarding step), if the file included the environment at the merge base.
    """
    domains_dir = domains_dir or repo / "domains"
    paths = changed_paths(ref, repo)
    base = merge_base(ref, repo)
    entries: list[dict[str, str]] = []
    for env in environments:
        scope = file_scope(env, repo)
        if scope not in (SINGLE, PLATFORM):
            raise OrchestrationError(f"Pulumi.{env}.yaml: {SCOPE_KEY}: '{scope}' is not an environment's scope")
        selection = selection_from_diff(paths, env, domains_dir, **_since(base, repo, domains_dir))
        active = active_domains(domains_dir, env)
        if scope == SINGLE:
            if selection.domains is None or selection.domains:
                entries.append({"environment": env, "stack": env, "domain": ""})
            continue
        if selection.environment:
            entries.append({"environment": env, "stack": env, "domain": ""})
        names = set(active) if selection.domains is None else set(selection.domains)
        names |= classify(paths, env).domains  # a deleted file's domain, also when everything changed
        for name in sorted(names):
            gone = name not in active and not (domains_dir / f"{name}.yaml").exists()
            if name in active or (gone and _base_file_includes(name, env, base, repo)):
                entries.append({"environment": env, "stack": domain_stack(env, name), "domain": name})
    return entries
