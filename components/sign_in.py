"""SignInGateways: nobody reaches a UI of a namespace without signing in, and only the allowed groups.

Creates, in one namespace (a domain's, or the catalog's):
- the OIDC client Secret `sign-in` (client id, client secret, a generated cookie secret), which the
  gateways read through `config.existingSecret`;
- one oauth2-proxy release per UI (values from `components.values.oauth2_proxy`), which signs the
  user in with the stack's identity provider, checks the groups claim against `allowed_groups`, and
  proxies to the UI's Service. The caller's Ingress targets `backends[tool]`, never the UI itself.

Invariants: the client and cookie secrets exist only in this Secret (no Helm value, env value or
export carries them); every gateway waits for its UI's release and for the identity provider; the
namespace's guardrails admit the load balancer only on the gateway's port (`GATEWAY_PORT`), so a UI
Service is reachable from its own namespace alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.charts import ChartOverride, release_args
from components.identity_provider import SignInSettings, public_url
from components.interfaces import IngressSettings
from components.values import oauth2_proxy as gateway_values
from components.values.jupyterhub import CALLBACK_PATH as JUPYTERHUB_CALLBACK_PATH

SECRET = "sign-in"
GATEWAY_PORT = gateway_values.CONTAINER_PORT


@dataclass(frozen=True)
class UiTarget:
    host: str
    service: str
    port: int
    health_path: str


def gateway_release_name(release: str) -> str:
    """Contains the chart name, so the chart names its Service after the release."""
    return f"{release}-oauth2-proxy"


class SignInGateways(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        namespace: str,
        settings: SignInSettings,
        ingress: IngressSettings,
        targets: Mapping[str, UiTarget],
        releases: Mapping[str, str],
        allowed_groups: Sequence[str],
        chart_overrides: Mapping[str, ChartOverride],
        labels: Mapping[str, str],
        after: Mapping[str, Sequence[pulumi.Resource]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`releases[tool]` names the tool's release; `after[tool]` is what its gateway waits for."""
        super().__init__("dataplatform:sign_in:SignInGateways", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cookie = random.RandomPassword(f"{name}-cookie-secret", length=32, special=False, opts=child)
        secret = k8s.core.v1.Secret(
            f"{name}-client",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SECRET, namespace=namespace, labels=dict(labels)),
            type="Opaque",
            string_data={
                gateway_values.CLIENT_ID_KEY: settings.client_id,
                gateway_values.CLIENT_SECRET_KEY: settings.client_secret,
                gateway_values.COOKIE_SECRET_KEY: cookie.result,
            },
            opts=child,
        )
        self.allowed_groups = tuple(allowed_groups)
        self.backends: dict[str, tuple[str, int]] = {}
        self.releases: dict[str, k8s.helm.v3.Release] = {}
        for tool, target in targets.items():
            release = gateway_release_name(releases[tool])
            args = gateway_values.GatewayArgs(
                public_url=public_url(ingress.scheme, target.host, ingress.public_port),
                upstream=f"http://{target.service}.{namespace}.svc:{target.port}",
                health_path=target.health_path,
                client_secret=SECRET,
                oidc=settings.endpoints,
                groups_claim=settings.groups_claim,
                scopes=settings.scopes,
                allowed_groups=self.allowed_groups,
            )
            self.releases[tool] = k8s.helm.v3.Release(
                f"{name}-{tool}",
                release_args(
                    "oauth2-proxy",
                    dict(chart_overrides),
                    release_name=release,
                    namespace=namespace,
                    values=gateway_values.oauth2_proxy_values(args),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[secret, *settings.ready, *after.get(tool, ())]),
            )
            self.backends[tool] = (release, gateway_values.SERVICE_PORT)
        self.register_outputs({"allowed_groups": list(self.allowed_groups)})


# Where each tool's own OIDC login returns to (besides the gateways' CALLBACK_PATH).
TOOL_CALLBACKS = {
    "superset": ("/oauth-authorized/oidc",),
    "datahub": ("/callback/oidc",),
    "notebooks": (JUPYTERHUB_CALLBACK_PATH,),
}
# UIs that sign users in themselves, with no gateway in front (JupyterHub's GenericOAuthenticator).
NO_GATEWAY = frozenset({"notebooks"})


def redirect_uris(ui_urls: Mapping[str, Sequence[str]]) -> list[str]:
    """Every redirect URI the identity provider must allow, given each tool's public UI URLs."""
    out = []
    for tool, urls in sorted(ui_urls.items()):
        for url in urls:
            if tool not in NO_GATEWAY:
                out.append(url + gateway_values.CALLBACK_PATH)
            out += [url + path for path in TOOL_CALLBACKS.get(tool, ())]
    return sorted(out)
