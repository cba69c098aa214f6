"""Offline plan: what the program would register for a stack, per domain, with every secret masked.

Runs the program under Pulumi mocks (`simulate.run_program`): no credentials, no Pulumi CLI, no
cluster. The result is a description of the desired state, not a diff against the cloud; `pulumi
preview` gives that. Outputs in the plan directory:

- `plan.json`: every resource (type, name, urn, parent, domain, inputs, options) and a summary
  per domain; secret values are replaced by "[secret]".
- `values/<namespace>-<release>.yaml`: each Helm release's values, with its chart, repository and
  version in a header comment and in `releases.json`.
- `manifests/<kind>-<namespace>-<name>.yaml`: every Kubernetes object the program creates directly.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from platformctl.simulate import Program, Resource, Secret

DOMAIN_TYPE = "dataplatform:domain:DataDomainStack"
PLATFORM = "platform"
MASK = "[secret]"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"

# Inputs masked whatever their secretness: a plain value here would still be a credential.
ALWAYS_SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Secret": ("data", "stringData"),
    "kubernetes:core/v1:SecretPatch": ("data", "stringData"),
    "pulumi:providers:kubernetes": ("kubeconfig",),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretString", "secretBinary"),
    "aws:rds/instance:Instance": ("password",),
    "aws:redshiftserverless/namespace:Namespace": ("adminUserPassword",),
}
# Listing these as namespace "cluster" keeps manifest file names honest for cluster-scoped kinds.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "PersistentVolume",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
MAX_LISTED = 4
# Inputs that hold a resource's name in AWS, in order of preference.
NAME_INPUTS = ("bucket", "identifier", "snapshotName", "namespaceName", "workgroupName", "name")
# ARNs AWS derives from the name alone (RDS: "Constructing an ARN for Amazon RDS"); others need the cloud's ID.
ARN_FORMATS = {
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{name}",
    "aws:rds/instance:Instance": "arn:aws:rds:{region}:{account}:db:{name}",
    "aws:rds/subnetGroup:SubnetGroup": "arn:aws:rds:{region}:{account}:subgrp:{name}",
    "aws:rds/parameterGroup:ParameterGroup": "arn:aws:rds:{region}:{account}:pg:{name}",
    "aws:iam/role:Role": "arn:aws:iam::{account}:role/{name}",
}


def physical_name(r: Resource) -> str | None:
    """The resource's name in AWS or Kubernetes, when the program sets it (None: generated or unknown)."""
    if r.type == HELM_RELEASE:
        return f"{r.inputs.get('namespace')}/{r.inputs.get('name')}"
    meta = _metadata(r.inputs)
    if isinstance(meta.get("name"), str) and r.type.startswith("kubernetes:"):
        return f"{meta['namespace']}/{meta['name']}" if isinstance(meta.get("namespace"), str) else meta["name"]
    for key in NAME_INPUTS:
        value = r.inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def offline_arn(type_: str, name: str | None, region: str, account: str) -> str | None:
    pattern = ARN_FORMATS.get(type_)
    return pattern.format(name=name, region=region, account=account) if pattern and name else None


