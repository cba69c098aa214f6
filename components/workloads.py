"""Shared building blocks for the Kubernetes objects the platform defines itself.

Pods (Jobs, CronJobs) meet the Pod Security `restricted` level: non-root, no privilege escalation, all
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


ALB_HEALTHCHECK_PATH = "alb.ingress.kubernetes.io/healthcheck-path"


def ui_ingress_annotations(class_name: str, annotations: dict[str, str], health_path: str) -> dict[str, str]:
    """The foundation's Ingress annotations plus, on an ALB, the tool's health endpoint for its target
    group (the controller's default is `/`, which a UI answers with a redirect: an unhealthy target)."""
    if class_name != "alb":
        return dict(annotations)
    return {**annotations, ALB_HEALTHCHECK_PATH: health_path}


def ui_ingress_spec(class_name: str, host: str, service: str, port: int) -> k8s.networking.v1.IngressSpecArgs:
    """An Ingress that sends every path of `host` to one Service port (a tool's UI)."""
    return k8s.networking.v1.IngressSpecArgs(
        ingress_class_name=class_name,
        rules=[
            k8s.networking.v1.IngressRuleArgs(
                host=host,
                http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                    paths=[
                        k8s.networking.v1.HTTPIngressPathArgs(
                            path="/",
                            path_type="Prefix",
                            backend=k8s.networking.v1.IngressBackendArgs(
                                service=k8s.networking.v1.IngressServiceBackendArgs(
                                    name=service, port=k8s.networking.v1.ServiceBackendPortArgs(number=port)
                                )
                            ),
                        )
                    ]
                ),
            )
        ],
    )
