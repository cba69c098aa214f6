"""AnalystNotebooks: the analyst sandbox's notebooks, one JupyterHub per stack (docs/notebooks.md).

Created only when at least one (not retired) domain sets `tools.sandbox.enabled`. Creates:
- NamespaceGuardrails for `SANDBOX_NAMESPACE`, the same as a domain's (Pod Security labels, enforcing
  `restricted`; quota and limit range from `notebooks.quota`, default deny), without the blanket same-namespace allow:
  the chart's NetworkPolicies open exactly hub <-> proxy <-> user server, so one analyst's server
  cannot reach another's. The guardrails add DNS, HTTPS egress (AWS APIs: S3, Athena, Glue, STS),
  the EKS Pod Identity agent on AWS, the load balancer to the proxy's port, and on the local stack
  the Kubernetes API (the hub spawns pods), MinIO and Dex;
- the Secret with the OIDC client secret the hub reads (`OAUTH_CLIENT_SECRET`);
- on the local foundation, LocalSandboxLake: a read-only MinIO user per domain and its keys;
- the `notebooks` release of the jupyterhub chart (values from `components.values.jupyterhub`): one
  profile per domain, offered only to the domain's access groups (and the platform admins);
- an Ingress at `notebooks.<baseDomain>` to the proxy, with the hub's health path for the ALB.

Each profile runs as `analyst_service_account(domain)`, which the domain's own stack creates
(components/tools/sandbox.py) and its foundation maps to the analyst role: the hub holds nothing per
domain but configuration, so a split environment's stack registers no domain resource. A profile
whose domain stack has not run yet fails to spawn until it has.

Invariants: a domain without the sandbox gets no profile or credentials; the release waits for the
namespace and every Secret it names; no secret is in Helm values;
every object lives in the sandbox namespace except the local MinIO user's Job, Secret and allow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.aws.cluster import STORAGE_CLASS
from components.aws.foundation import AwsFoundation
from components.aws.sandbox_access import glue_database_name, workgroup_name
from components.charts import release_args
from components.config import StackConfig
from components.domain_config import Domain
from components.guardrails import OWNER_LABEL, ContainerDefaults, GuardrailsArgs, NamespaceGuardrails, Quota
from components.identity_provider import SignInSettings, public_url
from components.interfaces import Foundation, ProductGrant
from components.local.domain_services import lake_bucket_name
from components.local.foundation import LocalFoundation
from components.local.notebooks import LocalSandboxLake, analyst_credentials_secret
from components.sandbox_names import SANDBOX_NAMESPACE, analyst_service_account
from components.values import jupyterhub as hub_values
from components.values.common import Image, resources
from components.workloads import ui_ingress_annotations, ui_ingress_spec

RELEASE = "notebooks"
HOST = "notebooks"  # notebooks.<baseDomain>
OWNER = "platform"
SIGN_IN_SECRET = "notebooks-sign-in"
SIGN_IN_SECRET_KEY = "client-secret"
CONTAINER_DEFAULTS = ContainerDefaults("50m", "128Mi", "500m", "512Mi")
# Quota limits allow bursting to twice the requested total, as in a domain namespace.
LIMITS_FACTOR = 2
# The hub's and the proxy's requests per sizing profile (components/sizing.py); user servers use notebooks.user.
HUB_SIZES = {
    "standard": (resources("100m", "256Mi", memory_limit="512Mi"), resources("50m", "64Mi", memory_limit="256Mi")),
    "laptop": (resources("50m", "128Mi", memory_limit="512Mi"), resources("25m", "32Mi", memory_limit="256Mi")),
}


def sandbox_domains(domains: Sequence[Domain]) -> list[Domain]:
    """The domains whose analysts get a notebook profile, by name."""
    return sorted((d for d in domains if not d.retired and d.tools.sandbox.enabled), key=lambda d: d.name)


def notebooks_url(config: StackConfig, foundation: Foundation) -> str:
    ingress = foundation.ingress_settings(SANDBOX_NAMESPACE)
    return public_url(ingress.scheme, f"{HOST}.{config.ingress.base_domain}", ingress.public_port)


def _double(quantity: str) -> str:
    if quantity.endswith("m"):
        return f"{int(quantity[:-1]) * LIMITS_FACTOR}m"
    if quantity.endswith(("Mi", "Gi")):
        return f"{int(quantity[:-2]) * LIMITS_FACTOR}{quantity[-2:]}"
    return str(float(quantity) * LIMITS_FACTOR).removesuffix(".0")


def guardrails_args(config: StackConfig, foundation: Foundation) -> GuardrailsArgs:
    q = config.notebooks.quota
    allow = foundation.network_allowances()
    return GuardrailsArgs(
        namespace=SANDBOX_NAMESPACE,
        owner=OWNER,
        quota=Quota(
            requests_cpu=q.cpu,
            requests_memory=q.memory,
            limits_cpu=_double(q.cpu),
            limits_memory=_double(q.memory),
            pods=q.pods,
        ),
        container_defaults=CONTAINER_DEFAULTS,
        ingress_cidrs=allow.ingress_cidrs,
        ingress_namespaces=allow.ingress_namespaces,
        ui_ports=(hub_values.PROXY_CONTAINER_PORT,),
        # The local API server (the hub spawns pods) is a private address; on AWS the API is HTTPS, and
        # the sandbox has no business with the VPC's databases, so their ports stay closed.
        private_egress=(allow.private_egress if config.foundation == "local" else ()) + allow.credentials_egress,
        egress_namespaces=allow.egress_namespaces,
        same_namespace=False,
        # Hub and proxy are rendered and checked; user servers get restricted contexts from KubeSpawner
        # (values.jupyterhub: hub.config.KubeSpawner), checked in tests/test_notebooks.py.
        pss_enforce="restricted",
    )


def profile_env(domain: Domain, config: StackConfig, bucket: str, endpoint_url: str | None) -> dict[str, str]:
    """What a notebook reads about its domain (docs/notebooks.md); never a credential."""
    env = {
        "SANDBOX_DOMAIN": domain.name,
        "SANDBOX_BUCKET": bucket,
        "SANDBOX_CONSUMES": ",".join(sorted(domain.consumes)),
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
    }
    if endpoint_url is not None:
        # boto3, s3fs and pandas read AWS_ENDPOINT_URL; the image's DuckDB helper reads it too.
        env["AWS_ENDPOINT_URL"] = endpoint_url
    if config.foundation == "aws":
        # The domain half's Athena workgroup and Glue database (docs/sandbox.md), by their naming rules.
        env["SANDBOX_ATHENA_WORKGROUP"] = workgroup_name(config.environment, domain.name)
        env["SANDBOX_GLUE_DATABASE"] = glue_database_name(config.environment, domain.name)
    return env


class AnalystNotebooks(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        domains: Sequence[Domain],
        foundation: Foundation,
        *,
        sign_in: SignInSettings,
        grants: Mapping[str, Sequence[ProductGrant]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`domains`: the sandbox domains (`sandbox_domains`); `grants[d]`: the products domain d consumes."""
        super().__init__("dataplatform:notebooks:AnalystNotebooks", name, None, opts)
        if not domains:
            raise ValueError("AnalystNotebooks needs at least one sandbox domain")
        config = foundation.config
        ns = SANDBOX_NAMESPACE
        self.guardrails = NamespaceGuardrails(
            f"{name}-guardrails", guardrails_args(config, foundation), opts=pulumi.ResourceOptions(parent=self)
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails])

        self.sign_in_secret = k8s.core.v1.Secret(
            f"{name}-sign-in",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SIGN_IN_SECRET, namespace=ns, labels={OWNER_LABEL: OWNER}),
            type="Opaque",
            string_data={SIGN_IN_SECRET_KEY: sign_in.client_secret},
            opts=in_ns,
        )

        # The laptop's stand-in for the analyst role (a read-only MinIO user per domain); on AWS the domain
        # half's role, through Pod Identity. Bucket names by the lake's naming rule, so this neither waits for
        # nor needs (in the environment's part of a split environment) the domain stacks.
        self.lake: LocalSandboxLake | None = None
        endpoint_url: str | None = None
        buckets: dict[str, pulumi.Input[str]]
        if isinstance(foundation, LocalFoundation):
            refs = foundation.lake_refs
            self.lake = LocalSandboxLake(
                f"{name}-lake",
                namespace=ns,
                grants={d.name: tuple(grants.get(d.name, ())) for d in domains},
                refs=refs,
                after=[self.guardrails],
                opts=pulumi.ResourceOptions(parent=self),
            )
            endpoint_url = f"http://{refs.minio_address}"
            buckets = {d.name: lake_bucket_name(config.environment, d.name) for d in domains}
        elif isinstance(foundation, AwsFoundation):
            buckets = {d.name: foundation.lake.bucket_name(d.name) for d in domains}
        else:
            raise TypeError(f"the notebooks belong to the environment's stack, not to {type(foundation).__name__}")

        url = notebooks_url(config, foundation)
        admin_groups = tuple(sign_in.admin_groups)
        e = sign_in.endpoints
        hub_sign_in = hub_values.HubSignIn(
            client_id=sign_in.client_id,
            client_secret=SIGN_IN_SECRET,
            client_secret_key=SIGN_IN_SECRET_KEY,
            callback_url=url + hub_values.CALLBACK_PATH,
            groups_claim=sign_in.groups_claim,
            scopes=sign_in.scopes,
            admin_groups=admin_groups,
            issuer_url=e.issuer_url,
            # Where the hub cannot read the discovery document (the local Dex), the explicit URLs.
            authorize_url=e.login_url,
            token_url=e.redeem_url,
        )
        nb = config.notebooks
        storage_class = config.local.storage_class if config.foundation == "local" else STORAGE_CLASS
        names = [d.name for d in domains]

        def values(bucket_names: list[str]) -> dict[str, Any]:
            by_domain = dict(zip(names, bucket_names, strict=True))
            profiles = tuple(
                hub_values.NotebookProfile(
                    slug=d.name,
                    display_name=f"{d.name}: analyst sandbox",
                    description=f"Reads {d.name}'s curated data and the products it consumes, as its analyst role.",
                    service_account=analyst_service_account(d.name),
                    groups=tuple(dict.fromkeys([*d.access_groups, *admin_groups])),
                    env=profile_env(d, config, by_domain[d.name], endpoint_url),
                    credentials_secret=analyst_credentials_secret(d.name) if self.lake is not None else None,
                )
                for d in domains
            )
            return hub_values.jupyterhub_values(
                hub_values.JupyterHubArgs(
                    image=Image(repository=nb.image.repository, tag=nb.image.tag),
                    profiles=profiles,
                    sign_in=hub_sign_in,
                    culling=hub_values.Culling(nb.cull_timeout_seconds, nb.cull_every_seconds, nb.cull_max_age_seconds),
                    storage_gib=nb.storage_gib,
                    storage_class=storage_class,
                    user_cpu=(nb.user.cpu_request, nb.user.cpu_limit),
                    user_memory=(nb.user.memory_request, nb.user.memory_limit),
                    hub_resources=HUB_SIZES[config.sizing][0],
                    proxy_resources=HUB_SIZES[config.sizing][1],
                )
            )

        wait_for: list[pulumi.Resource] = [
            self.guardrails,
            self.sign_in_secret,
            *sign_in.ready,
            *(self.lake.secrets.values() if self.lake else ()),
        ]
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            release_args(
                "jupyterhub",
                {**config.charts},
                release_name=RELEASE,
                namespace=ns,
                values=pulumi.Output.all(*(buckets[n] for n in names)).apply(values),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=wait_for),
        )

        ingress = foundation.ingress_settings(ns)
        service, port = hub_values.hub_ui_service()
        self.ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=RELEASE,
                namespace=ns,
                labels={OWNER_LABEL: OWNER},
                annotations=ui_ingress_annotations(ingress.class_name, ingress.annotations, hub_values.HEALTH_PATH),
            ),
            spec=ui_ingress_spec(ingress.class_name, f"{HOST}.{config.ingress.base_domain}", service, port),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
        )
        self.url = url
        self.exports = {"url": url, "namespace": ns, "profiles": names}
        self.register_outputs(self.exports)
