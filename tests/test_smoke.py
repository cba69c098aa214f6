"""`platformctl smoke` against API answers in their documented shapes (tests/fixtures/smoke), passing and failing.

The HTTP side is real (urllib against local servers standing in for each port-forwarded Service and
for the ingress); the kubectl side is a fake in-process Kube, and the real Kubectl class is checked
against a stand-in `kubectl` executable.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shlex
import stat
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from components.config import parse_stack_config
from platformctl import smoke
from platformctl.__main__ import main as cli
from tests.harness import PROJECT_DIR, program_for, stack_config

FIXTURES = PROJECT_DIR / "tests" / "fixtures" / "smoke"
RELEASE = "kubernetes:helm.sh/v3:Release"
REAL_HTTP = smoke.UrllibHttp


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def config_of(stack: str):
    return parse_stack_config({k.split(":", 1)[1]: smoke._parse(v) for k, v in stack_config(stack).items()})


@pytest.fixture(scope="module")
def dev() -> smoke.Expectations:
    return smoke.expectations(program_for("dev"), config_of("dev"))


@pytest.fixture(scope="module")
def local() -> smoke.Expectations:
    return smoke.expectations(program_for("local"), config_of("local"))


# ---- stand-ins ----------------------------------------------------------------------------------------

Route = tuple[int, Any]  # status, JSON body (or bytes)


class Server:
    """One local HTTP server answering from a route table; records every request."""

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.routes = routes
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                host = (self.headers.get("Host") or "").split(":")[0]
                status, payload = outer.routes.get(
                    (self.command, f"{host}{self.path}"), outer.routes.get((self.command, self.path), (404, {}))
                )
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeKube:
    """kubectl answers from fixtures; port-forwards lead to the Service's stand-in server."""

    def __init__(self, namespaces: list[str], workloads: dict[str, Any], servers: dict[str, Server]) -> None:
        self.namespaces = namespaces
        self.workloads = workloads
        self.servers = servers
        self.forwards: list[str] = []
        self.secrets: list[tuple[str, str, str]] = []

    def get_json(self, *args: str) -> dict[str, Any]:
        if args == ("get", "namespaces"):
            return {"kind": "List", "items": [{"metadata": {"name": n}} for n in self.namespaces]}
        assert args[:2] == ("get", "deployments,statefulsets,jobs") and args[2] == "-n", args
        return self.workloads.get(args[3], fixture("workloads-ready.json"))

    def secret_value(self, namespace: str, name: str, key: str) -> str:
        self.secrets.append((namespace, name, key))
        return f"secret-of-{namespace}"

    @contextlib.contextmanager
    def port_forward(self, service: smoke.ServiceRef) -> Iterator[int]:
        self.forwards.append(str(service))
        server = self.servers.get(f"{service.namespace}/{service.name}")
        if server is None:
            raise smoke.SmokeError(f'error: services "{service.name}" not found')
        yield server.port


def healthy_routes(exp: smoke.Expectations) -> dict[str, dict[tuple[str, str], Route]]:
    """Per Service (namespace/name): what a healthy stack answers."""
    routes: dict[str, dict[tuple[str, str], Route]] = {}
    for t in exp.dagster:
        loaded = fixture("dagster-workspace-loaded.json")
        loaded["data"]["workspaceOrError"]["locationEntries"][0]["name"] = t.locations[0]
        routes[f"{t.webserver.namespace}/{t.webserver.name}"] = {("POST", "/graphql"): (200, loaded)}
    for t in exp.superset:
        databases = fixture("superset-databases.json")
        databases["result"][1]["database_name"] = t.database
        routes[f"{t.web.namespace}/{t.web.name}"] = {
            ("POST", "/api/v1/security/login"): (200, fixture("superset-login.json")),
            ("GET", "/api/v1/database/"): (200, databases),
            ("GET", "/api/v1/database/2/schemas/"): (200, fixture("superset-schemas.json")),
        }
    assert exp.catalog is not None
    routes[f"{exp.catalog.gms.namespace}/{exp.catalog.gms.name}"] = {
        ("POST", "/api/graphql"): (200, fixture("gms-domain-found.json"))
    }
    return routes


