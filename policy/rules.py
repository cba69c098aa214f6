"""Governance rules (shared/SECURITY.md) as plain functions over a neutral resource shape.

Standard library only: the CrossGuard pack (policy/__main__.py, its own venv with pulumi-policy) and
the test suite (main venv, over `platformctl.simulate` records) run the same functions.

- `Res` is one resource as the engine sees it: its type token, inputs (engine names, camelCase) and options.
  Values not known yet (preview) are `UNKNOWN`; rules never report on what they cannot see.
- A resource rule looks at one `Res`; a stack rule at all of them (companions such as a bucket's
  BucketPolicy, a namespace's NetworkPolicy, the provider's default tags).
- Each rule's enforcement depends on the environment (`Ctx.environment`); an unknown environment
  gets the prod level, the strictest.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["mandatory", "advisory", "disabled"]
MANDATORY: Level = "mandatory"
ADVISORY: Level = "advisory"
DISABLED: Level = "disabled"
ENVIRONMENTS = ("dev", "prod")

# Label every namespace that belongs to a domain carries (components/guardrails.py OWNER_LABEL).
DOMAIN_LABEL = "dataplatform.io/domain"
# The tagging standard; the domain tag is "platform" on shared resources.
REQUIRED_TAGS = ("environment", "owner", "cost-center", "domain")
EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# Must match components/config.py SUPPORTED_EKS_VERSIONS (a test checks).
SUPPORTED_EKS_VERSIONS = ("1.33", "1.34", "1.35", "1.36")


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""A value the engine does not know yet (preview). Rules skip what they cannot see."""


@dataclass(frozen=True)
class Res:
    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    parent: str = ""
    provider: str = ""  # the provider's URN; "" means a default provider
    protect: bool = False
    # None: not known. The engine does not pass retainOnDelete to policy packs.
    retain_on_delete: bool | None = False
    delete_before_replace: bool = False
    dependencies: tuple[str, ...] = ()
    # Known outputs (mocks or state): bucket names, namespace names the inputs left to the provider.
    outputs: Mapping[str, Any] = field(default_factory=dict)
    # Property paths ("values", "spec") the program marked secret; only the test records carry them.
    secret_paths: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Ctx:
    environment: str = "prod"

    @property
    def prod(self) -> bool:
        return self.environment != "dev"


@dataclass(frozen=True)
class Violation:
    rule: str
    urn: str
    message: str


@dataclass(frozen=True)
class Finding:
    rule: str
    urn: str
    message: str
    level: Level


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    types: tuple[str, ...]  # fnmatch patterns of the type tokens the rule inspects
    levels: Mapping[str, Level]

    def level(self, environment: str) -> Level:
        return self.levels.get(environment, self.levels["prod"])

    def applies_to(self, type_: str) -> bool:
        return any(fnmatch.fnmatchcase(type_, p) for p in self.types)


@dataclass(frozen=True)
class ResourceRule(Rule):
    fn: Callable[[Res, Ctx], Iterable[str]]

    def check(self, res: Res, ctx: Ctx) -> list[Violation]:
        if not self.applies_to(res.type):
            return []
        return [Violation(self.name, res.urn, m) for m in self.fn(res, ctx)]


@dataclass(frozen=True)
class StackRule(Rule):
    fn: Callable[[Sequence[Res], Ctx], Iterable[tuple[str, str]]]

    def check(self, resources: Sequence[Res], ctx: Ctx) -> list[Violation]:
        return [Violation(self.name, urn, m) for urn, m in self.fn(resources, ctx)]


RULES: dict[str, ResourceRule | StackRule] = {}
ResourceCheck = Callable[[Res, Ctx], Iterable[str]]
StackCheck = Callable[[Sequence[Res], Ctx], Iterable[tuple[str, str]]]


def _register(rule: ResourceRule | StackRule) -> None:
    if rule.name in RULES:
        raise ValueError(f"duplicate rule {rule.name}")
    RULES[rule.name] = rule


def resource_rule(
    name: str, description: str, types: Iterable[str], *, dev: Level, prod: Level
) -> Callable[[ResourceCheck], ResourceCheck]:
    def register(fn: ResourceCheck) -> ResourceCheck:
        _register(ResourceRule(name, description, tuple(types), {"dev": dev, "prod": prod}, fn))
        return fn

    return register


def stack_rule(
    name: str, description: str, types: Iterable[str], *, dev: Level, prod: Level
) -> Callable[[StackCheck], StackCheck]:
    def register(fn: StackCheck) -> StackCheck:
        _register(StackRule(name, description, tuple(types), {"dev": dev, "prod": prod}, fn))
        return fn

    return register


def evaluate(resources: Sequence[Res], ctx: Ctx) -> list[Finding]:
    """Every violation of every rule not disabled in `ctx.environment`, with its enforcement level."""
    findings: list[Finding] = []
    for rule in RULES.values():
        level = rule.level(ctx.environment)
        if level == DISABLED:
            continue
        if isinstance(rule, ResourceRule):
            violations = [v for r in resources for v in rule.check(r, ctx)]
        else:
            violations = rule.check(resources, ctx)
        findings += [Finding(v.rule, v.urn, v.message, level) for v in violations]
    return findings


# --- adapters ---------------------------------------------------------------------------------------


def plain(
    value: Any, is_unknown: Callable[[Any], bool], is_secret: Callable[[Any], bool], path: str = ""
) -> tuple[Any, frozenset[str]]:
    """(value without secret wrappers, unknowns as UNKNOWN; the paths that were secret)."""
    if is_unknown(value):
        return UNKNOWN, frozenset()
    if is_secret(value):
        inner, paths = plain(value.value, is_unknown, is_secret, path)
        return inner, paths | {path}
    secrets: frozenset[str] = frozenset()
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            out[k], found = plain(v, is_unknown, is_secret, f"{path}.{k}" if path else str(k))
            secrets |= found
        return out, secrets
    if isinstance(value, list):
        items = []
        for i, v in enumerate(value):
            item, found = plain(v, is_unknown, is_secret, f"{path}[{i}]")
            items.append(item)
            secrets |= found
        return items, secrets
    return value, secrets


def from_record(record: Any) -> Res:
    """A `platformctl.simulate.Resource` as a `Res` (secrets unwrapped, their paths kept)."""
    # Imported here: the pack's venv has neither the program's modules nor its records.
    from pulumi.output import Unknown

    from platformctl.simulate import Secret

    def is_unknown(v: Any) -> bool:
        return isinstance(v, Unknown)

    def is_secret(v: Any) -> bool:
        return isinstance(v, Secret)

    props, secret_paths = plain(record.inputs, is_unknown, is_secret)
    outputs, _ = plain(record.outputs, is_unknown, is_secret)
    return Res(
        type=record.type,
        name=record.name,
        props=props,
        urn=record.urn,
        parent=record.parent,
        provider=record.provider_urn,
        protect=record.protect,
        retain_on_delete=record.retain_on_delete,
        delete_before_replace=record.delete_before_replace,
        dependencies=tuple(record.depends_on),
        outputs=outputs,
        secret_paths=secret_paths,
    )


# --- helpers ----------------------------------------------------------------------------------------


def _get(value: Any, *path: str | int) -> Any:
    """Nested lookup: None when absent, UNKNOWN when any step is unknown."""
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and -len(value) <= key < len(value) else None
        else:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            return None
    return value


def _list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _document(value: Any) -> Any:
    """An IAM/bucket/key policy document from a JSON string or dict; UNKNOWN, None, or "invalid"."""
    if value is None or value is UNKNOWN:
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return "invalid"
    return value if isinstance(value, Mapping) else "invalid"


def _statements(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _list(doc.get("Statement")) if isinstance(s, Mapping)]


def _principals(stmt: Mapping[str, Any]) -> dict[str, list[Any]]:
    principal = stmt.get("Principal")
    if principal is None:
        return {}
    if not isinstance(principal, Mapping):
        return {"*": _list(principal)}
    return {k: _list(v) for k, v in principal.items()}


