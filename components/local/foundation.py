"""LocalFoundation: the platform's shared base on an existing laptop cluster (kind, k3d, minikube, Docker Desktop).

Creates, with no cloud account and no `aws:` resource:
- the Kubernetes provider for the kubeconfig context `local.kubeContext` (default: the current one);
- three shared services from their official charts, each in its own namespace behind the same
  NamespaceGuardrails as a domain (PSS labels, quota, limit range, default deny, explicit allows):
  MinIO (the S3-compatible lake, one standalone server, root credentials generated into a Secret),
  the CloudNativePG operator (PostgreSQL per domain), and ingress-nginx (UIs at
  `<tool>.<domain>.<baseDomain>`, reached through `kubectl port-forward`: its Service is ClusterIP,
  as the guardrails quota forbids NodePort and LoadBalancer Services);
- the few allows a service needs beyond its guardrails: ingress-nginx to the platform's namespaces,
  and the CloudNativePG operator to the domains' PostgreSQL instances.

It implements `components.interfaces.Foundation`: `provision_domain` creates LocalDomainServices;
`provision_catalog` creates nothing, the catalog's stores run in-cluster.
Invariants: every Kubernetes object uses this foundation's provider; the shared releases' values do
not depend on the domains, so adding a domain changes no shared resource; no secret is in Helm values.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.charts import release_args
from components.config import StackConfig
from components.guardrails import OWNER_LABEL, ContainerDefaults, GuardrailsArgs, NamespaceGuardrails, PortsTo, Quota
from components.interfaces import (
    CatalogRequest,
    CatalogServices,
    DomainRequest,
    DomainServices,
    IngressSettings,
    NetworkAllowances,
    PostgresServer,
    S3Settings,
    WarehouseSettings,
)
from components.local.domain_services import (
    CNPG_CLUSTER_LABEL,
    CNPG_OPERATOR_PORTS,
    MINIO_ROOT_PASSWORD_KEY,
    MINIO_ROOT_USER_KEY,
    LocalDomainServices,
    LocalPlatformRefs,
    lake_bucket_name,
)
from components.validation import ConfigError
from components.values.common import container_security_context, pod_security_context, resources
from components.values.dex import PORT as DEX_PORT

INGRESS_NAMESPACE = "ingress-nginx"
MINIO_NAMESPACE = "minio"
CNPG_NAMESPACE = "cnpg-system"
PLATFORM_OWNER = "platform"
INGRESS_CLASS = "nginx"
# Release names fix the Service names: the minio chart names its Service after the release.
MINIO_RELEASE = "minio"
MINIO_PORT = 9000
MINIO_CONSOLE_PORT = 9001
MINIO_ROOT_SECRET = "minio-root"
MINIO_ROOT_USER = "platform-admin"
# The newest MinIO server image on quay.io; MinIO publishes no images after 2025-10 (source-only).
MINIO_IMAGE_TAG = "RELEASE.2025-09-07T16-13-09Z"
LAKE_INIT_SA = "lake-init"
INGRESS_RELEASE = "ingress-nginx"
# Browsers reach the UIs through `kubectl port-forward svc/ingress-nginx-controller 8080:80`.
UI_PORT_FORWARD = 8080
# The bundled identity provider (components.identity_provider), which every UI's gateway calls.
IDENTITY_NAMESPACE = "identity"
CNPG_RELEASE = "cnpg"
CNPG_WEBHOOK_PORT = 9443
# Set only on domain namespaces (components.domain.guardrails_args), so it selects domains, not platform namespaces.
DOMAIN_NAMESPACE_LABEL = "dataplatform.io/team"
# Where the API server and the nodes live on laptop clusters; the API server calls webhooks from there.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
# The Kubernetes Service on 443 is DNATed to the API server's own port, which NetworkPolicies see:
# 6443 on kind, k3d and Docker Desktop, 8443 on minikube.
API_SERVER_PORTS = (6443, 8443)
MINIO_STORAGE = "10Gi"

_API_EGRESS = tuple(PortsTo(cidr, API_SERVER_PORTS) for cidr in PRIVATE_RANGES)
_CONTAINER_DEFAULTS = ContainerDefaults("50m", "64Mi", "200m", "256Mi")


def minio_values(*, image_tag: str, storage_class: str | None, console_host: str) -> dict[str, Any]:
    """One standalone MinIO; root credentials from Secret `minio-root`; users, buckets and policies are
    per-domain Jobs (LocalDomainServices), so the chart's post-install job is not rendered at all."""
    pod = pod_security_context()
    return {
        "mode": "standalone",
        "image": {"repository": "quay.io/minio/minio", "tag": image_tag},
        "existingSecret": MINIO_ROOT_SECRET,
        # Replaces the chart's default user `console` with its published password.
        "users": [],
        "persistence": {"enabled": True, "size": MINIO_STORAGE, "storageClass": storage_class or ""},
        # The chart's default request is 16Gi of memory.
        "resources": resources("100m", "512Mi", cpu_limit="1", memory_limit="1Gi"),
        "securityContext": {"enabled": True, **pod, "fsGroupChangePolicy": "OnRootMismatch"},
        "containerSecurityContext": container_security_context(),
        # The chart's default serves Prometheus metrics without authentication.
        "metrics": {"serviceMonitor": {"public": False}},
        "consoleIngress": {
            "enabled": True,
            "ingressClassName": INGRESS_CLASS,
            "path": "/",
            "hosts": [console_host],
        },
    }