@pytest.fixture
def world(request: pytest.FixtureRequest):
    """Build servers for an expectation set; close them after the test."""
    made: list[Server] = []

    def build(exp: smoke.Expectations, routes: dict[str, dict[tuple[str, str], Route]], ui_status: int = 200):
        servers = {name: Server(r) for name, r in routes.items()}
        ui_routes = {("GET", f"{u.host}{u.health_path}"): (ui_status, b"GOOD") for u in exp.uis}
        ingress = Server(ui_routes)
        if exp.ingress_forward is not None:
            servers[f"{exp.ingress_forward.namespace}/{exp.ingress_forward.name}"] = ingress
        made.extend([*servers.values(), ingress])
        return servers, ingress

    yield build
    for s in made:
        s.close()


# ---- what the stack should hold -------------------------------------------------------------------------


def test_expectations_come_from_the_program(dev: smoke.Expectations) -> None:
    assert set(dev.namespaces) == {"kube-system", "platform", "opencost", "sales", "marketing", "sandbox"}
    assert {(u.namespace, u.tool) for u in dev.uis} == {
        (d, t) for d in ("sales", "marketing") for t in ("dagster", "airbyte", "superset")
    } | {("platform", "datahub"), ("sandbox", "notebooks")}
    paths = {u.tool: u.health_path for u in dev.uis}
    assert paths == {
        "dagster": "/server_info",
        "airbyte": "/api/v1/health",
        "superset": "/health",
        "datahub": "/admin",
        "notebooks": "/hub/health",
    }
    assert all(u.url == f"https://{u.host}{u.health_path}" for u in dev.uis)
    assert {t.domain: t.locations for t in dev.dagster} == {"sales": ("sales",), "marketing": ("marketing",)}
    assert dev.catalog == smoke.CatalogTarget(
        smoke.ServiceRef("platform", "datahub-datahub-gms", 8080), ("marketing", "sales")
    )
    assert dev.ingress_forward is None and dev.kube_context is None


def test_prod_uis_are_checked_over_https() -> None:
    prod = smoke.expectations(program_for("prod"), config_of("prod"))
    assert prod.uis and all(u.url.startswith("https://") for u in prod.uis)


def test_local_reaches_uis_through_ingress_nginx(local: smoke.Expectations) -> None:
    assert local.ingress_forward == smoke.ServiceRef("ingress-nginx", "ingress-nginx-controller", 80)
    assert local.kube_context == "kind-dataplatform"
    assert {"minio", "cnpg-system", "ingress-nginx", "platform", "sales", "marketing", "sandbox"} <= set(
        local.namespaces
    )
    assert all(u.host.endswith(".localtest.me") for u in local.uis)
    # No ALB annotation on the laptop: the hub's health path comes from the smoke check's own table.
    assert next(u for u in local.uis if u.tool == "notebooks").health_path == "/hub/health"
    dex = next(u for u in local.uis if u.tool == "dex")
    assert dex.health_path == "/dex/.well-known/openid-configuration"


def test_superset_warehouse_name_is_the_one_the_init_job_registers() -> None:
    program = program_for("dev")
    for release in program.of_type(RELEASE):
        if release.inputs["chart"] == "superset":
            name = smoke.superset_warehouse_name(release.inputs["namespace"])
            assert f"set-database-uri -d {shlex.quote(name)} " in json.dumps(release.inputs["values"])


# ---- a healthy stack ------------------------------------------------------------------------------------


def test_a_healthy_stack_passes_every_check(dev: smoke.Expectations, world) -> None:
    servers, ingress = world(dev, healthy_routes(dev))
    kube = FakeKube(list(dev.namespaces), {}, servers)
    # aws: the UIs at their URLs; here the stand-in ingress answers for every host.
    http = smoke.UrllibHttp(timeout=5)
    direct = _Redirected(http, ingress.port)
    report = smoke.run_checks(dev, kube, direct)
    assert report.failed == [], report.text()
    kinds = [c.kind for c in report.checks]
    # kube-system, platform, opencost, sandbox and 2 domains; 3 UIs per domain, DataHub and the notebooks.
    assert kinds.count("workloads") == 6 and kinds.count("ui") == 8
    assert kinds.count("dagster") == kinds.count("datahub") == kinds.count("superset") == 2
    assert report.text().splitlines()[-1] == f"{len(report.checks)} checks, 0 failed"
    # Credentials come from the stack's Secrets, and are sent as each API expects.
    assert ("platform", "datahub-auth", "system_client_secret") in kube.secrets
    assert ("sales", "superset-credentials", "SUPERSET_ADMIN_PASSWORD") in kube.secrets
    gms = servers["platform/datahub-datahub-gms"].requests
    assert {r["headers"]["Authorization"] for r in gms} == {"Basic __datahub_system:secret-of-platform"}
    assert {json.loads(r["body"])["variables"]["urn"] for r in gms} == {
        "urn:li:domain:sales",
        "urn:li:domain:marketing",
    }
    login = servers["sales/sales-superset"].requests[0]
    assert json.loads(login["body"]) == {
        "username": "admin",
        "password": "secret-of-sales",
        "provider": "db",
        "refresh": False,
    }
    assert servers["sales/sales-superset"].requests[1]["headers"]["Authorization"].startswith("Bearer eyJ")
    # No secret in the report.
    assert "secret-of" not in report.text()


