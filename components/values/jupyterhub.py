"""Helm values for the analyst sandbox's JupyterHub (chart jupyterhub 4.4.0, JupyterHub 5.5.0, from
https://hub.jupyter.org/helm-chart/; hub image: KubeSpawner 7.0.0, OAuthenticator 17.4.0).

- Sign-in: GenericOAuthenticator against the platform's identity provider. The client secret reaches
  the hub only as `OAUTH_CLIENT_SECRET` from a Kubernetes Secret (`hub.extraEnv` valueFrom; OAuthenticator
  reads that variable when `client_secret` is unset). User details come from the ID token
  (`userdata_from_id_token`), its groups claim becomes the user's JupyterHub groups (`manage_groups`,
  `auth_state_groups_key`), and only members of `allowed_groups` (the sandbox domains' access groups
  and the platform admins) may sign in.
- One KubeSpawner profile per sandbox domain: its pods run as the domain's ServiceAccount (no token
  mounted: EKS Pod Identity injects its own credentials), with the domain's settings as env and, on
  the local stack, its read-only MinIO credentials from a Secret (`envFrom`). Which user sees which
  profile is decided in the hub by `components/runtime/jupyterhub_sandbox.py` (shipped as
  `hub.extraFiles`), from `custom.dataplatform.profileGroups`.
- Idle culling (`cull`) and one home volume per user of a fixed size (`singleuser.storage`).
- Pod Security `restricted` for user servers: KubeSpawner's `pod_security_context` and
  `container_security_context` (through `hub.config.KubeSpawner`) add non-root, RuntimeDefault seccomp and
  no capabilities to what it sets itself (runAsUser, fsGroup, no privilege escalation).
- Network: the chart's NetworkPolicies give exactly the hub <-> proxy <-> user-server paths; every
  `egressAllowRules` entry is off, so DNS, HTTPS and the data services come only from the namespace's
  guardrails, and the proxy admits the load balancer only through the guardrails too
  (`allowedIngressPorts: []`). The iptables init container that blocks the metadata server needs a
  privileged container: off, since the nodes' IMDS hop limit of 1 and default-deny already keep pods
  off 169.254.169.254.
- No cluster-wide pieces: no user scheduler, placeholders, priority classes or image pullers; the
  proxy Service is ClusterIP (the quota forbids LoadBalancer) behind the platform's own Ingress.
- The five images chartpress tags are set to the chart version where they are used (hub) or not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.values.common import RUNTIME_DEFAULT_SECCOMP, Image, check_name, check_secret_key, resources

CHART_VERSION = "4.4.0"
HUB_IMAGE = "quay.io/jupyterhub/k8s-hub"
# The chart's own naming (fullnameOverride ""): Services `proxy-public` (port 80 -> 8000) and `hub` (8081).
PROXY_SERVICE = "proxy-public"
PROXY_SERVICE_PORT = 80
PROXY_CONTAINER_PORT = 8000  # configurable-http-proxy's public port: what the load balancer reaches
HUB_PORT = 8081
# The hub's own health endpoint (the chart's liveness and readiness probes), answered through the proxy.
HEALTH_PATH = "/hub/health"
CALLBACK_PATH = "/hub/oauth_callback"
CLIENT_SECRET_ENV = "OAUTH_CLIENT_SECRET"
HOME = "/home/jovyan"
# Where the chart's jupyterhub_config.py executes extra configuration files from.
CONFIG_D = "/usr/local/etc/jupyterhub/jupyterhub_config.d"
HUB_MODULE_SOURCE = Path(__file__).resolve().parent.parent / "runtime" / "jupyterhub_sandbox.py"
HUB_MODULE_FILE = "dataplatform_sandbox.py"
HUB_UID = 65532
HUB_GID = 1000  # the chart's hub.podSecurityContext.fsGroup: the owner group of the hub's sqlite volume
SINGLEUSER_UID = 1000  # the chart's singleuser.uid: jovyan in the quay.io/jupyter images
SINGLEUSER_GID = 100  # the chart's singleuser.fsGid: the users group those images write with
# The traits set on GenericOAuthenticator, as OAuthenticator 17.4.0 (oauth2.py, generic.py) and JupyterHub 5.5
# (Authenticator: manage_groups, admin_groups' base) declare them; hub.config passes them through unchecked.
AUTHENTICATOR_TRAITS = frozenset(
    {
        "client_id",
        "oauth_callback_url",
        "scope",
        "userdata_from_id_token",
        "username_claim",
        "manage_groups",
        "auth_state_groups_key",
        "allowed_groups",
        "admin_groups",
        "login_service",
        "authorize_url",
        "token_url",
    }
)
# KubeSpawner 7.0.0 traits set through hub.config (kubespawner/spawner.py); the chart maps neither.
SPAWNER_TRAITS = frozenset({"pod_security_context", "container_security_context"})
_EGRESS_OFF = {
    "cloudMetadataServer": False,
    "dnsPortsCloudMetadataServer": False,
    "dnsPortsKubeSystemNamespace": False,
    "dnsPortsPrivateIPs": False,
    "nonPrivateIPs": False,
    "privateIPs": False,
}


@dataclass(frozen=True)
class NotebookProfile:
    """One domain's profile: who may start it, and what its pods run as."""

    slug: str  # the domain name
    display_name: str
    description: str
    service_account: str
    groups: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)  # plain settings, never credentials
    credentials_secret: str | None = None  # a Secret loaded whole as env (local: MinIO keys)

    def __post_init__(self) -> None:
        check_name(self.service_account, "service_account")
        if not self.groups:
            raise ValueError(f"profile {self.slug}: no group may use it")
        if self.credentials_secret is not None:
            check_name(self.credentials_secret, "credentials_secret")


