"""DataLake: the lake's KMS key, its access-log bucket, and the one way to make a lake bucket.

API:

    DataLake(name, environment: str, protection: ProtectionConfig, tags: Mapping[str, str] | None = None,
             opts=None, *, noncurrent_version_days: int = 90, access_log_retention_days: int = 365)
      .kms_key (aws.kms.Key), .kms_key_arn, .kms_key_id (Output[str]), .kms_alias_name (Output[str])
      .log_bucket (AccessLogBucket), .platform_bucket (LakeBucket, purpose "platform")
      .bucket(purpose, *, tags=None, expire_prefixes=None, noncurrent_version_days=None, opts=None) -> LakeBucket
      .bucket_name(purpose) / .bucket_arn(purpose) -> Output[str]  (derived; creates nothing)

    LakeBucket (dataplatform:lake:LakeBucket): .bucket (aws.s3.Bucket), .name, .arn (Output[str]), .purpose

Creates: a KMS key (rotation on, deletion window from `protection`, key policy granting only the
account root, i.e. delegating to IAM, with an explicit action list) and its alias; an access-log
bucket; the platform bucket.

Invariants of every LakeBucket: SSE-KMS with the lake key and bucket key on; versioning Enabled;
all four public-access-block flags; ACLs disabled (BucketOwnerEnforced); a bucket policy denying
any request without TLS; lifecycle rules aborting incomplete multipart uploads after 7 days and
expiring noncurrent versions; server access logs to the log bucket. The log bucket has the same
controls except: SSE-S3, because S3 server access logging does not support SSE-KMS targets; no
logging of its own (it would log into itself); its policy also lets logging.s3.amazonaws.com
PutObject for this account's lake buckets only; objects expire after `access_log_retention_days`.

Names: `dp-<env>-<purpose>-<8 hex of sha256(account/region/stack)>`, at most 63 characters of
[a-z0-9-] (long purposes are cut and get a 4-hex digest of the full purpose, so they stay distinct).
They depend only on the purpose, never on the order in which buckets are created.

Data safety: `force_destroy` is `protection.force_destroy_buckets` (always False in prod). With
`protection.protect_stateful`, the key and every bucket get protect=True and retain_on_delete=True,
and every bucket's settings (policy, encryption, public-access block, ...) are retained too, so a
bucket left behind when a domain is removed keeps its protections.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import ProtectionConfig
from components.retirement import Keep

MAX_BUCKET_NAME = 63
ABORT_MULTIPART_DAYS = 7
PLATFORM_PURPOSE = "platform"
_PURPOSE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_ENVIRONMENT = re.compile(r"[a-z0-9]{1,8}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")

# The account root (i.e. IAM policies of the account) may administer and use the key. Listed instead
# of kms:* so no policy in the stack allows a service-wide wildcard; extend when a new action is needed.
KEY_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)


def name_suffix(account_id: str, region: str, stack: str) -> str:
    """8 hex characters that make names unique per account, region and stack."""
    return hashlib.sha256(f"{account_id}/{region}/{stack}".encode()).hexdigest()[:8]


def bucket_name(environment: str, purpose: str, suffix: str) -> str:
    """`dp-<env>-<purpose>-<suffix>`, cut to a valid S3 bucket name (<= 63 chars, [a-z0-9-])."""
    if not _ENVIRONMENT.fullmatch(environment):
        raise ValueError(f"environment {environment!r} must be 1-8 lowercase letters or digits")
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(
            f"bucket purpose {purpose!r} must be lowercase letters, digits and single hyphens, "
            "starting and ending with a letter or digit"
        )
    head, tail = f"dp-{environment}-", f"-{suffix}"
    room = MAX_BUCKET_NAME - len(head) - len(tail)
    if len(purpose) > room:
        digest = hashlib.sha256(purpose.encode()).hexdigest()[:4]
        purpose = f"{purpose[: room - len(digest) - 1].rstrip('-')}-{digest}"
    name = f"{head}{purpose}{tail}"
    if not _BUCKET.fullmatch(name):
        raise ValueError(f"derived bucket name {name!r} is not a valid S3 bucket name")
    return name


def _tls_only(bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _all_objects(rule_id: str, **actions: Any) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    # An explicit empty filter: the rule applies to every object (provider docs).
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id=rule_id, status="Enabled", filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(), **actions
    )


def _base_rules(noncurrent_version_days: int) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    return [
        _all_objects(
            "abort-incomplete-multipart-uploads",
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=ABORT_MULTIPART_DAYS
            ),
        ),
        _all_objects(
            "expire-noncurrent-versions",
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=noncurrent_version_days
            ),
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
        ),
    ]


def _harden(
    owner: pulumi.Resource,
    name: str,
    bucket: aws.s3.Bucket,
    *,
    encryption: aws.s3.BucketServerSideEncryptionConfigurationRuleArgs,
    policy_statements: Sequence[dict[str, Any]],
    lifecycle_rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgs],
    retain: bool,
) -> None:
    """The controls every bucket of the lake shares, as children of `owner`."""
    opts = pulumi.ResourceOptions(parent=owner, retain_on_delete=retain)
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        aws.s3.BucketOwnershipControlsArgs(
            bucket=bucket.bucket,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        ),
        opts=opts,
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        aws.s3.BucketPublicAccessBlockArgs(
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        ),
        opts=opts,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        aws.s3.BucketServerSideEncryptionConfigurationInitArgs(bucket=bucket.bucket, rules=[encryption]),
        opts=opts,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        aws.s3.BucketVersioningInitArgs(
            bucket=bucket.bucket,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        ),
        opts=opts,
    )
    aws.s3.BucketPolicy(
        f"{name}-policy",
        aws.s3.BucketPolicyArgs(
            bucket=bucket.bucket,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(policy_statements)}),
        ),
        # After the public-access block, so S3 never evaluates the policy on an unblocked bucket.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[public_access])),
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        aws.s3.BucketLifecycleConfigurationArgs(bucket=bucket.bucket, rules=list(lifecycle_rules)),
        # Noncurrent-version rules need versioning in place first.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[versioning])),
    )


def _bucket_opts(owner: pulumi.Resource, protect: bool) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=owner, protect=protect, retain_on_delete=protect)


class AccessLogBucket(pulumi.ComponentResource):
    """The target of every lake bucket's server access logs (SSE-S3, see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        bucket_name: pulumi.Input[str],
        source_account_id: pulumi.Input[str],
        source_bucket_arn_pattern: pulumi.Input[str],
        retention_days: int,
        noncurrent_version_days: int,
        force_destroy: bool,
        protect: bool,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:lake:AccessLogBucket", name, None, opts)
        self.bucket = aws.s3.Bucket(
            name,
            aws.s3.BucketArgs(bucket=bucket_name, force_destroy=force_destroy, tags=dict(tags) if tags else None),
            opts=_bucket_opts(self, protect),
        )
        self.name: pulumi.Output[str] = self.bucket.bucket
        self.arn: pulumi.Output[str] = self.bucket.arn
        log_delivery = {
            "Sid": "AllowS3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
            "Condition": {
                "StringEquals": {"aws:SourceAccount": source_account_id},
                "ArnLike": {"aws:SourceArn": source_bucket_arn_pattern},
            },
        }
        _harden(
            self,
            name,
            self.bucket,
            encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                ),
            ),
            policy_statements=[_tls_only(self.bucket.arn), log_delivery],
            lifecycle_rules=[
                *_base_rules(noncurrent_version_days),
                _all_objects(
                    "expire-access-logs",
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=retention_days),
                ),
            ],
            retain=protect,
        )
        self.register_outputs({"name": self.name, "arn": self.arn})