def cnpg_values() -> dict[str, Any]:
    """The operator with its CRDs, cluster-wide; the chart's security contexts are already restricted."""
    return {
        "crds": {"create": True},
        "config": {"clusterWide": True},
        "resources": resources("100m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
    }


def ingress_nginx_values() -> dict[str, Any]:
    """One controller for IngressClass `nginx`, behind a ClusterIP Service (reached by port-forward)."""
    return {
        "controller": {
            "replicaCount": 1,
            "ingressClassResource": {"name": INGRESS_CLASS, "enabled": True, "default": False},
            "service": {"type": "ClusterIP"},
            # The admission webhook needs API-server-to-pod traffic and two certificate Jobs; the
            # laptop stack goes without it (an invalid Ingress is then rejected by nginx, in its log).
            "admissionWebhooks": {"enabled": False},
            "resources": resources("100m", "128Mi", cpu_limit="500m", memory_limit="512Mi"),
        }
    }


def _quota(cpu: str, memory: str, pods: int) -> Quota:
    # Limits at twice the requests, as the domain namespaces have.
    limit_cpu = f"{int(float(cpu) * 2000)}m"
    limit_memory = f"{int(memory.removesuffix('Gi')) * 2}Gi"
    return Quota(requests_cpu=cpu, requests_memory=memory, limits_cpu=limit_cpu, limits_memory=limit_memory, pods=pods)


class LocalFoundation(pulumi.ComponentResource):
    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dataplatform:foundation_local:LocalFoundation", name, None, opts)
        self.config = config
        local = config.local
        self.k8s_provider = k8s.Provider(
            "kubernetes",
            k8s.ProviderArgs(
                context=local.kube_context,
                # After `kind delete cluster`, `pulumi destroy` can still empty the stack.
                delete_unreachable=True,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        with_k8s = pulumi.ResourceOptions(parent=self, provider=self.k8s_provider)

        def guardrails(args: GuardrailsArgs) -> NamespaceGuardrails:
            return NamespaceGuardrails(
                args.namespace, args, opts=pulumi.ResourceOptions(parent=self, providers=[self.k8s_provider])
            )

        self.guardrails = {
            INGRESS_NAMESPACE: guardrails(
                GuardrailsArgs(
                    namespace=INGRESS_NAMESPACE,
                    owner=PLATFORM_OWNER,
                    quota=_quota("0.5", "1Gi", 5),
                    container_defaults=_CONTAINER_DEFAULTS,
                    private_egress=_API_EGRESS,
                )
            ),
            MINIO_NAMESPACE: guardrails(
                GuardrailsArgs(
                    namespace=MINIO_NAMESPACE,
                    owner=PLATFORM_OWNER,
                    quota=_quota("1", "2Gi", 20),
                    container_defaults=_CONTAINER_DEFAULTS,
                    # The console through ingress-nginx; the S3 API for the domains.
                    ingress_namespaces=(INGRESS_NAMESPACE,),
                    ui_ports=(MINIO_CONSOLE_PORT,),
                    served_ports=(MINIO_PORT,),
                    served_to_label=DOMAIN_NAMESPACE_LABEL,
                )
            ),
            CNPG_NAMESPACE: guardrails(
                GuardrailsArgs(
                    namespace=CNPG_NAMESPACE,
                    owner=PLATFORM_OWNER,
                    quota=_quota("0.5", "1Gi", 5),
                    container_defaults=_CONTAINER_DEFAULTS,
                    # The API server calls the operator's webhook from a node address.
                    ingress_cidrs=PRIVATE_RANGES,
                    ui_ports=(CNPG_WEBHOOK_PORT,),
                    private_egress=_API_EGRESS,
                )
            ),
        }

        def in_namespace(namespace: str, *extra: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(
                with_k8s, pulumi.ResourceOptions(depends_on=[self.guardrails[namespace], *extra])
            )

        def meta(name: str, namespace: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels={OWNER_LABEL: PLATFORM_OWNER})

        # ---- MinIO
        root_password = random.RandomPassword(
            "minio-root-password",
            random.RandomPasswordArgs(length=40, special=False),
            opts=pulumi.ResourceOptions(parent=self),
        )
        root_secret = k8s.core.v1.Secret(
            "minio-root",
            metadata=meta(MINIO_ROOT_SECRET, MINIO_NAMESPACE),
            type="Opaque",
            string_data={MINIO_ROOT_USER_KEY: MINIO_ROOT_USER, MINIO_ROOT_PASSWORD_KEY: root_password.result},
            opts=in_namespace(MINIO_NAMESPACE),
        )
        lake_init_sa = k8s.core.v1.ServiceAccount(
            "lake-init",
            metadata=meta(LAKE_INIT_SA, MINIO_NAMESPACE),
            automount_service_account_token=False,
            opts=in_namespace(MINIO_NAMESPACE),
        )
        base_domain = config.ingress.base_domain
        self.minio_console_url = f"http://minio.{base_domain}"
        self.minio = self._release(
            "minio",
            MINIO_RELEASE,
            MINIO_NAMESPACE,
            minio_values(
                image_tag=MINIO_IMAGE_TAG, storage_class=local.storage_class, console_host=f"minio.{base_domain}"
            ),
            in_namespace(MINIO_NAMESPACE, root_secret),
        )

        # ---- CloudNativePG operator
        self.cnpg = self._release(
            "cloudnative-pg", CNPG_RELEASE, CNPG_NAMESPACE, cnpg_values(), in_namespace(CNPG_NAMESPACE)
        )
        k8s.networking.v1.NetworkPolicy(
            "cnpg-system-allow-instances",
            metadata=meta("allow-instances", CNPG_NAMESPACE),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=_label_exists(DOMAIN_NAMESPACE_LABEL),
                                pod_selector=_label_exists(CNPG_CLUSTER_LABEL),
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in CNPG_OPERATOR_PORTS
                        ],
                    )
                ],
            ),
            opts=in_namespace(CNPG_NAMESPACE),
        )

        # ---- ingress-nginx
        self.ingress = self._release(
            "ingress-nginx", INGRESS_RELEASE, INGRESS_NAMESPACE, ingress_nginx_values(), in_namespace(INGRESS_NAMESPACE)
        )
        # To the UIs in the namespaces the platform created; each of them admits only its UI ports.
        k8s.networking.v1.NetworkPolicy(
            "ingress-nginx-allow-backends",
            metadata=meta("allow-backends", INGRESS_NAMESPACE),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=_label_exists(OWNER_LABEL))]
                    )
                ],
            ),
            opts=in_namespace(INGRESS_NAMESPACE),
        )

        self._refs = LocalPlatformRefs(
            environment=config.environment,
            region=config.region,
            minio_namespace=MINIO_NAMESPACE,
            minio_address=f"{MINIO_RELEASE}.{MINIO_NAMESPACE}.svc:{MINIO_PORT}",
            minio_root_secret=MINIO_ROOT_SECRET,
            lake_init_service_account=LAKE_INIT_SA,
            cnpg_namespace=CNPG_NAMESPACE,
            storage_class=local.storage_class,
            protect=config.protection.protect_stateful,
            lake_after=(self.minio, root_secret, lake_init_sa),
            postgres_after=(self.cnpg,),
        )
        self.register_outputs(
            {
                "minio_console": self.minio_console_url,
                "namespaces": [INGRESS_NAMESPACE, MINIO_NAMESPACE, CNPG_NAMESPACE],
            }
        )

    def _release(
        self, chart_key: str, name: str, namespace: str, values: dict[str, Any], opts: pulumi.ResourceOptions
    ) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            chart_key,
            release_args(
                chart_key, {**self.config.charts}, release_name=name, namespace=namespace, values=values, timeout=600
            ),
            opts=opts,
        )

    @property
    def providers(self) -> list[pulumi.ProviderResource]:
        return [self.k8s_provider]

    @property
    def lake_refs(self) -> LocalPlatformRefs:
        """The shared MinIO (and what to wait for), for other local consumers of the lake (the sandbox)."""
        return self._refs

    def ingress_settings(self, group: str) -> IngressSettings:
        return IngressSettings(class_name=INGRESS_CLASS, annotations={}, scheme="http", public_port=UI_PORT_FORWARD)

    def network_allowances(self) -> NetworkAllowances:
        return NetworkAllowances(
            ingress_cidrs=(),
            ingress_namespaces=(INGRESS_NAMESPACE,),
            # The Kubernetes API: CloudNativePG's instance manager, Dagster's and Airbyte's launchers use it.
            private_egress=_API_EGRESS,
            egress_namespaces=((MINIO_NAMESPACE, (MINIO_PORT,)), (IDENTITY_NAMESPACE, (DEX_PORT,))),
        )

    def provision_domain(self, request: DomainRequest, parent: pulumi.Resource) -> DomainServices:
        if request.keep.retired:
            # A laptop keeps nothing for a retired domain: its PostgreSQL lives in the namespace, which goes.
            # The MinIO bucket stays (the lake Job creates it and nothing deletes it).
            empty = pulumi.Output.from_input("")
            return DomainServices(
                s3=S3Settings(
                    bucket=pulumi.Output.from_input(lake_bucket_name(self.config.environment, request.domain)),
                    region=self.config.region,
                ),
                metadata_db=PostgresServer(
                    host=empty, port=5432, admin_user="", admin_password=empty, sslmode="require"
                ),
                warehouse=WarehouseSettings(
                    kind="postgres", host=empty, port=5432, database="", user="", auth="password"
                ),
                role_arn=None,
                grants=(),
            )
        services = LocalDomainServices(
            f"{request.domain}-local", request, self._refs, opts=pulumi.ResourceOptions(parent=parent)
        )
        return services.services

    def provision_catalog(self, request: CatalogRequest, parent: pulumi.Resource) -> CatalogServices:
        # Everything the catalog needs runs in-cluster here (StackConfig rejects managed stores on local).
        if request.sql is not None or request.search is not None:
            raise ConfigError(["dataplatform:catalog: a local foundation offers no managed SQL or search"])
        return CatalogServices(sql=None, sql_database="datahub", opensearch_endpoint=None, region=self.config.region)


def _label_exists(key: str) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(
        match_expressions=[k8s.meta.v1.LabelSelectorRequirementArgs(key=key, operator="Exists")]
    )
