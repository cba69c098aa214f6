"""Retiring a domain and bringing it back, without losing or colliding with its data.

Design (docs/runbooks/offboarding.md): offboarding is two reviewed pull requests.
1. The domain file gets `retired: true` and `python -m platformctl offboard` writes the record
   `domains/retired/<name>.yaml`. The next update deletes the tools, guardrails, IAM role and
   warehouse workgroup, and keeps the data-bearing resources registered with protect=False and
   retain_on_delete=True (`Keep.retiring`).
2. Deleting the domain file drops those resources from the state; they stay in AWS.
Onboarding a domain that has a record for the stack registers the retained resources with the
`import` option and the recorded IDs (`Keep.adopting`), instead of failing on their names.

This module owns the list of what is retained (`RETAINED_TYPES`), the import-ID rule of each type
(`IMPORT_ID_INPUT`), the `Keep` options the services components apply, and the record model
(`RetiredRecord`, `load_retired_records`), validated like a domain file before any resource exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import pulumi
import yaml
from pydantic import Field, ValidationError

from components.validation import ConfigError, StrictModel, describe_errors

RETIRED_DIR = "retired"
# Tag of every AWS resource a retired domain keeps: the policy pack cannot see retain_on_delete, so the
# stateful-protected rule accepts an unprotected resource that carries it (policy/rules.py, same tag).
RETIRED_TAG = ("lifecycle", "retired")

# The physical name the provider imports each retained type by (pulumi-aws docs, "Import" sections),
# as the program's input that holds it; None: the ID is cloud-assigned (security group `sg-...`).
IMPORT_ID_INPUT: dict[str, str | None] = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:rds/instance:Instance": "identifier",
    "aws:rds/subnetGroup:SubnetGroup": "name",
    "aws:rds/parameterGroup:ParameterGroup": "name",
    "aws:ec2/securityGroup:SecurityGroup": None,
    "aws:redshiftserverless/namespace:Namespace": "namespaceName",
}
# What a retired domain keeps: the imported types, the bucket's settings (so a retained bucket keeps
# its encryption, policy and public-access block), the database's admin password and final-snapshot
# suffix (inputs of the instance), and the warehouse snapshot taken at retirement.
BUCKET_SETTINGS_TYPES = frozenset(
    {
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLogging:BucketLogging",
    }
)
RETAINED_TYPES = frozenset(
    {
        *IMPORT_ID_INPUT,
        *BUCKET_SETTINGS_TYPES,
        "random:index/randomPassword:RandomPassword",
        "random:index/randomId:RandomId",
        "aws:redshiftserverless/snapshot:Snapshot",
    }
)


@dataclass(frozen=True)
class Keep:
    """Options for the resources that outlive a retired domain.

    `retired`: register them unprotected and retained, so deleting the file later only drops them
    from the state. `imports`: (type, logical name) -> ID to adopt (a re-onboarded domain).
    """

    retired: bool = False
    imports: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def opts(self, type_: str, name: str) -> pulumi.ResourceOptions:
        import_id = self.imports.get((type_, name))
        if self.retired:
            return pulumi.ResourceOptions(protect=False, retain_on_delete=True)
        return pulumi.ResourceOptions(import_=import_id) if import_id else pulumi.ResourceOptions()

    @staticmethod
    def retiring() -> Keep:
        return Keep(retired=True)

    @staticmethod
    def adopting(entry: StackRecord | None) -> Keep:
        if entry is None:
            return Keep()
        # Only what would collide by name; settings are re-applied (PUT) and random values drawn anew.
        return Keep(
            imports={(r.type, r.logical_name): r.id for r in entry.resources if r.id and r.type in IMPORT_ID_INPUT}
        )


# ---------------------------------------------------------------- the record


class RetainedResource(StrictModel):
    """One resource a retired domain left in AWS."""

    type: str = Field(min_length=1, description="Pulumi type token, e.g. aws:s3/bucket:Bucket.")
    logical_name: str = Field(min_length=1, description="Its logical name in the program, e.g. sales-bucket.")
    physical_name: str | None = Field(default=None, description="The AWS name (bucket, identifier, ...).")
    id: str | None = Field(default=None, description="The import ID; null when only the cloud knows it.")
    arn: str | None = None


class StackRecord(StrictModel):
    """What one stack kept of the domain."""

    retired_at: str = Field(min_length=1, description="When the record was written (UTC, ISO 8601).")
    source: Literal["state", "offline"] = Field(
        description="state: IDs and ARNs from `pulumi stack export`; offline: computed under mocks."
    )
    account_id: Annotated[str, Field(pattern=r"^\d{12}$")]
    region: str = Field(min_length=1)
    resources: list[RetainedResource] = Field(min_length=1)


class RetiredRecord(StrictModel):
    """`domains/retired/<name>.yaml`, written by `python -m platformctl offboard`."""

    name: str = Field(min_length=1, description="The domain name; the file must be retired/<name>.yaml.")
    stacks: dict[Literal["dev", "prod", "local"], StackRecord] = Field(min_length=1)


def adoptions(
    records: Mapping[str, RetiredRecord], active: Iterable[str], stack: str, folder: str = "domains"
) -> dict[str, StackRecord]:
    """The record entries the active domains of `stack` adopt; ConfigError if one lacks an import ID."""
    out: dict[str, StackRecord] = {}
    problems: list[str] = []
    for name in active:
        entry = records[name].stacks.get(stack) if name in records else None  # type: ignore[call-overload]
        if entry is None:
            continue
        for i, r in enumerate(entry.resources):
            if r.type in IMPORT_ID_INPUT and not r.id:
                problems.append(
                    f"{folder}/{RETIRED_DIR}/{name}.yaml: stacks.{stack}.resources[{i}].id: unknown for "
                    f"{r.logical_name} ({r.type}), so onboarding '{name}' again would collide with it; fill in "
                    "its ID (AWS console or CLI) or re-run offboard with --state"
                )
        out[name] = entry
    if problems:
        raise ConfigError(problems, title="cannot adopt the resources of retired domains")
    return out


def load_retired_records(domains_dir: Path) -> dict[str, RetiredRecord]:
    """Every record in `<domains_dir>/retired/`, validated; a missing folder means none."""
    folder = domains_dir / RETIRED_DIR
    if not folder.is_dir():
        return {}
    records: dict[str, RetiredRecord] = {}
    problems: list[str] = []
    for path in sorted(folder.iterdir()):
        shown = f"{domains_dir.name}/{RETIRED_DIR}/{path.name}"
        if path.suffix != ".yaml" or not path.is_file():
            if not path.name.startswith("."):
                problems.append(f"{shown}: the retired folder holds only <name>.yaml records written by offboard")
            continue
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{shown}: invalid YAML: {exc}")
            continue
        try:
            record = RetiredRecord.model_validate(raw)
        except ValidationError as exc:
            problems += describe_errors(shown, exc, separator=": ")
            continue
        if record.name != path.stem:
            problems.append(f"{shown}: name: '{record.name}' does not match the file name")
            continue
        records[record.name] = record
    if problems:
        raise ConfigError(problems, title="invalid retired-domain records (domains/retired/*.yaml)")
    return records


def dump_record(record: RetiredRecord) -> str:
    header = (
        f"# Written by `python -m platformctl offboard {record.name}`: what the domain left in AWS per stack.\n"
        "# Keep it: onboarding the domain again imports these resources (docs/runbooks/offboarding.md).\n"
    )
    return header + yaml.safe_dump(
        record.model_dump(by_alias=True, exclude_none=True, mode="json"), sort_keys=False, default_flow_style=False
    )