class LakeBucket(pulumi.ComponentResource):
    """One lake bucket with every SECURITY.md control (see the module docstring). Make it with DataLake.bucket."""

    def __init__(
        self,
        name: str,
        *,
        purpose: str,
        bucket_name: pulumi.Input[str],
        kms_key_arn: pulumi.Input[str],
        log_bucket: pulumi.Input[str],
        noncurrent_version_days: int,
        expire_prefixes: Mapping[str, int] | None,
        force_destroy: bool,
        protect: bool,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        keep: Keep | None = None,
    ) -> None:
        super().__init__("dataplatform:lake:LakeBucket", name, None, opts)
        self.purpose = purpose
        keep = keep or Keep()
        self.bucket = aws.s3.Bucket(
            name,
            aws.s3.BucketArgs(bucket=bucket_name, force_destroy=force_destroy, tags=dict(tags) if tags else None),
            opts=pulumi.ResourceOptions.merge(_bucket_opts(self, protect), keep.opts("aws:s3/bucket:Bucket", name)),
        )
        # A retired domain's bucket keeps its settings too when it leaves the stack.
        retain = protect or keep.retired
        self.name: pulumi.Output[str] = self.bucket.bucket
        self.arn: pulumi.Output[str] = self.bucket.arn
        prefix_rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id=f"expire-{prefix.strip('/').replace('/', '-') or 'all'}",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=prefix),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
            )
            for prefix, days in sorted((expire_prefixes or {}).items())
        ]
        _harden(
            self,
            name,
            self.bucket,
            encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
                ),
                bucket_key_enabled=True,
            ),
            policy_statements=[_tls_only(self.bucket.arn)],
            lifecycle_rules=[*_base_rules(noncurrent_version_days), *prefix_rules],
            retain=retain,
        )
        aws.s3.BucketLogging(
            f"{name}-access-logging",
            aws.s3.BucketLoggingInitArgs(
                bucket=self.bucket.bucket,
                target_bucket=log_bucket,
                target_prefix=f"{purpose}/",
                target_object_key_format=aws.s3.BucketLoggingTargetObjectKeyFormatArgs(
                    partitioned_prefix=aws.s3.BucketLoggingTargetObjectKeyFormatPartitionedPrefixArgs(
                        partition_date_source="EventTime"
                    )
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=retain),
        )
        self.register_outputs({"name": self.name, "arn": self.arn})


class DataLake(pulumi.ComponentResource):
    """The lake's KMS key, access-log bucket and platform bucket; `bucket()` makes every other lake bucket."""

    def __init__(
        self,
        name: str,
        environment: str,
        protection: ProtectionConfig,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        *,
        noncurrent_version_days: int = 90,
        access_log_retention_days: int = 365,
    ) -> None:
        super().__init__("dataplatform:lake:DataLake", name, None, opts)
        if noncurrent_version_days < 1 or access_log_retention_days < 1:
            raise ValueError("noncurrent_version_days and access_log_retention_days must be at least 1")
        bucket_name(environment, PLATFORM_PURPOSE, "0" * 8)  # validates the environment early
        self.environment = environment
        self.protection = protection
        self.tags = dict(tags) if tags else None
        self.noncurrent_version_days = noncurrent_version_days
        self._purposes: set[str] = set()
        protect = protection.protect_stateful

        invoke = pulumi.InvokeOutputOptions(parent=self)
        self.account_id: pulumi.Output[str] = aws.get_caller_identity_output(opts=invoke).account_id
        self.partition: pulumi.Output[str] = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        stack = pulumi.get_stack()
        self._suffix: pulumi.Output[str] = pulumi.Output.all(self.account_id, region).apply(
            lambda a: name_suffix(a[0], a[1], stack)
        )

        key_policy = pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministersAndUsesKeyThroughIam",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": pulumi.Output.format("arn:{0}:iam::{1}:root", self.partition, self.account_id)
                        },
                        "Action": list(KEY_ACTIONS),
                        "Resource": "*",
                    }
                ],
            }
        )
        self.kms_key = aws.kms.Key(
            f"{name}-key",
            aws.kms.KeyArgs(
                description=f"Data lake key ({environment}): S3, RDS, Redshift",
                enable_key_rotation=True,
                deletion_window_in_days=protection.kms_deletion_window_days,
                policy=key_policy,
                tags=self.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        self.kms_key_arn: pulumi.Output[str] = self.kms_key.arn
        self.kms_key_id: pulumi.Output[str] = self.kms_key.key_id
        alias = aws.kms.Alias(
            f"{name}-key",
            aws.kms.AliasArgs(
                name=self._suffix.apply(lambda s: f"alias/dp-{environment}-lake-{s}"),
                target_key_id=self.kms_key.key_id,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.kms_alias_name: pulumi.Output[str] = alias.name

        self.log_bucket = AccessLogBucket(
            f"{name}-access-logs",
            bucket_name=self._name_for("access-logs"),
            source_account_id=self.account_id,
            source_bucket_arn_pattern=pulumi.Output.format("arn:{0}:s3:::dp-{1}-*", self.partition, environment),
            retention_days=access_log_retention_days,
            noncurrent_version_days=noncurrent_version_days,
            force_destroy=protection.force_destroy_buckets,
            protect=protect,
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._purposes.add("access-logs")
        self.platform_bucket = self.bucket(PLATFORM_PURPOSE)
        self.register_outputs(
            {
                "kms_key_arn": self.kms_key_arn,
                "log_bucket": self.log_bucket.name,
                "platform_bucket": self.platform_bucket.name,
            }
        )

    def _name_for(self, purpose: str) -> pulumi.Output[str]:
        bucket_name(self.environment, purpose, "0" * 8)  # fail now, not inside an apply
        return self._suffix.apply(lambda s: bucket_name(self.environment, purpose, s))

    def bucket_name(self, purpose: str) -> pulumi.Output[str]:
        """The name the bucket for `purpose` has (or will have); creates nothing."""
        return self._name_for(purpose)

    def bucket_arn(self, purpose: str) -> pulumi.Output[str]:
        """The ARN the bucket for `purpose` has (or will have); creates nothing."""
        return pulumi.Output.format("arn:{0}:s3:::{1}", self.partition, self._name_for(purpose))

    def bucket(
        self,
        purpose: str,
        *,
        tags: Mapping[str, str] | None = None,
        expire_prefixes: Mapping[str, int] | None = None,
        noncurrent_version_days: int | None = None,
        opts: pulumi.ResourceOptions | None = None,
        keep: Keep | None = None,
    ) -> LakeBucket:
        """A new lake bucket, logical name `<purpose>-bucket`, under `opts.parent` (default: this lake).

        `tags` replace the lake's tags on the bucket; `expire_prefixes` maps a key prefix ("raw/") to
        the days after which its objects expire; `keep` retires or adopts the bucket (components/retirement.py).
        """
        if purpose in self._purposes:
            raise ValueError(f"the lake already has a bucket for purpose {purpose!r}")
        if noncurrent_version_days is not None and noncurrent_version_days < 1:
            raise ValueError(f"noncurrent_version_days must be at least 1 (got {noncurrent_version_days})")
        for prefix, days in (expire_prefixes or {}).items():
            if not prefix or days < 1:
                raise ValueError(f"expire_prefixes needs non-empty prefixes and days >= 1 (got {prefix!r}: {days})")
        name = self._name_for(purpose)
        self._purposes.add(purpose)
        return LakeBucket(
            f"{purpose}-bucket",
            purpose=purpose,
            bucket_name=name,
            kms_key_arn=self.kms_key_arn,
            log_bucket=self.log_bucket.name,
            noncurrent_version_days=self.noncurrent_version_days
            if noncurrent_version_days is None
            else noncurrent_version_days,
            expire_prefixes=expire_prefixes,
            force_destroy=self.protection.force_destroy_buckets,
            protect=self.protection.protect_stateful,
            tags=tags if tags is not None else self.tags,
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self), opts),
            keep=keep,
        )
