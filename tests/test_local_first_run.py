"""The local stack's first `pulumi up` needs no `--skip-preview`.

The CloudNativePG `Cluster` kind is unknown to a new cluster until the `cloudnative-pg` release has
installed its CRD (chart 0.29.0, templates/crds/crds.yaml, gated by `crds.create`). pulumi-kubernetes
4.x previews such a custom resource without failing: `Check` reports a missing schema only when the
provider sets `rejectUnknownResources`, and a preview `Create` of a kind the API server does not know
returns the inputs unchanged (provider/pkg/provider/provider.go, `skipPreview := ... ||
!k.gvkExists(newInputs)`); the real `Create` retries "no matches for kind" until the CRD is served
(provider/pkg/await/await.go, `Creation`). So what must hold in this program is checked here: the
provider keeps that option off, the release really installs the CRD, the program previews a new local
stack, and `make local` runs `pulumi up` with its preview. That the resource waits for the release is
checked for every stack by tests/test_deploy_order.py.
"""

from __future__ import annotations

from components.local.foundation import cnpg_values
from tests.harness import Program, program_for

CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"


def test_no_kubernetes_provider_rejects_unknown_kinds() -> None:
    for stack in ("local", "dev"):
        providers = program_for(stack).of_type("pulumi:providers:kubernetes")
        assert providers, stack
        for provider in providers:
            assert "deleteUnreachable" in provider.inputs or "kubeconfig" in provider.inputs  # the real inputs
            assert provider.inputs.get("rejectUnknownResources") in (None, False, "false"), (stack, provider.name)


def test_the_operator_release_installs_the_cluster_crd() -> None:
    assert cnpg_values()["crds"]["create"] is True


def test_a_new_local_stack_previews_its_clusters() -> None:
    preview: Program = program_for("local", preview=True)
    clusters = preview.of_type(CLUSTER)
    assert {c.inputs["metadata"]["namespace"] for c in clusters} == {"sales", "marketing"}
    for cluster in clusters:
        # Everything the preview shows is known before the operator exists.
        assert cluster.inputs["metadata"]["name"] == "postgres"
        assert cluster.inputs["spec"]["instances"] == 1
