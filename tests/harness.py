"""The mocks harness for tests: run the whole program for a stack and get its resources as data.

Results are cached per (stack, domains folder content, preview, config, random seed) because the program is
deterministic up to registration order; tests must treat them as read-only. Under `make test` the two xdist
workers share the cache on disk (tests/conftest.py hands them a folder for the run), so each distinct run
happens once per test run, not once per worker; the key also carries a hash of the program's source tree.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pickle
from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from platformctl.simulate import PROJECT_DIR, Program, Resource, Secret, run_function, run_program, stack_config
from tests.conftest import CACHE_ENV

__all__ = [
    "PROJECT_DIR",
    "Program",
    "Resource",
    "Secret",
    "program_for",
    "run_function",
    "run_program",
    "shared_run",
    "stack_config",
    "walk",
]

# What a run depends on besides its arguments: the program, its inputs and the harness that runs it.
_SOURCES = ("__main__.py", "components", "domains", "platformctl/simulate.py")
_SDKS = ("pulumi", "pulumi_aws", "pulumi_kubernetes", "pulumi_random")
_MEMORY_SIZE = 32
_memory: OrderedDict[str, Program] = OrderedDict()


def _hash_files(root: Path, digest: Any) -> None:
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in paths:
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())


@cache
def _source_hash() -> str:
    digest = hashlib.sha256()
    for name in (*_SOURCES, *sorted(p.name for p in PROJECT_DIR.glob("Pulumi*.yaml"))):
        digest.update(name.encode() + b"\0")
        _hash_files(PROJECT_DIR / name, digest)
    digest.update(json.dumps({sdk: metadata.version(sdk) for sdk in _SDKS}).encode())
    return digest.hexdigest()


def _folder_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    _hash_files(folder, digest)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _shared(key: str, compute: Callable[[], Program]) -> Program:
    """The run for `key` from the run's shared folder, computed by whichever process asks first
    (the others wait on its lock instead of running the same program again)."""
    folder = os.environ.get(CACHE_ENV)
    if not folder:
        return compute()
    path = Path(folder) / f"{key}.pickle"
    with _locked(path.with_suffix(".lock")):
        if path.exists():
            return pickle.loads(path.read_bytes())
        program = compute()
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(path)
        return program


def shared_run(label: str, inputs: list[Any], compute: Callable[[], Program]) -> Program:
    """A run a test module builds itself (its own wrapper of run_function, a patched folder listing),
    cached like program_for. `label` and `inputs` must determine the run; a Path in `inputs` stands
    for its files' content."""
    parts = [_folder_hash(x) if isinstance(x, Path) else x for x in inputs]
    key = hashlib.sha256(json.dumps([_source_hash(), label, *parts]).encode()).hexdigest()
    if key not in _memory:
        _remember(key, _shared(key, compute))
    return _memory[key]


def _remember(key: str, program: Program) -> None:
    _memory[key] = program
    if len(_memory) > _MEMORY_SIZE:
        _memory.popitem(last=False)


def program_for(
    stack: str,
    *,
    domains_dir: Path | None = None,
    preview: bool = False,
    config: dict[str, Any] | None = None,
    random_seed: str = "",
    stack_outputs: dict[str, Any] | None = None,
) -> Program:
    """The program's resources for `stack` (cached); `random_seed` models another lifetime of random resources;
    `stack_outputs` ({stack: outputs}, plain JSON) answers StackReferences.

    Two domain folders with the same files give the same run (the folder's path is not part of it)."""
    config_json = json.dumps(config, sort_keys=True) if config is not None else None
    outputs_json = json.dumps(stack_outputs, sort_keys=True) if stack_outputs is not None else None
    folder = _folder_hash(domains_dir) if domains_dir else _folder_hash(PROJECT_DIR / "domains")
    parts = [_source_hash(), stack, folder, preview, config_json, random_seed]
    if outputs_json is not None:  # keeps the keys of every other run as they were
        parts.append(outputs_json)
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    if key in _memory:
        _memory.move_to_end(key)
        return _memory[key]

    def compute() -> Program:
        return run_program(
            stack,
            domains_dir=domains_dir,
            preview=preview,
            config=json.loads(config_json) if config_json is not None else None,
            random_seed=random_seed,
            stack_outputs=json.loads(outputs_json) if outputs_json is not None else None,
        )

    program = _shared(key, compute)
    _remember(key, program)
    return program


def walk(value: Any):
    """Yield every scalar leaf of a nested inputs structure, unwrapping nothing."""
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)
    else:
        yield value
