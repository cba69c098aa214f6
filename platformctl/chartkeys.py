"""Check Helm value keys against the chart's own default values.

Helm silently ignores a key the chart does not read, so a misspelled key is a setting that never
takes effect. `unknown_keys(values, reference)` lists the keys set in `values` that the reference
defaults do not have, as dotted paths (list items as `path[i]`). Rules:

- A key must exist in the reference map at the same place.
- Free-form maps accept any key below them: a reference value that is `{}` or null (the chart
  passes it through, e.g. annotations, resources, podSecurityContext), or a map whose keys are
  user data rather than chart options, recognised by a key containing "." or "/" (annotation,
  label and Java property names such as `helm.sh/hook`).
- Kubernetes objects the chart passes whole to `toYaml` (`resources`, `securityContext`,
  `containerSecurityContext`, `podSecurityContext`, the three probes): when the reference map there has only fields
  of that Kubernetes type, keys are checked against the type's fields (`KUBERNETES_FIELDS`), not
  against the defaults the chart happens to set.
- Lists: when the reference list is non-empty and its first item is a map, every map item of the
  value list is checked against that first item; an empty reference list accepts any items.
- A map set where the reference has a non-null scalar is unknown below that key.

`reference_values(chart, version)` loads the reference defaults copied under
`<project>/../shared/charts` (or `$DATAPLATFORM_SHARED_DIR/charts`), merges subchart defaults
under the key the parent chart uses for them (their `global` into the parent's `global`), adds the
few keys a chart documents only in comments or in its config declaration (`DOCUMENTED_KEYS`, with
where each is documented) and the keys used of subcharts that have no copy (`SUBCHART_KEYS`), drops
keys the copy has but the pinned version lacks, and returns None when there is no reference for that
chart version.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.charts import DAGSTER_VERSION

SHARED_DIR_ENV = "DATAPLATFORM_SHARED_DIR"
PROJECT_DIR = Path(__file__).resolve().parent.parent

_DATAHUB_SUBCHARTS = (
    "datahub-gms",
    "datahub-frontend",
    "datahub-mae-consumer",
    "datahub-mce-consumer",
    "datahub-ingestion-cron",
    "acryl-datahub-actions",
)


@dataclass(frozen=True)
class Reference:
    """Where a chart version's defaults are, relative to the shared charts directory."""

    values: str
    subcharts: dict[str, str] = field(default_factory=dict)
    # Keys the copy has that the pinned version does not.
    exclude: tuple[str, ...] = ()


REFERENCES: dict[tuple[str, str], Reference] = {
    ("aws-load-balancer-controller", "3.5.0"): Reference("aws-load-balancer-controller-3.5.0.values.yaml"),
    ("external-dns", "1.21.1"): Reference("external-dns-1.21.1.values.yaml"),
    ("datahub", "1.1.0"): Reference(
        "datahub-1.1.0.values.yaml",
        subcharts={name: f"datahub-1.1.0-subcharts/{name}.values.yaml" for name in _DATAHUB_SUBCHARTS},
    ),
    ("datahub-prerequisites", "0.3.0"): Reference("datahub-prerequisites-0.3.0.values.yaml"),
    # The copy (airbyte-platform 310e6cb) has every key of the published 2.2.0 but `server.auditLoggingEnabled`.
    ("airbyte", "2.2.0"): Reference("airbyte-v2.values.yaml"),
    # master of January 2026, the month DAGSTER_VERSION was released from.
    ("dagster", DAGSTER_VERSION): Reference(
        "dagster-master-2026-01.values.yaml",
        subcharts={"dagster-user-deployments": "dagster-master-2026-01-user-deployments.values.yaml"},
    ),
    # The copy is a pull request's branch (0.23.0); its two new keys are not in 0.22.8.
    ("opencost", "2.5.17"): Reference("opencost-2.5.17.values.yaml"),
    ("superset", "0.22.8"): Reference(
        "superset-0.23.0-pr44104.values.yaml", exclude=("database.existingSecret", "database.secretKeys")
    ),
    ("oauth2-proxy", "10.7.0"): Reference("oauth2-proxy-10.7.0.values.yaml"),
    ("dex", "0.24.0"): Reference("dex-0.24.0.values.yaml"),
    ("jupyterhub", "4.4.0"): Reference("jupyterhub-4.4.0.values.yaml"),
}

