"""Inputs and helpers shared by the Helm-values builders.

Builders take these frozen dataclasses and return plain dicts. Secrets appear only as the *name*
of a Kubernetes Secret (and a key in it) that the stack creates; never as a value.

Two storage modes, so one builder serves AWS stacks and a laptop stack with MinIO:
- AWS: `S3Access(bucket, region)`; pods get credentials from EKS Pod Identity through their
  ServiceAccount, so there is no key anywhere.
- S3-compatible: `S3Access(bucket, region, endpoint_url=..., credentials_secret=...)`; the Secret
  holds `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Keys of the S3-compatible credentials Secret (the stack writes them; the tools read them).
S3_CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def check_label(value: str, what: str) -> str:
    """A DNS-1123 label (Service, namespace and release names)."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(f"{what} must be a DNS-1123 label (lowercase letters, digits, '-'; at most 63): {value!r}")
    return value


def check_name(value: str, what: str) -> str:
    """A DNS-1123 subdomain (Secret and ServiceAccount names)."""
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(f"{what} must be a Kubernetes object name (lowercase letters, digits, '-', '.'): {value!r}")
    return value


def check_secret_key(value: str, what: str) -> str:
    if not _SECRET_KEY.match(value):
        raise ValueError(f"{what} must be a Secret data key (letters, digits, '-', '_', '.'): {value!r}")
    return value


@dataclass(frozen=True)
class S3Access:
    """Where a tool keeps its files, and how it authenticates (see the module docstring)."""

    bucket: str
    region: str
    endpoint_url: str | None = None
    credentials_secret: str | None = None

    def __post_init__(self) -> None:
        if (self.endpoint_url is None) != (self.credentials_secret is None):
            raise ValueError(
                "S3Access: set endpoint_url and credentials_secret together (S3-compatible storage), "
                "or neither (AWS S3 with EKS Pod Identity)"
            )
        if self.endpoint_url is not None and not re.match(r"^https?://\S+$", self.endpoint_url):
            raise ValueError(f"S3Access.endpoint_url must be an http(s) URL: {self.endpoint_url!r}")
        if self.credentials_secret is not None:
            check_name(self.credentials_secret, "S3Access.credentials_secret")

    @property
    def s3_compatible(self) -> bool:
        return self.endpoint_url is not None


@dataclass(frozen=True)
class Postgres:
    """A PostgreSQL database; the password is in Secret `password_secret` under `password_key`."""

    host: str
    port: int
    database: str
    user: str
    password_secret: str
    password_key: str
    # RDS accepts TLS; a laptop PostgreSQL may not.
    tls: bool = True

    def __post_init__(self) -> None:
        check_name(self.password_secret, "Postgres.password_secret")
        check_secret_key(self.password_key, "Postgres.password_key")
        if not 0 < self.port < 65536:
            raise ValueError(f"Postgres.port must be a TCP port: {self.port}")


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str
    pull_policy: str = "IfNotPresent"

    def __post_init__(self) -> None:
        # CKV_K8S_14: a pinned tag, never a moving one.
        if not self.tag or self.tag == "latest":
            raise ValueError(f"image {self.repository}: pin a tag other than 'latest' (got {self.tag!r})")
        if self.pull_policy not in ("Always", "IfNotPresent", "Never"):
            raise ValueError(f"image pull policy must be Always, IfNotPresent or Never: {self.pull_policy!r}")


def resources(
    cpu: str, memory: str, *, cpu_limit: str | None = None, memory_limit: str | None = None
) -> dict[str, Any]:
    """Requests and limits (CKV_K8S_10-13); limits default to twice the CPU and the same memory."""
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit or _double_cpu(cpu), "memory": memory_limit or memory},
    }


def _double_cpu(cpu: str) -> str:
    if cpu.endswith("m"):
        return f"{int(cpu[:-1]) * 2}m"
    return str(float(cpu) * 2).removesuffix(".0")


RUNTIME_DEFAULT_SECCOMP = {"type": "RuntimeDefault"}


def container_security_context(uid: int = 1000, gid: int = 1000) -> dict[str, Any]:
    """The restricted-PSS container context: non-root, no escalation, no capabilities, RuntimeDefault seccomp."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
    }


def pod_security_context(uid: int = 1000, gid: int = 1000) -> dict[str, Any]:
    """Pod-level context; fsGroup lets the non-root user write mounted volumes."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "fsGroup": gid,
        "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
    }


def env_list(env: dict[str, str]) -> list[dict[str, str]]:
    """Kubernetes EnvVar list, sorted so the values (and release diffs) are stable."""
    return [{"name": name, "value": value} for name, value in sorted(env.items())]


def helm_fullname(release: str, chart_name: str) -> str:
    """The usual `<chart>.fullname` helper: the release name alone if it already contains the chart name."""
    name = release if chart_name in release else f"{release}-{chart_name}"
    return name[:63].rstrip("-")
