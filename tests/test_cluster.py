"""KubernetesCluster under Pulumi mocks: the EKS controls of SECURITY.md, add-ons, provider wiring, names."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import parliament
import pulumi
import pulumi_aws as aws
import pytest
import yaml

from components import charts as charts_module
from components.aws.cluster import KubernetesCluster, alb_controller_policy
from components.charts import (
    ALB_CONTROLLER_APP_VERSION,
    ALB_CONTROLLER_IAM_POLICY_FILE,
    PINNED,
    alb_controller_iam_policy,
)
from components.config import EKS_LOG_TYPES, ClusterConfig, load_stack_config
from components.validation import ConfigError
from components.values.alb_controller import alb_controller_values
from platformctl.chartkeys import unknown_keys
from platformctl.render import charts_src_dir
from policy import rules
from tests.harness import Program, Resource, Secret, run_function, stack_config
from tests.requires import require
from tests.test_values_alb_controller import reference

ADMINS = ["arn:aws:iam::123456789012:role/PlatformAdmin", "arn:aws:iam::123456789012:user/ops/alice"]
VPC_ID = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
CLUSTER = "aws:eks/cluster:Cluster"
ROLE = "aws:iam/role:Role"
RELEASE = "kubernetes:helm.sh/v3:Release"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
# sha256 of the official docs/install/iam_policy.json at kubernetes-sigs/aws-load-balancer-controller v3.5.0
# (commit 11eb202c97e4): of the file, and of its canonical form json.dumps(policy, sort_keys=True).
ALB_POLICY_V3_5_0_FILE_SHA256 = "16f232c9d9f79366fe949c4550ad517a202380058a9e48d45a4e215044a20a6a"
ALB_POLICY_V3_5_0_SHA256 = "d917aaadbc3281054a592cd496f5c80f8e0c11d59004558e1a05c7dc395b286a"


def build(cluster_name: str | None = "dp-test", config: ClusterConfig | None = None) -> None:
    stack = load_stack_config()
    # As AwsFoundation builds it: the tagging standard as default tags.
    provider = aws.Provider(
        "aws",
        aws.ProviderArgs(
            region=stack.region,
            default_tags=aws.ProviderDefaultTagsArgs(tags={**stack.common_tags, "domain": "platform"}),
        ),
    )
    cluster = KubernetesCluster(
        "cluster",
        config or stack.eks,
        name=cluster_name,
        environment=stack.environment,
        region=stack.region,
        vpc_id=VPC_ID,
        private_subnet_ids=SUBNETS,
        kms_deletion_window_days=stack.protection.kms_deletion_window_days,
        protect=stack.protection.protect_stateful,
        chart_overrides=stack.charts,
        opts=pulumi.ResourceOptions(providers=[provider]),
    )
    pulumi.export("name", cluster.name)
    pulumi.export("version", cluster.version)
    pulumi.export("endpoint", cluster.endpoint)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("node_security_group_id", cluster.node_security_group_id)
    pulumi.export("node_role_arn", cluster.node_role_arn)


def dev_private_config() -> dict[str, Any]:
    """The dev stack with a private-only endpoint and two admins."""
    config = stack_config("dev")
    cluster = json.loads(config["dataplatform:cluster"])
    config["dataplatform:cluster"] = json.dumps({**cluster, "publicAccessCidrs": [], "adminPrincipals": ADMINS})
    return config


@pytest.fixture(scope="module")
def prod() -> Program:
    return run_function(build, "prod")


@pytest.fixture(scope="module")
def dev() -> Program:
    return run_function(build, "dev", config=dev_private_config())


@pytest.fixture(scope="module")
def preview() -> Program:
    return run_function(lambda: build(cluster_name=None), "dev", preview=True)


def load_prod_cluster() -> ClusterConfig:
    return ClusterConfig.model_validate(json.loads(stack_config("prod")["dataplatform:cluster"]))


def cluster_inputs(program: Program) -> dict[str, Any]:
    return program.one(CLUSTER).inputs


def role_named(program: Program, logical: str) -> Resource:
    return program.one(ROLE, f"cluster-{logical}")


def attached(program: Program, role: Resource) -> set[str]:
    """Managed policy names attached to `role`."""
    return {
        r.inputs["policyArn"].rsplit("/", 1)[1]
        for r in program.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == role.outputs["name"]
    }


def trust_statement(role: Resource) -> dict[str, Any]:
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    return statement


# --- control plane -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_access_entries_only_and_no_creator_admin(stack, request):
    access = cluster_inputs(request.getfixturevalue(stack))["accessConfig"]
    assert access == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}


def test_secrets_encrypted_with_rotating_customer_key(prod, dev):
    for program, window in ((prod, 30), (dev, 7)):
        key = program.one("aws:kms/key:Key")
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["deletionWindowInDays"] == window
        encryption = cluster_inputs(program)["encryptionConfig"]
        assert encryption == {"provider": {"keyArn": key.outputs["arn"]}, "resources": ["secrets"]}


def test_key_policy_has_no_wildcard_principal(prod):
    policy = json.loads(prod.one("aws:kms/key:Key").inputs["policy"])
    principals = [s["Principal"] for s in policy["Statement"]]
    assert principals == [{"AWS": "arn:aws:iam::123456789012:root"}]


def test_control_plane_logs_match_config(prod, dev):
    assert cluster_inputs(prod)["enabledClusterLogTypes"] == list(EKS_LOG_TYPES)
    assert cluster_inputs(dev)["enabledClusterLogTypes"] == ["api", "audit"]


def test_public_endpoint_only_to_configured_cidrs(prod):
    vpc = cluster_inputs(prod)["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert vpc["subnetIds"] == SUBNETS


def test_no_cidrs_means_private_endpoint(dev):
    vpc = cluster_inputs(dev)["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc


def test_open_endpoint_is_refused_even_without_model_validation():
    def open_cluster() -> None:
        valid = load_stack_config().eks
        build(config=ClusterConfig.model_construct(**{**dict(valid), "public_access_cidrs": ["0.0.0.0/0"]}))

    with pytest.raises(ConfigError, match="publicAccessCidrs"):
        run_function(open_cluster, "dev")


def test_version_and_upgrade_policy(prod):
    inputs = cluster_inputs(prod)
    assert inputs["version"] == "1.35" == prod.exports["version"]
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}


def test_stateful_resources_protected_in_prod_only(prod, dev):
    for type_ in (CLUSTER, "aws:kms/key:Key"):
        assert (prod.one(type_).protect, prod.one(type_).retain_on_delete) == (True, True)
        assert (dev.one(type_).protect, dev.one(type_).retain_on_delete) == (False, False)
    assert cluster_inputs(prod)["deletionProtection"] is True


def test_control_plane_role_trusts_eks_only(prod):
    role = role_named(prod, "control-plane")
    statement = trust_statement(role)
    assert statement["Principal"] == {"Service": "eks.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert attached(prod, role) == {"AmazonEKSClusterPolicy"}
    assert cluster_inputs(prod)["roleArn"] == role.outputs["arn"]


# --- admins ------------------------------------------------------------------------------------


def test_each_admin_gets_cluster_admin_under_a_name_derived_from_its_arn(dev):
    entries = dev.of_type("aws:eks/accessEntry:AccessEntry")
    associations = dev.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    expected = {f"cluster-admin-{hashlib.sha256(arn.encode()).hexdigest()[:10]}": arn for arn in ADMINS}
    assert {r.name: r.inputs["principalArn"] for r in entries} == expected
    assert {r.name: r.inputs["principalArn"] for r in associations} == expected
    for assoc in associations:
        assert assoc.inputs["accessScope"] == {"type": "cluster"}
        assert assoc.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        entry = dev.one("aws:eks/accessEntry:AccessEntry", assoc.name)
        assert entry.urn in assoc.depends_on


# --- nodes -------------------------------------------------------------------------------------


def test_launch_templates_enforce_imdsv2_hop_limit_1_and_encrypted_gp3(prod):
    config = load_prod_cluster()
    templates = prod.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert {t.name for t in templates} == {f"cluster-{g}" for g in config.node_groups}
    for template in templates:
        inputs = template.inputs
        assert inputs["metadataOptions"]["httpTokens"] == "required"
        assert inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert "keyName" not in inputs
        (disk,) = inputs["blockDeviceMappings"]
        group = config.node_groups[template.name.removeprefix("cluster-")]
        assert disk["ebs"] == {
            "volumeSize": group.disk_size_gib,
            "volumeType": "gp3",
            "encrypted": "true",
            "deleteOnTermination": "true",
        }


def test_node_groups_private_without_remote_access(prod):
    config = load_prod_cluster()
    for group in prod.of_type("aws:eks/nodeGroup:NodeGroup"):
        spec = config.node_groups[group.name.removeprefix("cluster-")]
        inputs = group.inputs
        assert "remoteAccess" not in inputs
        assert inputs["subnetIds"] == SUBNETS
        assert inputs["instanceTypes"] == spec.instance_types
        assert inputs["capacityType"] == spec.capacity_type
        assert inputs["scalingConfig"] == {
            "minSize": spec.min_size,
            "maxSize": spec.max_size,
            "desiredSize": spec.desired_size,
        }
        assert inputs["updateConfig"] == {"maxUnavailable": 1}
        templates = {t.urn for t in prod.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
        # The node group's launch template id comes from (so depends on) its own template only.
        assert templates & set(group.depends_on) == {prod.one("aws:ec2/launchTemplate:LaunchTemplate", group.name).urn}
        assert inputs["nodeRoleArn"] == role_named(prod, "node").outputs["arn"]


def test_node_role_has_no_cni_permissions(prod):
    role = role_named(prod, "node")
    assert trust_statement(role)["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert attached(prod, role) == {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"}
    assert prod.exports["node_role_arn"] == role.outputs["arn"]


# --- add-ons -----------------------------------------------------------------------------------


def test_core_addons_with_eks_default_versions(prod):
    addons = {r.inputs["addonName"]: r for r in prod.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver"}
    for addon in addons.values():
        assert "addonVersion" not in addon.inputs
        assert addon.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
    assert cluster_inputs(prod)["bootstrapSelfManagedAddons"] is False


def test_vpc_cni_enforces_network_policies(prod):
    # Without the network policy agent every NetworkPolicy (the domains' default deny) is accepted but not enforced.
    addons = {r.inputs["addonName"]: r for r in prod.of_type("aws:eks/addon:Addon")}
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    for name in ("coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver"):
        assert "configurationValues" not in addons[name].inputs


def test_nodes_come_after_networking_addons_and_before_deployment_addons(prod):
    addons = {r.inputs["addonName"]: r for r in prod.of_type("aws:eks/addon:Addon")}
    for group in prod.of_type("aws:eks/nodeGroup:NodeGroup"):
        for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
            assert addons[name].urn in group.depends_on
        for name in ("coredns", "aws-ebs-csi-driver"):
            assert group.urn in addons[name].depends_on


@pytest.mark.parametrize(
    ("addon_name", "role", "service_account", "policy"),
    [
        ("aws-ebs-csi-driver", "ebs-csi", "ebs-csi-controller-sa", "AmazonEBSCSIDriverPolicy"),
        ("vpc-cni", "vpc-cni", "aws-node", "AmazonEKS_CNI_Policy"),
    ],
)
def test_addon_pod_identity_roles(prod, addon_name, role, service_account, policy):
    addon = next(r for r in prod.of_type("aws:eks/addon:Addon") if r.inputs["addonName"] == addon_name)
    pod_role = role_named(prod, role)
    assert addon.inputs["podIdentityAssociations"] == [
        {"roleArn": pod_role.outputs["arn"], "serviceAccount": service_account}
    ]
    assert attached(prod, pod_role) == {policy}
    assert_pod_identity_trust(prod, pod_role, service_account)


def assert_pod_identity_trust(program: Program, role: Resource, service_account: str) -> None:
    statement = trust_statement(role)
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:RequestTag/eks-cluster-arn": program.one(CLUSTER).outputs["arn"],
            "aws:RequestTag/kubernetes-namespace": "kube-system",
            "aws:RequestTag/kubernetes-service-account": service_account,
        }
    }


# --- Kubernetes provider and objects -----------------------------------------------------------


@pytest.mark.parametrize("provider_name", ["cluster-k8s", "cluster-k8s-workloads"])
def test_kubeconfig_is_secret_and_uses_aws_exec_auth(prod, provider_name):
    provider = prod.one("pulumi:providers:kubernetes", provider_name)
    assert isinstance(provider.inputs["kubeconfig"], Secret)
    assert isinstance(prod.exports["kubeconfig"], Secret)
    config = json.loads(provider.inputs["kubeconfig"].value)
    cluster = prod.one(CLUSTER).outputs
    (entry,) = config["clusters"]
    assert entry["cluster"] == {
        "server": cluster["endpoint"],
        "certificate-authority-data": cluster["certificateAuthority"]["data"],
    }
    (user,) = config["users"]
    assert user["user"]["exec"] == {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "aws",
        "args": ["eks", "get-token", "--cluster-name", "dp-test", "--region", "eu-west-1"],
    }
    assert provider.inputs["clusterIdentifier"] == "dp-test"
    assert "deleteUnreachable" not in provider.inputs


def test_outputs_for_the_foundation(prod):
    cluster = prod.one(CLUSTER).outputs
    assert prod.exports["name"] == "dp-test"
    assert prod.exports["endpoint"] == cluster["endpoint"]
    assert prod.exports["node_security_group_id"] == cluster["vpcConfig"]["clusterSecurityGroupId"]


@pytest.mark.parametrize("stack", ["prod", "dev", "preview"])
def test_every_resource_uses_an_explicit_provider(stack, request):
    program: Program = request.getfixturevalue(stack)
    k8s_provider = program.one("pulumi:providers:kubernetes", "cluster-k8s").urn
    aws_provider = program.one("pulumi:providers:aws").urn
    k8s = [r for r in program.resources if r.type.startswith("kubernetes:")]
    assert {r.type for r in k8s} == {STORAGE_CLASS, RELEASE}
    # The cluster's own add-ons use the provider that does not wait for the controller they install.
    assert {r.provider_urn for r in k8s} == {k8s_provider}
    assert {r.provider_urn for r in program.resources if r.type.startswith("aws:")} == {aws_provider}


@pytest.mark.parametrize(("stack", "reclaim"), [("prod", "Retain"), ("dev", "Delete")])
def test_default_storage_class_is_encrypted_gp3(stack, reclaim, request):
    manifest = request.getfixturevalue(stack).one(STORAGE_CLASS).inputs
    kubernetes_validate.validate(manifest, "1.35.0", strict=True)
    assert manifest["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert manifest["provisioner"] == "ebs.csi.aws.com"
    assert manifest["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert manifest["volumeBindingMode"] == "WaitForFirstConsumer"
    assert manifest["allowVolumeExpansion"] is True
    assert manifest["reclaimPolicy"] == reclaim


def test_alb_controller_release(prod):
    release = prod.one(RELEASE)
    pinned = PINNED["aws-load-balancer-controller"]
    inputs = release.inputs
    assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]) == (
        pinned.chart,
        pinned.version,
        {"repo": pinned.repo},
    )
    assert (inputs["name"], inputs["namespace"]) == ("aws-load-balancer-controller", "kube-system")
    expected = alb_controller_values(
        cluster_name="dp-test", region="eu-west-1", vpc_id=VPC_ID, service_account="aws-load-balancer-controller"
    )
    assert inputs["values"] == expected
    assert unknown_keys(inputs["values"], reference()) == []


def test_alb_controller_waits_for_nodes_identity_and_dns(prod):
    depends_on = set(prod.one(RELEASE).depends_on)
    addons = {r.inputs["addonName"]: r.urn for r in prod.of_type("aws:eks/addon:Addon")}
    assert {addons["eks-pod-identity-agent"], addons["coredns"]} <= depends_on
    assert {r.urn for r in prod.of_type("aws:eks/nodeGroup:NodeGroup")} <= depends_on
    assert prod.one("aws:eks/podIdentityAssociation:PodIdentityAssociation").urn in depends_on


def test_alb_controller_pod_identity(prod):
    association = prod.one("aws:eks/podIdentityAssociation:PodIdentityAssociation").inputs
    role = role_named(prod, "alb-controller")
    assert association["namespace"] == "kube-system"
    assert association["serviceAccount"] == prod.one(RELEASE).inputs["values"]["serviceAccount"]["name"]
    assert association["roleArn"] == role.outputs["arn"]
    assert_pod_identity_trust(prod, role, "aws-load-balancer-controller")
    assert attached(prod, role) == set()


def test_alb_controller_policy_is_exactly_the_vendored_file(prod):
    policy = prod.one("aws:iam/rolePolicy:RolePolicy", "cluster-alb-controller").inputs["policy"]
    assert json.loads(policy) == json.loads(ALB_CONTROLLER_IAM_POLICY_FILE.read_text(encoding="utf-8"))
    # The file is upstream's, byte for byte.
    assert hashlib.sha256(ALB_CONTROLLER_IAM_POLICY_FILE.read_bytes()).hexdigest() == ALB_POLICY_V3_5_0_FILE_SHA256
    digest = hashlib.sha256(json.dumps(alb_controller_iam_policy(), sort_keys=True).encode()).hexdigest()
    assert digest == ALB_POLICY_V3_5_0_SHA256


def test_alb_controller_policy_file_is_for_the_pinned_charts_app_version():
    chart_dir = charts_src_dir() / f"aws-load-balancer-controller-{PINNED['aws-load-balancer-controller'].version}"
    require(chart_dir, "the shared chart sources (../shared/charts/src)")
    app_version = yaml.safe_load((chart_dir / "Chart.yaml").read_text())["appVersion"]
    assert app_version == ALB_CONTROLLER_APP_VERSION
    assert ALB_CONTROLLER_IAM_POLICY_FILE.name == f"aws-load-balancer-controller-{app_version}-iam_policy.json"
    assert ALB_CONTROLLER_IAM_POLICY_FILE.parent == Path(charts_module.__file__).parent


def test_alb_controller_policy_moves_every_arn_to_the_stacks_partition():
    vendored = json.dumps(alb_controller_iam_policy())
    china = json.dumps(alb_controller_policy("aws-cn"))
    assert '"arn:aws:' not in china and china.count('"arn:aws-cn:') == vendored.count('"arn:aws:') > 0
    assert china.replace('"arn:aws-cn:', '"arn:aws:') == vendored


def test_vendored_alb_controller_policy_passes_parliament():
    assert set(findings_above_low(alb_controller_iam_policy())) - STALE_PARLIAMENT_FINDINGS == set()


def test_identity_policies_grant_no_wildcard_actions(prod):
    policies = prod.of_type("aws:iam/rolePolicy:RolePolicy")
    assert {p.name for p in policies} == {"cluster-alb-controller", "cluster-control-plane-secrets-key"}
    for policy in policies:
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert "*" not in actions
            if "*" in resources:
                assert not [a for a in actions if a.endswith(":*")], (policy.name, actions)


# --- parliament --------------------------------------------------------------------------------

# Parliament 1.6.4's IAM database predates this condition key; AWS documents it for AddTags:
# https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/tagging-resources-during-creation.html
STALE_PARLIAMENT_FINDINGS = {
    (
        "UNKNOWN_CONDITION_FOR_ACTION",
        "Unknown condition elasticloadbalancing:CreateAction for action elasticloadbalancing:AddTags",
    )
}
NO_RESOURCE = ("MALFORMED", "Statement contains neither Resource nor NotResource")


def findings_above_low(document: dict[str, Any]) -> list[tuple[str, str]]:
    policy = parliament.analyze_policy_string(json.dumps(document))
    found = [parliament.enhance_finding(f) for f in policy.findings]
    return [(f.issue, str(f.detail)) for f in found if f.severity not in ("MUTE", "INFO", "LOW")]


def trust_findings(document: dict[str, Any], role_arn: str) -> list[tuple[str, str]]:
    """Parliament reads every policy as an identity policy, and trust policies have no Resource by design.

    Check that this is the only complaint, then analyse the rest with Resource set to the role being assumed.
    """
    assert set(findings_above_low(document)) == {NO_RESOURCE}
    with_resource = {**document, "Statement": [{**s, "Resource": role_arn} for s in document["Statement"]]}
    return findings_above_low(with_resource)


def test_trust_policies_pass_parliament(prod):
    roles = prod.of_type(ROLE)
    assert len(roles) == 5
    for role in roles:
        assert trust_findings(json.loads(role.inputs["assumeRolePolicy"]), role.outputs["arn"]) == [], role.name


def test_permission_and_key_policies_pass_parliament(prod):
    documents = [p.inputs["policy"] for p in prod.of_type("aws:iam/rolePolicy:RolePolicy")]
    documents.append(prod.one("aws:kms/key:Key").inputs["policy"])
    for document in documents:
        assert set(findings_above_low(json.loads(document))) - STALE_PARLIAMENT_FINDINGS == set()


def test_parliament_check_would_catch_a_bad_condition():
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"Bool": {"s3:x": "true"}}}
        ],
    }
    assert findings_above_low(bad) != []


# --- the policy pack's rules --------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "environment"), [("prod", "prod"), ("dev", "dev"), ("preview", "dev")])
def test_policy_rules_pass(stack, environment, request):
    program: Program = request.getfixturevalue(stack)
    findings = rules.evaluate([rules.from_record(r) for r in program.resources], rules.Ctx(environment=environment))
    assert [(f.rule, f.urn, f.message) for f in findings] == []


# --- preview of a new stack --------------------------------------------------------------------


def test_preview_of_new_stack_registers_provider_and_objects(preview):
    provider = preview.one("pulumi:providers:kubernetes", "cluster-k8s")
    assert isinstance(provider.inputs["kubeconfig"], Secret)
    assert preview.one(STORAGE_CLASS).provider_urn == provider.urn
    assert preview.one(RELEASE).provider_urn == provider.urn
    assert preview.exports["name"] == "<unknown>"
