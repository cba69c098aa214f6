"""`dataplatform:scope`: which part of an environment a stack deploys (components/split.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SCOPE_KEY = "dataplatform:scope"
_DOMAIN_SCOPE = re.compile(r"^domain/([a-z0-9][a-z0-9-]*)$")


@dataclass(frozen=True)
class Scope:
    kind: Literal["environment", "platform", "domain"]
    domain: str | None = None

    @property
    def deploys_domains(self) -> bool:
        return self.kind != "platform"

    def includes(self, domain: str) -> bool:
        return self.kind == "environment" or self.domain == domain


def parse_scope(value: str) -> Scope:
    """`environment`, `platform` or `domain/<name>`; ValueError (named by the config loader) otherwise."""
    if value in ("environment", "platform"):
        return Scope(value)  # type: ignore[arg-type]
    if m := _DOMAIN_SCOPE.match(value):
        return Scope("domain", m.group(1))
    raise ValueError(
        "must be 'environment' (one stack, the default), 'platform' (the environment's stack of a split "
        "environment) or 'domain/<name>' (the stack <environment>-<name>)"
    )
