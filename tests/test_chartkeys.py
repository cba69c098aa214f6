"""platformctl.chartkeys: the key rules catch misspellings, references load with subcharts merged,
and every pinned chart the values builders target has a reference."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.charts import PINNED
from platformctl import chartkeys
from platformctl.chartkeys import reference_values, secret_like_values, unknown_keys

REFERENCE = {
    "image": {"repository": "x", "tag": None},
    "annotations": {},
    "hook": {"helm.sh/hook": "pre-install"},
    "service": {"type": "ClusterIP", "port": 80},
    "resources": {"requests": {"cpu": "100m"}},
    "workloads": {"resources": {"mainContainer": {}}},
    "deployments": [{"name": "a", "port": 1}],
    "extra": [],
    "version": "1.0",
    # A chart switch the template strips before passing the probe to toYaml (dagster's startupProbe).
    "startupProbe": {"enabled": False},
}


@pytest.mark.parametrize(
    ("values", "unknown"),
    [
        ({"image": {"repositry": "y"}}, ["image.repositry"]),
        ({"servce": {"port": 1}}, ["servce"]),
        ({"service": {"port": 1, "typ": "LoadBalancer"}}, ["service.typ"]),
        ({"deployments": [{"name": "b", "prot": 2}, {"name": "c"}]}, ["deployments[0].prot"]),
        ({"version": {"major": 1}}, ["version.major"]),
        ({"resources": {"limit": {"cpu": "1"}}}, ["resources.limit"]),
        # Not a Kubernetes ResourceRequirements: ordinary rules apply.
        ({"workloads": {"resources": {"mainContaner": {}}}}, ["workloads.resources.mainContaner"]),
        ({"startupProbe": {"enabled": True, "periodSecond": 10}}, ["startupProbe.periodSecond"]),
    ],
)
def test_misspelled_keys_are_reported(values, unknown):
    assert unknown_keys(values, REFERENCE) == unknown


def test_free_form_places_accept_any_key():
    values = {
        "image": {"tag": {"anything": 1}},  # null default
        "annotations": {"a/b": "c"},  # {} default
        "hook": {"helm.sh/hook-weight": "1"},  # user-data map
        "extra": [{"whatever": True}],  # empty reference list
        "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}},  # Kubernetes fields
        "workloads": {"resources": {"mainContainer": {"cpu": {"request": "1"}}}},
        "startupProbe": {"enabled": True, "httpGet": {"path": "/"}, "periodSeconds": 10, "failureThreshold": 30},
    }
    assert unknown_keys(values, REFERENCE) == []


def test_reference_is_none_without_a_copy():
    assert reference_values("dagster", "0.0.1") is None
    assert reference_values("no-such-chart", "1.0.0") is None


def test_every_pinned_chart_of_the_builders_has_a_reference():
    for name in ("dagster", "airbyte", "superset", "datahub", "datahub-prerequisites", "aws-load-balancer-controller"):
        pin = PINNED[name]
        assert reference_values(pin.chart, pin.version), name


def test_subcharts_merge_under_their_alias_and_global():
    datahub = reference_values("datahub", PINNED["datahub"].version)
    assert datahub is not None
    # From the datahub-gms subchart defaults, absent from the parent's copy.
    assert datahub["datahub-gms"]["service"]["type"] == "LoadBalancer"
    assert "restApi" in datahub["global"]["datahub"]["metadata_service_authentication"]
    # Parent values win over subchart defaults.
    assert datahub["global"]["elasticsearch"]["host"] == "opensearch-cluster-master"
    dagster = reference_values("dagster", PINNED["dagster"].version)
    assert dagster is not None
    user = dagster["dagster-user-deployments"]
    assert "serviceAccount" in user  # subchart-only key
    assert "deploymentStrategy" in user["deployments"][0]  # parent-only item key


def test_pull_request_only_superset_keys_are_unknown():
    superset = reference_values("superset", "0.22.8")
    assert superset is not None
    assert unknown_keys({"database": {"existingSecret": "s", "secretKeys": {"password": "p"}}}, superset) == [
        "database.existingSecret",
        "database.secretKeys",
    ]
    assert unknown_keys({"database": {"host": "h"}, "secretEnv": {"create": False}}, superset) == []


def _declared_in_airbyte_config() -> set[str]:
    path = chartkeys.shared_charts_dir() / "src" / "airbyte-310e6cb" / "config.yaml"
    config = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    return {f"{s.get('keyBasePath', '')}.{item['key']}" for s in config.values() for item in s.get("config", [])}


def _commented_leaves(values_file: str) -> set[str]:
    lines = (chartkeys.shared_charts_dir() / values_file).read_text().splitlines()
    return {ln.strip().lstrip("#").strip().split(":", 1)[0] for ln in lines if ln.strip().startswith("#") and ":" in ln}


def test_documented_keys_are_documented_where_claimed():
    values_files = {
        "airbyte": "airbyte-v2.values.yaml",
        "datahub-prerequisites": "datahub-prerequisites-0.3.0.values.yaml",
        "oauth2-proxy": "oauth2-proxy-10.7.0.values.yaml",
        "datahub": "datahub-1.1.0-subcharts/datahub-frontend.values.yaml",
    }
    hub_config = chartkeys.shared_charts_dir() / "src" / "jupyterhub-4.4.0" / "files" / "hub" / "jupyterhub_config.py"
    for chart, keys in chartkeys.DOCUMENTED_KEYS.items():
        for path, where in keys.items():
            if where.startswith("pass-through"):
                # JupyterHub's hub.config: every section is handed to traitlets as it is.
                assert chart == "jupyterhub" and path.startswith("hub.config."), path
                assert "c[section].update(cfg)" in hub_config.read_text()
                continue
            commented = _commented_leaves(values_files[chart])
            if where.startswith("config.yaml"):
                assert path in _declared_in_airbyte_config(), path
            else:
                assert path.rsplit(".", 1)[-1] in commented, path


def test_shared_dir_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "datahub-prerequisites-0.3.0.values.yaml").write_text("kafka:\n  enabled: true\n")
    monkeypatch.setenv(chartkeys.SHARED_DIR_ENV, str(tmp_path))
    reference = reference_values("datahub-prerequisites", "0.3.0")
    assert reference is not None
    assert reference["kafka"] == {"enabled": True}
    assert unknown_keys({"kafka": {"enabled": False}, "mysql": {"enabled": False}}, reference) == ["mysql"]


def test_secret_like_values_flags_literals_not_names():
    values = {
        "auth": {"existingSecret": "app-env", "password": "hunter2"},
        "list": [{"secretKey": "token"}, {"apiKey": "abc123"}],
        "enabled": True,
    }
    assert secret_like_values(values, {"app-env", "token"}) == ["auth.password", "list[1].apiKey"]
