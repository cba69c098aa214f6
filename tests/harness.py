"""The mocks harness for tests: run the whole program for a stack and get its resources as data.

Results are cached per (stack, domains folder, preview, config) because the program is
deterministic; tests must treat them as read-only.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from platformctl.simulate import PROJECT_DIR, Program, Resource, Secret, run_function, run_program, stack_config

__all__ = [
    "PROJECT_DIR",
    "Program",
    "Resource",
    "Secret",
    "program_for",
    "run_function",
    "run_program",
    "stack_config",
    "walk",
]


@lru_cache(maxsize=32)
def _cached(stack: str, domains_dir: str | None, preview: bool, config_json: str | None, random_seed: str) -> Program:
    config = json.loads(config_json) if config_json is not None else None
    return run_program(
        stack,
        domains_dir=Path(domains_dir) if domains_dir else None,
        preview=preview,
        config=config,
        random_seed=random_seed,
    )


def program_for(
    stack: str,
    *,
    domains_dir: Path | None = None,
    preview: bool = False,
    config: dict[str, Any] | None = None,
    random_seed: str = "",
) -> Program:
    """The program's resources for `stack` (cached); `random_seed` models another lifetime of random resources."""
    return _cached(
        stack,
        str(domains_dir) if domains_dir else None,
        preview,
        json.dumps(config, sort_keys=True) if config is not None else None,
        random_seed,
    )


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