class _Redirected:
    """Sends requests for the UIs' hosts to the stand-in ingress (as DNS would send them to the ALB)."""

    def __init__(self, http: smoke.UrllibHttp, port: int) -> None:
        self.http, self.port = http, port

    def request(self, method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None):
        if url.startswith("http://127.0.0.1"):
            return self.http.request(method, url, body=body, headers=headers)
        host, _, path = url.removeprefix("http://").removeprefix("https://").partition("/")
        return self.http.request(
            method, f"http://127.0.0.1:{self.port}/{path}", body=body, headers={**(headers or {}), "Host": host}
        )


def test_local_uis_go_through_a_port_forward_with_their_host(local: smoke.Expectations, world) -> None:
    servers, ingress = world(local, healthy_routes(local))
    kube = FakeKube(list(local.namespaces), {}, servers)
    report = smoke.run_checks(local, kube, smoke.UrllibHttp(timeout=5))
    assert report.failed == [], report.text()
    assert "ingress-nginx/svc/ingress-nginx-controller:80" in kube.forwards
    assert {(r["headers"]["Host"], r["path"]) for r in ingress.requests} == {(u.host, u.health_path) for u in local.uis}


# ---- failures -------------------------------------------------------------------------------------------


def test_unready_workloads_failed_jobs_and_missing_namespaces_fail(dev: smoke.Expectations, world) -> None:
    servers, _ = world(dev, healthy_routes(dev))
    kube = FakeKube(
        ["kube-system", "platform", "opencost", "sales", "sandbox"],
        {"sales": fixture("workloads-broken.json")},
        servers,
    )
    checks = smoke.check_workloads(kube, dev.namespaces)
    failed = {c.subject: c.detail for c in checks if not c.ok}
    assert failed == {
        "marketing": "missing",
        "sales/Deployment/web": "1/2 ready",
        "sales/Job/init": "failed (6 failed pods)",
        "sales/CronJob/ingest": "newest run failed (2 failed pods)",
    }
    # The ready fixture: an older failed CronJob run and a failed Dagster run are not platform failures.
    assert next(c for c in checks if c.subject == "platform").ok


