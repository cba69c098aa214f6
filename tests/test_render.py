"""Offline Helm rendering from the shared chart sources, and the checks over rendered objects."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl import render
from platformctl.render import NOT_OFFLINE, RenderResult, charts_src_dir, known_secrets, render_program, render_release
from platformctl.rendered_checks import (
    Finding,
    env_secret_like,
    image_findings,
    pss_findings,
    quota_fit,
    schema_findings,
    secret_findings,
    secret_like,
)
from tests.harness import Program, Secret
from tests.requires import require
from tests.test_validate import record

FIXTURES = Path(__file__).parent / "fixtures" / "render"
FIXTURE_CHARTS = FIXTURES / "charts"
VERSION = "1.35"
KNOWN_SECRET = "s3cr3t-from-the-stack"


@pytest.fixture(autouse=True, scope="module")
def _chart_sources() -> None:
    require(charts_src_dir() / "datahub-1.1.0", "the shared chart sources (../shared/charts/src)")


ALB_VALUES: dict[str, Any] = {
    "clusterName": "dataplatform-dev",
    "region": "eu-west-1",
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "replicaCount": 2,
    "serviceAccount": {"create": True, "name": "aws-load-balancer-controller"},
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
    "podDisruptionBudget": {"maxUnavailable": 1},
}
DATAHUB_VALUES: dict[str, Any] = {
    "datahub-frontend": {"enabled": False},
    "acryl-datahub-actions": {"enabled": False},
    "global": {
        "datahub_standalone_consumers_enabled": True,
        "sql": {
            "datasource": {
                "host": "catalog-db.abc.eu-west-1.rds.amazonaws.com:5432",
                "url": "jdbc:postgresql://catalog-db.abc.eu-west-1.rds.amazonaws.com:5432/datahub?sslmode=require",
                "driver": "org.postgresql.Driver",
                "username": "datahub",
                "password": {"secretRef": "datahub-db", "secretKey": "password"},
            }
        },
    },
}


def _alb(values: dict[str, Any] = ALB_VALUES) -> RenderResult:
    return render_release(
        "aws-load-balancer-controller", "3.5.0", values, "aws-load-balancer-controller", "kube-system"
    )


def _kinds(result: RenderResult) -> set[tuple[str, str]]:
    return {(o["kind"], o["metadata"]["name"]) for o in result.manifests}


def _schema_errors(result: RenderResult) -> list[Finding]:
    return schema_findings(result.manifests + result.crds, VERSION, result.namespace)[0]


def _fixture_objects(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((FIXTURES / "objects" / name).read_text()) if d]


def _expected(obj: dict[str, Any]) -> str:
    return obj["metadata"]["annotations"]["test.dataplatform.io/expect"]


# ---- rendering ----------------------------------------------------------------------------------


def test_alb_controller_renders_and_every_object_passes_strict_schema() -> None:
    result = _alb()
    assert (result.status, result.errors, result.approximate) == ("rendered", [], False)
    assert {
        ("Deployment", "aws-load-balancer-controller"),
        ("IngressClass", "alb"),
        ("PodDisruptionBudget", "aws-load-balancer-controller"),
    } <= _kinds(result)
    deployment = next(o for o in result.manifests if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert "--cluster-name=dataplatform-dev" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert result.crds, "the chart's crds/ are returned for validation"
    assert _schema_errors(result) == []


def test_alb_controller_without_cluster_name_is_caught() -> None:
    result = _alb({k: v for k, v in ALB_VALUES.items() if k != "clusterName"})
    assert result.status == "not rendered"
    assert "Chart cannot be installed without a valid clusterName!" in result.errors[0]


def test_alb_controller_replica_count_of_wrong_type_is_caught_by_the_schema_check() -> None:
    # The chart has no values.schema.json and its template prints the value as is: strict validation catches it.
    result = _alb({**ALB_VALUES, "replicaCount": "two"})
    assert result.status == "rendered"
    errors = [f.message for f in _schema_errors(result)]
    assert any(e.startswith("spec.replicas: 'two' is not of type") for e in errors), errors


def test_datahub_values_disable_and_enable_subcharts() -> None:
    result = render_release("datahub", "1.1.0", DATAHUB_VALUES, "datahub", "platform")
    assert (result.status, result.errors, result.approximate, result.missing_dependencies) == (
        "rendered",
        [],
        False,
        [],
    )
    names = {name for kind, name in _kinds(result) if kind in ("Deployment", "Job")}
    assert {"datahub-datahub-gms", "datahub-datahub-mae-consumer", "datahub-datahub-mce-consumer"} <= names
    assert not any("frontend" in n or "actions" in n for n in names)
    assert _schema_errors(result) == []

    default = render_release("datahub", "1.1.0", {}, "datahub", "platform")
    default_names = {name for _, name in _kinds(default)}
    assert "datahub-datahub-frontend" in default_names and "datahub-datahub-mae-consumer" not in default_names


def test_datahub_schema_rejects_a_wrong_type() -> None:
    result = render_release("datahub", "1.1.0", {"datahub-gms": {"enabled": "yes"}}, "datahub", "platform")
    assert result.status == "not rendered"
    assert "values.schema.json" in result.errors[0]
    assert "/datahub-gms/enabled" in result.errors[0]


def test_airbyte_renders_as_an_approximation_of_the_pinned_version() -> None:
    result = render_release("airbyte", "2.0.19", {}, "airbyte", "sales")
    assert (result.status, result.errors, result.approximate) == ("rendered", [], True)
    assert "airbyte-310e6cb" in result.notes[0] and "2.0.19" in result.notes[0]
    assert ("Deployment", "airbyte-server") in _kinds(result)
    assert _schema_errors(result) == []


def test_enabled_absent_dependency_is_reported_and_the_rest_renders() -> None:
    result = render_release(
        "extdeps", "0.1.0", {"postgresql": {"enabled": True}}, "web", "sales", charts_src=FIXTURE_CHARTS
    )
    assert (result.status, result.errors, result.missing_dependencies) == ("rendered", [], ["postgresql"])
    assert _kinds(result) == {("ConfigMap", "web-helper"), ("Deployment", "web-web")}
    assert "postgresql" in result.notes[0]


def test_disabled_absent_dependencies_render_cleanly_and_tags_are_honoured() -> None:
    clean = render_release("extdeps", "0.1.0", {}, "web", "sales", charts_src=FIXTURE_CHARTS)
    assert (clean.status, clean.errors, clean.missing_dependencies, clean.notes) == ("rendered", [], [], [])
    tagged = render_release("extdeps", "0.1.0", {"tags": {"cache": True}}, "web", "sales", charts_src=FIXTURE_CHARTS)
    assert tagged.missing_dependencies == ["redis"]


def test_source_is_never_modified() -> None:
    def digest(folder: Path) -> str:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        return hashlib.sha256(
            b"".join(p.relative_to(folder).as_posix().encode() + p.read_bytes() for p in files)
        ).hexdigest()

    source = FIXTURE_CHARTS / "extdeps-0.1.0"
    before = digest(source)
    render_release("extdeps", "0.1.0", {"replicaCount": 3}, "other", "sales", charts_src=FIXTURE_CHARTS)
    assert digest(source) == before
    assert not (source / "charts").exists()


def test_chart_without_source_is_not_rendered_with_the_reason() -> None:
    result = render_release("dagster", "1.9.11", {}, "dagster", "sales")
    assert (result.status, result.reason, result.manifests, result.errors) == ("not rendered", NOT_OFFLINE, [], [])


def test_shared_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(render.SHARED_DIR_ENV, str(tmp_path))
    assert charts_src_dir() == tmp_path / "charts" / "src"


def test_renders_are_cached() -> None:
    assert _alb() is _alb()


def test_render_program_writes_one_file_per_template_and_a_summary(tmp_path: Path) -> None:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "guardrails", "namespace": "sales"},
        "spec": {"hard": {"requests.cpu": "1", "limits.memory": "1Gi", "pods": "10"}},
    }
    release = {
        "chart": "extdeps",
        "version": "0.1.0",
        "repositoryOpts": {"repo": "https://charts.example.com"},
        "namespace": "sales",
        "name": "web",
        "values": {"replicaCount": 3, "postgresql": {"enabled": True}},
    }
    program = Program(
        "dev",
        False,
        [
            record("kubernetes:core/v1:ResourceQuota", "sales-quota", quota),
            record("kubernetes:helm.sh/v3:Release", "sales-web", release),
            record(
                "kubernetes:helm.sh/v3:Release", "sales-dagster", {**release, "chart": "dagster", "name": "dagster"}
            ),
        ],
        {},
    )
    reports = render_program(program, tmp_path, charts_src=FIXTURE_CHARTS)
    web, dagster = reports
    assert (web.result.status, web.result.missing_dependencies) == ("rendered", ["postgresql"])
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    assert written == [
        "sales-web/extdeps/charts/helper/templates/configmap.yaml",
        "sales-web/extdeps/templates/deployment.yaml",
    ]
    # Quota fit counts the rendered Deployment: 3 replicas x 256Mi memory limit.
    assert "quota sales: limits.memory: used 768Mi of 1024Mi, headroom 256Mi" in web.notes
    assert web.findings == []
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [(s["release"], s["status"]) for s in summary] == [
        ("sales/web", "rendered"),
        ("sales/dagster", "not rendered"),
    ]
    assert summary[1]["reason"] == NOT_OFFLINE and dagster.out_dir == ""


def _local_chart(folder: Path, name: str, version: str) -> Path:
    """A chart folder as `git archive` of a chart directory leaves it: Chart.yaml, values and a template."""
    (folder / "templates").mkdir(parents=True)
    (folder / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}))
    (folder / "values.yaml").write_text("replicas: 1\n")
    (folder / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n"
        "data:\n  replicas: {{ .Values.replicas | quote }}\n"
    )
    return folder


def test_a_named_chart_source_renders_without_the_network_even_when_published(tmp_path: Path) -> None:
    folder = _local_chart(tmp_path / "dagster", "dagster", "1.13.27")
    release = {
        "chart": "dagster",
        "version": "1.13.27",
        # Unreachable: a pull would fail, so the render must come from the named folder.
        "repositoryOpts": {"repo": "https://charts.invalid"},
        "namespace": "sales",
        "name": "sales-dagster",
        "values": {"replicas": 2},
    }
    program = Program("dev", False, [record("kubernetes:helm.sh/v3:Release", "sales-dagster", release)], {})
    sources = render.parse_chart_sources([f"dagster={folder}"])
    (report,) = render_program(program, tmp_path / "out", published=True, chart_sources=sources)
    res = report.result
    assert (res.status, res.source, res.approximate, res.errors) == ("rendered", str(folder), False, [])
    assert [(o["kind"], o["metadata"]["name"], o["data"]) for o in res.manifests] == [
        ("ConfigMap", "sales-dagster-cm", {"replicas": "2"})
    ]
    # Another version in the folder than the release pins: rendered, and said to be approximate.
    other = render.render_one(report.release._replace(version="1.13.28"), {"replicas": 2}, chart_sources=sources)
    assert other.approximate and other.notes == ["approximate: the release pins 1.13.28, the offline source is 1.13.27"]


def test_a_chart_source_argument_is_checked(tmp_path: Path) -> None:
    folder = _local_chart(tmp_path / "superset", "superset", "0.22.8")
    for argument, problem in [
        (f"superset:{folder}", "expected NAME=PATH"),
        (f"dagster={folder}", "names chart 'superset', not 'dagster'"),
        (f"superset={tmp_path}", "no Chart.yaml"),
    ]:
        with pytest.raises(render.ChartSourceError, match=problem):
            render.parse_chart_sources([argument])
    with pytest.raises(render.ChartSourceError, match="given twice"):
        render.parse_chart_sources([f"superset={folder}", f"superset={folder}"])
    with pytest.raises(SystemExit):
        render.main(["--stack", "dev", "--chart-source", f"dagster={folder}"])


# ---- rendered checks ----------------------------------------------------------------------------


def test_hardened_objects_pass_every_check() -> None:
    objects = _fixture_objects("hardened.yaml")
    assert schema_findings(objects, VERSION)[0] == []
    assert pss_findings(objects, VERSION) == []
    assert image_findings(objects) == []
    assert secret_findings(objects, {KNOWN_SECRET}) == []


@pytest.mark.parametrize("obj", _fixture_objects("pss-baseline-violations.yaml"), ids=lambda o: o["metadata"]["name"])
def test_pss_baseline_catches_each_control(obj: dict[str, Any]) -> None:
    assert schema_findings([obj], VERSION)[0] == []
    messages = [f.message for f in pss_findings([obj], VERSION)]
    assert any(_expected(obj) in m for m in messages), messages


def test_pss_baseline_follows_the_kubernetes_version() -> None:
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "600"}]},
            "containers": [
                {"name": "c", "image": "a:1", "readinessProbe": {"tcpSocket": {"host": "10.0.0.1", "port": 1}}}
            ],
        },
    }
    assert len(pss_findings([pod], "1.28")) == 1  # the sysctl became safe in 1.29
    assert len(pss_findings([pod], "1.33")) == 0  # probe hosts are restricted from 1.34
    assert len(pss_findings([pod], "1.34")) == 1


@pytest.mark.parametrize("obj", _fixture_objects("images.yaml"), ids=lambda o: o["metadata"]["name"])
def test_image_tags(obj: dict[str, Any]) -> None:
    messages = [f.message for f in image_findings([obj])]
    if _expected(obj):
        assert len(messages) == 1 and _expected(obj) in messages[0], messages
    else:
        assert messages == []


@pytest.mark.parametrize("obj", _fixture_objects("secrets.yaml"), ids=lambda o: o["metadata"]["name"])
def test_secrets_outside_secret_objects(obj: dict[str, Any]) -> None:
    messages = [f.message for f in secret_findings([obj], {KNOWN_SECRET})]
    assert len(messages) == 1 and _expected(obj) in messages[0], messages


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("PASSWORD", True),
        ("dbPassword", True),
        ("MINIO_SECRET_KEY", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("api-key", True),
        ("GITHUB_TOKEN", True),
        ("client_secret", True),
        ("AWS_ACCESS_KEY_ID", False),
        ("DB_PASSWORD_SECRET_NAME", False),
        ("CLIENT_SECRET_SECRET_KEY", False),
        ("AB_JWT_SIGNATURE_SECRET_KEY", False),
        ("PASSWORD_FILE", False),
        ("TOKEN_URL", False),
        ("PARTITION_KEY", False),
        ("KEYCLOAK_URL", False),
        ("IMAGE_PULL_SECRETS", False),
        ("SECRET_SERVICE_CALLER_GUARD_MODE", False),
        ("PWD", False),
        ("ALLOW_EMPTY_PASSWORD", False),  # bitnami Redis's switch, "no" in the Superset release's Redis
        ("USE_PASSWORD_FILES", False),
        ("ALLOWED_TOKEN", True),
        ("hub-existing-secret-or-default", False),
        ("default-secret", True),
    ],
)
def test_secret_like_names(name: str, secret: bool) -> None:
    assert secret_like(name) is secret


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("SYSTEM_CLIENT_SECRET_FILE", "/secrets/client/secret", False),  # a path under the mount
        ("DB_PASSWORD_FILE", "/secrets/client", False),  # the mount itself (a subPath file)
        ("SYSTEM_CLIENT_SECRET_FILE", "hunter2", True),
        ("DB_PASSWORD_FILE", "/secrets/client/../../etc/pw", True),  # leaves the mount
        ("DB_PASSWORD_FILE", "/secrets/clientele/pw", True),  # a sibling, not below it
        ("PROPOSALS_FILE", "proposals.json", False),  # nothing secret in the rest of the name
        ("DB_PASSWORD", "/secrets/client/pw", True),  # only a _FILE name is a path
    ],
)
def test_a_file_env_holds_a_path_only_under_a_mount(name: str, value: str, secret: bool) -> None:
    assert env_secret_like(name, value, ["/secrets/client"]) is secret


QUOTA_OBJECTS = _fixture_objects("quota.yaml")
QUOTA = next(o for o in QUOTA_OBJECTS if o["kind"] == "ResourceQuota")
LIMIT_RANGES = [o for o in QUOTA_OBJECTS if o["kind"] == "LimitRange"]


def test_quota_headroom_is_computed_per_resource() -> None:
    report = quota_fit(QUOTA_OBJECTS, QUOTA, LIMIT_RANGES, namespace="sales")
    mi = Decimal(2**20)
    assert {f.resource: (f.used, f.headroom) for f in report.fits} == {
        "requests.cpu": (Decimal("5.8"), Decimal("0.2")),
        "requests.memory": (4288 * mi, 3904 * mi),
        "limits.cpu": (Decimal("10.7"), Decimal("-0.7")),
        "limits.memory": (7744 * mi, 8640 * mi),
        "pods": (Decimal(7), Decimal(3)),
    }
    assert report.problems == []
    assert [str(f) for f in report.findings()] == [
        "[quota] ResourceQuota sales: over quota: limits.cpu: used 10700m of 10000m, headroom -700m"
    ]
    assert ("Deployment sales/web", 4) in report.workloads  # the HPA's maximum


def test_quota_rejects_containers_without_values_when_no_limit_range_defaults_them() -> None:
    report = quota_fit(QUOTA_OBJECTS, QUOTA, [], namespace="sales")
    assert len(report.problems) == 4
    assert all(p.startswith("StatefulSet sales/db: container db sets no ") for p in report.problems)


def test_rendered_program_objects_in_another_namespace_do_not_count() -> None:
    elsewhere = [{**o, "metadata": {**o["metadata"], "namespace": "marketing"}} for o in QUOTA_OBJECTS]
    report = quota_fit(elsewhere, QUOTA, LIMIT_RANGES, namespace="sales")
    assert all(f.used == 0 for f in report.fits)


def test_known_secrets_are_the_secret_values_not_their_neighbours() -> None:
    secret = record(
        "kubernetes:core/v1:Secret",
        "sales-db",
        {"stringData": Secret({"host": "db.sales.example.com", "password": "hunter2hunter2", "pin": "1234"})},
    )
    generated = record("random:index/randomPassword:RandomPassword", "sales-db-password", {"length": 32})
    generated.outputs = {"result": "generated-0123456789"}
    assert known_secrets(Program("dev", False, [secret, generated], {})) == {"hunter2hunter2", "generated-0123456789"}
