"""The identity provider every UI signs in with: its settings, and on the local stack the bundled Dex.

`sign_in_settings` turns the validated `identity:` block into what the sign-in gateways and the tools
need: the issuer, the client id, the client secret as a secret Output (from the Pulumi secret
`dataplatform:identityClientSecret`, or read from Secrets Manager with the stack's AWS provider),
the groups claim and the scopes. For `provider: dex` it creates `BundledDex`.

BundledDex creates, in namespace `identity` behind the same NamespaceGuardrails as a domain:
- a generated client secret and one generated password per static user (pulumi-random; Dex gets
  only the bcrypt hashes), in one Secret that Dex reads through env (`secretEnv`, `hashFromEnv`),
  and the users' passwords in a second Secret, for `pulumi stack output signIn`;
- the Dex release (values from `components.values.dex`), and an Ingress at `dex.<baseDomain>`.

Invariants: no client secret, password or hash is in Helm values, ConfigMaps or exports; the issuer
URL is the one browsers use (the laptop's port-forward), and pods reach Dex at its Service instead,
through explicit endpoints (`OidcEndpoints`), so the ID token's issuer still matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.charts import release_args
from components.config import DEX_CLIENT_ID, StackConfig
from components.guardrails import ContainerDefaults, GuardrailsArgs, NamespaceGuardrails, Quota
from components.interfaces import Foundation
from components.local.foundation import IDENTITY_NAMESPACE
from components.values import dex as dex_values
from components.values.oauth2_proxy import OidcEndpoints
from components.workloads import ui_ingress_spec

DEX_RELEASE = "dex"  # contains the chart name, so the chart names its Service `dex`
DEX_ENV_SECRET = "dex-env"
DEX_USERS_SECRET = "dex-users"
DEX_SCOPES = ("openid", "email", "profile", "groups")


@dataclass(frozen=True)
class SignInSettings:
    """What the sign-in gateways and the tools' own OIDC login need of the identity provider."""

    endpoints: OidcEndpoints
    client_id: str
    client_secret: pulumi.Output[str]  # secret
    groups_claim: str
    scopes: tuple[str, ...]
    admin_groups: tuple[str, ...]
    catalog_groups: tuple[str, ...]
    # False where pods cannot read the issuer's discovery document (the bundled Dex behind a
    # port-forward): tools that only take a discovery URI (DataHub) then rely on the gateway alone.
    discovery_from_pods: bool = True
    ready: tuple[pulumi.Resource, ...] = ()  # what a gateway waits for (the bundled Dex)
    # The bundled Dex's users and their generated passwords (secret), for the laptop user.
    test_users: pulumi.Output[dict[str, str]] | None = None


def public_url(scheme: str, host: str, port: int | None) -> str:
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def sign_in_settings(
    config: StackConfig, foundation: Foundation, *, redirect_uris: Sequence[str], opts: pulumi.ResourceOptions
) -> SignInSettings:
    idp = config.identity
    common = {
        "groups_claim": idp.groups_claim,
        "admin_groups": tuple(idp.admin_groups),
        "catalog_groups": tuple(idp.catalog_groups),
    }
    if idp.provider == "dex":
        dex = BundledDex("identity", config, foundation, redirect_uris=redirect_uris, opts=opts)
        return SignInSettings(
            endpoints=dex.endpoints,
            client_id=DEX_CLIENT_ID,
            client_secret=dex.client_secret,
            scopes=DEX_SCOPES,
            discovery_from_pods=False,
            ready=(dex.release,),
            test_users=dex.sign_in,
            **common,
        )
    assert idp.issuer_url is not None and idp.client_id is not None  # the model requires both for oidc
    if config.identity_client_secret is not None:
        secret = pulumi.Output.secret(config.identity_client_secret.get_secret_value())
    else:
        aws_provider = getattr(foundation, "aws_provider", None)
        secret = pulumi.Output.secret(
            aws.secretsmanager.get_secret_version_output(
                secret_id=idp.client_secret_arn, opts=pulumi.InvokeOutputOptions(provider=aws_provider)
            ).secret_string
        )
    return SignInSettings(
        endpoints=OidcEndpoints(issuer_url=idp.issuer_url.rstrip("/")),
        client_id=idp.client_id,
        client_secret=secret,
        scopes=tuple(idp.scopes),
        **common,
    )


