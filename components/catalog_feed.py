"""DomainCatalogFeed: one domain's registration in, and scheduled ingestion into, the central DataHub.

Creates, in the domain namespace:
- the Secret `datahub-ingestion-token` (no data from the program: the catalog's token issuer fills
  it) and a Role allowing exactly get/patch on that one Secret, bound to the issuer's ServiceAccount
  in the catalog namespace;
- the registration: an immutable ConfigMap with the proposals rendered from the domain file (the
  DataHub Domain with description, owners and the grants it holds as custom properties; each product
  as a Data Product with description, prefix, contract link and its Domain) and the module that
  upserts them into GMS (`components/jobs/datahub_registration.py`, read from this repository), and a
  Job named after a hash of all that, so any change re-runs it;
- when ingestion is on and a pull source is enabled: a ConfigMap of recipes (one per source:
  warehouse, lake, dbt artifacts, Superset) and one CronJob that runs them in turn on the domain's
  schedule with its ingestion ServiceAccount (the domain's Pod Identity role on AWS);
and, in the catalog namespace, the issuer Job that writes the domain's first token and a CronJob
that rotates it weekly (tokens last a month).

Invariants: no secret is in a ConfigMap, an env value or the program's inputs. The issuer and the
registration read their credential from a file mounted from its Secret (one key each: the system client
secret in the catalog namespace, the domain token in the domain namespace); the ingestion recipes
reference credentials as `${VAR}`, which the DataHub CLI expands from env only, so that env comes from
`secretKeyRef`. Every pod is restricted (non-root, no escalation, no capabilities,
RuntimeDefault seccomp, read-only root filesystem with emptyDirs for /tmp and the CLI's home), sized
and pinned; logical names start with the domain name and nothing depends on another domain's file
but the grants the caller resolved. Dagster has no pull source in DataHub: its push sensor
(acryl-datahub-dagster-plugin) runs in the user code, which reads this token from a mounted file
(`components/values/dagster.py`, `DATAHUB_GMS_TOKEN_FILE`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.catalog import (
    IMAGE_UID,
    ISSUER_SCRIPT_KEY,
    SYSTEM_CLIENT_ID,
    SYSTEM_CLIENT_SECRET_KEY,
    CatalogEndpoint,
)
from components.domain_config import DatahubSources, Domain
from components.interfaces import DomainServices, ProductGrant
from components.jobs import datahub_issuer, datahub_registration
from components.runtime.superset_sign_in import API_LOGIN_PROVIDER
from components.values.common import S3_CREDENTIAL_KEYS
from components.values.dagster import DATAHUB_TOKEN_DIR, DATAHUB_TOKEN_FILE
from components.workloads import hardened_container_security, hardened_pod_security

REGISTRATION_SA = "datahub-registration"
TOKEN_WRITER_ROLE = "datahub-token-writer"
RECIPES_CONFIGMAP = "datahub-ingestion-recipes"
SOURCES_SECRET = "datahub-ingestion-sources"
WAREHOUSE_PASSWORD_VAR = "WAREHOUSE_PASSWORD"
SUPERSET_PASSWORD_VAR = "SUPERSET_PASSWORD"
TOKEN_DURATION = "ONE_MONTH"
# Weekly, well inside the month a token lasts; the issuer keeps the previous token valid for runs in flight.
TOKEN_ROTATION_SCHEDULE = "0 2 * * 1"
CLI_HOME = "/datahub-home"
PULL_SOURCES = ("warehouse", "lake", "dbt", "superset")
REGISTRATION_MODULE_FILE = Path(datahub_registration.__file__)
REGISTRATION_DIR = "/registration"
PROPOSALS_KEY = "proposals.json"
ISSUER_DIR = "/scripts"
GRANT_ACCESS = "read-only: s3:GetObject and s3:ListBucket under the prefix, kms:Decrypt with the shared lake key"


@dataclass(frozen=True)
class SupersetSource:
    """The domain's Superset as the ingestion reaches it; the password stays in its Secret."""

    url: str  # in-cluster base URL, e.g. http://sales-superset.sales.svc:8088
    username: str
    password_secret: str
    password_key: str
    # What the ingestion waits for: the release (and through it the Secret holding the password).
    after: tuple[pulumi.Resource, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class WarehouseConnection:
    """Plain (resolved) connection settings of the domain warehouse."""

    kind: str  # redshift | postgres
    host: str
    port: int
    database: str
    user: str
    auth: str  # iam | password
    workgroup: str | None
    region: str


def product_urn(domain: str, product: str) -> str:
    return f"urn:li:dataProduct:{domain}.{product}"


def grant_summary(grants: tuple[ProductGrant, ...]) -> dict[str, dict[str, str]]:
    """The grants as stack outputs, keyed `<producer>.<product>`."""
    return {
        f"{g.producer}.{g.product}": {
            "producer": g.producer,
            "product": g.product,
            "prefix": g.prefix,
            "access": GRANT_ACCESS,
            "dataProduct": product_urn(g.producer, g.product),
        }
        for g in grants
    }


def registration_proposals(domain: Domain, grants: tuple[ProductGrant, ...]) -> list[dict[str, Any]]:
    """Every aspect the registration Job upserts, in order (pure: tests read the same data)."""
    d = domain.name
    domain_urn = f"urn:li:domain:{d}"
    ownership = {
        "owners": [{"owner": f"urn:li:corpGroup:{domain.owners.team}", "type": "TECHNICAL_OWNER"}],
        "lastModified": {"time": 0, "actor": "urn:li:corpuser:unknown"},
    }
    properties = {
        "team": domain.owners.team,
        "contact": domain.owners.email,
        "cost-center": domain.cost_center,
        "namespace": d,
        "managed-by": "dataplatform",
    }
    if grants:
        properties["consumes"] = ", ".join(f"{g.producer}.{g.product}" for g in grants)
    for g in grants:
        properties[f"grant.{g.producer}.{g.product}"] = f"{GRANT_ACCESS}; prefix {g.prefix} of the {g.producer} lake"
    proposals: list[dict[str, Any]] = [
        {
            "entityType": "domain",
            "entityUrn": domain_urn,
            "aspectName": "domainProperties",
            "aspect": {"name": d, "description": domain.description, "customProperties": properties},
        },
        {"entityType": "domain", "entityUrn": domain_urn, "aspectName": "ownership", "aspect": ownership},
    ]
    for product in domain.products:
        urn = product_urn(d, product.name)
        custom = {"prefix": product.prefix, "domain": d, "managed-by": "dataplatform"}
        aspect: dict[str, Any] = {"name": product.name, "description": product.description, "customProperties": custom}
        if product.contract:
            custom["contract"] = product.contract
            aspect["externalUrl"] = product.contract
        proposals += [
            {"entityType": "dataProduct", "entityUrn": urn, "aspectName": "dataProductProperties", "aspect": aspect},
            {
                "entityType": "dataProduct",
                "entityUrn": urn,
                "aspectName": "domains",
                "aspect": {"domains": [domain_urn]},
            },
            {"entityType": "dataProduct", "entityUrn": urn, "aspectName": "ownership", "aspect": ownership},
        ]
    return proposals


def pull_sources(sources: DatahubSources, superset: SupersetSource | None) -> list[str]:
    """Enabled sources DataHub pulls from, in run order (dbt after the warehouse it documents)."""
    on = {
        "warehouse": sources.warehouse,
        "lake": sources.lake,
        "dbt": bool(sources.dbt),
        "superset": bool(sources.superset),
    }
    if on["superset"] and superset is None:
        raise ValueError("tools.datahubIngestion.sources.superset is on: pass the Superset connection (SupersetSource)")
    return [s for s in PULL_SOURCES if on[s]]


def _aws_config(region: str, endpoint_url: str | None) -> dict[str, Any]:
    if endpoint_url is None:
        return {"aws_region": region}  # Pod Identity through boto3's default chain
    return {
        "aws_region": region,
        "aws_endpoint_url": endpoint_url,
        "aws_access_key_id": f"${{{S3_CREDENTIAL_KEYS[0]}}}",
        "aws_secret_access_key": f"${{{S3_CREDENTIAL_KEYS[1]}}}",
        # S3-compatible stores (MinIO) serve buckets by path, not by host name.
        "aws_advanced_config": {"s3": {"addressing_style": "path"}},
    }


def ingestion_recipes(
    domain: str,
    sources: list[str],
    *,
    bucket: str,
    endpoint_url: str | None,
    warehouse: WarehouseConnection,
    superset: SupersetSource | None,
) -> dict[str, dict[str, Any]]:
    """One DataHub recipe per source; credentials only as ${VAR} references to env from Secrets."""
    aws = _aws_config(warehouse.region, endpoint_url)
    stateful = {"enabled": True}
    configs: dict[str, tuple[str, dict[str, Any]]] = {}
    if "warehouse" in sources:
        w = warehouse
        config: dict[str, Any] = {"host_port": f"{w.host}:{w.port}", "database": w.database}
        if w.auth == "iam":
            # redshift_connector gets temporary credentials with the pod's role (redshift-serverless:GetCredentials).
            config |= {
                "is_serverless": w.workgroup is not None,
                "extra_client_options": {
                    "iam": True,
                    "is_serverless": w.workgroup is not None,
                    "serverless_work_group": w.workgroup,
                    "region": w.region,
                },
            }
        else:
            config |= {"username": w.user, "password": f"${{{WAREHOUSE_PASSWORD_VAR}}}"}
        configs["warehouse"] = (w.kind, {**config, "stateful_ingestion": stateful})
    if "lake" in sources:
        configs["lake"] = (
            "s3",
            {
                # One dataset per folder under curated/, with every file below it (partitions too):
                # acryl-datahub 1.7.0's PathSpec (autodetect_partitions, on by default) turns a trailing
                # `{table}` into `{table}/**` and allows the double star.
                "path_specs": [{"include": f"s3://{bucket}/curated/{{table}}"}],
                "aws_config": aws,
                "stateful_ingestion": stateful,
            },
        )
    if "dbt" in sources:
        artifacts = f"s3://{bucket}/dbt/artifacts"
        configs["dbt"] = (
            "dbt",
            {
                "manifest_path": f"{artifacts}/manifest.json",
                "catalog_path": f"{artifacts}/catalog.json",
                "run_results_paths": [f"{artifacts}/run_results.json"],
                "target_platform": warehouse.kind,
                "aws_connection": aws,
                "stateful_ingestion": stateful,
            },
        )
    if "superset" in sources:
        assert superset is not None  # pull_sources checked it
        configs["superset"] = (
            "superset",
            {
                "connect_uri": superset.url,
                "username": superset.username,
                "password": f"${{{SUPERSET_PASSWORD_VAR}}}",
                # DataHub's superset source posts it to /api/v1/security/login; Superset runs AUTH_OAUTH
                # and allows it (components/runtime/superset_sign_in.py, API_LOGIN_PROVIDER).
                "provider": API_LOGIN_PROVIDER,
            },
        )
    return {
        source: {
            "pipeline_name": f"{domain}-{source}",
            "source": {"type": kind, "config": config},
            # Everything a domain ingests lands in its DataHub Domain.
            "transformers": [{"type": "simple_add_dataset_domain", "config": {"domains": [f"urn:li:domain:{domain}"]}}],
            "sink": {
                "type": "datahub-rest",
                "config": {"server": "${DATAHUB_GMS_URL}", "token": "${DATAHUB_GMS_TOKEN}"},
            },
        }
        for source, (kind, config) in configs.items()
    }


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]


