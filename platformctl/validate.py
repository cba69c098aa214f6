"""Static validators over the program's records (see `platformctl.simulate.Program`).

- IAM: every policy document the program creates, linted by parliament plus the SECURITY.md rules
  parliament does not cover (no Allow of `*`/`service:*` on Resource `*`, no `*` principal).
- Kubernetes: every object the program creates directly, rebuilt as a manifest and validated with
  kubernetes-validate (strict: unknown fields fail) for the stack's cluster version.
- Helm: every release, with its values; secret-wrapped values mean a secret leaked into them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import kubernetes_validate
import parliament
from pulumi.runtime.rpc import UNKNOWN

from platformctl.simulate import Program, Resource, Secret, stack_config

PolicyKind = Literal["identity", "resource", "trust"]

# kubernetes-validate parses its schema files on every call, the megabytes of `_definitions.json`
# included, and lists its schema versions again; both are fixed for an installed version, so each
# is read once per process (the parsed schemas are only read by jsonschema, never changed).
if not hasattr(kubernetes_validate.utils.schema_contents, "cache_info"):
    kubernetes_validate.utils.schema_contents = lru_cache(maxsize=None)(kubernetes_validate.utils.schema_contents)
    kubernetes_validate.utils.all_versions = lru_cache(maxsize=1)(kubernetes_validate.utils.all_versions)

# Where policy documents live: resource type -> ((input key, kind), ...). Role inline policies are handled apart.
POLICY_INPUTS: dict[str, tuple[tuple[str, PolicyKind], ...]] = {
    "aws:iam/role:Role": (("assumeRolePolicy", "trust"),),
    "aws:iam/policy:Policy": (("policy", "identity"),),
    "aws:iam/rolePolicy:RolePolicy": (("policy", "identity"),),
    "aws:iam/userPolicy:UserPolicy": (("policy", "identity"),),
    "aws:iam/groupPolicy:GroupPolicy": (("policy", "identity"),),
    "aws:s3/bucketPolicy:BucketPolicy": (("policy", "resource"),),
    "aws:s3/bucket:Bucket": (("policy", "resource"),),
    "aws:s3/bucketV2:BucketV2": (("policy", "resource"),),
    "aws:kms/key:Key": (("policy", "resource"),),
    "aws:kms/keyPolicy:KeyPolicy": (("policy", "resource"),),
    "aws:kms/replicaKey:ReplicaKey": (("policy", "resource"),),
    "aws:secretsmanager/secret:Secret": (("policy", "resource"),),
    "aws:secretsmanager/secretPolicy:SecretPolicy": (("policy", "resource"),),
    "aws:sqs/queue:Queue": (("policy", "resource"),),
    "aws:sqs/queuePolicy:QueuePolicy": (("policy", "resource"),),
    "aws:sns/topic:Topic": (("policy", "resource"),),
    "aws:sns/topicPolicy:TopicPolicy": (("policy", "resource"),),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": (("policy", "resource"),),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": (("policyDocument", "resource"),),
    "aws:glue/resourcePolicy:ResourcePolicy": (("policy", "resource"),),
    "aws:redshiftserverless/resourcePolicy:ResourcePolicy": (("policy", "resource"),),
    "aws:ec2/vpcEndpoint:VpcEndpoint": (("policy", "resource"),),
    "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy": (("policy", "resource"),),
    "aws:opensearch/domainPolicy:DomainPolicy": (("accessPolicies", "resource"),),
}

# Findings that are gaps in parliament 1.6.4's IAM data, not policy problems. AWS documents the key for
# AddTags (https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/tagging-resources-during-creation.html),
# and the AWS Load Balancer Controller's published policy uses it; one of parliament's three
# `elasticloadbalancing` service entries lacks it.
_PARLIAMENT_GAPS = {
    (
        "UNKNOWN_CONDITION_FOR_ACTION",
        "Unknown condition elasticloadbalancing:CreateAction for action elasticloadbalancing:AddTags",
    ),
}
_SEVERITIES = ["MUTE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
# Parliament needs a Resource in every statement; a trust policy's resource is the role itself.
_TRUST_SUBJECT = "arn:aws:iam::*:role/*"


class IamDocument(NamedTuple):
    label: str  # "<type> <name> <input key>"
    doc: dict[str, Any] | str  # the raw text when it is not valid JSON
    kind: PolicyKind


@dataclass(frozen=True)
class IamFinding:
    issue: str
    severity: str
    detail: str
    source: Literal["parliament", "project"]

    def __str__(self) -> str:
        return f"{self.severity} {self.issue} ({self.source}): {self.detail}"


def _reveal(value: Any) -> Any:
    return _reveal(value.value) if isinstance(value, Secret) else value


def _policy_value(raw: Any) -> dict[str, Any] | str | None:
    raw = _reveal(raw)
    if raw is None or raw == "" or raw == UNKNOWN:
        return None
    if isinstance(raw, dict):
        return raw
    try:
        doc = json.loads(raw)
    except (TypeError, ValueError):
        return str(raw)
    return doc if isinstance(doc, dict) else str(raw)


def iam_documents(program: Program) -> list[IamDocument]:
    """Every IAM policy document the program creates, labelled by resource and input."""
    out: list[IamDocument] = []
    for r in program.resources:
        for key, kind in POLICY_INPUTS.get(r.type, ()):
            doc = _policy_value(r.inputs.get(key))
            if doc is not None:
                out.append(IamDocument(f"{r.type} {r.name} {key}", doc, kind))
        if r.type == "aws:iam/role:Role":
            for i, inline in enumerate(_reveal(r.inputs.get("inlinePolicies")) or []):
                inline = _reveal(inline)
                doc = _policy_value(inline.get("policy"))
                if doc is not None:
                    out.append(IamDocument(f"{r.type} {r.name} inlinePolicies[{i}]", doc, "identity"))
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _as_list(doc.get("Statement", [])) if isinstance(s, dict)]


def _project_findings(doc: dict[str, Any], kind: PolicyKind) -> list[IamFinding]:
    """SECURITY.md rules parliament does not check (it reports `s3:*` on `*` as LOW and `*` on `*` not at all)."""
    out: list[IamFinding] = []
    for s in _statements(doc):
        if s.get("Effect") != "Allow":
            continue
        sid = f"statement {s.get('Sid', '(no Sid)')}"
        resources = _as_list(s.get("Resource", []))
        if kind == "identity" and "*" in resources:
            wild = [a for a in _as_list(s.get("Action", [])) if a == "*" or str(a).endswith(":*")]
            if wild:
                out.append(
                    IamFinding("WILDCARD_ACTION_ON_ALL_RESOURCES", "HIGH", f"{sid} allows {wild} on *", "project")
                )
            if "NotAction" in s:
                out.append(IamFinding("NOTACTION_ON_ALL_RESOURCES", "HIGH", f"{sid} allows NotAction on *", "project"))
        if kind != "identity":
            principal = s.get("Principal")
            values = _as_list(principal) if not isinstance(principal, dict) else principal.values()
            if any("*" in _as_list(v) for v in values):
                out.append(IamFinding("STAR_PRINCIPAL", "HIGH", f"{sid} allows the '*' principal", "project"))
            if "NotPrincipal" in s:
                out.append(IamFinding("NOTPRINCIPAL_WITH_ALLOW", "HIGH", f"{sid} allows NotPrincipal", "project"))
    return out


def iam_findings(doc: dict[str, Any] | str, kind: PolicyKind) -> list[IamFinding]:
    """Parliament findings above LOW, and the project's own IAM rules.

    Parliament has no notion of policy type (duo-labs/parliament#14, #229): it checks `Principal`
    when present but requires `Resource`, so trust policies are analysed with the role as resource.
    """
    if isinstance(doc, str):
        text, project = doc, []
    else:
        analysed = doc
        if kind == "trust":
            analysed = copy.deepcopy(doc)
            for s in _statements(analysed):
                if "Resource" not in s and "NotResource" not in s:
                    s["Resource"] = _TRUST_SUBJECT
        text, project = json.dumps(analysed), _project_findings(doc, kind)
    policy = parliament.analyze_policy_string(text, ignore_private_auditors=True)
    out: list[IamFinding] = []
    for f in policy.findings:
        f = parliament.enhance_finding(f)
        detail = str(f.detail or f.title)
        if _SEVERITIES.index(f.severity) <= _SEVERITIES.index("LOW") or (f.issue, detail) in _PARLIAMENT_GAPS:
            continue
        where = f.location.get("string") if isinstance(f.location, dict) else None
        finding = IamFinding(f.issue, f.severity, f"{detail} (at {where})" if where else detail, "parliament")
        if finding not in out:  # parliament repeats a finding once per service entry sharing the prefix
            out.append(finding)
    return out + project


# ---- Kubernetes ---------------------------------------------------------------------------------

# Records under `kubernetes:` that are not one object: Helm releases, charts and YAML/kustomize groups.
_NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize")
SECRET_PLACEHOLDER = "<secret>"
_SECRET_PLACEHOLDER_B64 = "PHNlY3JldD4="  # base64("<secret>"), for `data` fields that must be base64


def _placeholders(value: Any, b64: bool = False) -> Any:
    if isinstance(value, Secret):
        inner = value.value
        if isinstance(inner, dict):
            return {k: _SECRET_PLACEHOLDER_B64 if b64 else SECRET_PLACEHOLDER for k in inner}
        return _SECRET_PLACEHOLDER_B64 if b64 else SECRET_PLACEHOLDER
    if isinstance(value, dict):
        return {k: _placeholders(v, b64) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, b64) for v in value]
    return value


def manifest_of(r: Resource) -> dict[str, Any]:
    """The object a Kubernetes resource record creates: its inputs minus Pulumi-internal keys, secrets as placeholders."""
    out: dict[str, Any] = {}
    for key, value in r.inputs.items():
        if key.startswith("__"):
            continue
        out[key] = _placeholders(value, b64=(key == "data" and r.inputs.get("kind") == "Secret"))
    meta = out.setdefault("metadata", {})
    if isinstance(meta, dict) and "name" not in meta and "generateName" not in meta:
        meta["name"] = r.name  # auto-named by Pulumi: the logical name plus a suffix
    return out


def k8s_records(program: Program) -> Iterator[Resource]:
    for r in program.resources:
        # Patches are partial objects, not something the schema of a whole object applies to.
        if (
            r.custom
            and r.type.startswith("kubernetes:")
            and not r.type.startswith(_NOT_OBJECTS)
            and not r.type.endswith("Patch")
        ):
            yield r


def k8s_manifests(program: Program) -> list[dict[str, Any]]:
    """Every Kubernetes object the program creates directly (not through Helm), as a manifest."""
    return [manifest_of(r) for r in k8s_records(program)]


@lru_cache(maxsize=8)
def builtin_groups(version: str) -> frozenset[str]:
    """API groups served by Kubernetes itself at `version`, read from kubernetes-validate's own schemas."""
    schema_version = [
        v for v in kubernetes_validate.utils.all_versions() if minor_version(v) <= minor_version(version)
    ][-1]
    path = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{schema_version}-local-strict"
    defs = json.loads((path / "_definitions.json").read_text())["$defs"]
    return frozenset(
        g["group"] for d in defs.values() if isinstance(d, dict) for g in d.get("x-kubernetes-group-version-kind") or []
    )


def minor_version(version: str) -> tuple[int, int]:
    """(major, minor) of a Kubernetes version such as "1.35", "v1.35.2"."""
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def is_builtin(manifest: dict[str, Any], version: str) -> bool:
    api_version = str(manifest.get("apiVersion", ""))
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return group in builtin_groups(version)


def schema_check(manifest: dict[str, Any], version: str) -> tuple[list[str], str | None]:
    """(errors, note): kubernetes-validate strict; a custom kind has no schema and is noted, not failed."""
    # kubernetes-validate reads its schema files on every call; identical objects (the same chart in
    # several releases or stacks) are validated once. JSON text is what the API server receives.
    errors, note = _schema_check(json.dumps(manifest, sort_keys=True, default=str), version)
    return list(errors), note


@lru_cache(maxsize=4096)
def _schema_check(text: str, version: str) -> tuple[tuple[str, ...], str | None]:
    manifest = json.loads(text)
    if not manifest.get("apiVersion") or not manifest.get("kind"):
        return ("apiVersion and kind are required",), None
    try:
        kubernetes_validate.validate(manifest, f"{version}.0", strict=True)
    except kubernetes_validate.SchemaNotFoundError as e:
        if is_builtin(manifest, version):
            return (f"{e.message} (a built-in API group: wrong kind or a removed apiVersion)",), None
        return (), f"not validated: no schema for {manifest['kind']} ({manifest['apiVersion']})"
    except kubernetes_validate.ValidationError as e:
        where = ".".join(str(p) for p in e.absolute_path) or "(root)"
        return (f"{where}: {e.message}",), None
    return (), None


def k8s_errors(manifest: dict[str, Any], version: str) -> list[str]:
    """kubernetes-validate strict errors for `manifest` at Kubernetes `version` ("1.35")."""
    return schema_check(manifest, version)[0]


def cluster_version(program: Program) -> str:
    """The Kubernetes version of the stack: the EKS cluster's `version` input, else the stack config's."""
    for r in program.of_type("aws:eks/cluster:Cluster"):
        if r.inputs.get("version"):
            return str(r.inputs["version"])
    cluster = json.loads(stack_config(program.stack).get("dataplatform:cluster", "{}"))
    return str(cluster.get("version", "1.35"))


# ---- Helm ---------------------------------------------------------------------------------------

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


class HelmRelease(NamedTuple):
    name: str
    namespace: str
    chart: str
    version: str
    repo: str
    values: dict[str, Any] | Secret
    resource: str  # the Pulumi logical name


def helm_releases(program: Program) -> list[HelmRelease]:
    """Every Helm release as registered. The release name falls back to the logical name when Pulumi autonames it."""
    out = []
    for r in program.of_type(HELM_RELEASE):
        i = r.inputs
        repo = (_reveal(i.get("repositoryOpts")) or {}).get("repo", "")
        values = i.get("values")
        out.append(
            HelmRelease(
                name=str(i.get("name") or r.name),
                namespace=str(i.get("namespace") or "default"),
                chart=str(i.get("chart", "")),
                version=str(i.get("version", "")),
                repo=str(_reveal(repo) or ""),
                values=values if isinstance(values, Secret) else (values or {}),
                resource=r.name,
            )
        )
    return out


def _secret_paths(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, Secret):
        yield path or "(all values)"
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _secret_paths(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for n, v in enumerate(value):
            yield from _secret_paths(v, f"{path}[{n}]")


def helm_release_errors(release: HelmRelease) -> list[str]:
    """A secret in Helm values (SECURITY.md: charts take the Secret's *name*)."""
    return [
        f"release {release.namespace}/{release.name}: secret value in Helm values at {p}; "
        "pass the Kubernetes Secret's name instead"
        for p in _secret_paths(release.values)
    ]
