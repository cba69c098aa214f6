"""Helm values for a UI's sign-in gateway (chart `oauth2-proxy` 10.7.0, app v7.15.3, from
https://oauth2-proxy.github.io/manifests).

One release stands in front of each UI: the Ingress sends every request to it, it signs the user in
with the stack's OIDC provider, lets through only members of the allowed groups (`--allowed-group`,
read from the groups claim), and proxies to the UI's Service. The UI's own Service is reachable only
from inside its namespace, so there is no path to a UI that skips sign-in.

- No secret in the values: the client id, client secret and cookie secret come from the Secret
  named by `config.existingSecret` (keys `client-id`, `client-secret`, `cookie-secret`).
- The tool's health path alone skips sign-in (`--skip-auth-route`, GET and that exact path), so
  the load balancer's health check and `platformctl smoke` see the tool itself through the gateway.
- Where pods cannot use the issuer's discovery document (the bundled Dex, whose issuer URL is the
  laptop's port-forward), discovery is skipped and the browser's login URL and the in-cluster token
  and keys URLs are given; the ID token's issuer is still checked against `issuer_url`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from components.values.common import resources

CHART_APP_VERSION = "v7.15.3"
CONTAINER_PORT = 4180  # the chart's --http-address
SERVICE_PORT = 80
PING_PATH = "/ping"  # answered by the proxy itself
CLIENT_ID_KEY = "client-id"
CLIENT_SECRET_KEY = "client-secret"
COOKIE_SECRET_KEY = "cookie-secret"
CALLBACK_PATH = "/oauth2/callback"
# A static Go binary on distroless nonroot (user 65532): any UID runs it; a high one avoids host UID clashes.
_UID = 65532


@dataclass(frozen=True)
class OidcEndpoints:
    issuer_url: str
    # Only where pods cannot use discovery: the browser's authorize URL, in-cluster token and keys URLs.
    login_url: str | None = None
    redeem_url: str | None = None
    jwks_url: str | None = None

    def __post_init__(self) -> None:
        explicit = (self.login_url, self.redeem_url, self.jwks_url)
        if any(explicit) and not all(explicit):
            raise ValueError("set login_url, redeem_url and jwks_url together, or none (discovery)")


@dataclass(frozen=True)
class GatewayArgs:
    public_url: str  # scheme://host[:port] of the UI
    upstream: str  # http://<service>.<namespace>.svc:<port>
    health_path: str  # the tool's unauthenticated health endpoint
    client_secret: str  # the Secret with client-id, client-secret and cookie-secret
    oidc: OidcEndpoints
    groups_claim: str
    scopes: tuple[str, ...]
    # Empty: every signed-in user of the provider.
    allowed_groups: tuple[str, ...]


def gateway_args_list(args: GatewayArgs) -> list[str]:
    """The proxy's command-line flags (the chart renders a list `extraArgs` verbatim)."""
    https = args.public_url.startswith("https://")
    out = [
        "--provider=oidc",
        f"--oidc-issuer-url={args.oidc.issuer_url}",
        f"--oidc-groups-claim={args.groups_claim}",
        f"--scope={' '.join(args.scopes)}",
        f"--redirect-url={args.public_url}{CALLBACK_PATH}",
        # Behind the ALB or ingress-nginx: trust their X-Forwarded-* headers for the client and host.
        "--reverse-proxy=true",
        "--skip-provider-button=true",
        f"--cookie-secure={'true' if https else 'false'}",
        "--cookie-samesite=lax",
        "--cookie-expire=12h0m0s",
        f"--skip-auth-route=GET=^{re.escape(args.health_path)}$",
        *(f"--allowed-group={g}" for g in args.allowed_groups),
    ]
    if args.oidc.login_url:
        out += [
            "--skip-oidc-discovery=true",
            f"--login-url={args.oidc.login_url}",
            f"--redeem-url={args.oidc.redeem_url}",
            f"--oidc-jwks-url={args.oidc.jwks_url}",
        ]
    return out


def oauth2_proxy_values(args: GatewayArgs) -> dict[str, Any]:
    return {
        "config": {
            "existingSecret": args.client_secret,
            "upstreams": [args.upstream],
            # Group membership decides, not the e-mail domain.
            "emailDomains": ["*"],
        },
        "extraArgs": gateway_args_list(args),
        "service": {"type": "ClusterIP", "portNumber": SERVICE_PORT},
        # The proxy never calls the Kubernetes API.
        "serviceAccount": {"enabled": True, "automountServiceAccountToken": False},
        # Always: the kubelet re-checks the registry for the tag at each start.
        "image": {"pullPolicy": "Always"},
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": _UID,
            "runAsGroup": _UID,
            "fsGroup": _UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "securityContext": {
            "enabled": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": _UID,
            "runAsGroup": _UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": resources("25m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
        # One replica: a PodDisruptionBudget of minAvailable 1 would block every node drain.
        "podDisruptionBudget": {"enabled": False},
    }
