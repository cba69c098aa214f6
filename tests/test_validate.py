"""Static validators: IAM documents (parliament + project rules), Kubernetes manifests, Helm values."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from platformctl.validate import (
    SECRET_PLACEHOLDER,
    cluster_version,
    helm_release_errors,
    helm_releases,
    iam_documents,
    iam_findings,
    k8s_errors,
    k8s_manifests,
    schema_check,
)
from tests.harness import Program, Resource, Secret

ACCOUNT = "123456789012"
BUCKET = "arn:aws:s3:::dp-dev-sales-1a2b3c4d"


def record(type_: str, name: str, inputs: dict[str, Any], *, custom: bool = True) -> Resource:
    """A resource record as the mocks harness produces it."""
    return Resource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:dev::dataplatform::{type_}::{name}",
        custom=custom,
        inputs=inputs,
        parent="",
        provider="",
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        ignore_changes=[],
        aliases=[],
        depends_on=[],
    )


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


GOOD_IDENTITY = policy(
    {"Sid": "Objects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"{BUCKET}/*"},
    {"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET},
)
GOOD_TRUST = policy(
    {
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }
)
GOOD_BUCKET_POLICY = policy(
    {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [BUCKET, f"{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
)
GOOD_KEY_POLICY = policy(
    {
        "Sid": "Root",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
)


@pytest.mark.parametrize(
    ("doc", "kind"),
    [
        (GOOD_IDENTITY, "identity"),
        (GOOD_TRUST, "trust"),
        (GOOD_BUCKET_POLICY, "resource"),
        (GOOD_KEY_POLICY, "resource"),
    ],
    ids=["identity", "pod-identity-trust", "tls-only-bucket-policy", "key-policy-root"],
)
def test_good_documents_have_no_findings(doc: dict[str, Any], kind: Any) -> None:
    assert iam_findings(doc, kind) == []


@pytest.mark.parametrize(
    ("statement", "issue"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, "WILDCARD_ACTION_ON_ALL_RESOURCES"),
        ({"Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": "*"}, "WILDCARD_ACTION_ON_ALL_RESOURCES"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NOTACTION_ON_ALL_RESOURCES"),
        ({"Effect": "Allow", "Action": "s3GetObject", "Resource": f"{BUCKET}/*"}, "EXCEPTION"),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET}, "RESOURCE_MISMATCH"),
        ({"Effect": "Allow", "Action": "s3:GetObject"}, "MALFORMED"),
    ],
    ids=[
        "star-on-star",
        "service-star-on-star",
        "notaction-on-star",
        "malformed-action",
        "wrong-arn",
        "no-resource",
    ],
)
def test_bad_identity_documents_are_caught(statement: dict[str, Any], issue: str) -> None:
    issues = {f.issue for f in iam_findings(policy(statement), "identity")}
    assert issue in issues


def test_documented_condition_key_missing_from_parliament_data_is_not_a_finding() -> None:
    def add_tags(condition_key: str) -> dict[str, Any]:
        return policy(
            {
                "Effect": "Allow",
                "Action": "elasticloadbalancing:AddTags",
                "Resource": "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
                "Condition": {"StringEquals": {condition_key: ["CreateTargetGroup", "CreateLoadBalancer"]}},
            }
        )

    assert iam_findings(add_tags("elasticloadbalancing:CreateAction"), "identity") == []
    assert [f.issue for f in iam_findings(add_tags("elasticloadbalancing:CreateActionn"), "identity")] == [
        "UNKNOWN_CONDITION_FOR_ACTION"
    ]


def test_parliament_alone_misses_star_on_star_so_the_project_rule_reports_it() -> None:
    findings = iam_findings(policy({"Effect": "Allow", "Action": "*", "Resource": "*"}), "identity")
    assert {(f.source, f.severity) for f in findings} == {("project", "HIGH")}


@pytest.mark.parametrize(
    "principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::123456789012:root", "*"]}], ids=["bare", "aws", "list"]
)
def test_star_principal_is_caught_in_resource_and_trust_policies(principal: Any) -> None:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"}
    assert "STAR_PRINCIPAL" in {f.issue for f in iam_findings(policy(statement), "resource")}
    trust = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    assert "STAR_PRINCIPAL" in {f.issue for f in iam_findings(policy(trust), "trust")}


def test_trust_policy_is_not_called_malformed_for_lacking_a_resource() -> None:
    # Parliament alone reports MALFORMED (HIGH) for every trust policy; see iam_findings.
    assert iam_findings(GOOD_TRUST, "trust") == []
    assert "MALFORMED" in {f.issue for f in iam_findings(GOOD_TRUST, "identity")}


def test_invalid_json_is_a_finding() -> None:
    assert [f.issue for f in iam_findings('{"Version": "2012-10-17", "Statement": [', "identity")] == ["MALFORMED_JSON"]


def test_iam_documents_finds_every_policy_input_and_its_kind() -> None:
    program = Program(
        "dev",
        False,
        [
            record(
                "aws:iam/role:Role",
                "sales-role",
                {
                    "assumeRolePolicy": json.dumps(GOOD_TRUST),
                    "inlinePolicies": [{"name": "inline", "policy": json.dumps(GOOD_IDENTITY)}],
                },
            ),
            record("aws:iam/rolePolicy:RolePolicy", "sales-role-policy", {"policy": Secret(json.dumps(GOOD_IDENTITY))}),
            record("aws:iam/policy:Policy", "sales-policy", {"policy": GOOD_IDENTITY}),
            record(
                "aws:s3/bucketPolicy:BucketPolicy", "sales-bucket-policy", {"policy": json.dumps(GOOD_BUCKET_POLICY)}
            ),
            record("aws:kms/key:Key", "lake-key", {"policy": json.dumps(GOOD_KEY_POLICY)}),
            record("aws:iam/policy:Policy", "broken", {"policy": "{not json"}),
            record("aws:s3/bucket:Bucket", "no-policy", {"bucket": "x"}),
        ],
        {},
    )
    found = {d.label: (d.kind, d.doc) for d in iam_documents(program)}
    assert found == {
        "aws:iam/role:Role sales-role assumeRolePolicy": ("trust", GOOD_TRUST),
        "aws:iam/role:Role sales-role inlinePolicies[0]": ("identity", GOOD_IDENTITY),
        "aws:iam/rolePolicy:RolePolicy sales-role-policy policy": ("identity", GOOD_IDENTITY),
        "aws:iam/policy:Policy sales-policy policy": ("identity", GOOD_IDENTITY),
        "aws:s3/bucketPolicy:BucketPolicy sales-bucket-policy policy": ("resource", GOOD_BUCKET_POLICY),
        "aws:kms/key:Key lake-key policy": ("resource", GOOD_KEY_POLICY),
        "aws:iam/policy:Policy broken policy": ("identity", "{not json"),
    }


# ---- Kubernetes ---------------------------------------------------------------------------------

GOOD_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "sales"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27.3", "ports": [{"containerPort": 8080}]}]},
        },
    },
}


def test_good_manifests_pass_strict_validation() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    assert k8s_errors(GOOD_DEPLOYMENT, "1.35") == []
    assert k8s_errors(config_map, "1.35") == []


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        (["spec", "replicas"], "two", "spec.replicas: 'two' is not of type"),
        (["spec", "template", "spec", "containers", 0, "imagePullPolicy2"], "Always", "Additional properties"),
        (["spec", "strategy", "rollingUpdate"], {"maxSurge": 1, "maxSurgee": 2}, "Additional properties"),
        (["spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"], "http", "is not of type"),
        (["apiVersion"], "apps/v1beta1", "wrong kind or a removed apiVersion"),
    ],
    ids=["wrong-type", "unknown-field", "unknown-nested-field", "wrong-port-type", "removed-api"],
)
def test_bad_manifests_fail_strict_validation(path: list[Any], value: Any, error: str) -> None:
    bad = json.loads(json.dumps(GOOD_DEPLOYMENT))
    node = bad
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    node[path[-1]] = value
    errors = k8s_errors(bad, "1.35")
    assert errors
    assert error in errors[0]


def test_schema_files_are_parsed_once_and_still_catch_errors() -> None:
    bad = json.loads(json.dumps(GOOD_DEPLOYMENT))
    bad["spec"]["replicas"] = "three"
    loads = kubernetes_validate.utils.schema_contents
    assert k8s_errors(GOOD_DEPLOYMENT, "1.35") == []
    before = loads.cache_info().misses  # type: ignore[attr-defined]
    errors = k8s_errors(bad, "1.35")  # a new object: validated again, from the parsed schemas
    assert loads.cache_info().misses == before  # type: ignore[attr-defined]
    assert errors and "spec.replicas: 'three' is not of type" in errors[0]
    assert k8s_errors(GOOD_DEPLOYMENT, "1.35") == []  # the shared schemas were not changed by the failure


def test_custom_kind_is_noted_not_failed() -> None:
    crd_object = {"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding", "metadata": {"name": "t"}}
    assert schema_check(crd_object, "1.35") == (
        [],
        "not validated: no schema for TargetGroupBinding (elbv2.k8s.aws/v1beta1)",
    )
    misspelt = {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "t"}}
    assert k8s_errors(misspelt, "1.35")


def test_k8s_manifests_rebuilds_objects_and_skips_what_is_not_one() -> None:
    program = Program(
        "dev",
        False,
        [
            record("pulumi:providers:kubernetes", "k8s", {"kubeconfig": Secret("...")}),
            record(
                "kubernetes:core/v1:Secret",
                "sales-db",
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"namespace": "sales"},
                    "stringData": Secret({"password": "hunter2hunter2"}),
                    "__internal": "x",
                },
            ),
            record(
                "kubernetes:core/v1:Secret",
                "sales-raw",
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "raw"}, "data": {"k": Secret("aGk=")}},
            ),
            record("kubernetes:apps/v1:Deployment", "web", GOOD_DEPLOYMENT),
            record("kubernetes:apps/v1:DeploymentPatch", "web-patch", {"apiVersion": "apps/v1", "kind": "Deployment"}),
            record("kubernetes:helm.sh/v3:Release", "airbyte", {"chart": "airbyte"}),
            record("kubernetes:yaml/v2:ConfigGroup", "group", {}, custom=False),
        ],
        {},
    )
    manifests = k8s_manifests(program)
    assert [m["kind"] for m in manifests] == ["Secret", "Secret", "Deployment"]
    assert manifests[0] == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"namespace": "sales", "name": "sales-db"},
        "stringData": {"password": SECRET_PLACEHOLDER},
    }
    assert manifests[1]["data"] == {"k": "PHNlY3JldD4="}
    assert all(k8s_errors(m, "1.35") == [] for m in manifests)


# ---- Helm ---------------------------------------------------------------------------------------


def _release(name: str, values: Any, **extra: Any) -> Resource:
    inputs = {
        "chart": "datahub",
        "version": "1.1.0",
        "repositoryOpts": {"repo": "https://helm.datahubproject.io/"},
        "namespace": "platform",
        "name": name,
        "values": values,
        **extra,
    }
    return record("kubernetes:helm.sh/v3:Release", f"{name}-release", inputs)


def test_helm_releases_and_secret_values() -> None:
    program = Program(
        "dev",
        False,
        [
            _release("clean", {"global": {"sql": {"datasource": {"password": {"secretRef": "datahub-db"}}}}}),
            _release("leaked", Secret({"global": {"password": "hunter2"}})),
            _release("partly", {"global": {"sql": {"password": Secret("hunter2")}}}),
        ],
        {},
    )
    releases = {r.name: r for r in helm_releases(program)}
    assert releases["clean"].repo == "https://helm.datahubproject.io/"
    assert (releases["clean"].namespace, releases["clean"].chart, releases["clean"].version) == (
        "platform",
        "datahub",
        "1.1.0",
    )
    assert helm_release_errors(releases["clean"]) == []
    assert "(all values)" in helm_release_errors(releases["leaked"])[0]
    assert "global.sql.password" in helm_release_errors(releases["partly"])[0]


def test_cluster_version_prefers_the_eks_cluster_input() -> None:
    eks = record("aws:eks/cluster:Cluster", "eks", {"version": "1.34"})
    assert cluster_version(Program("dev", False, [eks], {})) == "1.34"
    assert cluster_version(Program("dev", False, [], {})) == "1.35"  # Pulumi.dev.yaml