def _env(name: str, value: str) -> k8s.core.v1.EnvVarArgs:
    return k8s.core.v1.EnvVarArgs(name=name, value=value)


def _secret_env(name: str, secret: str, key: str) -> k8s.core.v1.EnvVarArgs:
    return k8s.core.v1.EnvVarArgs(
        name=name,
        value_from=k8s.core.v1.EnvVarSourceArgs(secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret, key=key)),
    )


def _resources(requests: tuple[str, str], limits: tuple[str, str]) -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": requests[0], "memory": requests[1]}, limits={"cpu": limits[0], "memory": limits[1]}
    )


def _pod(
    *,
    service_account: str,
    automount: bool,
    container: k8s.core.v1.ContainerArgs,
    volumes: list[k8s.core.v1.VolumeArgs],
    labels: dict[str, str],
) -> k8s.core.v1.PodTemplateSpecArgs:
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
        spec=k8s.core.v1.PodSpecArgs(
            restart_policy="Never",
            service_account_name=service_account,
            automount_service_account_token=automount,
            security_context=hardened_pod_security(run_as_user=IMAGE_UID),
            containers=[container],
            volumes=volumes,
        ),
    )


def _scratch_volumes() -> tuple[list[k8s.core.v1.VolumeArgs], list[k8s.core.v1.VolumeMountArgs]]:
    """Writable /tmp and CLI home on a read-only root filesystem."""
    volumes = [
        k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="2Gi")),
        k8s.core.v1.VolumeArgs(name="home", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="256Mi")),
    ]
    mounts = [
        k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        k8s.core.v1.VolumeMountArgs(name="home", mount_path=CLI_HOME),
    ]
    return volumes, mounts


