"""`platformctl up|preview` and the CI matrix against a stand-in for the Automation API workspace.

Order (the environment's stack before any domain stack), the concurrency bound, failure isolation,
creating missing domain stacks with the environment's config, the offboarding path of a removed
domain file, and which stacks a git diff selects (in a throwaway git repository).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import yaml

from platformctl.orchestrate import (
    SCOPE_KEY,
    ConfigItem,
    Op,
    OrchestrationError,
    Report,
    RunResult,
    Selection,
    ci_matrix,
    classify,
    orchestrate,
    selection_since,
    write_outputs,
)
from tests.harness import PROJECT_DIR

SPLIT = {
    "dataplatform:environment": ConfigItem("dev"),
    "dataplatform:network": ConfigItem('{"cidr": "10.20.0.0/16"}'),
    "dataplatform:identityClientSecret": ConfigItem("s3cr3t", secret=True),
    SCOPE_KEY: ConfigItem("platform"),
}
SINGLE = {k: v for k, v in SPLIT.items() if k != SCOPE_KEY}


class FakeWorkspace:
    """Records every call; `run` sleeps so that parallel runs overlap, and counts how many do."""

    def __init__(
        self,
        env_config: Mapping[str, ConfigItem],
        stacks: set[str],
        *,
        fail: set[str] = frozenset(),  # type: ignore[assignment]
        explode: set[str] = frozenset(),  # type: ignore[assignment]
        not_retained: dict[str, list[str]] | None = None,
        in_state: dict[str, list[str]] | None = None,
        delay: float = 0.05,
    ) -> None:
        self._in_state = in_state or {}
        self.stacks = set(stacks)
        self.configs: dict[str, dict[str, ConfigItem]] = {"dev": dict(env_config)}
        self.created: list[str] = []
        self.events: list[tuple[str, str]] = []
        self.fail, self.explode = fail, explode
        self._not_retained = not_retained or {}
        self.delay = delay
        self._lock = threading.Lock()
        self.active = self.max_active = 0

    def list_stacks(self) -> set[str]:
        return set(self.stacks)

    def get_config(self, stack: str) -> dict[str, ConfigItem]:
        return dict(self.configs[stack])

    def prepare(self, stack: str, config: Mapping[str, ConfigItem] | None) -> None:
        with self._lock:
            if stack not in self.stacks:
                self.stacks.add(stack)
                self.created.append(stack)
            if config is not None:
                self.configs[stack] = dict(config)
            self.events.append(("prepare", stack))

    def _busy(self, stack: str, kind: str) -> None:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.events.append((f"start-{kind}", stack))
        time.sleep(self.delay)
        with self._lock:
            self.active -= 1
            self.events.append((f"end-{kind}", stack))

    def run(self, stack: str, op: Op, on_output: Callable[[str], None]) -> RunResult:
        self._busy(stack, op)
        on_output(f"{op} of {stack}\n")
        if stack in self.explode:
            raise RuntimeError(f"{stack}: the CLI crashed")
        if stack in self.fail:
            return RunResult(False, {"create": 1}, "error: update failed")
        return RunResult(True, {"create": 2, "same": 5})

    def not_retained(self, stack: str) -> list[str]:
        return self._not_retained.get(stack, [])

    def domains_in_state(self, stack: str) -> list[str]:
        return self._in_state.get(stack, [])

    def drop(self, stack: str, op: Op, on_output: Callable[[str], None]) -> RunResult:
        self._busy(stack, f"drop-{op}")
        if op == "up":
            self.stacks.discard(stack)
        return RunResult(True, {"delete": 3})


def started(ws: FakeWorkspace) -> list[str]:
    return [stack for kind, stack in ws.events if kind.startswith("start-")]


def by_stack(report: Report) -> dict[str, tuple[str, str]]:
    return {s.stack: (s.status, s.detail) for s in report.stacks}


DOMAINS = ["a", "b", "c", "d", "e", "f"]


def test_environment_stack_runs_alone_first_then_the_domains_at_most_parallel_at_a_time() -> None:
    ws = FakeWorkspace(SPLIT, {"dev"} | {f"dev-{d}" for d in DOMAINS})
    report = orchestrate(ws, "dev", "up", Selection.everything(), active=DOMAINS, retired_records=set(), parallel=2)
    assert report.ok and report.split
    kinds = [(k, s) for k, s in ws.events if k != "prepare"]
    assert kinds[:2] == [("start-up", "dev"), ("end-up", "dev")]
    assert sorted(started(ws)[1:]) == [f"dev-{d}" for d in DOMAINS]
    assert ws.max_active == 2  # bounded, and the bound is used (runs overlapped)


def test_parallel_one_runs_domains_one_after_another() -> None:
    ws = FakeWorkspace(SPLIT, {"dev"})
    orchestrate(ws, "dev", "preview", Selection.everything(), active=DOMAINS[:3], retired_records=set(), parallel=1)
    assert ws.max_active == 1


def test_missing_domain_stacks_are_created_with_the_environments_config_and_their_scope() -> None:
    ws = FakeWorkspace(SPLIT, {"dev", "dev-a"})
    ws.configs["dev-a"] = {"stale:key": ConfigItem("x")}
    orchestrate(ws, "dev", "preview", Selection.everything(), active=["a", "b"], retired_records=set())
    assert ws.created == ["dev-b"]
    for name in ("a", "b"):
        expected = {**SPLIT, SCOPE_KEY: ConfigItem(f"domain/{name}")}
        assert ws.configs[f"dev-{name}"] == expected  # synced on every run: stale keys gone, secrets stay secret
    assert ws.configs["dev"] == SPLIT  # the environment's own config is never rewritten


def test_one_domain_failing_or_crashing_does_not_stop_the_others() -> None:
    ws = FakeWorkspace(SPLIT, {"dev"}, fail={"dev-b"}, explode={"dev-c"})
    report = orchestrate(ws, "dev", "up", Selection.everything(), active=DOMAINS, retired_records=set(), parallel=3)
    statuses = by_stack(report)
    assert statuses["dev-b"] == ("failed", "error: update failed")
    assert statuses["dev-c"][0] == "failed" and "the CLI crashed" in statuses["dev-c"][1]
    assert {s for s, (status, _) in statuses.items() if status == "ok"} == {"dev", "dev-a", "dev-d", "dev-e", "dev-f"}
    assert not report.ok


def test_a_failed_environment_stack_skips_every_domain_stack() -> None:
    ws = FakeWorkspace(SPLIT, {"dev"}, fail={"dev"})
    report = orchestrate(ws, "dev", "up", Selection.everything(), active=["a", "b"], retired_records=set())
    assert started(ws) == ["dev"]
    assert [(s.stack, s.status) for s in report.stacks] == [
        ("dev", "failed"),
        ("dev-a", "skipped"),
        ("dev-b", "skipped"),
    ]
    assert not report.ok


def test_a_split_environment_stack_that_still_holds_domains_is_not_run() -> None:
    # Scope platform before the domains were moved: an update would delete them.
    ws = FakeWorkspace(SPLIT, {"dev"}, in_state={"dev": ["sales"]})
    report = orchestrate(ws, "dev", "up", Selection.everything(), active=["sales"], retired_records=set())
    assert started(ws) == []
    status, detail = by_stack(report)["dev"]
    assert status == "blocked" and "sales" in detail and "platformctl.migrate" in detail
    assert by_stack(report)["dev-sales"][0] == "skipped"
    # One stack: its domains belong in its state.
    ws = FakeWorkspace(SINGLE, {"dev"}, in_state={"dev": ["sales"]})
    assert orchestrate(ws, "dev", "up", Selection.everything(), active=["sales"], retired_records=set()).ok


def test_named_domains_run_only_their_stacks() -> None:
    ws = FakeWorkspace(SPLIT, {"dev"})
    report = orchestrate(ws, "dev", "preview", Selection.named(["b"]), active=["a", "b"], retired_records=set())
    assert started(ws) == ["dev-b"] and [s.stack for s in report.stacks] == ["dev-b"]


def test_an_unknown_domain_name_stops_before_anything_runs() -> None:
    ws = FakeWorkspace(SPLIT, {"dev"})
    with pytest.raises(OrchestrationError, match=r"--domains: .*sael"):
        orchestrate(ws, "dev", "up", Selection.named(["sael"]), active=["sales"], retired_records=set())
    assert started(ws) == []


def test_a_single_stack_environment_runs_only_its_stack_and_refuses_domain_names() -> None:
    ws = FakeWorkspace(SINGLE, {"dev"})
    report = orchestrate(ws, "dev", "up", Selection.everything(), active=["a", "b"], retired_records=set())
    assert started(ws) == ["dev"] and not report.split
    # A changed domain file changes the one stack; nothing changed runs nothing.
    ws = FakeWorkspace(SINGLE, {"dev"})
    orchestrate(ws, "dev", "preview", Selection(False, frozenset({"a"})), active=["a"], retired_records=set())
    assert started(ws) == ["dev"]
    ws = FakeWorkspace(SINGLE, {"dev"})
    orchestrate(ws, "dev", "preview", Selection(False, frozenset()), active=["a"], retired_records=set())
    assert started(ws) == []
    with pytest.raises(OrchestrationError, match="is one stack"):
        orchestrate(ws, "dev", "up", Selection.named(["a"]), active=["a"], retired_records=set())


def test_an_environment_stack_with_a_domain_scope_is_refused() -> None:
    ws = FakeWorkspace({**SINGLE, SCOPE_KEY: ConfigItem("domain/sales")}, {"dev"})
    with pytest.raises(OrchestrationError, match=r"Pulumi\.dev\.yaml: dataplatform:scope"):
        orchestrate(ws, "dev", "up", Selection.everything(), active=[], retired_records=set())


def test_a_removed_domain_file_of_a_retired_domain_drops_its_stack() -> None:
    ws = FakeWorkspace(SPLIT, {"dev", "dev-a", "dev-old"})
    report = orchestrate(ws, "dev", "up", Selection.everything(), active=["a"], retired_records={"old"})
    assert by_stack(report)["dev-old"] == ("ok", "")
    assert ("start-drop-up", "dev-old") in ws.events and "dev-old" not in ws.stacks
    assert not [e for e in ws.events if e == ("prepare", "dev-old")]  # never re-created or re-configured


def test_a_deleted_domain_named_by_the_ci_matrix_goes_through_offboarding() -> None:
    ws = FakeWorkspace(SPLIT, {"dev", "dev-a", "dev-old"})
    report = orchestrate(ws, "dev", "preview", Selection.named(["old"]), active=["a"], retired_records={"old"})
    assert [(s.stack, s.action, s.status) for s in report.stacks] == [("dev-old", "offboard", "ok")]
    assert started(ws) == ["dev-old"] and ("start-drop-preview", "dev-old") in ws.events and "dev-old" in ws.stacks


def test_a_removed_domain_file_without_retiring_first_is_blocked() -> None:
    ws = FakeWorkspace(SPLIT, {"dev", "dev-old"})
    report = orchestrate(ws, "dev", "up", Selection.everything(), active=[], retired_records=set())
    status, detail = by_stack(report)["dev-old"]
    assert status == "blocked" and "retire" in detail and "offboarding.md" in detail
    assert "dev-old" in ws.stacks and not [e for e in ws.events if "drop" in e[0]]
    assert not report.ok


def test_a_retired_record_alone_is_not_enough_while_the_state_still_deletes_something() -> None:
    urn = "urn:pulumi:dev-old::dataplatform::aws:s3/bucket:Bucket::old-bucket"
    ws = FakeWorkspace(SPLIT, {"dev", "dev-old"}, not_retained={"dev-old": [urn]})
    report = orchestrate(ws, "dev", "preview", Selection.everything(), active=[], retired_records={"old"})
    assert by_stack(report)["dev-old"][0] == "blocked"
    assert any(urn in line for line in report.stacks[-1].output)
    assert not [e for e in ws.events if "drop" in e[0]]


def test_outputs_hold_a_comment_per_stack_and_a_report(tmp_path: Path) -> None:
    ws = FakeWorkspace(SPLIT, {"dev"}, fail={"dev-b"})
    report = orchestrate(ws, "dev", "preview", Selection.everything(), active=["a", "b"], retired_records=set())
    write_outputs(report, tmp_path)
    comment = (tmp_path / "dev-b.md").read_text()
    assert "`pulumi preview` of `dev-b`: FAILED" in comment and "preview of dev-b" in comment
    assert "create: 2" in (tmp_path / "dev-a.md").read_text()
    summary = json.loads((tmp_path / "report.json").read_text())
    assert [(s["stack"], s["status"]) for s in summary["stacks"]] == [
        ("dev", "ok"),
        ("dev-a", "ok"),
        ("dev-b", "failed"),
    ]


# ---------------------------------------------------------------- what a diff selects


@pytest.mark.parametrize(
    ("paths", "everything", "domains"),
    [
        (["domains/sales.yaml"], False, {"sales"}),
        (["domains/retired/old.yaml", "docs/ci.md", "README.md"], False, {"old"}),
        (["domains/README.md", "domains/_example.yaml.sample", "tests/test_x.py", "kit/x.py"], False, set()),
        (["components/domain.py"], True, set()),
        (["__main__.py"], True, set()),
        (["Pulumi.yaml"], True, set()),
        (["Pulumi.dev.yaml"], True, set()),
        (["Pulumi.prod.yaml", "Pulumi.dev-sales.yaml"], False, set()),  # another environment's; a generated one
        (["requirements.txt"], True, set()),
        (["policy/rules.py"], True, set()),
        (["something/new.cfg"], True, set()),  # unknown: previewed everywhere rather than nowhere
    ],
)
def test_classify(paths: list[str], everything: bool, domains: set[str]) -> None:
    change = classify(paths, "dev")
    assert change.everything is everything
    if not everything:
        assert change.domains == domains


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with dev split (scope platform), prod one stack, and the two example domains."""
    (tmp_path / "domains").mkdir()
    for name in ("sales", "marketing"):
        shutil.copy(PROJECT_DIR / "domains" / f"{name}.yaml", tmp_path / "domains" / f"{name}.yaml")
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "domain.py").write_text("x = 1\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(f"config:\n  dataplatform:environment: dev\n  {SCOPE_KEY}: platform\n")
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  dataplatform:environment: prod\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    git(tmp_path, "checkout", "-q", "-b", "pr")
    return tmp_path


def edit_domain(repo: Path, name: str, **changes: object) -> None:
    path = repo / "domains" / f"{name}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.update(changes)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(repo, "commit", "-q", "-am", f"edit {name}")


def stacks(repo: Path) -> list[str]:
    return [e["stack"] for e in ci_matrix(["dev", "prod"], "main", repo=repo)]


def test_a_change_only_to_a_domain_file_previews_only_that_domain_stack(repo: Path) -> None:
    edit_domain(repo, "sales", quota={"cpu": "10", "memory": "24Gi", "pods": 60})
    # prod is one stack: any domain change previews it whole.
    assert stacks(repo) == ["dev-sales", "prod"]
    entry = ci_matrix(["dev"], "main", repo=repo)[0]
    assert entry == {"environment": "dev", "stack": "dev-sales", "domain": "sales"}


def test_a_change_to_a_producers_products_previews_its_consumers_too(repo: Path) -> None:
    doc = yaml.safe_load((repo / "domains" / "sales.yaml").read_text())
    doc["products"][0]["prefix"] = "curated/orders-v2/"
    edit_domain(repo, "sales", products=doc["products"])
    assert stacks(repo) == ["dev-marketing", "dev-sales", "prod"]  # marketing consumes sales.orders


def test_a_program_change_previews_the_environment_and_every_domain_stack(repo: Path) -> None:
    (repo / "components" / "domain.py").write_text("x = 2\n")
    git(repo, "commit", "-q", "-am", "program")
    assert stacks(repo) == ["dev", "dev-marketing", "dev-sales", "prod"]


def test_docs_only_previews_nothing_and_uncommitted_changes_count(repo: Path) -> None:
    (repo / "README.md").write_text("docs\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "docs")
    assert stacks(repo) == []
    (repo / "Pulumi.dev.yaml").write_text((repo / "Pulumi.dev.yaml").read_text() + "  dataplatform:region: eu-west-1\n")
    assert stacks(repo) == ["dev", "dev-marketing", "dev-sales"]  # dev's stack file: all of dev, not prod


def test_a_deleted_domain_file_previews_its_stack_for_the_offboarding_step(repo: Path) -> None:
    git(repo, "rm", "-q", "domains/marketing.yaml")
    git(repo, "commit", "-q", "-m", "remove marketing")
    # The environment's stack too: its sign-in redirect URIs and notebooks follow the domain files.
    assert stacks(repo) == ["dev", "dev-marketing", "prod"]


def test_a_domain_file_change_the_environment_reads_previews_the_environment_stack_too(repo: Path) -> None:
    doc = yaml.safe_load((repo / "domains" / "sales.yaml").read_text())
    edit_domain(repo, "sales", tools={**doc["tools"], "sandbox": {"enabled": True}})
    assert stacks(repo) == ["dev", "dev-sales", "prod"]


def test_selection_since_a_ref_is_the_same_rule(repo: Path) -> None:
    edit_domain(repo, "marketing", description="Campaigns.")
    assert selection_since("main", "dev", repo / "domains", repo) == Selection(False, frozenset({"marketing"}))
    (repo / "policy.py").write_text("")
    assert selection_since("main", "dev", repo / "domains", repo) == Selection.everything()


# ---------------------------------------------------------------- the real workspace, over stand-ins of its SDK


def test_the_automation_workspace_runs_every_stack_with_the_policy_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from pulumi import automation as auto
    from pulumi.automation._cmd import CommandResult

    from platformctl.orchestrate import AutomationWorkspace

    calls: list[tuple] = []
    state = {
        "resources": [
            {"urn": "urn:...::pulumi:providers:aws::p", "type": "pulumi:providers:aws", "custom": True},
            {
                "urn": "urn:...::aws:s3/bucket:Bucket::kept",
                "type": "aws:s3/bucket:Bucket",
                "custom": True,
                "retainOnDelete": True,
            },
            {"urn": "urn:...::aws:iam/role:Role::gone", "type": "aws:iam/role:Role", "custom": True},
            {"urn": "urn:...::dataplatform:domain:DataDomainStack::c", "type": "dataplatform:domain:DataDomainStack"},
        ]
    }

    class FakeLocalWorkspace:
        def __init__(self, *, work_dir: str, secrets_provider: str | None) -> None:
            calls.append(("workspace", work_dir, secrets_provider))

        def list_stacks(self) -> list[SimpleNamespace]:
            return [SimpleNamespace(name="acme/dev"), SimpleNamespace(name="acme/dev-sales")]

        def export_stack(self, name: str) -> SimpleNamespace:
            return SimpleNamespace(deployment=state)

        def remove_stack(self, name: str) -> None:
            calls.append(("remove", name))

    class FakeStack:
        def __init__(self, name: str) -> None:
            self.name = name

        @classmethod
        def select(cls, name: str, _ws: object) -> FakeStack:
            calls.append(("select", name))
            return cls(name)

        @classmethod
        def create_or_select(cls, name: str, _ws: object) -> FakeStack:
            calls.append(("create_or_select", name))
            return cls(name)

        def get_all_config(self) -> dict[str, auto.ConfigValue]:
            return {"stale:key": auto.ConfigValue("x"), "dataplatform:environment": auto.ConfigValue("dev")}

        def remove_all_config(self, keys: list[str]) -> None:
            calls.append(("remove_config", self.name, keys))

        def set_all_config(self, config: dict[str, auto.ConfigValue]) -> None:
            calls.append(("set_config", self.name, {k: (v.value, v.secret) for k, v in config.items()}))

        def up(self, **kw: object) -> SimpleNamespace:
            calls.append(("up", self.name, kw["policy_packs"], kw["message"]))
            kw["on_output"]("Updating (dev-sales)")  # type: ignore[operator]
            if self.name.endswith("broken"):
                raise auto.errors.CommandError(CommandResult("", "error: boom\n", 255))
            return SimpleNamespace(summary=SimpleNamespace(resource_changes={"create": 4}))

        def preview(self, **kw: object) -> SimpleNamespace:
            calls.append(("preview", self.name, kw["policy_packs"]))
            return SimpleNamespace(change_summary={"same": 9})

    monkeypatch.setattr(auto, "LocalWorkspace", FakeLocalWorkspace)
    monkeypatch.setattr(auto, "Stack", FakeStack)
    ws = AutomationWorkspace(org="acme", secrets_provider="awskms://alias/dataplatform-pulumi", message="deploy abc")
    policy = [str(PROJECT_DIR / "policy")]
    assert calls[0] == ("workspace", str(PROJECT_DIR), "awskms://alias/dataplatform-pulumi")
    assert ws.list_stacks() == {"dev", "dev-sales"}

    ws.prepare("dev-sales", {"dataplatform:environment": ConfigItem("dev"), "x:secret": ConfigItem("s", secret=True)})
    assert ("create_or_select", "acme/dev-sales") in calls
    assert ("remove_config", "acme/dev-sales", ["stale:key"]) in calls
    assert (
        "set_config",
        "acme/dev-sales",
        {"dataplatform:environment": ("dev", False), "x:secret": ("s", True)},
    ) in calls

    lines: list[str] = []
    assert ws.run("dev-sales", "up", lines.append) == RunResult(True, {"create": 4})
    assert ("up", "acme/dev-sales", policy, "deploy abc") in calls and lines == ["Updating (dev-sales)"]
    assert ws.run("dev-sales", "preview", lines.append) == RunResult(True, {"same": 9})
    assert ("preview", "acme/dev-sales", policy) in calls
    failed = ws.run("dev-broken", "up", lines.append)
    assert not failed.ok and failed.error.endswith("error: boom")
    # Only what a destroy would delete in the cloud: not providers, components or retained resources.
    assert ws.not_retained("dev-old") == ["urn:...::aws:iam/role:Role::gone"]
    assert ws.domains_in_state("dev") == ["c"]