def _any_principal(stmt: Mapping[str, Any]) -> bool:
    p = _principals(stmt)
    return "*" in p.get("*", []) or "*" in p.get("AWS", [])


def _allow(stmt: Mapping[str, Any]) -> bool:
    return stmt.get("Effect") == "Allow"


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _tags(value: Any) -> Any:
    return _document(value) if isinstance(value, str) else value


# --- AWS: S3 ----------------------------------------------------------------------------------------

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
BUCKET_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
OWNERSHIP = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
BUCKET_ACL = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


@resource_rule(
    "s3-public-access-block",
    "S3 public access block has all four flags true (CKV_AWS_53-56, S3.8).",
    PUBLIC_ACCESS_BLOCK,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _s3_public_access_block(res: Res, ctx: Ctx) -> Iterator[str]:
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        value = res.props.get(flag)
        if value is not UNKNOWN and not _true(value):
            yield f"{flag} must be true (is {value!r})"


@resource_rule(
    "s3-encryption-kms",
    "S3 default encryption uses aws:kms with a customer KMS key and the bucket key on (CKV_AWS_145, S3.4); "
    "SSE-S3 only where s3-sse-s3-log-bucket-only allows it.",
    SSE,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _s3_encryption_kms(res: Res, ctx: Ctx) -> Iterator[str]:
    rules = res.props.get("rules")
    if rules is UNKNOWN:
        return
    if not _list(rules):
        yield "no encryption rule"
    for rule in _list(rules):
        by_default = _get(rule, "applyServerSideEncryptionByDefault")
        algorithm = _get(by_default, "sseAlgorithm")
        if algorithm in (UNKNOWN, "AES256"):
            continue
        if algorithm not in KMS_ALGORITHMS:
            yield f"sseAlgorithm must be aws:kms (is {algorithm!r})"
        key = _get(by_default, "kmsMasterKeyId")
        if key is None or (isinstance(key, str) and (not key or "alias/aws/" in key)):
            yield "kmsMasterKeyId must name a customer-managed KMS key, not the AWS-managed aws/s3 key"
        bucket_key = _get(rule, "bucketKeyEnabled")
        if bucket_key is not UNKNOWN and not _true(bucket_key):
            yield "bucketKeyEnabled must be true"


def _secure_transport_denied(stmt: Mapping[str, Any]) -> bool:
    condition = _get(stmt, "Condition", "Bool", "aws:SecureTransport")
    actions = _list(stmt.get("Action"))
    return (
        stmt.get("Effect") == "Deny"
        and _any_principal(stmt)
        and any(str(v).lower() == "false" for v in _list(condition))
        and any(a in ("*", "s3:*") for a in actions)
    )


@resource_rule(
    "s3-tls-only-policy",
    "S3 bucket policy denies every request without TLS (aws:SecureTransport false) (CKV_AWS_379, S3.5).",
    BUCKET_POLICY,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _s3_tls_only(res: Res, ctx: Ctx) -> Iterator[str]:
    doc = _document(res.props.get("policy"))
    if doc is UNKNOWN:
        return
    if not isinstance(doc, Mapping):
        yield "policy is missing or not a JSON document"
    elif not any(_secure_transport_denied(s) for s in _statements(doc)):
        yield 'no statement denies s3:* to "*" when aws:SecureTransport is false'


@resource_rule(
    "s3-no-public-principal",
    "S3 bucket policy has no Allow for the `*` principal (S3.2/3/6).",
    BUCKET_POLICY,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _s3_no_public_principal(res: Res, ctx: Ctx) -> Iterator[str]:
    doc = _document(res.props.get("policy"))
    if isinstance(doc, Mapping):
        for stmt in _statements(doc):
            if _allow(stmt) and _any_principal(stmt):
                yield f"statement {stmt.get('Sid', '')!r} allows the * principal"


@resource_rule(
    "s3-acls-disabled",
    "S3 object ownership is BucketOwnerEnforced and no ACL is set (CKV2_AWS_65, S3.12).",
    (*OWNERSHIP, *BUCKET_ACL, *BUCKETS),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _s3_acls_disabled(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.type in BUCKET_ACL:
        yield "bucket ACLs are disabled: do not create BucketAcl resources"
    elif res.type in BUCKETS:
        acl = res.props.get("acl")
        if acl not in (None, UNKNOWN, "private"):
            yield f"acl must not be set (is {acl!r})"
    else:
        ownership = _get(res.props, "rule", "objectOwnership")
        if ownership is not UNKNOWN and ownership != "BucketOwnerEnforced":
            yield f"objectOwnership must be BucketOwnerEnforced (is {ownership!r})"


@resource_rule(
    "s3-lifecycle-abort-multipart",
    "S3 lifecycle configuration aborts incomplete multipart uploads (CKV2_AWS_61, CKV_AWS_300).",
    LIFECYCLE,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _s3_lifecycle(res: Res, ctx: Ctx) -> Iterator[str]:
    rules = res.props.get("rules")
    if rules is UNKNOWN:
        return
    if not any(
        _get(r, "status") in ("Enabled", UNKNOWN)
        and _get(r, "abortIncompleteMultipartUpload", "daysAfterInitiation") is not None
        for r in _list(rules)
    ):
        yield "no enabled rule with abortIncompleteMultipartUpload.daysAfterInitiation"


@resource_rule(
    "s3-force-destroy-off",
    "Buckets keep forceDestroy off in prod, so deleting one never deletes its objects.",
    BUCKETS,
    dev=DISABLED,
    prod=MANDATORY,
)
def _s3_force_destroy(res: Res, ctx: Ctx) -> Iterator[str]:
    if _true(res.props.get("forceDestroy")):
        yield "forceDestroy must be false"


def _bucket_name(bucket: Res) -> str | None:
    for value in (bucket.props.get("bucket"), bucket.outputs.get("bucket")):
        if isinstance(value, str) and value:
            return value
    return None


def _attached(owners: Sequence[Res], companion: Res, prop: str, key: Callable[[Res], str | None]) -> list[Res]:
    """The owners `companion.props[prop]` points at: by value when both sides are known, else by dependency."""
    target = companion.props.get(prop)
    if isinstance(target, str):
        by_value = [o for o in owners if key(o) == target]
        if by_value:
            return by_value
    return [o for o in owners if o.urn in companion.dependencies and (key(o) is None or not isinstance(target, str))]


def _of(resources: Sequence[Res], types: Sequence[str]) -> list[Res]:
    return [r for r in resources if r.type in types]


def _bucket_companions(resources: Sequence[Res], types: Sequence[str], prop: str = "bucket") -> dict[str, list[Res]]:
    buckets = _of(resources, BUCKETS)
    found: dict[str, list[Res]] = {b.urn: [] for b in buckets}
    for companion in _of(resources, types):
        for b in _attached(buckets, companion, prop, _bucket_name):
            found[b.urn].append(companion)
    return found


@stack_rule(
    "s3-bucket-controls",
    "Every bucket has a public access block, default encryption, a bucket policy, "
    "BucketOwnerEnforced ownership controls and a lifecycle configuration.",
    (*BUCKETS, *PUBLIC_ACCESS_BLOCK, *SSE, *BUCKET_POLICY, *OWNERSHIP, *LIFECYCLE),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _s3_bucket_controls(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    required = {
        "BucketPublicAccessBlock": PUBLIC_ACCESS_BLOCK,
        "BucketServerSideEncryptionConfiguration": SSE,
        "BucketPolicy": BUCKET_POLICY,
        "BucketOwnershipControls": OWNERSHIP,
        "BucketLifecycleConfiguration": LIFECYCLE,
    }
    for kind, types in required.items():
        for urn, companions in _bucket_companions(resources, types).items():
            if not companions:
                yield urn, f"bucket has no {kind}"


@stack_rule(
    "s3-versioning",
    "Every bucket has versioning Enabled (CKV_AWS_21, S3.14).",
    (*BUCKETS, *VERSIONING),
    dev=ADVISORY,
    prod=MANDATORY,
)
def _s3_versioning(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    for urn, companions in _bucket_companions(resources, VERSIONING).items():
        statuses = [_get(c.props, "versioningConfiguration", "status") for c in companions]
        if not any(s in ("Enabled", UNKNOWN) for s in statuses):
            yield urn, f"bucket versioning is not Enabled (found {statuses or 'no BucketVersioning'})"


@stack_rule(
    "s3-access-logging",
    "Every bucket except the log bucket logs access to the log bucket (CKV_AWS_18, S3.9).",
    (*BUCKETS, *LOGGING),
    dev=ADVISORY,
    prod=MANDATORY,
)
def _s3_access_logging(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    logged = _bucket_companions(resources, LOGGING)
    targets = _bucket_companions(resources, LOGGING, prop="targetBucket")
    for urn, companions in logged.items():
        if not companions and not targets[urn]:
            yield urn, "bucket has no BucketLogging (and is no log bucket)"


@stack_rule(
    "s3-sse-s3-log-bucket-only",
    "Only the server access log bucket may use SSE-S3 (AES256) instead of SSE-KMS: S3 server access logging "
    "does not deliver to SSE-KMS targets.",
    (*BUCKETS, *SSE, *LOGGING),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _s3_sse_s3(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    log_targets = {urn for urn, logs in _bucket_companions(resources, LOGGING, prop="targetBucket").items() if logs}
    for urn, configs in _bucket_companions(resources, SSE).items():
        algorithms = [
            _get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm")
            for c in configs
            for r in _list(c.props.get("rules"))
        ]
        if "AES256" in algorithms and urn not in log_targets:
            yield urn, "bucket uses SSE-S3 (AES256) but is no access-log target; use SSE-KMS with the lake key"


# --- AWS: EKS and nodes ----------------------------------------------------------------------------

EKS_CLUSTER = ("aws:eks/cluster:Cluster",)


@resource_rule(
    "eks-endpoint-restricted",
    "EKS private endpoint on; the public endpoint off or limited to CIDRs narrower than /8, never 0.0.0.0/0 "
    "(CKV_AWS_38/39, EKS.1).",
    EKS_CLUSTER,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _eks_endpoint(res: Res, ctx: Ctx) -> Iterator[str]:
    vpc = res.props.get("vpcConfig")
    if vpc is UNKNOWN:
        return
    private = _get(vpc, "endpointPrivateAccess")
    if private is not UNKNOWN and not _true(private):
        yield "vpcConfig.endpointPrivateAccess must be true"
    public = _get(vpc, "endpointPublicAccess")
    if public is UNKNOWN or public is False:
        return
    cidrs = _get(vpc, "publicAccessCidrs")
    if cidrs is UNKNOWN:
        return
    if not cidrs:
        yield "public endpoint on without publicAccessCidrs (EKS then allows 0.0.0.0/0)"
    for cidr in _list(cidrs):
        if cidr is UNKNOWN:
            continue
        try:
            too_wide = ipaddress.ip_network(str(cidr), strict=False).prefixlen < 8
        except ValueError:
            too_wide = True
        if too_wide:
            yield f"publicAccessCidrs entry {cidr!r} is open to the internet"


@resource_rule(
    "eks-secrets-encryption",
    "EKS envelope-encrypts Kubernetes secrets with a KMS key (CKV_AWS_58).",
    EKS_CLUSTER,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _eks_secrets(res: Res, ctx: Ctx) -> Iterator[str]:
    config = res.props.get("encryptionConfig")
    if config is UNKNOWN:
        return
    resources = _get(config, "resources")
    if resources is not UNKNOWN and "secrets" not in _list(resources):
        yield 'encryptionConfig.resources must include "secrets"'
    if _get(config, "provider", "keyArn") is None:
        yield "encryptionConfig.provider.keyArn must be set"


@resource_rule(
    "eks-control-plane-logs",
    "EKS control-plane logs: api and audit in dev, all five in prod (CKV_AWS_37, EKS.8).",
    EKS_CLUSTER,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _eks_logs(res: Res, ctx: Ctx) -> Iterator[str]:
    enabled = res.props.get("enabledClusterLogTypes")
    if enabled is UNKNOWN:
        return
    required = EKS_LOG_TYPES if ctx.prod else ("api", "audit")
    missing = [t for t in required if t not in _list(enabled)]
    if missing:
        yield f"enabledClusterLogTypes is missing {', '.join(missing)}"


@resource_rule(
    "eks-supported-version",
    f"EKS runs a pinned, supported Kubernetes version ({', '.join(SUPPORTED_EKS_VERSIONS)}) (CKV_AWS_339, EKS.2).",
    EKS_CLUSTER,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _eks_version(res: Res, ctx: Ctx) -> Iterator[str]:
    version = res.props.get("version")
    if version is not UNKNOWN and version not in SUPPORTED_EKS_VERSIONS:
        yield f"version must be one of {', '.join(SUPPORTED_EKS_VERSIONS)} (is {version!r})"


@resource_rule(
    "eks-access-entries",
    "EKS authenticates through access entries only (accessConfig.authenticationMode API, no aws-auth ConfigMap).",
    (*EKS_CLUSTER, "kubernetes:core/v1:ConfigMap"),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _eks_access(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.type == "kubernetes:core/v1:ConfigMap":
        meta = res.props.get("metadata")
        if _get(meta, "name") == "aws-auth" and _get(meta, "namespace") == "kube-system":
            yield "the aws-auth ConfigMap is replaced by EKS access entries"
        return
    mode = _get(res.props, "accessConfig", "authenticationMode")
    if mode is not UNKNOWN and mode != "API":
        yield f"accessConfig.authenticationMode must be API (is {mode!r})"


@resource_rule(
    "ec2-imdsv2",
    "Launch templates require IMDSv2 with a hop limit of 1 (CKV_AWS_79/341).",
    ("aws:ec2/launchTemplate:LaunchTemplate",),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _ec2_imdsv2(res: Res, ctx: Ctx) -> Iterator[str]:
    options = res.props.get("metadataOptions")
    if options is UNKNOWN or _get(options, "httpEndpoint") == "disabled":
        return
    tokens = _get(options, "httpTokens")
    if tokens is not UNKNOWN and tokens != "required":
        yield f"metadataOptions.httpTokens must be required (is {tokens!r})"
    hops = _get(options, "httpPutResponseHopLimit")
    if hops is not UNKNOWN and _num(hops) != 1:
        yield f"metadataOptions.httpPutResponseHopLimit must be 1 (is {hops!r})"


@resource_rule(
    "eks-nodegroup-hardened",
    "Managed node groups have no SSH access and use a launch template (which carries the IMDS settings) (CKV_AWS_100).",
    ("aws:eks/nodeGroup:NodeGroup",),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _eks_nodegroup(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.props.get("remoteAccess") not in (None, UNKNOWN):
        yield "remoteAccess (SSH) must not be set"
    if res.props.get("launchTemplate") is None:
        yield "launchTemplate must be set so IMDSv2 and the hop limit apply"


# --- AWS: KMS and IAM ------------------------------------------------------------------------------

KMS_KEY = ("aws:kms/key:Key",)


@resource_rule(
    "kms-key-rotation",
    "Symmetric KMS keys rotate yearly (CKV_AWS_7, KMS.4).",
    KMS_KEY,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _kms_rotation(res: Res, ctx: Ctx) -> Iterator[str]:
    spec = res.props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    rotation = res.props.get("enableKeyRotation")
    if spec == "SYMMETRIC_DEFAULT" and rotation is not UNKNOWN and not _true(rotation):
        yield "enableKeyRotation must be true"


@resource_rule(
    "kms-no-wildcard-principal",
    "KMS key policies allow no `*` principal.",
    (*KMS_KEY, "aws:kms/keyPolicy:KeyPolicy"),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _kms_principal(res: Res, ctx: Ctx) -> Iterator[str]:
    doc = _document(res.props.get("policy"))
    if doc == "invalid":
        yield "policy is not a JSON document"
    elif isinstance(doc, Mapping):
        for stmt in _statements(doc):
            if _allow(stmt) and _any_principal(stmt):
                yield f"statement {stmt.get('Sid', '')!r} allows the * principal"


@resource_rule(
    "kms-deletion-window",
    "KMS keys wait 30 days before deletion in prod (KMS.3).",
    KMS_KEY,
    dev=DISABLED,
    prod=MANDATORY,
)
def _kms_window(res: Res, ctx: Ctx) -> Iterator[str]:
    window = res.props.get("deletionWindowInDays")
    if window not in (None, UNKNOWN) and _num(window) != 30:
        yield f"deletionWindowInDays must be 30 (is {window!r})"


IAM_POLICIES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
IAM_ROLE = ("aws:iam/role:Role",)
_SERVICE_WILDCARD = re.compile(r"^[a-z0-9-]+:\*$")


def _admin_statements(doc: Any) -> Iterator[str]:
    if doc == "invalid":
        yield "policy is not a JSON document"
        return
    if not isinstance(doc, Mapping):
        return
    for stmt in _statements(doc):
        if not _allow(stmt) or "*" not in _list(stmt.get("Resource")):
            continue
        if "NotAction" in stmt:
            yield f"statement {stmt.get('Sid', '')!r} allows NotAction on Resource *"
        wild = [a for a in _list(stmt.get("Action")) if a == "*" or (isinstance(a, str) and _SERVICE_WILDCARD.match(a))]
        if wild:
            yield f"statement {stmt.get('Sid', '')!r} allows {', '.join(wild)} on Resource *"


IAM_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
)
# AWS-managed policies that are `*`-action grants in disguise.
ADMIN_MANAGED_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")


def _admin_managed(arn: Any) -> bool:
    return isinstance(arn, str) and arn.startswith("arn:aws") and arn.rsplit("/", 1)[-1] in ADMIN_MANAGED_POLICIES


@resource_rule(
    "iam-no-wildcard-admin",
    "IAM policies allow no `*` or `service:*` action on Resource `*`, and no admin managed policy is attached "
    "(CKV_AWS_62/63/286-290/355, IAM.1/21).",
    (*IAM_POLICIES, *IAM_ROLE, *IAM_ATTACHMENTS),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _iam_admin(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.type in IAM_ATTACHMENTS:
        if _admin_managed(res.props.get("policyArn")):
            yield f"attaches {res.props['policyArn']}"
    elif res.type in IAM_ROLE:
        inline = res.props.get("inlinePolicies")
        for p in _list(inline) if inline is not UNKNOWN else []:
            yield from _admin_statements(_document(_get(p, "policy")))
        managed = res.props.get("managedPolicyArns")
        for arn in _list(managed) if managed is not UNKNOWN else []:
            if _admin_managed(arn):
                yield f"attaches {arn}"
    else:
        yield from _admin_statements(_document(res.props.get("policy")))


POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
POD_IDENTITY_ACTIONS = {"sts:AssumeRole", "sts:TagSession"}
# One IAM role, named: not an account root, user, wildcard or path pattern.
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$")


def _trust_problems(doc: Any) -> Iterator[str]:
    if doc == "invalid":
        yield "assumeRolePolicy is not a JSON document"
        return
    if not isinstance(doc, Mapping):
        return
    allows = [s for s in _statements(doc) if _allow(s)]
    pod_identity = any(POD_IDENTITY_SERVICE in _principals(s).get("Service", []) for s in allows)
    for stmt in allows:
        sid = stmt.get("Sid", "")
        principals = _principals(stmt)
        if _any_principal(stmt):
            yield f"trust statement {sid!r} allows the * principal"
        if principals.get("Federated") and not stmt.get("Condition"):
            yield f"trust statement {sid!r} trusts a federated principal without a Condition"
        if pod_identity:
            roles = principals.get("AWS", [])
            if set(principals) == {"AWS"} and all(isinstance(a, str) and _ROLE_ARN.match(a) for a in roles):
                # A named role may assume it too (the sandbox's Superset connection), nothing more; TagSession
                # because that role's own Pod Identity session tags are transitive into the chained session.
                extra = set(_list(stmt.get("Action"))) - POD_IDENTITY_ACTIONS
                if extra:
                    yield f"Pod Identity role: statement {sid!r} lets roles {', '.join(sorted(map(str, extra)))}"
                continue
            if principals != {"Service": [POD_IDENTITY_SERVICE]}:
                yield f"Pod Identity role: statement {sid!r} must trust {POD_IDENTITY_SERVICE} only"
            extra = set(_list(stmt.get("Action"))) - POD_IDENTITY_ACTIONS
            if extra:
                yield f"Pod Identity role: statement {sid!r} allows {', '.join(sorted(map(str, extra)))}"


@resource_rule(
    "iam-trust-scoped",
    "IAM role trust policies are scoped: no `*` principal, federated principals conditioned, "
    "Pod Identity roles trusted by pods.eks.amazonaws.com and at most named roles (sts:AssumeRole, "
    "sts:TagSession) (CKV_AWS_60/61).",
    IAM_ROLE,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _iam_trust(res: Res, ctx: Ctx) -> Iterator[str]:
    yield from _trust_problems(_document(res.props.get("assumeRolePolicy")))


@stack_rule(
    "eks-pod-identity-roles",
    "Roles bound by an EKS Pod Identity association are trusted by pods.eks.amazonaws.com only.",
    ("aws:eks/podIdentityAssociation:PodIdentityAssociation", *IAM_ROLE),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _pod_identity_roles(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    roles = _of(resources, IAM_ROLE)
    for assoc in _of(resources, ("aws:eks/podIdentityAssociation:PodIdentityAssociation",)):
        for role in [r for r in roles if r.urn in assoc.dependencies]:
            doc = _document(role.props.get("assumeRolePolicy"))
            if not isinstance(doc, Mapping):
                continue
            services = [p for s in _statements(doc) if _allow(s) for p in _principals(s).get("Service", [])]
            if POD_IDENTITY_SERVICE not in services:
                yield role.urn, f"role is bound by {assoc.name} but does not trust {POD_IDENTITY_SERVICE}"


# --- AWS: the analyst sandbox ------------------------------------------------------------------------

# Tag of a sandbox role: the name of its domain's pipeline role (components/aws/sandbox_access.py SANDBOX_OF_TAG).
SANDBOX_OF_TAG = "sandbox-of"
SANDBOX_PREFIX = "sandbox/"
CURATED_PREFIX = "curated/"
IAM_ROLE_POLICY = ("aws:iam/rolePolicy:RolePolicy",)
# Managed policies reach a role through these; their documents are not in the stack, so a sandbox role has none.
IAM_POLICY_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
# Actions that hand a sandbox role another role's rights (reads and writes beyond its own policy).
_ROLE_HOPS = re.compile(r"^(sts:\*|sts:assumerole.*|iam:\*|iam:passrole)$", re.IGNORECASE)
_S3_OBJECT_READS = {"s3:GetObject", "s3:GetObjectVersion"}
_S3_LISTS = {"s3:ListBucket", "s3:ListBucketVersions"}
_S3_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::([^/]+)(?:/(.*))?$")


def _role_documents(resources: Sequence[Res], role: Res) -> list[Any]:
    """The role's inline policies and the RolePolicies attached to it: those naming it, and those whose
    role names no role of the stack (an id, or not known yet) that depend on it. A policy may depend on
    a role it does not attach to (one naming another role, with this role's ARN in its document)."""
    inline = role.props.get("inlinePolicies")
    docs = [_document(_get(p, "policy")) for p in (_list(inline) if inline is not UNKNOWN else []) if p is not UNKNOWN]
    names = {r.props.get("name") for r in _of(resources, IAM_ROLE)} - {None, UNKNOWN}
    for policy in _of(resources, IAM_ROLE_POLICY):
        target = policy.props.get("role")
        named = isinstance(target, str) and target in names
        if (named and target == role.props.get("name")) or (not named and role.urn in policy.dependencies):
            docs.append(_document(policy.props.get("policy")))
    return docs


def _s3_actions(stmt: Mapping[str, Any]) -> list[str]:
    return [a for a in _list(stmt.get("Action")) if isinstance(a, str) and (a == "*" or a.lower().startswith("s3:"))]


def _object_grants(docs: list[Any], actions: set[str]) -> list[tuple[str, str]]:
    """(bucket, key prefix) of every object ARN an Allow statement grants one of `actions` on ("" = all keys)."""
    out = []
    for doc in docs:
        if not isinstance(doc, Mapping):
            continue
        for stmt in _statements(doc):
            if not _allow(stmt) or not actions & set(_s3_actions(stmt)):
                continue
            for res in _list(stmt.get("Resource")):
                m = _S3_ARN.match(res) if isinstance(res, str) else None
                if m and m[2] is not None:
                    out.append((m[1], m[2].removesuffix("*")))
    return out


def _sandbox_problems(stmt: Mapping[str, Any], own: set[str], consumed: list[tuple[str, str]]) -> Iterator[str]:
    """What one Allow statement of a sandbox role lets it do beyond reading curated/, sandbox/ and the
    consumed products, and writing sandbox/ of its own bucket."""
    sid = stmt.get("Sid", "")
    hops = [a for a in _list(stmt.get("Action")) if isinstance(a, str) and _ROLE_HOPS.match(a)]
    if hops:
        yield f"statement {sid!r} allows {', '.join(hops)}: a sandbox role takes on no other role's rights"
    actions = _s3_actions(stmt)
    if "NotAction" in stmt or ("NotResource" in stmt and actions):
        yield f"statement {sid!r} uses NotAction/NotResource; a sandbox role must list what it may do"
        return
    if not actions:
        return

    def readable(bucket: str, key: str) -> bool:
        if bucket in own:
            return key.startswith((CURATED_PREFIX, SANDBOX_PREFIX))
        return any(bucket == b and key.startswith(p) for b, p in consumed)

    for res in _list(stmt.get("Resource")):
        if res is UNKNOWN:
            continue
        m = _S3_ARN.match(res) if isinstance(res, str) else None
        if m is None:
            yield f"statement {sid!r} allows {', '.join(actions)} on {res!r}, not one bucket or prefix"
            continue
        bucket, key = m[1], m[2]
        for action in actions:
            if action in _S3_LISTS and key is None:
                prefixes = [
                    v for op in ("StringLike", "StringEquals") for v in _list(_get(stmt, "Condition", op, "s3:prefix"))
                ]
                bad = [p for p in prefixes if not (isinstance(p, str) and readable(bucket, p))]
                if not prefixes or bad:
                    shown = ", ".join(map(str, bad)) if bad else "every key"
                    yield f"statement {sid!r} lists {shown} of bucket {bucket}, outside what the sandbox may read"
            elif action == "s3:GetBucketLocation" and key is None:
                continue
            elif action in _S3_OBJECT_READS and key is not None:
                if not readable(bucket, key.removesuffix("*")):
                    yield (
                        f"statement {sid!r} reads {res}: neither its domain's curated/ or sandbox/ nor a product "
                        "its domain consumes"
                    )
            elif key is None or bucket not in own or not key.startswith(SANDBOX_PREFIX):
                yield f"statement {sid!r} allows {action} on {res}: a sandbox role writes only under sandbox/ of its bucket"


@stack_rule(
    "sandbox-role-scoped",
    "An analyst sandbox role (tag `sandbox-of`) writes only under sandbox/ of its domain's bucket and reads only "
    "its domain's curated/ and sandbox/ and the products its domain's pipeline role consumes; it has no managed "
    "policy and assumes or passes no role.",
    (*IAM_ROLE, *IAM_ROLE_POLICY, *IAM_POLICY_ATTACHMENTS),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _sandbox_roles(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    roles = _of(resources, IAM_ROLE)
    for role in roles:
        tags = _tags(role.props.get("tags"))
        pipeline_name = tags.get(SANDBOX_OF_TAG) if isinstance(tags, Mapping) else None
        if not isinstance(pipeline_name, str):
            continue
        pipeline = next((r for r in roles if r.props.get("name") == pipeline_name), None)
        if pipeline is None:
            yield role.urn, f"tag {SANDBOX_OF_TAG} names role {pipeline_name}, which this stack does not have"
            continue
        managed = role.props.get("managedPolicyArns")
        if managed is not UNKNOWN and _list(managed):
            yield role.urn, "a sandbox role has managed policies, whose documents the rule cannot check"
        name = role.props.get("name")
        for attachment in _of(resources, IAM_POLICY_ATTACHMENTS):
            target = attachment.props.get("role")
            targets = _list(attachment.props.get("roles")) + ([target] if target is not None else [])
            if (isinstance(name, str) and name in targets) or role.urn in attachment.dependencies:
                yield role.urn, f"{attachment.name} attaches a managed policy to the sandbox role"
        pipeline_docs = _role_documents(resources, pipeline)
        # The domain's own buckets are those its pipeline role writes; what else it reads is what it consumes.
        own = {b for b, p in _object_grants(pipeline_docs, {"s3:PutObject"}) if p == ""}
        consumed = [(b, p) for b, p in _object_grants(pipeline_docs, _S3_OBJECT_READS) if b not in own]
        for doc in _role_documents(resources, role):
            if doc == "invalid":
                yield role.urn, "a policy of the sandbox role is not a JSON document"
            elif isinstance(doc, Mapping):
                for stmt in [s for s in _statements(doc) if _allow(s)]:
                    for problem in _sandbox_problems(stmt, own, consumed):
                        yield role.urn, problem


ATHENA_WORKGROUP = ("aws:athena/workgroup:Workgroup",)


@resource_rule(
    "athena-workgroup-enforced",
    "Athena workgroups enforce their configuration, encrypt query results with KMS and bound each query's scan "
    "(tfsec aws-athena-no-encryption-override and enable-at-rest-encryption, Control Tower CT.ATHENA.PR.2).",
    ATHENA_WORKGROUP,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _athena_workgroup(res: Res, ctx: Ctx) -> Iterator[str]:
    config = res.props.get("configuration")
    if config is UNKNOWN:
        return
    # Omitted, AWS enforces the configuration (the provider's default too).
    if _get(config, "enforceWorkgroupConfiguration") is False:
        yield "configuration.enforceWorkgroupConfiguration is false: clients may drop the result encryption"
    option = _get(config, "resultConfiguration", "encryptionConfiguration", "encryptionOption")
    if option is not UNKNOWN and option not in ("SSE_KMS", "CSE_KMS"):
        yield f"query results are not encrypted with KMS (encryptionOption {option!r})"
    if _get(config, "bytesScannedCutoffPerQuery") is None:
        yield "configuration.bytesScannedCutoffPerQuery is not set: a query may scan without bound"


# --- AWS: data services ----------------------------------------------------------------------------

RDS_INSTANCE = ("aws:rds/instance:Instance",)


@resource_rule(
    "rds-encrypted-private",
    "RDS instances are encrypted and not publicly accessible (CKV_AWS_16/17, RDS.2/3).",
    RDS_INSTANCE,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _rds_private(res: Res, ctx: Ctx) -> Iterator[str]:
    encrypted = res.props.get("storageEncrypted")
    if encrypted is not UNKNOWN and not _true(encrypted):
        yield "storageEncrypted must be true"
    if _true(res.props.get("publiclyAccessible")):
        yield "publiclyAccessible must be false"


@resource_rule(
    "rds-resilience",
    "RDS in prod: deletion protection, a final snapshot, backups kept >= 7 days, Multi-AZ (CKV_AWS_133/293, RDS.8/11).",
    RDS_INSTANCE,
    dev=DISABLED,
    prod=MANDATORY,
)
def _rds_resilience(res: Res, ctx: Ctx) -> Iterator[str]:
    p = res.props
    if p.get("deletionProtection") is not UNKNOWN and not _true(p.get("deletionProtection")):
        yield "deletionProtection must be true"
    if _true(p.get("skipFinalSnapshot")):
        yield "skipFinalSnapshot must be false"
    elif not p.get("finalSnapshotIdentifier"):
        yield "finalSnapshotIdentifier must be set"
    retention = p.get("backupRetentionPeriod")
    if retention is not UNKNOWN and (_num(retention) or 0) < 7:
        yield f"backupRetentionPeriod must be >= 7 (is {retention!r})"
    if p.get("multiAz") is not UNKNOWN and not _true(p.get("multiAz")):
        yield "multiAz must be true"


@resource_rule(
    "rds-maintained",
    "RDS instances take automatic minor version upgrades (RDS.13, CKV_AWS_226) and export the engine log to CloudWatch Logs "
    "(CKV_AWS_129), so security patches land and database logs outlive the instance.",
    RDS_INSTANCE,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _rds_maintained(res: Res, ctx: Ctx) -> Iterator[str]:
    p = res.props
    upgrades = p.get("autoMinorVersionUpgrade")
    # The provider defaults autoMinorVersionUpgrade to true; only an explicit false turns it off.
    if upgrades is not UNKNOWN and upgrades is not None and not _true(upgrades):
        yield "autoMinorVersionUpgrade must be true"
    exports = p.get("enabledCloudwatchLogsExports")
    if exports is not UNKNOWN and not _list(exports):
        yield "enabledCloudwatchLogsExports must name the engine log (postgresql)"


@resource_rule(
    "redshift-namespace-cmk",
    "Redshift Serverless namespaces are encrypted with a customer KMS key (CKV_AWS_282).",
    ("aws:redshiftserverless/namespace:Namespace",),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _redshift_namespace(res: Res, ctx: Ctx) -> Iterator[str]:
    key = res.props.get("kmsKeyId")
    if key in (None, "", "AWS_OWNED_KMS_KEY"):
        yield "kmsKeyId must name a customer-managed KMS key"


@resource_rule(
    "redshift-workgroup-private",
    "Redshift Serverless workgroups are private, use enhanced VPC routing and require SSL (RedshiftServerless.1/2).",
    ("aws:redshiftserverless/workgroup:Workgroup",),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _redshift_workgroup(res: Res, ctx: Ctx) -> Iterator[str]:
    p = res.props
    if _true(p.get("publiclyAccessible")):
        yield "publiclyAccessible must be false"
    if p.get("enhancedVpcRouting") is not UNKNOWN and not _true(p.get("enhancedVpcRouting")):
        yield "enhancedVpcRouting must be true"
    params = p.get("configParameters")
    if params is UNKNOWN:
        return
    ssl = [_get(x, "parameterValue") for x in _list(params) if _get(x, "parameterKey") == "require_ssl"]
    if not any(v is UNKNOWN or _true(v) for v in ssl):
        yield 'configParameters must set require_ssl to "true"'


# --- AWS: network ----------------------------------------------------------------------------------

VPC = ("aws:ec2/vpc:Vpc",)


@stack_rule(
    "vpc-flow-logs",
    "Every VPC has a flow log (CKV2_AWS_11, EC2.6).",
    (*VPC, "aws:ec2/flowLog:FlowLog"),
    dev=ADVISORY,
    prod=MANDATORY,
)
def _vpc_flow_logs(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    logs = _of(resources, ("aws:ec2/flowLog:FlowLog",))
    for vpc in _of(resources, VPC):
        if not any(vpc.urn in log.dependencies for log in logs):
            yield vpc.urn, "VPC has no FlowLog"


@stack_rule(
    "vpc-default-sg-closed",
    "Every VPC's default security group is adopted and left with no rules (CKV2_AWS_12, EC2.2).",
    (*VPC, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"),
    dev=ADVISORY,
    prod=MANDATORY,
)
def _vpc_default_sg(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    groups = _of(resources, ("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",))
    for group in groups:
        for direction in ("ingress", "egress"):
            if group.props.get(direction) not in (None, UNKNOWN, []):
                yield group.urn, f"default security group must have no {direction} rules"
    for vpc in _of(resources, VPC):
        if not any(vpc.urn in g.dependencies for g in groups):
            yield vpc.urn, "VPC's default security group is not managed (closed) by a DefaultSecurityGroup"


# --- AWS: tags -------------------------------------------------------------------------------------

# Resources that take tags (pulumi_aws classes with tags_all), for the services this platform uses;
# a test checks every type the program creates against the installed pulumi_aws.
_TAGGABLE = {
    "s3": "AccessPoint Bucket BucketObject BucketObjectv2 BucketV2 DirectoryBucket",
    "eks": "AccessEntry Addon Cluster FargateProfile IdentityProviderConfig NodeGroup PodIdentityAssociation",
    "ec2": "DefaultNetworkAcl DefaultRouteTable DefaultSecurityGroup DefaultVpc DefaultVpcDhcpOptions Eip "
    "EgressOnlyInternetGateway FlowLog Instance InternetGateway KeyPair LaunchTemplate ManagedPrefixList "
    "NatGateway NetworkAcl NetworkInterface RouteTable SecurityGroup Subnet Vpc VpcDhcpOptions VpcEndpoint "
    "VpcEndpointService VpcPeeringConnection",
    "vpc": "SecurityGroupEgressRule SecurityGroupIngressRule",
    "kms": "ExternalKey Key ReplicaExternalKey ReplicaKey",
    "iam": "InstanceProfile OpenIdConnectProvider Policy Role SamlProvider ServerCertificate ServiceLinkedRole User",
    "rds": "Cluster ClusterInstance ClusterParameterGroup Instance OptionGroup ParameterGroup Proxy SubnetGroup",
    "redshiftserverless": "Namespace Workgroup",
    "secretsmanager": "Secret",
    "cloudwatch": "EventBus EventRule LogGroup MetricAlarm",
    "acm": "Certificate",
    "route53": "HealthCheck ResolverEndpoint ResolverRule Zone",
    "lb": "Listener ListenerRule LoadBalancer TargetGroup",
    "ecr": "Repository",
    "sqs": "Queue",
    "sns": "Topic",
    "glue": "CatalogDatabase Connection Crawler Job",
    "athena": "DataCatalog Workgroup",
    "ssm": "Document Parameter",
    "efs": "AccessPoint FileSystem",
}
TAGGABLE_AWS_TYPES = frozenset(
    f"aws:{service}/{cls[0].lower()}{cls[1:]}:{cls}" for service, names in _TAGGABLE.items() for cls in names.split()
)


def _default_tags(provider: Res | None) -> Any:
    if provider is None:
        return None
    value = _tags(provider.props.get("defaultTags"))
    if value is UNKNOWN:
        return UNKNOWN
    return _tags(_get(value, "tags"))


@stack_rule(
    "aws-tags-standard",
    "Every AWS resource uses an explicit aws provider whose default tags carry environment, owner and "
    "cost-center; every taggable resource ends up with those and a domain tag (or domain: platform).",
    ("aws:*", "pulumi:providers:aws"),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _aws_tags(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    providers = {r.urn: r for r in resources if r.type == "pulumi:providers:aws"}
    for provider in providers.values():
        tags = _default_tags(provider)
        if tags is UNKNOWN:
            continue
        tags = tags if isinstance(tags, Mapping) else {}
        missing = [k for k in REQUIRED_TAGS[:3] if not tags.get(k)]
        if missing:
            yield provider.urn, f"defaultTags.tags lacks {', '.join(missing)}"
        env = tags.get("environment")
        if env and env is not UNKNOWN and env != ctx.environment:
            yield provider.urn, f"environment tag {env!r} does not match the stack's environment {ctx.environment!r}"
    for res in resources:
        if not res.type.startswith("aws:"):
            continue
        provider = providers.get(res.provider)
        # The engine names the providers it makes up "default" or "default_<version>".
        if provider is None or re.fullmatch(r"default(_[0-9_]+.*)?", provider.name):
            yield res.urn, "uses a default aws provider; pass the foundation's provider (it carries the default tags)"
            continue
        defaults, own = _default_tags(provider), _tags(res.props.get("tags"))
        if res.type not in TAGGABLE_AWS_TYPES or defaults is UNKNOWN or own is UNKNOWN:
            continue
        effective = {**(defaults or {}), **(own or {})}
        missing = [k for k in REQUIRED_TAGS if not effective.get(k)]
        if missing:
            yield res.urn, f"tags lack {', '.join(missing)}"


@resource_rule(
    "aws-tags-no-empty-override",
    "A resource's own tags never blank out the standard tags (environment, owner, cost-center, domain).",
    ("aws:*",),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _aws_tags_override(res: Res, ctx: Ctx) -> Iterator[str]:
    tags = _tags(res.props.get("tags"))
    if isinstance(tags, Mapping):
        for key in REQUIRED_TAGS:
            if key in tags and tags[key] is not UNKNOWN and not tags[key]:
                yield f"tag {key!r} is set to an empty value"


# --- Kubernetes ------------------------------------------------------------------------------------

NAMESPACE = ("kubernetes:core/v1:Namespace",)
NETWORK_POLICY = ("kubernetes:networking.k8s.io/v1:NetworkPolicy",)
HELM_RELEASE = ("kubernetes:helm.sh/v3:Release",)
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
WORKLOADS = tuple(_POD_SPEC_PATHS)
PSS_LEVELS = ("baseline", "restricted")


def _pod_spec(res: Res) -> Any:
    return _get(res.props, *_POD_SPEC_PATHS[res.type])


def _containers(pod: Any) -> list[Mapping[str, Any]]:
    if not isinstance(pod, Mapping):
        return []
    found = [*_list(pod.get("initContainers")), *_list(pod.get("containers"))]
    return [c for c in found if isinstance(c, Mapping)]


def _namespace_name(ns: Res) -> Any:
    name = _get(ns.props, "metadata", "name")
    return name if name is not None else _get(ns.outputs, "metadata", "name")


def _object_namespace(res: Res) -> Any:
    if res.type in HELM_RELEASE:
        return res.props.get("namespace") or "default"
    return _get(res.props, "metadata", "namespace") or "default"


@resource_rule(
    "k8s-namespace-pss",
    "Namespaces we create carry Pod Security labels: enforce baseline or restricted, warn and audit restricted "
    "(CIS EKS 4.2).",
    NAMESPACE,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _k8s_pss(res: Res, ctx: Ctx) -> Iterator[str]:
    labels = _get(res.props, "metadata", "labels")
    if labels is UNKNOWN:
        return
    labels = labels or {}
    enforce = labels.get("pod-security.kubernetes.io/enforce")
    if enforce is not UNKNOWN and enforce not in PSS_LEVELS:
        yield f"pod-security.kubernetes.io/enforce must be baseline or restricted (is {enforce!r})"
    for mode in ("warn", "audit"):
        value = labels.get(f"pod-security.kubernetes.io/{mode}")
        if value is not UNKNOWN and value != "restricted":
            yield f"pod-security.kubernetes.io/{mode} must be restricted (is {value!r})"


@resource_rule(
    "helm-no-create-namespace",
    "Helm releases install into a namespace the stack created with its guardrails, never one Helm creates.",
    HELM_RELEASE,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _helm_create_namespace(res: Res, ctx: Ctx) -> Iterator[str]:
    if _true(res.props.get("createNamespace")):
        yield "createNamespace must be false (Helm's namespace has no PSS labels, quota or NetworkPolicy)"


def _default_deny(policy: Res) -> bool:
    spec = policy.props.get("spec")
    if spec is UNKNOWN:
        return True
    types = _get(spec, "policyTypes")
    return (
        _get(spec, "podSelector") in ({}, UNKNOWN)
        and (types is UNKNOWN or {"Ingress", "Egress"} <= set(_list(types)))
        and not _get(spec, "ingress")
        and not _get(spec, "egress")
    )


@stack_rule(
    "k8s-default-deny",
    "Every namespace we create has a default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules) "
    "(CKV2_K8S_6, CIS 4.3.2).",
    (*NAMESPACE, *NETWORK_POLICY),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _k8s_default_deny(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    policies = _of(resources, NETWORK_POLICY)
    for ns in _of(resources, NAMESPACE):
        name = _namespace_name(ns)
        if name is UNKNOWN:
            continue
        if name is None:
            yield ns.urn, "namespace has no metadata.name, so its NetworkPolicies cannot be matched"
            continue
        here = [p for p in policies if _object_namespace(p) in (name, UNKNOWN)]
        if not any(_default_deny(p) for p in here):
            yield ns.urn, f"namespace {name} has no default-deny NetworkPolicy"


@stack_rule(
    "k8s-domain-quota",
    f"Every domain namespace (label {DOMAIN_LABEL}) has a ResourceQuota and a LimitRange with container defaults.",
    (*NAMESPACE, "kubernetes:core/v1:ResourceQuota", "kubernetes:core/v1:LimitRange"),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _k8s_domain_quota(resources: Sequence[Res], ctx: Ctx) -> Iterator[tuple[str, str]]:
    quotas = _of(resources, ("kubernetes:core/v1:ResourceQuota",))
    ranges = _of(resources, ("kubernetes:core/v1:LimitRange",))
    for ns in _of(resources, NAMESPACE):
        name = _namespace_name(ns)
        labels = _get(ns.props, "metadata", "labels")
        if name is UNKNOWN or not isinstance(labels, Mapping) or DOMAIN_LABEL not in labels:
            continue
        if not any(_object_namespace(q) in (name, UNKNOWN) and _get(q.props, "spec", "hard") for q in quotas):
            yield ns.urn, f"domain namespace {name} has no ResourceQuota with spec.hard"
        if not any(
            _object_namespace(r) in (name, UNKNOWN)
            and any(
                _get(item, "type") == "Container" and _get(item, "default") and _get(item, "defaultRequest")
                for item in _list(_get(r.props, "spec", "limits"))
            )
            for r in ranges
        ):
            yield ns.urn, f"domain namespace {name} has no LimitRange with Container default and defaultRequest"


@resource_rule(
    "k8s-container-resources",
    "Every container we define sets cpu and memory requests and limits (CKV_K8S_10-13).",
    WORKLOADS,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _k8s_resources(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in _containers(_pod_spec(res)):
        resources = c.get("resources")
        if resources is UNKNOWN:
            continue
        missing = [
            f"{kind}.{r}" for kind in ("requests", "limits") for r in ("cpu", "memory") if not _get(resources, kind, r)
        ]
        if missing:
            yield f"container {c.get('name')!r} lacks resources {', '.join(missing)}"


def _context_value(container: Mapping[str, Any], pod: Mapping[str, Any], *path: str) -> Any:
    value = _get(container, "securityContext", *path)
    return value if value is not None else _get(pod, "securityContext", *path)


@resource_rule(
    "k8s-container-security",
    "Containers we define run as non-root, without privilege escalation, with ALL capabilities dropped and "
    "the RuntimeDefault seccomp profile (CKV_K8S_20/23/28/31/37/40).",
    WORKLOADS,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _k8s_security(res: Res, ctx: Ctx) -> Iterator[str]:
    pod = _pod_spec(res)
    for c in _containers(pod):
        name = c.get("name")
        if c.get("securityContext") is UNKNOWN:
            continue
        non_root = _context_value(c, pod, "runAsNonRoot")
        user = _num(_context_value(c, pod, "runAsUser"))
        if non_root is not UNKNOWN and not _true(non_root) and not (user and user > 0):
            yield f"container {name!r} must set runAsNonRoot: true"
        if _get(c, "securityContext", "allowPrivilegeEscalation") not in (False, UNKNOWN):
            yield f"container {name!r} must set allowPrivilegeEscalation: false"
        if _true(_get(c, "securityContext", "privileged")):
            yield f"container {name!r} must not be privileged"
        drop = _get(c, "securityContext", "capabilities", "drop")
        if drop is not UNKNOWN and "ALL" not in [str(d).upper() for d in _list(drop)]:
            yield f"container {name!r} must drop ALL capabilities"
        seccomp = _context_value(c, pod, "seccompProfile", "type")
        if seccomp not in ("RuntimeDefault", "Localhost", UNKNOWN):
            yield f"container {name!r} must use the RuntimeDefault seccomp profile (is {seccomp!r})"


def _image_problem(image: Any, digest_required: bool) -> str | None:
    if image is UNKNOWN:
        return None
    if not isinstance(image, str) or not image:
        return "has no image"
    if "@sha256:" in image:
        return None
    if digest_required:
        return f"image {image!r} is not pinned by digest"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image!r} uses the latest tag"
    return None


@resource_rule(
    "k8s-image-pinned",
    "Container images carry a fixed tag or digest, never latest or none (CKV_K8S_14).",
    WORKLOADS,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _k8s_image(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in _containers(_pod_spec(res)):
        problem = _image_problem(c.get("image"), digest_required=False)
        if problem:
            yield f"container {c.get('name')!r} {problem}"


@resource_rule(
    "k8s-image-digest",
    "In prod, container images we define are pinned by digest where possible.",
    WORKLOADS,
    dev=DISABLED,
    prod=ADVISORY,
)
def _k8s_digest(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in _containers(_pod_spec(res)):
        problem = _image_problem(c.get("image"), digest_required=True)
        if problem:
            yield f"container {c.get('name')!r} {problem}"


@resource_rule(
    "k8s-rbac-no-wildcards",
    "Roles and ClusterRoles grant no `*` verbs, resources or API groups (CKV_K8S_49/155-158).",
    ("kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _k8s_rbac(res: Res, ctx: Ctx) -> Iterator[str]:
    rules = res.props.get("rules")
    for i, rule in enumerate(_list(rules) if rules is not UNKNOWN else []):
        for field_name in ("verbs", "resources", "apiGroups"):
            if "*" in _list(_get(rule, field_name)):
                yield f"rules[{i}].{field_name} contains *"


@resource_rule(
    "k8s-no-default-service-account",
    "Workloads we define run under their own service account, not `default` (CKV_K8S_38/41).",
    WORKLOADS,
    dev=MANDATORY,
    prod=MANDATORY,
)
def _k8s_service_account(res: Res, ctx: Ctx) -> Iterator[str]:
    pod = _pod_spec(res)
    if pod is UNKNOWN or not isinstance(pod, Mapping):
        return
    account = pod.get("serviceAccountName") or pod.get("serviceAccount")
    if account is not UNKNOWN and account in (None, "", "default"):
        yield "serviceAccountName must name the workload's own service account"


_SENSITIVE_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "token",
    "apikey",
    "secretaccesskey",
    "clientsecret",
    "privatekey",
)


def _sensitive_key(key: str) -> bool:
    normalized = re.sub(r"[^a-z0-9]", "", key.lower())
    if "existing" in normalized:
        return False
    # UPPER_CASE keys are environment variable names: their value is the value itself.
    return normalized.endswith(_SENSITIVE_SUFFIXES) or (key.isupper() and "SECRET" in key)


def _mounted_path(value: Any, mount_paths: Iterable[Any]) -> bool:
    """Is `value` an absolute path at or below one of the mount paths (after resolving `..`)?"""
    if not isinstance(value, str) or not value.startswith("/"):
        return False
    path = posixpath.normpath(value)
    roots = [posixpath.normpath(m) for m in mount_paths if isinstance(m, str) and m.startswith("/")]
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in roots)


def _sensitive_env(name: str, value: Any, mount_paths: Iterable[Any]) -> bool:
    """An env var ending in _FILE whose value is a path under one of the container's volume mounts holds a
    path, not a secret; otherwise the rest of its name decides. The render checks apply the same rule
    (platformctl/rendered_checks.py, env_secret_like)."""
    if name.upper().endswith("_FILE"):
        return not _mounted_path(value, mount_paths) and _sensitive_key(name[: -len("_FILE")])
    return _sensitive_key(name)


def _literal(value: Any) -> bool:
    # "$(VAR)" / "${VAR}" / "{{ template }}" reference a value instead of holding it.
    return isinstance(value, str) and bool(value.strip()) and not value.startswith("$") and "{{" not in value


def _sensitive_literals(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if isinstance(k, str) and _sensitive_key(k) and _literal(v):
                yield sub
            yield from _sensitive_literals(v, sub)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _sensitive_literals(v, f"{path}[{i}]")


@resource_rule(
    "k8s-no-secrets-in-config",
    "Secrets reach pods only through Secret objects: none in Helm values, ConfigMaps, env values or "
    "annotations, not even as secret Outputs; charts take the Secret's name (CKV_K8S_35).",
    ("kubernetes:*",),
    dev=MANDATORY,
    prod=MANDATORY,
)
def _k8s_no_secrets(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.type == "kubernetes:core/v1:Secret":
        return
    for path in sorted(res.secret_paths):
        yield f"{path or 'the resource'} holds a secret Output; pass the Secret's name instead"
    annotations = _get(res.props, "metadata", "annotations")
    for path in _sensitive_literals(annotations, "metadata.annotations"):
        yield f"{path} holds a literal credential"
    if res.type in HELM_RELEASE:
        for path in _sensitive_literals(res.props.get("values"), "values"):
            yield f"{path} holds a literal credential; use the chart's existingSecret-style key"
    elif res.type == "kubernetes:core/v1:ConfigMap":
        for path in _sensitive_literals(res.props.get("data"), "data"):
            yield f"{path} holds a literal credential; ConfigMaps are not secret"
    elif res.type in WORKLOADS:
        for c in _containers(_pod_spec(res)):
            mounts = [_get(m, "mountPath") for m in _list(c.get("volumeMounts"))]
            for env in _list(c.get("env")):
                name, value = _get(env, "name"), _get(env, "value")
                if isinstance(name, str) and _sensitive_env(name, value, mounts) and _literal(value):
                    yield f"container {c.get('name')!r} env {name} holds a literal credential; use valueFrom.secretKeyRef"


# --- data-loss protection --------------------------------------------------------------------------

# Set by the program on the resources a retired domain keeps (components/retirement.py: RETIRED_TAG).
RETIRED_TAG = ("lifecycle", "retired")
STATEFUL = (
    *BUCKETS,
    *KMS_KEY,
    *RDS_INSTANCE,
    "aws:rds/cluster:Cluster",
    "aws:redshiftserverless/namespace:Namespace",
    *EKS_CLUSTER,
)


@resource_rule(
    "stateful-protected",
    "In prod, stateful resources (buckets, KMS keys, RDS, Redshift namespaces, the EKS cluster) are protected "
    "or retained on delete, so removing them from the program never deletes data.",
    STATEFUL,
    dev=DISABLED,
    prod=MANDATORY,
)
def _stateful_protected(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.protect or res.retain_on_delete:
        return
    # A retired domain's data is unprotected and retained (docs/runbooks/offboarding.md). Packs cannot see
    # retainOnDelete (None), so they trust its tag; where it is known (the tests) the option itself counts.
    tags = _tags(res.props.get("tags"))
    if res.retain_on_delete is None and isinstance(tags, dict) and tags.get(RETIRED_TAG[0]) == RETIRED_TAG[1]:
        return
    yield "set protect=True or retain_on_delete=True"


@resource_rule(
    "stateful-no-delete-before-replace",
    "Stateful resources never use delete_before_replace (a replacement would delete the data first).",
    STATEFUL,
    dev=ADVISORY,
    prod=MANDATORY,
)
def _stateful_dbr(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.delete_before_replace:
        yield "delete_before_replace must not be set"