def test_failing_apis_are_reported_and_exit_non_zero(
    dev: smoke.Expectations, world, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = healthy_routes(dev)
    routes["sales/sales-dagster-dagster-webserver"][("POST", "/graphql")] = (
        200,
        fixture("dagster-workspace-error.json"),
    )
    routes["platform/datahub-datahub-gms"][("POST", "/api/graphql")] = (200, fixture("gms-domain-missing.json"))
    routes["sales/sales-superset"][("GET", "/api/v1/database/2/schemas/")] = (
        500,
        fixture("superset-schemas-error.json"),
    )
    del routes["marketing/marketing-superset"]  # Service missing: the port-forward fails
    servers, ingress = world(dev, routes, ui_status=503)
    kube = FakeKube(list(dev.namespaces), {}, servers)
    monkeypatch.setattr(smoke, "Kubectl", lambda context, timeout: kube)
    monkeypatch.setattr(smoke, "UrllibHttp", lambda timeout: _Redirected(REAL_HTTP(timeout=5), ingress.port))
    monkeypatch.setattr(smoke.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(smoke, "run_program", program_for)  # the same run, cached
    assert cli(["smoke", "--stack", "dev"]) == 1
    out = capsys.readouterr().out
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert any(
        "dagster" in line and "sales" in line and "DagsterUserCodeUnreachableError" in line for line in failed
    ), out
    assert any("datahub" in line and "urn:li:domain:sales not in DataHub" in line for line in failed), out
    assert any(
        "superset" in line and "'sales warehouse' unreachable: HTTP 500 Connection failed" in line for line in failed
    )
    assert any("superset" in line and "marketing" in line and "not found" in line for line in failed), out
    assert sum("ui " in line and "HTTP 503" in line for line in failed) == 8
    assert out.splitlines()[-1].endswith(f"{len(failed)} failed")


def test_without_kubectl_the_check_cannot_start(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(smoke.shutil, "which", lambda name: None)
    assert cli(["smoke", "--stack", "dev"]) == 2
    assert "kubectl is not on PATH" in capsys.readouterr().err


def test_an_unreachable_ui_is_a_failure_not_a_crash(dev: smoke.Expectations) -> None:
    http = smoke.UrllibHttp(timeout=2)
    with pytest.raises(smoke.SmokeError, match=r"127\.0\.0\.1:9"):
        http.request("GET", "http://127.0.0.1:9/health")
    only = smoke.Expectations("dev", (), dev.uis[:1], (), (), None)
    (check,) = smoke.check_uis(FakeKube([], {}, {}), _Unreachable(), only)
    assert not check.ok and "connection refused" in check.detail


class _Unreachable:
    def request(self, method: str, url: str, **_: Any):
        raise smoke.SmokeError(f"{method} {url}: connection refused")


# ---- the real kubectl wrapper, against a stand-in executable ---------------------------------------------

FAKE_KUBECTL = r"""#!{python}
import json, os, sys, time
args = sys.argv[1:]
with open(os.environ["KUBECTL_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if "port-forward" in args:
    print("Forwarding from 127.0.0.1:{port} -> 8080", flush=True)
    print("Forwarding from [::1]:{port} -> 8080", flush=True)
    time.sleep(60)
elif "secret" in args:
    print(json.dumps({{"data": {{"SUPERSET_ADMIN_PASSWORD": "{b64}"}}}}))
elif "missing" in args:
    print("Error from server (NotFound): namespaces \"missing\" not found", file=sys.stderr)
    sys.exit(1)
else:
    print(json.dumps({{"kind": "List", "items": []}}))
"""


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    exe = tmp_path / "kubectl"
    b64 = base64.b64encode(b"s3cret").decode()
    exe.write_text(FAKE_KUBECTL.format(python=sys.executable, port=43121, b64=b64))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("KUBECTL_LOG", str(log))
    return str(exe), log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_kubectl_json_secret_and_errors(kubectl: tuple[str, Path]) -> None:
    exe, log = kubectl
    kube = smoke.Kubectl("kind-dataplatform", executable=exe, timeout=10)
    assert kube.get_json("get", "deployments,statefulsets,jobs", "-n", "sales") == {"kind": "List", "items": []}
    assert kube.secret_value("sales", "superset-credentials", "SUPERSET_ADMIN_PASSWORD") == "s3cret"
    with pytest.raises(smoke.SmokeError, match="NotFound"):
        kube.get_json("get", "namespace", "missing")
    assert calls(log)[0] == [
        "--context",
        "kind-dataplatform",
        "get",
        "deployments,statefulsets,jobs",
        "-n",
        "sales",
        "-o",
        "json",
    ]


def test_kubectl_port_forward_reads_the_local_port_and_stops(kubectl: tuple[str, Path]) -> None:
    exe, log = kubectl
    kube = smoke.Kubectl(None, executable=exe, timeout=10)
    with kube.port_forward(smoke.ServiceRef("platform", "datahub-datahub-gms", 8080)) as port:
        assert port == 43121
    assert calls(log)[-1] == ["-n", "platform", "port-forward", "svc/datahub-datahub-gms", ":8080"]


def test_readme_documents_the_smoke_command() -> None:
    assert "python -m platformctl smoke --stack" in (PROJECT_DIR / "README.md").read_text()


def test_each_ui_probe_is_a_path_its_sign_in_gateway_lets_through(dev: smoke.Expectations) -> None:
    # Otherwise the gateway would answer the probe with a redirect to sign-in, not the tool's health.
    program = program_for("dev")
    gateways = {
        r.inputs["name"]: json.dumps(r.inputs["values"])
        for r in program.of_type(RELEASE)
        if r.inputs["chart"] == "oauth2-proxy"
    }
    for ui in dev.uis:
        if ui.tool == "notebooks":
            # No gateway: JupyterHub signs users in itself, and its /hub/health answers without sign-in
            # (the chart's kubelet probes call it with no credentials; tests/test_notebooks.py).
            continue
        name = "datahub-oauth2-proxy" if ui.tool == "datahub" else f"{ui.namespace}-{ui.tool}-oauth2-proxy"
        route = f"--skip-auth-route=GET=^{re.escape(ui.health_path)}$"
        assert route in gateways[name].replace("\\\\", "\\"), (ui, name)