class BundledDex(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        foundation: Foundation,
        *,
        redirect_uris: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:identity_provider:BundledDex", name, None, opts)
        ns = IDENTITY_NAMESPACE
        allow = foundation.network_allowances()
        ingress = foundation.ingress_settings(ns)
        host = f"dex.{config.ingress.base_domain}"
        issuer = public_url(ingress.scheme, host, ingress.public_port) + dex_values.PATH
        internal = f"http://{DEX_RELEASE}.{ns}.svc:{dex_values.PORT}{dex_values.PATH}"
        self.endpoints = OidcEndpoints(
            issuer_url=issuer,
            login_url=f"{issuer}/auth",
            redeem_url=f"{internal}/token",
            jwks_url=f"{internal}/keys",
        )

        self.guardrails = NamespaceGuardrails(
            ns,
            GuardrailsArgs(
                namespace=ns,
                owner="platform",
                quota=Quota(
                    requests_cpu="250m", requests_memory="256Mi", limits_cpu="1", limits_memory="512Mi", pods=5
                ),
                container_defaults=ContainerDefaults("25m", "64Mi", "200m", "128Mi"),
                # The browser through the ingress controller; the gateways and tools from their namespaces.
                ingress_cidrs=allow.ingress_cidrs,
                ingress_namespaces=allow.ingress_namespaces,
                ui_ports=(dex_values.PORT,),
                served_ports=(dex_values.PORT,),
                served_to_label="dataplatform.io/domain",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails])

        client = random.RandomPassword(f"{name}-client-secret", length=40, special=False, opts=in_ns)
        self.client_secret: pulumi.Output[str] = pulumi.Output.secret(client.result)
        users = tuple(
            dex_values.DexUser(email=u.email, username=u.username, groups=tuple(u.groups))
            for u in config.identity.users
        )
        passwords = {
            u.username: random.RandomPassword(f"{name}-user-{u.username}", length=20, special=False, opts=in_ns)
            for u in users
        }
        env = k8s.core.v1.Secret(
            f"{name}-env",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=DEX_ENV_SECRET, namespace=ns),
            type="Opaque",
            string_data={
                dex_values.CLIENT_SECRET_ENV: client.result,
                **{u.hash_env: passwords[u.username].bcrypt_hash for u in users},
            },
            opts=in_ns,
        )
        # For the laptop user: `pulumi stack output signIn --show-secrets`.
        k8s.core.v1.Secret(
            f"{name}-users",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=DEX_USERS_SECRET, namespace=ns),
            type="Opaque",
            string_data={u.email: passwords[u.username].result for u in users},
            opts=in_ns,
        )
        self.sign_in = pulumi.Output.secret(
            pulumi.Output.all(*(passwords[u.username].result for u in users)).apply(
                lambda pws: {u.email: pw for u, pw in zip(users, pws, strict=True)}
            )
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-dex",
            release_args(
                "dex",
                {**config.charts},
                release_name=DEX_RELEASE,
                namespace=ns,
                values=dex_values.dex_values(
                    dex_values.DexArgs(
                        issuer_url=issuer,
                        client_id=DEX_CLIENT_ID,
                        redirect_uris=tuple(redirect_uris),
                        users=users,
                        env_secret=DEX_ENV_SECRET,
                    )
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails, env]),
        )
        k8s.networking.v1.Ingress(
            f"{name}-dex",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="dex", namespace=ns, annotations=ingress.annotations),
            spec=ui_ingress_spec(ingress.class_name, host, DEX_RELEASE, dex_values.PORT),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
        )
        self.register_outputs({"issuer": issuer})
