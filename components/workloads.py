"""Shared building blocks for the Pods the platform defines itself (Jobs, CronJobs).

They meet the Pod Security `restricted` level: non-root, no privilege escalation, all
capabilities dropped, RuntimeDefault seccomp, read-only root filesystem.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s


def hardened_pod_security(run_as_user: int = 65532) -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=run_as_user,
        run_as_group=run_as_user,
        fs_group=run_as_user,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def hardened_container_security() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )
