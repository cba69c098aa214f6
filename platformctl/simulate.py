"""Run the Pulumi program under mocks and collect every registered resource as plain data.

No Pulumi CLI, cloud account or cluster is needed. The recording monitor sees each
RegisterResource request exactly as the engine would, so the collected records carry inputs
(secret values wrapped in `Secret`) and options (protect, retain_on_delete, parent, provider, ...).
Tests, the offline plan and the validators all consume these records.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import os
import runpy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks, rpc
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "dataplatform"
SCOPE_KEY = f"{PROJECT}:scope"
ACCOUNT_ID = "123456789012"
DOMAINS_DIR_ENV = "DATAPLATFORM_DOMAINS_DIR"


@dataclass(frozen=True)
class Secret:
    """A value the program marked secret. Its repr never shows the value."""

    value: Any

    def __repr__(self) -> str:
        return "Secret(***)"


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    custom: bool
    inputs: dict[str, Any]
    parent: str
    provider: str
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    aliases: list[str]
    depends_on: list[str]
    outputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    import_id: str = ""  # the `import` option: adopt an existing cloud resource by this ID

    @property
    def provider_urn(self) -> str:
        """The URN of the provider that manages this resource ("" for components)."""
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


@dataclass
class Program:
    stack: str
    preview: bool
    resources: list[Resource]
    exports: dict[str, Any]
    account_id: str = ACCOUNT_ID  # the account the mocks answered with
    region: str = "eu-west-1"

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_)]
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise LookupError(urn)

    def descendants(self, urn: str) -> list[Resource]:
        """Every resource below `urn` in the parent tree."""
        children: dict[str, list[Resource]] = {}
        for r in self.resources:
            children.setdefault(r.parent, []).append(r)
        out: list[Resource] = []
        stack = [urn]
        while stack:
            for child in children.get(stack.pop(), []):
                out.append(child)
                stack.append(child.urn)
        return out


def _unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return Secret(_unwrap(rpc.unwrap_rpc_secret(value)))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, pulumi.Resource):
        return f"<resource {type(value).__name__}>"
    return value


def _to_rpc(value: Any) -> Any:
    """`_unwrap`'s inverse: recorded values (Secret-wrapped) as the engine would send them."""
    if isinstance(value, Secret):
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": _to_rpc(value.value)}
    if isinstance(value, dict):
        return {k: _to_rpc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_rpc(v) for v in value]
    return value


# Pulumi module names that differ from the ARN's service namespace.
_ARN_SERVICE = {"redshiftserverless": "redshift-serverless"}


def _fake_arn(type_: str, name: str, region: str, account_id: str = ACCOUNT_ID) -> str:
    module = type_.split(":")[1].split("/")[0]
    service = _ARN_SERVICE.get(module, module)
    if service == "iam":
        return f"arn:aws:iam::{account_id}:{type_.rsplit(':', 1)[1].lower()}/{name}"
    return f"arn:aws:{service}:{region}:{account_id}:{type_.rsplit(':', 1)[1].lower()}/{name}"


class PlatformMocks(mocks.Mocks):
    """Answers resource registrations and invokes with plausible, deterministic values.

    In preview mode computed outputs are left out, so they stay unknown, as for a brand-new stack.
    `random_seed` stands for one lifetime of the stack's random resources: the random provider draws
    new bytes whenever it creates one, so a different seed models "deleted and created again".
    """

    def __init__(
        self,
        preview: bool,
        region: str = "eu-west-1",
        account_id: str = ACCOUNT_ID,
        random_seed: str = "",
        stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.preview = preview
        self.region = region
        self.account_id = account_id
        self.random_seed = random_seed
        # Outputs of other stacks, by stack name, for StackReferences (a domain stack reads its environment's).
        self.stack_outputs = stack_outputs or {}

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
                "names": [f"{self.region}{s}" for s in "abcdef"],
                "zoneIds": [f"euw1-az{i}" for i in range(1, 7)],
            }, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:user/ci",
                "userId": "AIDAEXAMPLE",
            }, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, []
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region}, []
        if token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            return {"arn": args.args.get("secretId"), "secretString": "mock-oidc-client-secret"}, []
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": json.dumps({"Version": "2012-10-17", "Statement": []})}, []
        return {}, []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ == "pulumi:pulumi:StackReference":
            # Read, not registered: answered in preview too, as the engine reads a deployed stack's outputs.
            name = str(args.inputs.get("name", ""))
            outputs = self.stack_outputs.get(name.rsplit("/", 1)[-1], {})
            return name, {"name": name, "outputs": _to_rpc(dict(outputs)), "secretOutputNames": []}
        digest = hashlib.sha1(f"{args.typ}/{args.name}".encode()).hexdigest()[:8]
        rid = f"{args.name}-{digest}"
        if not args.custom:
            return rid, {}
        outputs = dict(args.inputs)
        if self.preview:
            return None, outputs
        typ = args.typ
        outputs.setdefault("arn", _fake_arn(typ, args.name, self.region, self.account_id))
        outputs.setdefault("name", args.inputs.get("name", rid))
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            outputs["arn"] = f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{args.inputs.get('name', rid)}"
        elif typ == "aws:eks/cluster:Cluster":
            outputs.update(
                endpoint=f"https://{digest.upper()}.gr7.{self.region}.eks.amazonaws.com",
                certificateAuthority={"data": "LS0tLS1CRUdJTi1DRVJUSUZJQ0FURS0tLS0t"},
                identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/{digest}"}]}],
                vpcConfig={**args.inputs.get("vpcConfig", {}), "clusterSecurityGroupId": f"sg-{digest}"},
            )
        elif typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            outputs["bucket"] = args.inputs.get("bucket", rid)
            outputs["arn"] = f"arn:aws:s3:::{outputs['bucket']}"
            outputs["bucketRegionalDomainName"] = f"{outputs['bucket']}.s3.{self.region}.amazonaws.com"
        elif typ == "aws:kms/key:Key":
            outputs["keyId"] = digest
            outputs["arn"] = f"arn:aws:kms:{self.region}:{self.account_id}:key/{digest}-0000-4000-8000-000000000000"
        elif typ == "aws:rds/instance:Instance":
            outputs.update(
                address=f"{rid}.abc.{self.region}.rds.amazonaws.com",
                port=5432,
                endpoint=f"{rid}.abc.{self.region}.rds.amazonaws.com:5432",
                masterUserSecrets=[
                    {"secretArn": f"arn:aws:secretsmanager:{self.region}:{self.account_id}:secret:rds!{digest}"}
                ],
            )
        elif typ == "aws:redshiftserverless/workgroup:Workgroup":
            host = f"{args.inputs.get('workgroupName', rid)}.{self.account_id}.{self.region}.redshift-serverless.amazonaws.com"
            outputs.update(endpoints=[{"address": host, "port": 5439}])
        elif typ == "aws:redshiftserverless/namespace:Namespace":
            outputs.update(
                adminPasswordSecretArn=f"arn:aws:secretsmanager:{self.region}:{self.account_id}:secret:redshift!{digest}"
            )
        elif typ == "aws:ec2/vpc:Vpc":
            outputs.update(defaultSecurityGroupId=f"sg-{digest}", mainRouteTableId=f"rtb-{digest}")
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            outputs["latestVersion"] = 1
        elif typ == "random:index/randomId:RandomId":
            drawn = hashlib.sha1(f"{self.random_seed}/{args.name}".encode()).hexdigest()
            outputs["hex"] = drawn[: 2 * int(args.inputs.get("byteLength", 4))]
            outputs["dec"] = str(int(outputs["hex"], 16))
        elif typ.startswith("random:"):
            outputs.setdefault("result", f"mock-{digest}")
            if typ == "random:index/randomPassword:RandomPassword":
                outputs.setdefault("bcryptHash", f"$2a$10$mock{digest}")
        return rid, outputs


class RecordingMonitor(mocks.MockMonitor):
    """The mock monitor, plus a plain-data record of every registration and its options."""

    def __init__(self, mocks_: mocks.Mocks) -> None:
        super().__init__(mocks_)
        self.records: list[Resource] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = _unwrap(rpc.deserialize_properties(request.object))
        outputs = _unwrap(rpc.deserialize_properties(response.object)) if response.object else {}
        self.records.append(
            Resource(
                type=request.type,
                name=request.name,
                urn=response.urn,
                custom=bool(request.custom),
                inputs=inputs,
                parent=request.parent,
                provider=request.provider,
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                ignore_changes=list(request.ignoreChanges),
                aliases=[a.urn or _alias_spec(a.spec) for a in request.aliases],
                depends_on=list(request.dependencies),
                outputs=outputs,
                id=response.id,
                import_id=request.importId,
            )
        )
        return response


def stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """A stack file's config as the Pulumi CLI hands it to the program: structured values as JSON.

    Without `dataplatform:scope`: the offline tools (plan, cost, diff, render, scan, smoke, offboard)
    see a split environment whole, as one program, since a domain's resources are the same in its own
    stack (tests/test_split.py)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}")
    return dict(_config_of(path.read_text()))


@functools.lru_cache(maxsize=64)
def _config_of(text: str) -> dict[str, str]:
    """A stack file's text as config (parsed once per text: tests and validators ask for it often)."""
    doc = yaml.safe_load(text) or {}
    out: dict[str, str] = {}
    for key, value in (doc.get("config") or {}).items():
        if key == SCOPE_KEY:
            continue
        if isinstance(value, (dict, list)):
            out[key] = json.dumps(value)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


@contextlib.contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    old = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _alias_spec(spec: Any) -> str:
    """An alias given by its parts, e.g. `parentUrn=urn:...` (empty parts: the resource's own)."""
    fields = ("name", "type", "stack", "project", "parentUrn", "noParent")
    return ",".join(f"{f}={getattr(spec, f)}" for f in fields if getattr(spec, f, None))


def run_program(
    stack: str,
    *,
    domains_dir: Path | None = None,
    preview: bool = False,
    config: Mapping[str, Any] | None = None,
    project_dir: Path = PROJECT_DIR,
    account_id: str = ACCOUNT_ID,
    random_seed: str = "",
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Program:
    """Run `__main__.py` for `stack` under mocks and return every registered resource.

    `config` replaces the stack file's config when given (keys like "dataplatform:network");
    structured values may be given as Python objects. Errors the program raises (for example a
    ConfigError for bad input) propagate unchanged.
    """

    def program() -> None:
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    with _env(DOMAINS_DIR_ENV, str(domains_dir) if domains_dir else None):
        return run_function(
            program,
            stack,
            preview=preview,
            config=config,
            project_dir=project_dir,
            account_id=account_id,
            random_seed=random_seed,
            stack_outputs=stack_outputs,
        )


@contextlib.contextmanager
def _without_source_positions() -> Iterator[None]:
    """Skip the SDK's capture of a stack trace for every resource (source positions for the engine's
    diagnostics): nothing under mocks reads them and the capture is about a tenth of a run. Restored
    afterwards, so a program the engine runs is never affected."""
    capture = sdk_resource._get_stack_trace
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = capture


# The SDK allocates hundreds of thousands of short-lived objects per run (Outputs, futures, tasks): at
# CPython's default threshold (700 allocations) the cyclic collector runs thousands of times and takes a
# quarter of a run. Young garbage is still collected, in larger batches.
GC_YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def _collecting_young_garbage_in_batches() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], GC_YOUNG_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def run_function(
    fn: Callable[[], Any],
    stack: str = "dev",
    *,
    preview: bool = False,
    config: Mapping[str, Any] | None = None,
    project_dir: Path = PROJECT_DIR,
    account_id: str = ACCOUNT_ID,
    random_seed: str = "",
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Program:
    """Run `fn` (for example, one component built by a unit test) under mocks with `stack`'s config.

    `stack_outputs` answers StackReferences: {stack name: its outputs}."""
    raw = (
        stack_config(stack, project_dir)
        if config is None
        else {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    )
    region = raw.get(f"{PROJECT}:region", "eu-west-1")

    runtime_settings.reset_options()
    set_all_config(dict(raw), [])
    monitor = RecordingMonitor(
        PlatformMocks(
            preview=preview,
            region=region,
            account_id=account_id,
            random_seed=random_seed,
            stack_outputs=stack_outputs,
        )
    )
    mocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    root = runtime_settings.get_root_resource()
    with _without_source_positions(), _collecting_young_garbage_in_batches():
        _sync_await(run_pulumi_func(fn))

    exports: dict[str, Any] = {}
    if isinstance(root, pulumi.ComponentResource):
        for key, out in getattr(root, "outputs", {}).items():
            exports[key] = _resolve_export(out)
    return Program(
        stack=stack, preview=preview, resources=monitor.records, exports=exports, account_id=account_id, region=region
    )


def _resolve_export(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        is_secret = _sync_await(value.is_secret())
        known = _sync_await(value.is_known())
        inner = _sync_await(value.future()) if known else "<unknown>"
        inner = _resolve_export(inner)
        return Secret(inner) if is_secret else inner
    if isinstance(value, dict):
        return {k: _resolve_export(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_export(v) for v in value]
    return value
