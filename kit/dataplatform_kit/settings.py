"""What the platform tells a domain's code about quality, read from the environment it injects.

The platform sets these on the user-code deployment (and, through `includeConfigInLaunchedRuns`,
on every run pod) from the domain file's `quality:` block; see kit/README.md for the contract.
Nothing here is a secret except the catalog token and the Slack webhook URL, which arrive from
Kubernetes Secrets (a mounted file or a `secretKeyRef` env var) and are read when used, never stored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]
BlockOn = Literal["error", "warning", "none"]
AlertChannel = Literal["slack", "sns", "none"]

BLOCK_ON_ENV = "QUALITY_BLOCK_ON"
CATALOG_ENV = "QUALITY_CATALOG"
ALERT_CHANNEL_ENV = "QUALITY_ALERT_CHANNEL"
SLACK_WEBHOOK_ENV = "QUALITY_SLACK_WEBHOOK_URL"
SNS_TOPIC_ENV = "QUALITY_SNS_TOPIC_ARN"
DOMAIN_ENV = "QUALITY_DOMAIN"
DATASET_PLATFORM_ENV = "QUALITY_DATASET_PLATFORM"
DATASET_DATABASE_ENV = "WAREHOUSE_DB"
GMS_URL_ENV = "DATAHUB_GMS_URL"
# The token: a file (a mounted Secret, re-read on every call so rotation needs no restart), else the env var.
GMS_TOKEN_FILE_ENV = "DATAHUB_GMS_TOKEN_FILE"
GMS_TOKEN_ENV = "DATAHUB_GMS_TOKEN"
DATAHUB_ENV_ENV = "DATAHUB_ENV"

_RANK = {"warning": 1, "error": 2}


class SettingsError(ValueError):
    """A platform-injected variable has a value the kit does not accept."""


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip() or default
    if value not in allowed:
        raise SettingsError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class QualitySettings:
    """The domain's quality policy and where results go."""

    block_on: BlockOn = "error"
    catalog: bool = True
    alert_channel: AlertChannel = "none"
    domain: str = ""
    gms_url: str | None = None
    dataset_platform: str = "duckdb"
    dataset_database: str = "warehouse"
    datahub_env: str = "PROD"
    sns_topic_arn: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> QualitySettings:
        env = os.environ if env is None else env
        block_on = _choice(env, BLOCK_ON_ENV, ("error", "warning", "none"), "error")
        catalog = _choice(env, CATALOG_ENV, ("true", "false"), "true") == "true"
        channel = _choice(env, ALERT_CHANNEL_ENV, ("slack", "sns", "none"), "none")
        topic = env.get(SNS_TOPIC_ENV) or None
        if channel == "sns" and topic is None:
            raise SettingsError(f"{ALERT_CHANNEL_ENV}=sns needs {SNS_TOPIC_ENV}")
        return cls(
            block_on=block_on,  # type: ignore[arg-type]
            catalog=catalog,
            alert_channel=channel,  # type: ignore[arg-type]
            domain=env.get(DOMAIN_ENV, ""),
            gms_url=env.get(GMS_URL_ENV) or None,
            dataset_platform=env.get(DATASET_PLATFORM_ENV) or "duckdb",
            dataset_database=env.get(DATASET_DATABASE_ENV) or "warehouse",
            datahub_env=env.get(DATAHUB_ENV_ENV) or "PROD",
            sns_topic_arn=topic,
        )

    def blocks(self, severity: Severity) -> bool:
        """Whether a failed check of `severity` stops downstream materializations."""
        return self.block_on != "none" and _RANK[severity] >= _RANK[self.block_on]


def catalog_token(env: Mapping[str, str] | None = None) -> str | None:
    """The domain's DataHub token, read now: from the file DATAHUB_GMS_TOKEN_FILE names, else DATAHUB_GMS_TOKEN."""
    env = os.environ if env is None else env
    path = env.get(GMS_TOKEN_FILE_ENV)
    if path:
        return Path(path).read_text(encoding="utf-8").strip() or None
    return env.get(GMS_TOKEN_ENV) or None


def slack_webhook_url(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    return env.get(SLACK_WEBHOOK_ENV) or None