@dataclass(frozen=True)
class HubSignIn:
    client_id: str
    client_secret: str  # the Secret's name
    client_secret_key: str
    callback_url: str
    groups_claim: str
    scopes: tuple[str, ...]
    admin_groups: tuple[str, ...]
    # Discovered by the hub at start from issuer_url, unless given (the local Dex: browser and in-cluster URLs).
    issuer_url: str
    authorize_url: str | None = None
    token_url: str | None = None

    def __post_init__(self) -> None:
        check_name(self.client_secret, "client_secret")
        check_secret_key(self.client_secret_key, "client_secret_key")
        if (self.authorize_url is None) != (self.token_url is None):
            raise ValueError("set authorize_url and token_url together, or neither (discovery)")


@dataclass(frozen=True)
class Culling:
    timeout_seconds: int
    every_seconds: int
    max_age_seconds: int


@dataclass(frozen=True)
class JupyterHubArgs:
    image: Image
    profiles: tuple[NotebookProfile, ...]
    sign_in: HubSignIn
    culling: Culling
    storage_gib: int
    storage_class: str | None
    user_cpu: tuple[str, str]  # (request, limit), Kubernetes quantities
    user_memory: tuple[str, str]
    hub_resources: dict[str, Any] = field(default_factory=lambda: resources("100m", "256Mi", memory_limit="512Mi"))
    proxy_resources: dict[str, Any] = field(default_factory=lambda: resources("50m", "64Mi", memory_limit="256Mi"))

    def __post_init__(self) -> None:
        if not self.profiles:
            raise ValueError("the sandbox hub needs at least one domain profile")
        slugs = [p.slug for p in self.profiles]
        if len(set(slugs)) != len(slugs):
            raise ValueError(f"profile slugs must be unique: {slugs}")


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity as KubeSpawner's float of cores."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def kubespawner_bytes(quantity: str) -> str:
    """A Kubernetes memory quantity (Mi, Gi) in JupyterHub's ByteSpecification, whose M and G are binary."""
    for suffix, unit in (("Gi", "G"), ("Mi", "M")):
        if quantity.endswith(suffix):
            return quantity.removesuffix(suffix) + unit
    raise ValueError(f"memory quantity must end in Mi or Gi: {quantity!r}")


def _profile(p: NotebookProfile) -> dict[str, Any]:
    override: dict[str, Any] = {
        "service_account": p.service_account,
        # Pod Identity injects its own projected token; the Kubernetes API token is not the user's business.
        "automount_service_account_token": False,
        "environment": dict(sorted(p.env.items())),
    }
    if p.credentials_secret is not None:
        override["extra_container_config"] = {"envFrom": [{"secretRef": {"name": p.credentials_secret}}]}
    return {
        "slug": p.slug,
        "display_name": p.display_name,
        "description": p.description,
        "kubespawner_override": override,
    }


def _hub_security_context() -> dict[str, Any]:
    # The k8s-hub image (images/hub/Dockerfile at 4.4.0) owns only /srv/jupyterhub for jovyan (1000), and the
    # sqlite PVC replaces that directory, writable by group 1000 (the chart's fsGroup): a high UID in that
    # group runs the hub without sharing a UID with the host.
    return {
        "runAsNonRoot": True,
        "runAsUser": HUB_UID,
        "runAsGroup": HUB_GID,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
    }


