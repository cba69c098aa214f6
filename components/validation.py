"""Turn pydantic validation errors into one clear line per problem, raised as pulumi.RunError.

The Pulumi CLI prints a RunError without a Python traceback, so the user sees only the lines built
here: each names the file or config key, the field, what was wrong and what is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pulumi
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel


class StrictModel(BaseModel):
    """Base for every user-written model: unknown keys are errors, fields are camelCase in YAML."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )


def _dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def describe_errors(source: str, error: ValidationError, *, separator: str = ".") -> list[str]:
    """One human line per pydantic error, prefixed by `source` (a config key or file path)."""
    lines: list[str] = []
    for err in error.errors(include_url=False):
        field = _dotted(tuple(p for p in err["loc"] if p not in ("function-after", "function-before")))
        where = f"{source}{separator}{field}" if field else source
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key (check the spelling; see the documented fields)")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = "" if isinstance(got, (dict, list)) or err["type"] == "missing" else f" (got {got!r})"
        lines.append(f"{where}: {msg}{shown}")
    return lines


class ConfigError(pulumi.RunError):
    """Invalid user input. Carries every problem found, one per line."""

    def __init__(self, problems: Iterable[str], *, title: str = "invalid configuration") -> None:
        self.problems = list(problems)
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{title}:\n{body}")
