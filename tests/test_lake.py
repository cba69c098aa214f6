"""DataLake / LakeBucket under mocks: every bucket carries every SECURITY.md control."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from parliament import iam_definition

from components.aws.lake import KEY_ACTIONS, DataLake, bucket_name, name_suffix
from components.config import ProtectionConfig, StackConfig, parse_stack_config
from platformctl.simulate import ACCOUNT_ID, PlatformMocks
from tests.harness import Program, Resource, run_function, stack_config

BUCKET = "aws:s3/bucket:Bucket"
LAKE_BUCKET = "dataplatform:lake:LakeBucket"
LOG_BUCKET = "dataplatform:lake:AccessLogBucket"
SUB = {
    "encryption": "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "versioning": "aws:s3/bucketVersioning:BucketVersioning",
    "public_access": "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "ownership": "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "policy": "aws:s3/bucketPolicy:BucketPolicy",
    "lifecycle": "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "logging": "aws:s3/bucketLogging:BucketLogging",
}
LONG_PURPOSE = "domain-" + "a-very-long-domain-name" * 3
LONG_PURPOSE_2 = LONG_PURPOSE + "x"


def _config(stack: str) -> StackConfig:
    raw = {k.split(":", 1)[1]: json.loads(v) if v[:1] in "{[" else v for k, v in stack_config(stack).items()}
    return parse_stack_config(raw)


@pytest.fixture(scope="module")
def invokes() -> Iterator[list[Any]]:
    """Records every invoke the mocks answer (token, args, provider)."""
    calls: list[Any] = []
    original = PlatformMocks.call

    def call(self: PlatformMocks, args: Any) -> tuple[dict, list[tuple[str, str]]]:
        calls.append(args)
        return original(self, args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PlatformMocks, "call", call)
        yield calls


def _lake_program(stack: str, protection: ProtectionConfig | None = None, **lake_kwargs: Any) -> Program:
    config = _config(stack)

    def fn() -> None:
        provider = aws.Provider("aws", region=config.region)
        lake = DataLake(
            "lake",
            config.environment,
            protection or config.protection,
            {"domain": "platform"},
            pulumi.ResourceOptions(providers=[provider]),
            **lake_kwargs,
        )
        domain = pulumi.ComponentResource(
            "test:index:Domain", "sales", None, pulumi.ResourceOptions(providers=[provider])
        )
        sales = lake.bucket(
            "domain-sales",
            tags={"domain": "sales"},
            expire_prefixes={"raw/": 30},
            opts=pulumi.ResourceOptions(parent=domain),
        )
        lake.bucket(LONG_PURPOSE)
        lake.bucket(LONG_PURPOSE_2)
        pulumi.export("sales_arn", sales.arn)
        pulumi.export("derived_sales_arn", lake.bucket_arn("domain-sales"))

    return run_function(fn, stack)


@pytest.fixture(scope="module")
def dev(invokes: list[Any]) -> Program:
    return _lake_program("dev")


@pytest.fixture(scope="module")
def prod(invokes: list[Any]) -> Program:
    return _lake_program("prod")


def _parent_of(program: Program, r: Resource) -> Resource:
    return program.by_urn(r.parent)


def _subresources(program: Program, bucket: Resource) -> dict[str, list[Resource]]:
    name = bucket.inputs["bucket"]
    return {key: [r for r in program.of_type(typ) if r.inputs.get("bucket") == name] for key, typ in SUB.items()}


def _lake_buckets(program: Program) -> list[Resource]:
    return [b for b in program.of_type(BUCKET) if _parent_of(program, b).type == LAKE_BUCKET]


def _log_bucket(program: Program) -> Resource:
    (bucket,) = [b for b in program.of_type(BUCKET) if _parent_of(program, b).type == LOG_BUCKET]
    return bucket


def _statements(policy: Resource) -> list[dict[str, Any]]:
    return json.loads(policy.inputs["policy"])["Statement"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_lake_bucket_is_kms_encrypted_with_the_lake_key_and_bucket_key(stack: str, request) -> None:
    program: Program = request.getfixturevalue(stack)
    key_arn = program.one("aws:kms/key:Key").outputs["arn"]
    buckets = _lake_buckets(program)
    assert len(buckets) == 4  # platform, sales, two long purposes
    for bucket in buckets:
        (sse,) = _subresources(program, bucket)["encryption"]
        (rule,) = sse.inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
        assert rule["bucketKeyEnabled"] is True


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_bucket_blocks_public_access_disables_acls_versions_and_denies_plain_http(stack: str, request) -> None:
    program: Program = request.getfixturevalue(stack)
    for bucket in [*_lake_buckets(program), _log_bucket(program)]:
        subs = _subresources(program, bucket)
        (pab,) = subs["public_access"]
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert pab.inputs[flag] is True, (bucket.name, flag)
        (ownership,) = subs["ownership"]
        assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        (versioning,) = subs["versioning"]
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
        (policy,) = subs["policy"]
        arn = bucket.outputs["arn"]
        tls = [
            s
            for s in _statements(policy)
            if s["Effect"] == "Deny"
            and s["Principal"] == "*"
            and s["Action"] == "s3:*"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert len(tls) == 1 and sorted(tls[0]["Resource"]) == sorted([arn, f"{arn}/*"])
        assert not [s for s in _statements(policy) if s["Effect"] == "Allow" and s.get("Principal") == "*"]


def _rule_with(lifecycle: Resource, action: str) -> dict[str, Any]:
    (rule,) = [r for r in lifecycle.inputs["rules"] if action in r]
    assert rule["status"] == "Enabled"
    return rule


def test_lifecycle_aborts_multipart_uploads_and_expires_noncurrent_versions(dev: Program) -> None:
    for bucket in [*_lake_buckets(dev), _log_bucket(dev)]:
        (lifecycle,) = _subresources(dev, bucket)["lifecycle"]
        abort = _rule_with(lifecycle, "abortIncompleteMultipartUpload")
        assert abort["filter"] == {} and abort["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7
        noncurrent = _rule_with(lifecycle, "noncurrentVersionExpiration")
        assert noncurrent["filter"] == {} and noncurrent["noncurrentVersionExpiration"]["noncurrentDays"] == 90


def test_noncurrent_days_and_prefix_expiry_are_configurable(invokes: list[Any]) -> None:
    program = _lake_program("dev", noncurrent_version_days=30, access_log_retention_days=400)
    for bucket in _lake_buckets(program):
        (lifecycle,) = _subresources(program, bucket)["lifecycle"]
        assert (
            _rule_with(lifecycle, "noncurrentVersionExpiration")["noncurrentVersionExpiration"]["noncurrentDays"] == 30
        )
    (log_lifecycle,) = _subresources(program, _log_bucket(program))["lifecycle"]
    assert {
        "id": "expire-access-logs",
        "filter": {},
        "status": "Enabled",
        "expiration": {"days": 400},
    } in log_lifecycle.inputs["rules"]
    (sales,) = [b for b in _lake_buckets(program) if b.name == "domain-sales-bucket"]
    (lifecycle,) = _subresources(program, sales)["lifecycle"]
    assert {
        "id": "expire-raw",
        "filter": {"prefix": "raw/"},
        "status": "Enabled",
        "expiration": {"days": 30},
    } in lifecycle.inputs["rules"]


def test_every_lake_bucket_logs_to_the_log_bucket_and_the_log_bucket_fits_s3_logging(dev: Program) -> None:
    log_bucket = _log_bucket(dev)
    for bucket in _lake_buckets(dev):
        (logging,) = _subresources(dev, bucket)["logging"]
        assert logging.inputs["targetBucket"] == log_bucket.inputs["bucket"]
        assert logging.inputs["targetPrefix"].endswith("/")
    subs = _subresources(dev, log_bucket)
    assert subs["logging"] == []  # never into itself
    (sse,) = subs["encryption"]
    # S3 server access logging supports only SSE-S3 on the target bucket.
    assert sse.inputs["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    (delivery,) = [s for s in _statements(subs["policy"][0]) if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == f"{log_bucket.outputs['arn']}/*"
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    source = re.compile(delivery["Condition"]["ArnLike"]["aws:SourceArn"].replace("*", ".*"))
    assert all(source.fullmatch(b.outputs["arn"]) for b in _lake_buckets(dev))


def test_bucket_names_are_valid_deterministic_and_distinct(dev: Program, prod: Program) -> None:
    for program in (dev, prod):
        names = [b.inputs["bucket"] for b in program.of_type(BUCKET)]
        assert len(set(names)) == len(names)
        for name in names:
            assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name), name
    suffix = name_suffix(ACCOUNT_ID, "eu-west-1", "dev")
    assert "dp-dev-domain-sales-" + suffix in [b.inputs["bucket"] for b in dev.of_type(BUCKET)]
    assert dev.exports["sales_arn"] == dev.exports["derived_sales_arn"]


@pytest.mark.parametrize("purpose", ["p", "domain-sales", LONG_PURPOSE, "a" * 200, "x-" * 40 + "y"])
@pytest.mark.parametrize("environment", ["dev", "prod", "sandbox1"])
def test_bucket_name_bound_and_charset(environment: str, purpose: str) -> None:
    name = bucket_name(environment, purpose, "0123abcd")
    assert 3 <= len(name) <= 63
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", name) and "--" not in name
    assert name.startswith(f"dp-{environment}-") and name.endswith("-0123abcd")


def test_long_purposes_stay_distinct_and_short_ones_stay_readable() -> None:
    assert bucket_name("prod", LONG_PURPOSE, "0123abcd") != bucket_name("prod", LONG_PURPOSE_2, "0123abcd")
    assert bucket_name("prod", "domain-sales", "0123abcd") == "dp-prod-domain-sales-0123abcd"
    assert name_suffix("111111111111", "eu-west-1", "dev") != name_suffix("222222222222", "eu-west-1", "dev")
    assert name_suffix(ACCOUNT_ID, "eu-west-1", "dev") != name_suffix(ACCOUNT_ID, "eu-west-1", "dev2")


@pytest.mark.parametrize("purpose", ["", "Sales", "sales_raw", "-sales", "sales-", "a.b", "sales--raw"])
def test_bad_purposes_are_refused(purpose: str) -> None:
    with pytest.raises(ValueError, match="purpose"):
        bucket_name("dev", purpose, "0123abcd")


def test_prod_protects_and_retains_the_key_and_every_bucket_with_its_settings(prod: Program) -> None:
    key = prod.one("aws:kms/key:Key")
    assert key.protect and key.retain_on_delete
    for bucket in prod.of_type(BUCKET):
        assert bucket.protect and bucket.retain_on_delete, bucket.name
        assert bucket.inputs["forceDestroy"] is False
        for subs in _subresources(prod, bucket).values():
            assert all(s.retain_on_delete for s in subs)


def test_dev_neither_protects_nor_retains_and_may_force_destroy(dev: Program) -> None:
    for r in dev.resources:
        assert not r.protect and not r.retain_on_delete, r.name
    assert all(b.inputs["forceDestroy"] is True for b in dev.of_type(BUCKET))  # Pulumi.dev.yaml allows it


def test_kms_key_rotates_and_its_policy_has_no_wildcards(dev: Program, prod: Program) -> None:
    known = {f"kms:{p['privilege']}" for s in iam_definition if s["prefix"] == "kms" for p in s["privileges"]}
    for program, window in ((dev, 7), (prod, 30)):
        key = program.one("aws:kms/key:Key")
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["deletionWindowInDays"] == window
        for statement in json.loads(key.inputs["policy"])["Statement"]:
            assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
            actions = statement["Action"]
            assert not [a for a in actions if "*" in a]
            assert set(actions) <= known, set(actions) - known
    assert set(KEY_ACTIONS) <= known
    alias = dev.one("aws:kms/alias:Alias")
    assert re.fullmatch(r"alias/dp-dev-lake-[0-9a-f]{8}", alias.inputs["name"])


def test_tags_provider_and_parent(invokes: list[Any]) -> None:
    invokes.clear()
    dev = _lake_program("dev")
    by_name = {b.name: b for b in dev.of_type(BUCKET)}
    assert by_name["domain-sales-bucket"].inputs["tags"] == {"domain": "sales"}
    assert by_name["platform-bucket"].inputs["tags"] == {"domain": "platform"}
    assert dev.one("aws:kms/key:Key").inputs["tags"] == {"domain": "platform"}
    # A caller's parent is kept (a domain owns its bucket), and everything uses the explicit provider.
    assert _parent_of(dev, _parent_of(dev, by_name["domain-sales-bucket"])).type == "test:index:Domain"
    provider = dev.one("pulumi:providers:aws").urn
    for r in dev.resources:
        if r.type.startswith("aws:"):
            assert r.provider_urn == provider, r.name
    assert invokes and all(c.provider.startswith(provider) for c in invokes)


def test_duplicate_purpose_and_bad_arguments_are_refused(invokes: list[Any]) -> None:
    config = _config("dev")

    def duplicate() -> None:
        lake = DataLake("lake", "dev", config.protection)
        lake.bucket("platform")

    with pytest.raises(ValueError, match="already has a bucket"):
        run_function(duplicate, "dev")

    def bad_prefix() -> None:
        DataLake("lake", "dev", config.protection).bucket("x", expire_prefixes={"raw/": 0})

    with pytest.raises(ValueError, match="expire_prefixes"):
        run_function(bad_prefix, "dev")
