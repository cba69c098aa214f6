"""Deploy-order checks: what the engine waits for, read from the registrations under mocks.

Mocks accept any order, but the real engine creates a resource as soon as everything it waits for
exists: its explicit `depends_on`, the resources its inputs come from, and its provider (a provider
is configured only once its own dependencies exist). A resource waits for a component when it waits
for every resource below it. Each check returns one line per violation, naming the resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from platformctl.rendered_checks import pod_spec
from platformctl.simulate import Program, Resource

ACCESS_POLICY = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
RELEASE = "kubernetes:helm.sh/v3:Release"
JOB = "kubernetes:batch/v1:Job"
CRONJOB = "kubernetes:batch/v1:CronJob"
# Objects that run pods the engine creates directly (not through a Helm release).
WORKLOADS = (
    JOB,
    CRONJOB,
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:core/v1:Pod",
)
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
RDS_INSTANCE = "aws:rds/instance:Instance"
CLUSTER_COMPONENT = "dataplatform:cluster:KubernetesCluster"
DOMAIN_COMPONENT = "dataplatform:domain:DataDomainStack"
METADATA_DB_COMPONENT = "dataplatform:metadata_db:MetadataDatabases"
CATALOG_COMPONENT = "dataplatform:catalog:CentralCatalog"
ALB_CONTROLLER_CHART = "aws-load-balancer-controller"
KUBE_SYSTEM = "kube-system"

# API groups served by Kubernetes itself (or by the Pulumi provider, `helm.sh`): no CRD to wait for.
BUILTIN_GROUPS = frozenset(
    {
        "core",
        "apps",
        "batch",
        "policy",
        "autoscaling",
        "helm.sh",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "node.k8s.io",
        "certificates.k8s.io",
    }
)

# API group of each custom resource the program creates -> the chart whose release installs its CRDs.
CRD_CHARTS: Mapping[str, str] = {"postgresql.cnpg.io": "cloudnative-pg"}


def api_group(resource: Resource) -> str | None:
    """`networking.k8s.io` for `kubernetes:networking.k8s.io/v1:Ingress`; None for non-Kubernetes types."""
    if not resource.type.startswith("kubernetes:"):
        return None
    return resource.type.split(":")[1].rsplit("/", 1)[0]


def namespace_of(resource: Resource) -> str | None:
    if resource.type == RELEASE:
        return resource.inputs.get("namespace")
    return (resource.inputs.get("metadata") or {}).get("namespace")


def waits_for(program: Program) -> Callable[[str], frozenset[str]]:
    """The URNs a resource (transitively) waits for, through depends_on, inputs and its provider."""
    children: dict[str, list[str]] = {}
    for r in program.resources:
        children.setdefault(r.parent, []).append(r.urn)
    by_urn = {r.urn: r for r in program.resources}
    memo: dict[str, frozenset[str]] = {}

    def direct(urn: str) -> set[str]:
        r = by_urn.get(urn)
        if r is None:
            return set()
        out = set(r.depends_on)
        if r.provider_urn:
            out.add(r.provider_urn)
        # Waiting for a component is waiting for everything below it.
        for dep in list(out):
            stack = [dep]
            while stack:
                for child in children.get(stack.pop(), []):
                    if child not in out:
                        out.add(child)
                        stack.append(child)
        return out

    def closure(urn: str) -> frozenset[str]:
        if urn in memo:
            return memo[urn]
        memo[urn] = frozenset()  # cycle guard: the engine rejects cycles anyway
        seen: set[str] = set()
        todo = list(direct(urn))
        while todo:
            dep = todo.pop()
            if dep in seen:
                continue
            seen.add(dep)
            todo.extend(direct(dep) - seen)
        memo[urn] = frozenset(seen)
        return memo[urn]

    return closure


def _kubernetes_objects(program: Program) -> list[Resource]:
    return [r for r in program.resources if r.custom and r.type.startswith("kubernetes:")]


def _missing(program: Program, targets: Iterable[Resource], required: list[Resource], what: str) -> list[str]:
    closure = waits_for(program)
    required_urns = {r.urn for r in required}
    return [
        f"{r.type} {r.name} does not wait for {what}"
        for r in targets
        if not required_urns <= closure(r.urn) and r.urn not in required_urns
    ]


def access_violations(program: Program) -> list[str]:
    """On an AWS stack, every Kubernetes object (and provider) waits for every admin access policy."""
    access = program.of_type(ACCESS_POLICY)
    if not access:
        return []
    providers = program.of_type("pulumi:providers:kubernetes")
    return _missing(program, [*providers, *_kubernetes_objects(program)], access, "the cluster's admin access")


def webhook_violations(program: Program) -> list[str]:
    """Every Service, Ingress or Helm release outside kube-system waits for the load balancer controller.

    The controller's webhooks admit Services and Ingresses with failurePolicy Fail, and any release
    may create Services.
    """
    controllers = [r for r in program.of_type(RELEASE) if r.inputs.get("chart") == ALB_CONTROLLER_CHART]
    if not controllers:
        return []
    targets = [
        r
        for r in _kubernetes_objects(program)
        if r.type in (SERVICE, INGRESS, RELEASE) and namespace_of(r) != KUBE_SYSTEM
    ]
    return _missing(program, targets, controllers, "the AWS Load Balancer Controller")


def storage_class_violations(program: Program) -> list[str]:
    """Every release outside kube-system, StatefulSet and PVC waits for the StorageClasses the program creates.

    A PVC (a chart's, or a StatefulSet's claim) created before its class exists stays Pending; the
    notebooks' home volumes and DataHub's dependencies claim the default class.
    """
    classes = program.of_type(STORAGE_CLASS)
    if not classes:
        return []
    claimers = ("kubernetes:apps/v1:StatefulSet", PVC)
    targets = [
        r
        for r in _kubernetes_objects(program)
        if (r.type == RELEASE and namespace_of(r) != KUBE_SYSTEM) or r.type in claimers
    ]
    return _missing(program, targets, classes, "the StorageClass its volumes claim")


def crd_violations(program: Program, crd_charts: Mapping[str, str] = CRD_CHARTS) -> list[str]:
    """Every custom resource waits for the release that installs its CRD (and the CRD's group is known)."""
    closure = waits_for(program)
    out = []
    for r in _kubernetes_objects(program):
        group = api_group(r)
        if group is None or group in BUILTIN_GROUPS:
            continue
        chart = crd_charts.get(group)
        if chart is None:
            out.append(f"{r.type} {r.name}: no known release installs the CRDs of {group}")
            continue
        installers = {x.urn for x in program.of_type(RELEASE) if x.inputs.get("chart") == chart}
        if not installers & closure(r.urn):
            out.append(f"{r.type} {r.name} does not wait for the {chart} release that installs its CRD")
    return out


def database_violations(program: Program) -> list[str]:
    """Every tool waits for its database: a domain's releases for the domain's metadata-DB init Jobs,
    the catalog's DataHub for its SQL store (the RDS instance, or the prerequisites release)."""
    by_type: dict[str, list[Resource]] = {}
    for r in program.resources:
        by_type.setdefault(r.type, []).append(r)
    out = []
    for domain in by_type.get(DOMAIN_COMPONENT, []):
        below = program.descendants(domain.urn)
        dbs = [r for r in below if r.type == METADATA_DB_COMPONENT]
        init_jobs = [j for db in dbs for j in program.descendants(db.urn) if j.type == JOB]
        releases = [r for r in below if r.type == RELEASE]
        if releases and not init_jobs:
            out.append(f"{DOMAIN_COMPONENT} {domain.name}: tools but no metadata-database init Job")
        out += _missing(program, releases, init_jobs, "its metadata-database init Job")
    for catalog in by_type.get(CATALOG_COMPONENT, []):
        below = program.descendants(catalog.urn)
        stores = [r for r in below if r.type == RDS_INSTANCE] or [
            r for r in below if r.type == RELEASE and r.inputs.get("chart") == "datahub-prerequisites"
        ]
        datahub = [r for r in below if r.type == RELEASE and r.inputs.get("chart") == "datahub"]
        if datahub and not stores:
            out.append(f"{CATALOG_COMPONENT} {catalog.name}: DataHub but no SQL store")
        out += _missing(program, datahub, stores, "its SQL store")
    return out


CONFIG_SOURCES = {"kubernetes:core/v1:ConfigMap": "ConfigMap", "kubernetes:core/v1:Secret": "Secret"}


def _mounted(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a pod cannot start without: volumes, env and envFrom
    references that are not `optional`."""

    def ref(kind: str, source: Any, key: str) -> Iterator[tuple[str, str]]:
        if isinstance(source, Mapping) and not source.get("optional") and isinstance(source.get(key), str):
            yield kind, source[key]

    for volume in spec.get("volumes") or []:
        yield from ref("ConfigMap", volume.get("configMap"), "name")
        yield from ref("Secret", volume.get("secret"), "secretName")
        for projected in (volume.get("projected") or {}).get("sources") or []:
            yield from ref("ConfigMap", projected.get("configMap"), "name")
            yield from ref("Secret", projected.get("secret"), "name")
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            yield from ref("ConfigMap", value_from.get("configMapKeyRef"), "name")
            yield from ref("Secret", value_from.get("secretKeyRef"), "name")
        for env_from in container.get("envFrom") or []:
            yield from ref("ConfigMap", env_from.get("configMapRef"), "name")
            yield from ref("Secret", env_from.get("secretRef"), "name")


def mounted_sources(program: Program) -> list[tuple[Resource, Resource]]:
    """(workload, ConfigMap or Secret) for every non-optional reference of a workload's pod (Job, CronJob's
    job template, Deployment, StatefulSet, DaemonSet, Pod) to a source the program creates in its namespace."""
    created: dict[tuple[str, str | None, str], Resource] = {}
    for r in program.resources:
        kind = CONFIG_SOURCES.get(r.type)
        name = (r.inputs.get("metadata") or {}).get("name")
        if kind and isinstance(name, str):
            created[(kind, namespace_of(r), name)] = r
    out = []
    for workload in (r for r in program.resources if r.type in WORKLOADS):
        spec = pod_spec(dict(workload.inputs))
        for kind, name in sorted(set(_mounted(spec or {}))):
            source = created.get((kind, namespace_of(workload), name))
            if source is not None:
                out.append((workload, source))
    return out


def mount_violations(program: Program) -> list[str]:
    """Every workload the program creates waits for the ConfigMaps and Secrets (created by the program in
    its namespace) that its pod mounts or reads. A Job starts its pod at once and the engine waits for it to
    complete; a CronJob's run may start at any time after it exists, and a run whose Secret is missing
    fails its schedule (CreateContainerConfigError until the deadline); a Deployment's pods do not become
    ready, so the engine's await fails."""
    closure = waits_for(program)
    return [
        f"{workload.type} {workload.name} does not wait for the {CONFIG_SOURCES[source.type]} "
        f"{source.inputs['metadata']['name']} it needs"
        for workload, source in mounted_sources(program)
        if source.urn not in closure(workload.urn)
    ]


def all_violations(program: Program) -> list[str]:
    return [
        *access_violations(program),
        *webhook_violations(program),
        *storage_class_violations(program),
        *crd_violations(program),
        *database_violations(program),
        *mount_violations(program),
    ]