def mask(value: Any) -> Any:
    """`value` with every `Secret` replaced by MASK, as plain JSON-able data."""
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, dict):
        return {str(k): mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


def _mask_field(value: Any) -> Any:
    # Key names of a Secret's data are not secret and help reviewers; the values are.
    inner = value.value if isinstance(value, Secret) else value
    if isinstance(inner, dict):
        return {str(k): MASK for k in inner}
    return MASK


def masked_inputs(resource: Resource) -> dict[str, Any]:
    fields = set(ALWAYS_SECRET_FIELDS.get(resource.type, ()))
    if resource.inputs.get("kind") == "Secret":
        fields |= {"data", "stringData"}
    return {k: _mask_field(v) if k in fields else mask(v) for k, v in resource.inputs.items()}


def domains_by_urn(resources: Iterable[Resource]) -> dict[str, str]:
    """Each resource's domain: the nearest DataDomainStack up its parent chain, else "platform"."""
    by_urn = {r.urn: r for r in resources}
    found: dict[str, str] = {}

    def resolve(urn: str) -> str:
        chain: list[str] = []
        domain = PLATFORM
        while urn in by_urn:
            if urn in found:
                domain = found[urn]
                break
            chain.append(urn)
            r = by_urn[urn]
            if r.type == DOMAIN_TYPE:
                domain = r.name
                break
            urn = r.parent
        for u in chain:
            found[u] = domain
        return domain

    for urn in by_urn:
        resolve(urn)
    return found


def _is_manifest(r: Resource) -> bool:
    return (
        r.custom
        and r.type.startswith("kubernetes:")
        and r.type != HELM_RELEASE
        and isinstance(r.inputs.get("kind"), str)
        and isinstance(r.inputs.get("apiVersion"), str)
    )


def _metadata(inputs: dict[str, Any]) -> dict[str, Any]:
    meta = inputs.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _namespace(r: Resource) -> str:
    ns = _metadata(r.inputs).get("namespace")
    if isinstance(ns, str) and ns:
        return ns
    return "cluster" if r.inputs.get("kind") in CLUSTER_SCOPED_KINDS else "default"


def _object_name(r: Resource) -> str:
    name = _metadata(r.inputs).get("name")
    return name if isinstance(name, str) and name else r.name


def _file_part(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "unnamed"


def _release(r: Resource) -> dict[str, Any]:
    repo_opts = r.inputs.get("repositoryOpts")
    repo = repo_opts.get("repo") if isinstance(repo_opts, dict) else None
    name = r.inputs.get("name")
    namespace = r.inputs.get("namespace")
    return {
        "resource": r.name,
        "namespace": namespace if isinstance(namespace, str) and namespace else "default",
        "name": name if isinstance(name, str) and name else r.name,
        "chart": mask(r.inputs.get("chart")),
        "version": mask(r.inputs.get("version")),
        "repo": mask(repo),
    }


def _parse_policy(doc: Any) -> dict[str, Any] | None:
    if isinstance(doc, dict):
        return doc
    if isinstance(doc, str):
        try:
            parsed = json.loads(doc)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _statements(doc: Any) -> list[dict[str, Any]]:
    policy = _parse_policy(mask(doc))
    if policy is None:
        return [{"effect": "?", "actions": [], "resources": [], "note": "policy not known offline"}]
    raw = policy.get("Statement", [])
    out = []
    for st in raw if isinstance(raw, list) else [raw]:
        if not isinstance(st, dict):
            continue
        out.append(
            {
                "effect": st.get("Effect", "?"),
                "actions": _as_list(st.get("Action")) or [f"NOT {a}" for a in _as_list(st.get("NotAction"))],
                "resources": _as_list(st.get("Resource")) or [f"NOT {a}" for a in _as_list(st.get("NotResource"))],
            }
        )
    return out


def _iam_grants(resources: list[Resource], all_resources: list[Resource]) -> list[dict[str, Any]]:
    """role -> statements, from inline role policies and attached managed policies."""
    role_names: dict[str, str] = {}
    policies: dict[str, Resource] = {}
    for r in all_resources:
        # RolePolicy.role is often role.id; records carry it once simulate stores `id`.
        keys = [r.outputs.get("name"), r.outputs.get("arn"), r.inputs.get("name"), getattr(r, "id", None)]
        if r.type == "aws:iam/role:Role":
            role_names.update({k: r.name for k in keys if isinstance(k, str)})
        elif r.type == "aws:iam/policy:Policy":
            policies.update({k: r for k in keys if isinstance(k, str)})

    def role_label(ref: Any) -> str:
        return role_names.get(ref, str(mask(ref))) if isinstance(ref, str) else str(mask(ref))

    grants: list[dict[str, Any]] = []
    for r in resources:
        if r.type == "aws:iam/rolePolicy:RolePolicy":
            grants.append(
                {
                    "role": role_label(r.inputs.get("role")),
                    "via": f"inline {r.name}",
                    "statements": _statements(r.inputs.get("policy")),
                }
            )
        elif r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            arn = r.inputs.get("policyArn")
            policy = policies.get(arn) if isinstance(arn, str) else None
            grants.append(
                {
                    "role": role_label(r.inputs.get("role")),
                    "via": f"managed {policy.name if policy else mask(arn)}",
                    "statements": _statements(policy.inputs.get("policy")) if policy else [],
                }
            )
        elif r.type == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
            grants.append(
                {
                    "role": role_label(r.inputs.get("roleArn")),
                    "via": f"pod identity {r.inputs.get('namespace')}/{r.inputs.get('serviceAccount')}",
                    "statements": [],
                }
            )
    return grants


def _values_hosts(values: Any) -> list[str]:
    """URLs of ingresses a chart creates, from the usual `*ingress*` value shapes."""
    urls: list[str] = []

    def from_ingress(cfg: dict[str, Any]) -> None:
        if cfg.get("enabled") is False:
            return
        annotations = cfg.get("annotations")
        has_cert = isinstance(annotations, dict) and any(str(k).endswith("certificate-arn") for k in annotations)
        scheme = "https" if cfg.get("tls") or has_cert else "http"
        hosts: list[Any] = [cfg.get("host"), cfg.get("hostname")]
        for key in ("hosts", "rules"):
            items = cfg.get(key)
            if isinstance(items, list):
                hosts += [h.get("host") or h.get("name") if isinstance(h, dict) else h for h in items]
        urls.extend(f"{scheme}://{h}" for h in hosts if isinstance(h, str) and h)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                if "ingress" in str(key).lower() and isinstance(child, dict):
                    from_ingress(child)
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(mask(values))
    return urls


def _ingress_urls(r: Resource) -> list[str]:
    spec = mask(r.inputs.get("spec"))
    if not isinstance(spec, dict):
        return []
    tls_hosts = {h for t in spec.get("tls") or [] if isinstance(t, dict) for h in t.get("hosts") or []}
    annotations = _metadata(r.inputs).get("annotations")
    has_cert = isinstance(annotations, dict) and any(str(k).endswith("certificate-arn") for k in annotations)
    urls = []
    for rule in spec.get("rules") or []:
        host = rule.get("host") if isinstance(rule, dict) else None
        if isinstance(host, str) and host:
            urls.append(f"{'https' if host in tls_hosts or has_cert else 'http'}://{host}")
    return urls


def _retained(resources: list[Resource], region: str, account: str) -> list[dict[str, Any]]:
    """Cloud resources that stay when removed from the program and no longer block it (a retired domain's data).

    Empty while anything of the group is protected: removing it would fail first (the PR diff says BLOCKED).
    """
    if any(r.protect for r in resources if r.custom):
        return []
    return [
        {
            "type": r.type,
            "name": r.name,
            "physical": physical_name(r),
            "arn": offline_arn(r.type, physical_name(r), region, account),
        }
        for r in resources
        if r.custom and r.retain_on_delete and not r.protect and r.type.startswith("aws:")
    ]


def _summary(
    resources: list[Resource], all_resources: list[Resource], program: Program | None = None
) -> dict[str, Any]:
    urls: list[str] = []
    for r in resources:
        if r.type == INGRESS:
            urls += _ingress_urls(r)
        elif r.type == HELM_RELEASE:
            urls += _values_hosts(r.inputs.get("values"))
    return {
        "count": len(resources),
        "byType": dict(sorted(Counter(r.type for r in resources).items())),
        "helmReleases": [_release(r) for r in resources if r.type == HELM_RELEASE],
        "iamGrants": _iam_grants(resources, all_resources),
        "urls": sorted(set(urls)),
        "retained": _retained(resources, program.region, program.account_id) if program else [],
    }


def build_plan(program: Program, cost: dict[str, Any] | None = None) -> dict[str, Any]:
    """The plan document for `program`: plain JSON-able data, secrets masked, with its cost estimate if given."""
    domain_of = domains_by_urn(program.resources)
    grouped: dict[str, list[Resource]] = {}
    for r in program.resources:
        grouped.setdefault(domain_of[r.urn], []).append(r)
    order = sorted(grouped, key=lambda d: (d != PLATFORM, d))
    return {
        "stack": program.stack,
        "source": "offline: program run under Pulumi mocks; nothing was read from or sent to a cloud",
        "domains": {d: _summary(grouped[d], program.resources, program) for d in order},
        **({"cost": cost} if cost is not None else {}),
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "parent": r.parent,
                "domain": domain_of[r.urn],
                "custom": r.custom,
                "physical": {
                    "name": physical_name(r),
                    "arn": offline_arn(r.type, physical_name(r), program.region, program.account_id),
                },
                "inputs": masked_inputs(r),
                "options": {
                    "protect": r.protect,
                    "retain_on_delete": r.retain_on_delete,
                    "delete_before_replace": r.delete_before_replace,
                    "ignore_changes": list(r.ignore_changes),
                    "aliases": list(r.aliases),
                    "import": r.import_id,
                    "provider": r.provider_urn,
                    "depends_on": sorted(r.depends_on),  # registration order varies between runs
                },
            }
            for r in program.resources
        ],
    }


