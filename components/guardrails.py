"""NamespaceGuardrails: a namespace that workloads cannot escape.

Creates:
- the Namespace, labelled with Pod Security levels (enforce `pss_enforce`: baseline, or restricted where
  every workload is proven to pass it; warn and audit restricted) and the owner label `dataplatform.io/domain`;
- a ResourceQuota (requests, limits, pods; no LoadBalancer or NodePort Services: UIs go through Ingress)
  and a LimitRange giving containers that set nothing a default request and limit;
- NetworkPolicies: default deny in both directions, then explicit allows: traffic inside the
  namespace (unless `same_namespace` is off: a namespace shared by mutually untrusted pods, such as
  the analysts' notebook servers, lists its own paths instead), DNS to kube-system, HTTPS egress
  (AWS APIs and the Kubernetes API), egress to the private data services (metadata DB, warehouse)
  by CIDR and port, ingress to the UI ports from the load balancer's sources, egress to the central
  catalog's namespace, and egress to listed namespaces on listed ports (in-cluster data services).

Invariants: every policy selects pods of this namespace only; nothing is opened that is not listed
in `GuardrailsArgs`; the quota and limits are plain strings already validated by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

PSS_VERSION = "latest"
PSS_ENFORCE_LEVELS = ("baseline", "restricted")
OWNER_LABEL = "dataplatform.io/domain"


@dataclass(frozen=True)
class Quota:
    requests_cpu: str
    requests_memory: str
    limits_cpu: str
    limits_memory: str
    pods: int


@dataclass(frozen=True)
class ContainerDefaults:
    request_cpu: str
    request_memory: str
    limit_cpu: str
    limit_memory: str


@dataclass(frozen=True)
class PortsTo:
    """Egress to `cidr` on `ports` (TCP)."""

    cidr: str
    ports: tuple[int, ...]


@dataclass(frozen=True)
class GuardrailsArgs:
    namespace: str
    owner: str
    quota: Quota
    container_defaults: ContainerDefaults
    # Where load-balancer traffic comes from (the VPC CIDR for ALB ip targets) and which pod ports it may reach.
    ingress_cidrs: tuple[str, ...] = ()
    ingress_namespaces: tuple[str, ...] = ()
    ui_ports: tuple[int, ...] = ()
    private_egress: tuple[PortsTo, ...] = ()
    catalog_namespace: str | None = None
    catalog_ports: tuple[int, ...] = (8080,)
    # Namespaces carrying `served_to_label` may call in on `served_ports` (the platform namespace serves the catalog).
    served_ports: tuple[int, ...] = ()
    served_to_label: str | None = None
    # (namespace, TCP ports) pairs pods may call: in-cluster data services such as a local MinIO.
    egress_namespaces: tuple[tuple[str, tuple[int, ...]], ...] = ()
    extra_labels: dict[str, str] = field(default_factory=dict)
    # The enforced Pod Security level: "restricted" only where every workload passes it (the render check proves it).
    pss_enforce: str = "baseline"
    # Off where pods of the namespace must not reach each other by default (the sandbox's user servers).
    same_namespace: bool = True

    def __post_init__(self) -> None:
        if self.pss_enforce not in PSS_ENFORCE_LEVELS:
            raise ValueError(f"pss_enforce must be one of {PSS_ENFORCE_LEVELS} (got {self.pss_enforce!r})")


def _tcp(ports: tuple[int, ...]) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports]


class NamespaceGuardrails(pulumi.ComponentResource):
    def __init__(self, name: str, args: GuardrailsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dataplatform:guardrails:NamespaceGuardrails", name, None, opts)
        ns = args.namespace
        child = pulumi.ResourceOptions(parent=self)

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns,
                labels={
                    **args.extra_labels,
                    OWNER_LABEL: args.owner,
                    "pod-security.kubernetes.io/enforce": args.pss_enforce,
                    "pod-security.kubernetes.io/enforce-version": PSS_VERSION,
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/warn-version": PSS_VERSION,
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/audit-version": PSS_VERSION,
                },
            ),
            opts=child,
        )
        # Everything else waits for the namespace to exist.
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])

        def meta(n: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=n, namespace=ns, labels={OWNER_LABEL: args.owner})

        q = args.quota
        self.quota = k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=meta("guardrails"),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(
                hard={
                    "requests.cpu": q.requests_cpu,
                    "requests.memory": q.requests_memory,
                    "limits.cpu": q.limits_cpu,
                    "limits.memory": q.limits_memory,
                    "pods": str(q.pods),
                    "services.loadbalancers": "0",
                    "services.nodeports": "0",
                }
            ),
            opts=in_ns,
        )
        d = args.container_defaults
        self.limit_range = k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=meta("guardrails"),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        default_request={"cpu": d.request_cpu, "memory": d.request_memory},
                        default={"cpu": d.limit_cpu, "memory": d.limit_memory},
                    )
                ]
            ),
            opts=in_ns,
        )

        all_pods = k8s.meta.v1.LabelSelectorArgs()
        policies: dict[str, k8s.networking.v1.NetworkPolicySpecArgs] = {
            "default-deny": k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=all_pods, policy_types=["Ingress", "Egress"]
            ),
            "allow-dns": k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=all_pods,
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                                ),
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="UDP", port=53),
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=53),
                        ],
                    )
                ],
            ),
            # AWS APIs (S3, STS, Secrets Manager, ...) and the Kubernetes API are HTTPS endpoints.
            "allow-https-egress": k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=all_pods,
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0")
                            )
                        ],
                        ports=_tcp((443,)),
                    )
                ],
            ),
        }
        if args.same_namespace:
            policies["allow-same-namespace"] = k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=all_pods,
                policy_types=["Ingress", "Egress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=all_pods)]
                    )
                ],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=all_pods)]
                    )
                ],
            )
        if args.private_egress:
            policies["allow-data-services"] = k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=all_pods,
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=t.cidr))
                        ],
                        ports=_tcp(t.ports),
                    )
                    for t in args.private_egress
                ],
            )
        if args.ui_ports and (args.ingress_cidrs or args.ingress_namespaces):
            peers = [
                k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=c))
                for c in args.ingress_cidrs
            ] + [
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": n})
                )
                for n in args.ingress_namespaces
            ]
            policies["allow-load-balancer"] = k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=all_pods,
                policy_types=["Ingress"],
                ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=peers, ports=_tcp(args.ui_ports))],
            )
        if args.catalog_namespace:
            policies["allow-catalog"] = k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=all_pods,
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": args.catalog_namespace}
                                )
                            )
                        ],
                        ports=_tcp(args.catalog_ports),
                    )
                ],
            )
        if args.egress_namespaces:
            policies["allow-namespace-egress"] = k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=all_pods,
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": namespace}
                                )
                            )
                        ],
                        ports=_tcp(ports),
                    )
                    for namespace, ports in args.egress_namespaces
                ],
            )
        if args.served_ports and args.served_to_label:
            policies["allow-domain-clients"] = k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=all_pods,
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_expressions=[
                                        k8s.meta.v1.LabelSelectorRequirementArgs(
                                            key=args.served_to_label, operator="Exists"
                                        )
                                    ]
                                )
                            )
                        ],
                        ports=_tcp(args.served_ports),
                    )
                ],
            )

        self.network_policies = {
            key: k8s.networking.v1.NetworkPolicy(f"{name}-{key}", metadata=meta(key), spec=spec, opts=in_ns)
            for key, spec in policies.items()
        }
        self.register_outputs({"namespace": ns})
