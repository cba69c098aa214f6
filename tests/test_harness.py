"""The test harness itself: the shared program cache and the mocks-only shortcut in platformctl.simulate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pulumi
import pulumi.runtime.resource as sdk_resource
import pytest
from pulumi.runtime.proto import source_pb2

from tests import harness
from tests.conftest import CACHE_ENV
from tests.harness import PROJECT_DIR, program_for, run_function


def test_a_second_process_reads_the_run_instead_of_running_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    runs: list[str] = []

    def compute() -> harness.Program:
        runs.append("ran")
        return harness.Program(stack="dev", preview=False, resources=[], exports={"n": len(runs)})

    first = harness._shared("k", compute)
    # Another worker: nothing in its memory, the same folder.
    second = harness._shared("k", lambda: pytest.fail("the cached run was computed again"))
    assert runs == ["ran"] and second == first and second is not first


def test_a_failed_run_is_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))

    def fail() -> harness.Program:
        raise pulumi.RunError("bad input")

    with pytest.raises(pulumi.RunError):
        harness._shared("k", fail)
    assert not list(tmp_path.glob("*.pickle"))


def test_a_copy_of_the_domain_folder_is_the_same_run(tmp_path: Path) -> None:
    shutil.copytree(PROJECT_DIR / "domains", tmp_path / "domains")
    assert program_for("dev", domains_dir=tmp_path / "domains") is program_for("dev")
    (tmp_path / "domains" / "sales.yaml").write_text("name: sales\n")
    with pytest.raises(pulumi.RunError, match=r"sales\.yaml"):
        program_for("dev", domains_dir=tmp_path / "domains")


def test_the_stack_trace_capture_is_skipped_only_while_simulating() -> None:
    capture = sdk_resource._get_stack_trace
    seen: list[source_pb2.StackTrace] = []
    run_function(lambda: seen.append(sdk_resource._get_stack_trace()))
    assert seen == [source_pb2.StackTrace()]
    assert sdk_resource._get_stack_trace is capture  # the engine's programs keep their source positions


def test_young_garbage_is_collected_in_batches_only_while_simulating() -> None:
    import gc

    from platformctl import simulate
    from tests import conftest

    assert conftest.GC_YOUNG_THRESHOLD == simulate.GC_YOUNG_THRESHOLD
    suite = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's default, as in a `platformctl plan` process
    try:
        seen: list[tuple[int, ...]] = []
        run_function(lambda: seen.append(gc.get_threshold()))
        assert seen == [(simulate.GC_YOUNG_THRESHOLD, 10, 10)]
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*suite)