def _dump_yaml(data: Any, header: str = "") -> str:
    # libyaml's emitter: the same documents as the pure-Python one, several times faster (it wraps long
    # quoted strings at other points).
    return header + yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False)


def _unique(path: Path, taken: set[Path], suffix: str) -> Path:
    if path not in taken:
        return path
    return path.with_name(path.name.removesuffix(".yaml") + f"-{_file_part(suffix)}.yaml")


def write_plan(program: Program, out_dir: Path, cost: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write plan.json, values/ and manifests/ under `out_dir`; return the plan document."""
    plan = build_plan(program, cost)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "plan.json").write_text(json.dumps(plan, indent=2, sort_keys=False, default=str) + "\n")

    values_dir = out_dir / "values"
    releases = []
    taken: set[Path] = set()
    for r in program.of_type(HELM_RELEASE):
        info = _release(r)
        path = _unique(values_dir / f"{_file_part(info['namespace'])}-{_file_part(info['name'])}.yaml", taken, r.name)
        taken.add(path)
        header = f"# chart: {info['chart']}\n# version: {info['version']}\n# repo: {info['repo']}\n"
        values_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump_yaml(mask(r.inputs.get("values") or {}), header))
        releases.append({**info, "valuesFile": str(path.relative_to(out_dir))})
    (out_dir / "releases.json").write_text(json.dumps(releases, indent=2) + "\n")

    manifests_dir = out_dir / "manifests"
    for r in program.resources:
        if not _is_manifest(r):
            continue
        kind = str(r.inputs["kind"])
        path = manifests_dir / f"{_file_part(kind)}-{_file_part(_namespace(r))}-{_file_part(_object_name(r))}.yaml"
        path = _unique(path, taken, r.name)
        taken.add(path)
        manifests_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump_yaml(masked_inputs(r)))
    return plan


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" (+{len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else "")


def format_summary(plan: dict[str, Any]) -> str:
    """A reviewer-readable text summary of a plan document."""
    lines = [f"Offline plan for stack {plan['stack']} ({plan['source']})"]
    for domain, s in plan["domains"].items():
        title = "platform" if domain == PLATFORM else f"domain {domain}"
        lines += ["", f"== {title}: {s['count']} resources"]
        lines += [f"  {n:4d}  {t}" for t, n in s["byType"].items()]
        if s["helmReleases"]:
            lines.append("  Helm releases:")
            lines += [
                f"    {h['namespace']}/{h['name']}: {h['chart']} {h['version']} from {h['repo']}"
                for h in s["helmReleases"]
            ]
        if s["iamGrants"]:
            lines.append("  IAM grants:")
            by_role: dict[str, list[dict[str, Any]]] = {}
            for g in s["iamGrants"]:
                by_role.setdefault(g["role"], []).append(g)
            for role, grants in by_role.items():
                lines.append(f"    role {role}:")
                for g in grants:
                    lines.append(f"      {g['via']}")
                    for st in g["statements"]:
                        lines.append(f"        {st['effect']} {_listed(st['actions'])} on {_listed(st['resources'])}")
        if s["urls"]:
            lines.append("  Exposed URLs:")
            lines += [f"    {u}" for u in s["urls"]]
        if s.get("retained"):
            lines.append("  RETAINED in the cloud when removed from the stack (unprotected, retain_on_delete):")
            lines += [
                f"    {x['type']} {x['name']}" + "".join(f", {v}" for v in (x["physical"], x["arn"]) if v)
                for x in s["retained"]
            ]
    return "\n".join(lines)


def render_into(program: Program, out_dir: Path) -> list[str]:
    """Render every Helm release into `out_dir/rendered` (platformctl.render); return the findings."""
    from platformctl import render  # lazy: loads the Helm library only when asked

    reports = render.render_program(program, out_dir / "rendered")
    return [
        f"{r.release.namespace}/{r.release.name}: {line}"
        for r in reports
        for line in [*r.result.errors, *(str(f) for f in r.findings)]
    ] + [f"pod security: {f}" for f in render.pss_restricted_findings(program, reports)]