# Keys the chart reads but its values.yaml shows only as commented examples (or, for Airbyte, declares
# in its config.yaml, from which the templates are generated). Values: where each is documented.
DOCUMENTED_KEYS: dict[str, dict[str, str]] = {
    "airbyte": {
        "global.storage.s3.region": "values.yaml, commented `s3:` block under global.storage",
        "global.storage.s3.authenticationType": "values.yaml, commented `s3:` block under global.storage",
        "global.storage.minio.endpoint": "config.yaml storage: `minio.endpoint` (MINIO_ENDPOINT)",
        "global.storage.minio.s3PathStyleAccess": "config.yaml storage: `minio.s3PathStyleAccess`",
        "global.database.userSecretKey": "values.yaml, commented under global.database",
        "global.database.passwordSecretKey": "values.yaml, commented under global.database",
    },
    "oauth2-proxy": {
        "config.existingSecret": "values.yaml, commented under config; read by the `oauth2-proxy.secretName` helper",
    },
    "datahub": {
        f"datahub-frontend.oidcAuthentication.{key}": "datahub-frontend values.yaml, commented under oidcAuthentication"
        for key in ("provider", "clientId", "clientSecretRef", "discoveryUri", "scope", "oidcBaseUrl")
    },
    # hub.config passes each traitlets section through (files/hub/jupyterhub_config.py: `c[section].update(cfg)`);
    # the trait names we set are checked against OAuthenticator 17.4.0 in tests/test_notebooks.py.
    "jupyterhub": {
        "hub.config.GenericOAuthenticator": "pass-through: files/hub/jupyterhub_config.py updates c[section] from hub.config",
        "hub.config.KubeSpawner": "pass-through: files/hub/jupyterhub_config.py updates c[section] from hub.config",
    },
    "datahub-prerequisites": {
        "opensearch.opensearchJavaOpts": "values.yaml, commented under opensearch",
        "opensearch.resources": "values.yaml, commented under opensearch",
        "opensearch.persistence.size": "values.yaml, commented `persistence:` under opensearch",
    },
}


_CONTAINER_SECURITY = frozenset(
    {
        "allowPrivilegeEscalation",
        "appArmorProfile",
        "capabilities",
        "privileged",
        "procMount",
        "readOnlyRootFilesystem",
        "runAsGroup",
        "runAsNonRoot",
        "runAsUser",
        "seLinuxOptions",
        "seccompProfile",
        "windowsOptions",
    }
)
# Keys of subcharts from other repositories, which have no reference copy under ../shared/charts: where each
# was read. A key set to a map here accepts any key below it (the subchart passes it through whole).
SUBCHART_KEYS: dict[str, dict[str, str]] = {
    # superset 0.22.8's Chart.yaml: redis 17.9.4 (oci://registry-1.docker.io/bitnamicharts); read at
    # bitnami/charts tag redis/17.9.4, bitnami/redis/values.yaml and templates/master/application.yaml.
    "superset": {
        "redis.image.pullPolicy": "values.yaml `image.pullPolicy` (IfNotPresent)",
        "redis.auth.usePasswordFiles": "values.yaml `auth.usePasswordFiles` (false); REDIS_PASSWORD_FILE in the template",
        "redis.serviceAccount.automountServiceAccountToken": "values.yaml `serviceAccount.automountServiceAccountToken`",
        "redis.master.podSecurityContext": "values.yaml `master.podSecurityContext` (`omit ... enabled | toYaml`)",
        "redis.master.containerSecurityContext": "values.yaml `master.containerSecurityContext` (same)",
        "redis.master.resources": "values.yaml `master.resources` (`toYaml`)",
    },
}

# core/v1 Probe, plus `enabled`: the switch charts strip (`omit ... "enabled"`) before passing the rest to toYaml
# (dagster helpers/_deployment-webserver.tpl and dagster-user-deployments deployment-user.yaml: startupProbe).
_PROBE = frozenset(
    {
        "enabled",
        "exec",
        "failureThreshold",
        "grpc",
        "httpGet",
        "initialDelaySeconds",
        "periodSeconds",
        "successThreshold",
        "tcpSocket",
        "terminationGracePeriodSeconds",
        "timeoutSeconds",
    }
)
# Top-level fields of core/v1 ResourceRequirements, SecurityContext, PodSecurityContext and Probe.
KUBERNETES_FIELDS: dict[str, frozenset[str]] = {
    "livenessProbe": _PROBE,
    "readinessProbe": _PROBE,
    "startupProbe": _PROBE,
    "resources": frozenset({"limits", "requests", "claims"}),
    "securityContext": _CONTAINER_SECURITY,
    "containerSecurityContext": _CONTAINER_SECURITY,
    "podSecurityContext": frozenset(
        {
            "appArmorProfile",
            "fsGroup",
            "fsGroupChangePolicy",
            "runAsGroup",
            "runAsNonRoot",
            "runAsUser",
            "seLinuxChangePolicy",
            "seLinuxOptions",
            "seccompProfile",
            "supplementalGroups",
            "supplementalGroupsPolicy",
            "sysctls",
            "windowsOptions",
        }
    ),
}


