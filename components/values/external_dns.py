"""Helm values for external-dns (chart external-dns 1.21.1, app v0.21.0) on the aws foundation.

Every key exists in the chart's values.yaml. The chart's own pod and container security contexts
are already restricted (non-root, read-only root filesystem, no capabilities, RuntimeDefault), so
they are kept. Flags: docs/flags.md and docs/tutorials/aws.md of kubernetes-sigs/external-dns v0.21.0.
"""

from __future__ import annotations

import re
from typing import Any

from components.values.common import check_name, resources

_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")


def external_dns_values(
    *, zone_id: str, domain: str, txt_owner_id: str, region: str, service_account: str
) -> dict[str, Any]:
    """Records for the Ingresses' hosts under `domain`, in the one Route 53 zone `zone_id` only.

    - `sync`: records of a removed Ingress are deleted, so no name is left pointing at a deleted ALB;
      the TXT registry with `txt_owner_id` limits that to records this cluster created.
    - `AWS_DEFAULT_REGION`: node IMDS has a hop limit of 1, so the SDK cannot look the region up; the
      credentials come from EKS Pod Identity through the ServiceAccount.
    """
    if not _ZONE_ID.match(zone_id):
        raise ValueError(f"zone_id must be a Route 53 hosted zone id such as Z04512345ABCDEFGHIJK: {zone_id!r}")
    check_name(service_account, "service_account")
    return {
        "provider": {"name": "aws"},
        "env": [{"name": "AWS_DEFAULT_REGION", "value": region}],
        "serviceAccount": {"create": True, "name": service_account},
        # The platform's hosts are all Ingress rules; Services of type LoadBalancer are forbidden by the quotas.
        "sources": ["ingress"],
        "policy": "sync",
        "registry": "txt",
        "txtOwnerId": txt_owner_id,
        "domainFilters": [domain],
        "extraArgs": [f"--zone-id-filter={zone_id}"],
        "resources": resources("50m", "64Mi", cpu_limit="200m", memory_limit="256Mi"),
        # Always: the kubelet re-checks the registry for the tag at each start.
        "image": {"pullPolicy": "Always"},
    }
