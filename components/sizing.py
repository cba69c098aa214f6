"""Sizing profiles: how much CPU and memory the tools ask for.

`standard` (AWS stacks): the tools' resources come from each domain file, and the charts' fixed
components use the values builders' defaults. `laptop` (the local stack): every tool component gets
the small requests below, whatever the domain files say, so two domains, the shared services and the
central catalog fit a 16 GiB machine (docs/local.md lists the sums; `tests/test_local_stack.py`
computes them from the values the program sets). Limits stay higher than requests, so components can
burst when the laptop has room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from components.values.common import resources


@dataclass(frozen=True)
class ToolSizes:
    dagster_webserver: dict[str, Any]
    dagster_daemon: dict[str, Any]
    dagster_user_code: dict[str, Any]
    dagster_run: dict[str, Any]
    airbyte_main: dict[str, Any]  # server and worker
    airbyte_support: dict[str, Any]  # launcher, workload API, cron, Temporal, bootloader, manifest server
    airbyte_job: dict[str, Any]
    superset_web: dict[str, Any]
    superset_support: dict[str, Any]  # Celery worker and init job
    datahub: dict[str, dict[str, Any]]  # gms, frontend, actions, systemUpdate
    opensearch: dict[str, Any]
    opensearch_heap: str


LAPTOP = ToolSizes(
    dagster_webserver=resources("100m", "256Mi", cpu_limit="1", memory_limit="1Gi"),
    dagster_daemon=resources("100m", "256Mi", cpu_limit="1", memory_limit="1Gi"),
    dagster_user_code=resources("100m", "256Mi", cpu_limit="1", memory_limit="1Gi"),
    dagster_run=resources("250m", "512Mi", cpu_limit="2", memory_limit="2Gi"),
    airbyte_main=resources("100m", "384Mi", cpu_limit="1", memory_limit="1536Mi"),
    airbyte_support=resources("50m", "256Mi", cpu_limit="500m", memory_limit="1Gi"),
    airbyte_job=resources("100m", "256Mi", cpu_limit="1", memory_limit="1Gi"),
    superset_web=resources("100m", "384Mi", cpu_limit="1", memory_limit="1536Mi"),
    superset_support=resources("100m", "384Mi", cpu_limit="1", memory_limit="1536Mi"),
    datahub={
        "gms": resources("250m", "1Gi", cpu_limit="2", memory_limit="2Gi"),
        "frontend": resources("100m", "512Mi", cpu_limit="1", memory_limit="1Gi"),
        "actions": resources("50m", "256Mi", cpu_limit="500m", memory_limit="512Mi"),
        "systemUpdate": resources("100m", "512Mi", cpu_limit="1", memory_limit="1Gi"),
    },
    opensearch=resources("100m", "768Mi", cpu_limit="1", memory_limit="1Gi"),
    opensearch_heap="384m",
)

PROFILES: dict[str, ToolSizes | None] = {"standard": None, "laptop": LAPTOP}

# The per-domain tools' components in a profile; each belongs to one tool's `size_keys` (components/tools/).
SizeKey = Literal[
    "dagster_webserver",
    "dagster_daemon",
    "dagster_user_code",
    "dagster_run",
    "airbyte_main",
    "airbyte_support",
    "airbyte_job",
    "superset_web",
    "superset_support",
]


@dataclass(frozen=True)
class Sizes:
    """The one rule for a domain tool component's size: the stack's profile if it has one, else the domain file."""

    profile: ToolSizes | None

    def resources(self, key: SizeKey, configured: BaseModel) -> dict[str, Any]:
        """A component the domain file sizes: the profile's size (laptop) or the file's."""
        return getattr(self.profile, key) if self.profile is not None else configured.model_dump(by_alias=True)

    def chart_default(self, key: SizeKey) -> dict[str, Any] | None:
        """A component the domain file does not size: the profile's size, or None (the values builder's default)."""
        return getattr(self.profile, key) if self.profile is not None else None

    def replicas(self, configured: int) -> int:
        """One of each under a profile (a laptop); else the domain file's count."""
        return 1 if self.profile is not None else configured