def jupyterhub_values(args: JupyterHubArgs) -> dict[str, Any]:
    s = args.sign_in
    allowed_groups = sorted({g for p in args.profiles for g in p.groups} | set(s.admin_groups))
    authenticator: dict[str, Any] = {
        "client_id": s.client_id,
        "oauth_callback_url": s.callback_url,
        "scope": list(s.scopes),
        "userdata_from_id_token": True,
        "username_claim": "email",
        "manage_groups": True,
        "auth_state_groups_key": f"oauth_user.{s.groups_claim}",
        "allowed_groups": allowed_groups,
        "admin_groups": sorted(s.admin_groups),
        "login_service": "the platform's sign-in",
    }
    if s.authorize_url is not None:
        authorize_url, token_url = s.authorize_url, s.token_url
        authenticator |= {"authorize_url": authorize_url, "token_url": token_url}
    settings: dict[str, Any] = {"profileGroups": {p.slug: sorted(p.groups) for p in args.profiles}}
    if s.authorize_url is None:
        settings["issuerUrl"] = s.issuer_url
    cpu_request, cpu_limit = args.user_cpu
    memory_request, memory_limit = args.user_memory
    return {
        "custom": {"dataplatform": settings},
        "hub": {
            "config": {
                "JupyterHub": {"authenticator_class": "generic-oauth", "admin_access": False},
                "GenericOAuthenticator": authenticator,
                # Merged by KubeSpawner over what it sets itself (runAsUser, fsGroup, allowPrivilegeEscalation),
                # so user servers meet Pod Security `restricted` (the namespace enforces it).
                "KubeSpawner": {
                    "pod_security_context": {"runAsNonRoot": True, "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP)},
                    "container_security_context": {
                        "runAsNonRoot": True,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
                    },
                },
            },
            "extraEnv": {
                CLIENT_SECRET_ENV: {
                    "valueFrom": {"secretKeyRef": {"name": s.client_secret, "key": s.client_secret_key}}
                }
            },
            "extraFiles": {
                "dataplatform-sandbox": {
                    "mountPath": f"{CONFIG_D}/{HUB_MODULE_FILE}",
                    "stringData": HUB_MODULE_SOURCE.read_text(),
                }
            },
            "image": {"name": HUB_IMAGE, "tag": CHART_VERSION, "pullPolicy": "Always"},
            "resources": args.hub_resources,
            "containerSecurityContext": _hub_security_context(),
            "db": {"pvc": {"storage": "1Gi", "storageClassName": args.storage_class}},
            "networkPolicy": {"egressAllowRules": dict(_EGRESS_OFF)},
        },
        "proxy": {
            "service": {"type": "ClusterIP"},
            "chp": {
                "image": {"pullPolicy": "Always"},
                # The proxy never calls the Kubernetes API; the chart sets no pod-level context for it.
                "extraPodSpec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP)},
                },
                "resources": args.proxy_resources,
                "networkPolicy": {"egressAllowRules": dict(_EGRESS_OFF), "allowedIngressPorts": []},
            },
        },
        "singleuser": {
            "image": {"name": args.image.repository, "tag": args.image.tag, "pullPolicy": args.image.pull_policy},
            "cloudMetadata": {"blockWithIptables": False},
            "networkPolicy": {"egressAllowRules": dict(_EGRESS_OFF)},
            "storage": {
                "type": "dynamic",
                "capacity": f"{args.storage_gib}Gi",
                "homeMountPath": HOME,
                "dynamic": {"storageClass": args.storage_class},
            },
            "cpu": {"guarantee": cpu_cores(cpu_request), "limit": cpu_cores(cpu_limit)},
            "memory": {"guarantee": kubespawner_bytes(memory_request), "limit": kubespawner_bytes(memory_limit)},
            "allowPrivilegeEscalation": False,
            "uid": SINGLEUSER_UID,
            "fsGid": SINGLEUSER_GID,
            "profileList": [_profile(p) for p in args.profiles],
        },
        "scheduling": {
            "userScheduler": {"enabled": False},
            "userPlaceholder": {"enabled": False},
            "podPriority": {"enabled": False},
        },
        "prePuller": {"hook": {"enabled": False}, "continuous": {"enabled": False}},
        # The platform's own Ingress (with the load balancer's health path) fronts proxy-public.
        "ingress": {"enabled": False},
        "cull": {
            "enabled": True,
            "users": False,
            "adminUsers": True,
            "timeout": args.culling.timeout_seconds,
            "every": args.culling.every_seconds,
            "maxAge": args.culling.max_age_seconds,
        },
    }


def hub_ui_service() -> tuple[str, int]:
    """The Service and port the Ingress sends browsers to."""
    return PROXY_SERVICE, PROXY_SERVICE_PORT