def _secret_file_volume(name: str, secret: str, key: str, path: str) -> k8s.core.v1.VolumeArgs:
    """One key of a Secret as a read-only file; the pod waits until the key exists (not optional)."""
    return k8s.core.v1.VolumeArgs(
        name=name,
        secret=k8s.core.v1.SecretVolumeSourceArgs(
            secret_name=secret, items=[k8s.core.v1.KeyToPathArgs(key=key, path=path)], default_mode=0o440
        ),
    )


def _configmap_volume(name: str, configmap: pulumi.Input[str]) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(
        name=name, config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=configmap, default_mode=0o444)
    )


class DomainCatalogFeed(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        domain: Domain,
        *,
        namespace: str,
        catalog: CatalogEndpoint,
        grants: tuple[ProductGrant, ...],
        services: DomainServices,
        ingestion_service_account: str,
        superset: SupersetSource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:catalog_feed:DomainCatalogFeed", name, None, opts)
        d = domain.name
        labels = {"dataplatform.io/domain": d, "app.kubernetes.io/part-of": "datahub-feed"}
        child = pulumi.ResourceOptions(parent=self)
        ingestion = domain.tools.datahub_ingestion
        sources = pull_sources(ingestion.sources, superset) if ingestion.enabled else []

        def meta(n: str, ns: str = namespace) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=n, namespace=ns, labels=labels)

        # --- the token: a Secret only the issuer writes -------------------------------------------------
        self.token_secret = k8s.core.v1.Secret(
            f"{name}-token",
            metadata=meta(catalog.token_secret),
            type="Opaque",
            # The issuer owns the data; the program must never reset it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["data", "stringData"]),
        )
        role = k8s.rbac.v1.Role(
            f"{name}-token-writer",
            metadata=meta(TOKEN_WRITER_ROLE),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""],
                    resources=["secrets"],
                    resource_names=[catalog.token_secret],
                    verbs=["get", "patch"],
                )
            ],
            opts=child,
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-token-writer",
            metadata=meta(TOKEN_WRITER_ROLE),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=TOKEN_WRITER_ROLE
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="ServiceAccount", name=catalog.issuer_service_account, namespace=catalog.namespace
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
        )

        issuer_env = {
            "DATAHUB_GMS_URL": catalog.gms_url,
            "DATAHUB_SYSTEM_CLIENT_ID": SYSTEM_CLIENT_ID,
            "DOMAIN": d,
            "TARGET_NAMESPACE": namespace,
            "TOKEN_STORE_NAME": catalog.token_secret,  # a Secret's name (env names with SECRET must come from Secrets)
            "TEAM": domain.owners.team,
            "TEAM_EMAIL": domain.owners.email,
            "ACCESS_VALIDITY": TOKEN_DURATION,
        }
        scratch, scratch_mounts = _scratch_volumes()
        issuer_pod = _pod(
            service_account=catalog.issuer_service_account,
            automount=True,  # it calls the Kubernetes API
            labels={**labels, "app.kubernetes.io/name": "datahub-token-issuer"},
            volumes=[
                _configmap_volume("scripts", catalog.issuer_configmap),
                _secret_file_volume(
                    "system-client",
                    catalog.auth_secret,
                    SYSTEM_CLIENT_SECRET_KEY,
                    Path(datahub_issuer.SYSTEM_CLIENT_SECRET_FILE).name,
                ),
                *scratch,
            ],
            container=k8s.core.v1.ContainerArgs(
                name="issue",
                image=catalog.image,
                image_pull_policy="Always",
                command=["python", f"{ISSUER_DIR}/{ISSUER_SCRIPT_KEY}"],
                env=[
                    *(_env(k, v) for k, v in sorted(issuer_env.items())),
                    _env("HOME", CLI_HOME),
                ],
                volume_mounts=[
                    k8s.core.v1.VolumeMountArgs(name="scripts", mount_path=ISSUER_DIR, read_only=True),
                    k8s.core.v1.VolumeMountArgs(
                        name="system-client", mount_path=datahub_issuer.SYSTEM_CLIENT_SECRET_DIR, read_only=True
                    ),
                    *scratch_mounts,
                ],
                security_context=hardened_container_security(),
                resources=_resources(("50m", "128Mi"), ("500m", "256Mi")),
            ),
        )
        after_rbac = pulumi.ResourceOptions(parent=self, depends_on=[self.token_secret, binding, *catalog.ready])
        # The catalog names the ConfigMap after the script, so a new script is a new Job too.
        issuer_hash = _short_hash(json.dumps(issuer_env, sort_keys=True), catalog.image, catalog.issuer_configmap)
        self.issue_job = k8s.batch.v1.Job(
            f"{name}-token-issue",
            metadata=meta(f"datahub-token-{d}-{issuer_hash}", catalog.namespace),
            spec=k8s.batch.v1.JobSpecArgs(backoff_limit=6, active_deadline_seconds=3600, template=issuer_pod),
            opts=after_rbac,
        )
        self.rotate_cronjob = k8s.batch.v1.CronJob(
            f"{name}-token-rotate",
            metadata=meta(f"datahub-token-{d}", catalog.namespace),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=TOKEN_ROTATION_SCHEDULE,
                time_zone="Etc/UTC",
                concurrency_policy="Forbid",
                starting_deadline_seconds=3600,
                successful_jobs_history_limit=3,
                failed_jobs_history_limit=3,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    spec=k8s.batch.v1.JobSpecArgs(backoff_limit=3, active_deadline_seconds=3600, template=issuer_pod)
                ),
            ),
            opts=after_rbac,
        )

        # The ingestion CLI expands ${DATAHUB_GMS_TOKEN} in recipes from env only.
        token_env = [
            _env("DATAHUB_GMS_URL", catalog.gms_url),
            _secret_env("DATAHUB_GMS_TOKEN", catalog.token_secret, catalog.token_key),
        ]

        # --- registration --------------------------------------------------------------------------
        registration_sa = k8s.core.v1.ServiceAccount(
            f"{name}-registration",
            metadata=meta(REGISTRATION_SA),
            automount_service_account_token=False,
            opts=child,
        )
        self.proposals = registration_proposals(domain, grants)
        proposals_json = json.dumps(self.proposals, indent=2, sort_keys=True)
        module = REGISTRATION_MODULE_FILE.read_text(encoding="utf-8")
        registration_hash = _short_hash(proposals_json, module, catalog.image, catalog.gms_url)
        registration_configmap = f"datahub-registration-{registration_hash}"
        self.registration = k8s.core.v1.ConfigMap(
            f"{name}-registration",
            metadata=meta(registration_configmap),
            immutable=True,
            data={PROPOSALS_KEY: proposals_json, REGISTRATION_MODULE_FILE.name: module},
            opts=child,
        )
        self.register_job = k8s.batch.v1.Job(
            f"{name}-register",
            metadata=meta(f"datahub-register-{registration_hash}"),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=6,
                active_deadline_seconds=3600,
                template=_pod(
                    service_account=REGISTRATION_SA,
                    automount=False,
                    labels={**labels, "app.kubernetes.io/name": "datahub-registration"},
                    volumes=[
                        _configmap_volume("registration", registration_configmap),
                        _secret_file_volume(
                            "datahub-token", catalog.token_secret, catalog.token_key, Path(DATAHUB_TOKEN_FILE).name
                        ),
                        *scratch,
                    ],
                    container=k8s.core.v1.ContainerArgs(
                        name="register",
                        image=catalog.image,
                        image_pull_policy="Always",
                        command=["python", f"{REGISTRATION_DIR}/{REGISTRATION_MODULE_FILE.name}"],
                        env=[
                            _env("DATAHUB_GMS_URL", catalog.gms_url),
                            _env("DATAHUB_GMS_TOKEN_FILE", DATAHUB_TOKEN_FILE),
                            _env("PROPOSALS_FILE", f"{REGISTRATION_DIR}/{PROPOSALS_KEY}"),
                            _env("HOME", CLI_HOME),
                        ],
                        volume_mounts=[
                            k8s.core.v1.VolumeMountArgs(
                                name="registration", mount_path=REGISTRATION_DIR, read_only=True
                            ),
                            k8s.core.v1.VolumeMountArgs(
                                name="datahub-token", mount_path=DATAHUB_TOKEN_DIR, read_only=True
                            ),
                            *scratch_mounts,
                        ],
                        security_context=hardened_container_security(),
                        resources=_resources(("50m", "128Mi"), ("500m", "256Mi")),
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.registration, registration_sa, self.issue_job]),
        )

        # --- scheduled ingestion ---------------------------------------------------------------------
        self.sources = sources
        self.recipes: k8s.core.v1.ConfigMap | None = None
        self.ingestion: k8s.batch.v1.CronJob | None = None
        if sources:
            s3, wh = services.s3, services.warehouse
            env = [
                *token_env,
                _env("HOME", CLI_HOME),
                _env("DATAHUB_TELEMETRY_ENABLED", "false"),
                _env("AWS_REGION", s3.region),
            ]
            after: list[pulumi.Resource] = [self.issue_job, *services.resources]
            if s3.credentials_secret and ({"lake", "dbt"} & set(sources)):
                env += [_secret_env(key, s3.credentials_secret, key) for key in S3_CREDENTIAL_KEYS]
            if "warehouse" in sources and wh.auth == "password":
                assert wh.password is not None  # WarehouseSettings carries it for auth="password"
                after.append(
                    k8s.core.v1.Secret(
                        f"{name}-sources",
                        metadata=meta(SOURCES_SECRET),
                        type="Opaque",
                        string_data={WAREHOUSE_PASSWORD_VAR: wh.password},
                        opts=child,
                    )
                )
                env.append(_secret_env(WAREHOUSE_PASSWORD_VAR, SOURCES_SECRET, WAREHOUSE_PASSWORD_VAR))
            if "superset" in sources and superset is not None:
                env.append(_secret_env(SUPERSET_PASSWORD_VAR, superset.password_secret, superset.password_key))
                after += superset.after

            def render(a: list[Any]) -> dict[str, str]:
                recipes = ingestion_recipes(
                    d,
                    sources,
                    bucket=a[0],
                    endpoint_url=s3.endpoint_url,
                    warehouse=WarehouseConnection(
                        wh.kind, a[1], wh.port, wh.database, wh.user, wh.auth, a[2], s3.region
                    ),
                    superset=superset,
                )
                return {f"{s}.yml": yaml.safe_dump(r, sort_keys=False) for s, r in recipes.items()}

            self.recipes = k8s.core.v1.ConfigMap(
                f"{name}-recipes",
                metadata=meta(RECIPES_CONFIGMAP),
                data=pulumi.Output.all(s3.bucket, wh.host, wh.workgroup).apply(render),
                opts=child,
            )
            # One pod runs every source in turn: the domain quota counts one ingestion pod, and a
            # failing source does not stop the others (the Job fails at the end instead).
            script = (
                "status=0\n"
                + "".join(f'echo "== {s}"; datahub ingest -c /recipes/{s}.yml || status=1\n' for s in sources)
                + "exit $status\n"
            )
            r = ingestion.resources
            self.ingestion = k8s.batch.v1.CronJob(
                f"{name}-ingestion",
                metadata=meta("datahub-ingestion"),
                spec=k8s.batch.v1.CronJobSpecArgs(
                    schedule=ingestion.schedule,
                    time_zone="Etc/UTC",
                    concurrency_policy="Forbid",
                    starting_deadline_seconds=3600,
                    successful_jobs_history_limit=3,
                    failed_jobs_history_limit=3,
                    job_template=k8s.batch.v1.JobTemplateSpecArgs(
                        spec=k8s.batch.v1.JobSpecArgs(
                            backoff_limit=1,
                            active_deadline_seconds=4 * 3600,
                            template=_pod(
                                service_account=ingestion_service_account,
                                automount=False,  # Pod Identity needs no API token
                                labels={**labels, "app.kubernetes.io/name": "datahub-ingestion"},
                                volumes=[_configmap_volume("recipes", RECIPES_CONFIGMAP), *scratch],
                                container=k8s.core.v1.ContainerArgs(
                                    name="ingest",
                                    image=catalog.image,
                                    image_pull_policy="Always",
                                    command=["/bin/sh", "-c", script],
                                    env=env,
                                    volume_mounts=[
                                        k8s.core.v1.VolumeMountArgs(
                                            name="recipes", mount_path="/recipes", read_only=True
                                        ),
                                        *scratch_mounts,
                                    ],
                                    security_context=hardened_container_security(),
                                    resources=_resources(
                                        (r.requests.cpu, r.requests.memory), (r.limits.cpu, r.limits.memory)
                                    ),
                                ),
                            ),
                        )
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.recipes, *after]),
            )

        self.grants = grant_summary(grants)
        self.exports: dict[str, Any] = {
            "domainUrn": f"urn:li:domain:{d}",
            "dataProducts": [product_urn(d, p.name) for p in domain.products],
            "grants": self.grants,
            "ingestion": {"schedule": ingestion.schedule, "sources": sources} if sources else None,
        }
        self.register_outputs(self.exports)