def shared_charts_dir() -> Path:
    shared = os.environ.get(SHARED_DIR_ENV)
    return (Path(shared) if shared else PROJECT_DIR.parent / "shared") / "charts"


def _merge(base: Any, override: Any) -> Any:
    """`override` wins; maps merge key by key, lists of maps merge their first items."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if _map_list(base) and _map_list(override):
        return [_merge(base[0], override[0])]
    return override


def _map_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def _set_path(tree: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = tree
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node.setdefault(leaf, value)


def _drop_path(tree: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    node: Any = tree
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(leaf, None)


def _load(path: Path) -> dict[str, Any]:
    # libyaml's parser: reference values files are large and pure-Python parsing dominated the checks.
    return yaml.load(path.read_text(), Loader=yaml.CSafeLoader) or {}


def reference_values(chart: str, version: str) -> dict[str, Any] | None:
    """The chart version's default values with subcharts merged in, or None without a reference."""
    loaded = _reference(chart, version, shared_charts_dir())
    return copy.deepcopy(loaded) if loaded is not None else None


@functools.lru_cache(maxsize=16)
def _reference(chart: str, version: str, root: Path) -> dict[str, Any] | None:
    ref = REFERENCES.get((chart, version))
    if ref is None or not (root / ref.values).is_file():
        return None
    values = _load(root / ref.values)
    for alias, file in ref.subcharts.items():
        sub = _load(root / file)
        sub_global = sub.pop("global", None) or {}
        values[alias] = _merge(sub, values.get(alias) or {})
        values["global"] = _merge(sub_global, values.get("global") or {})
    for path in ref.exclude:
        _drop_path(values, path)
    for path in [*DOCUMENTED_KEYS.get(chart, {}), *SUBCHART_KEYS.get(chart, {})]:
        _set_path(values, path, None)
    return values


def _free_form(reference: Any) -> bool:
    if reference is None or reference == {}:
        return True
    return isinstance(reference, dict) and any("." in str(k) or "/" in str(k) for k in reference)


def unknown_keys(values: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """Dotted paths of keys in `values` that `reference` does not have (rules in the module docstring)."""
    return _unknown(values, reference, "")


def _unknown(value: Any, reference: Any, path: str) -> list[str]:
    if _free_form(reference):
        return []
    fields = KUBERNETES_FIELDS.get(path.rsplit(".", 1)[-1])
    if fields and isinstance(value, dict) and isinstance(reference, dict) and set(reference) <= fields:
        return [f"{path}.{key}" for key in value if key not in fields]
    if isinstance(value, dict):
        if not isinstance(reference, dict):
            return [f"{path}.{key}" if path else str(key) for key in value]
        found: list[str] = []
        for key, sub in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in reference:
                found.append(where)
            else:
                found += _unknown(sub, reference[key], where)
        return found
    if isinstance(value, list) and _map_list(reference):
        return [
            p
            for i, item in enumerate(value)
            if isinstance(item, dict)
            for p in _unknown(item, reference[0], f"{path}[{i}]")
        ]
    return []


_SECRETISH = re.compile(r"(?i)(passw|secret|token|salt|credential|signingkey|accesskey|apikey|privatekey)")


def secret_like_values(values: Any, allowed: set[str], path: str = "") -> list[str]:
    """Paths of string values under secret-sounding keys that are not in `allowed`.

    `allowed` holds the Secret names, Secret keys and other non-secret strings the caller passed
    in; anything else under a key like `password` or `secretKey` may be a secret leaked into values.
    """
    found: list[str] = []
    if isinstance(values, dict):
        for key, sub in values.items():
            where = f"{path}.{key}" if path else str(key)
            if _SECRETISH.search(str(key)) and isinstance(sub, str) and sub not in allowed:
                found.append(where)
            found += secret_like_values(sub, allowed, where)
    elif isinstance(values, list):
        for i, item in enumerate(values):
            found += secret_like_values(item, allowed, f"{path}[{i}]")
    return found
