"""Smoke check of a deployed stack, from the current kubeconfig.

    python -m platformctl smoke --stack dev [--context CTX] [--timeout 20]

What the stack should hold comes from the program itself, run offline under mocks for that stack
(the same run as `platformctl plan`): its namespaces, UI Ingresses, Dagster code locations, Superset
warehouses and the domains the catalog registers. Then, against the cluster:

1. every Deployment and StatefulSet in those namespaces is ready, and every Job has completed
   (Dagster run Jobs are pipeline runs, not the platform's: skipped; of a CronJob's Jobs only the
   newest counts, and it may still be running);
2. each UI's health endpoint answers 2xx through its Ingress (and its sign-in gateway, which lets
   the health path alone through): on the aws foundation at its URL
   (external-dns records; an internal ALB needs a machine inside the VPC or on its VPN), on the
   local foundation through a port-forward to ingress-nginx with the UI's Host header;
3. each domain's Dagster code locations are loaded (Dagster GraphQL `workspaceOrError`);
4. DataHub holds each domain (GMS GraphQL `domain(urn:)`, with the system client's credentials);
5. each Superset reaches its warehouse (Superset API: log in, find `<domain> warehouse`, list its
   schemas, which opens a connection).

APIs are reached with `kubectl port-forward` to their Services; credentials are read from the
Kubernetes Secrets the stack created, kept in memory and never printed. Output is one PASS/FAIL line
per check; the exit code is 1 when any check fails, 2 when the checks cannot start.
Uses only kubectl and the standard library.
"""

from __future__ import annotations

import base64
import contextlib
import json
import queue
import re
import shlex
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import pulumi

from components.catalog import AUTH_SECRET, FRONTEND_HEALTH_PATH, SYSTEM_CLIENT_ID
from components.config import StackConfig, parse_stack_config
from components.local.foundation import INGRESS_NAMESPACE, INGRESS_RELEASE
from components.runtime.superset_sign_in import API_LOGIN_PROVIDER
from components.tools import UI_HEALTH_PATHS
from components.tools.superset import ADMIN as SUPERSET_ADMIN
from components.tools.superset import CREDENTIALS_SECRET as SUPERSET_CREDENTIALS_SECRET
from components.values import dex as dex_values
from components.values.dagster import dagster_ui_service
from components.values.jupyterhub import HEALTH_PATH as JUPYTERHUB_HEALTH_PATH
from components.values.superset import superset_ui_service
from platformctl.simulate import Program, run_program, stack_config

NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
INGRESS_TYPE = "kubernetes:networking.k8s.io/v1:Ingress"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
HEALTHCHECK_ANNOTATION = "alb.ingress.kubernetes.io/healthcheck-path"
# Each UI's unauthenticated health endpoint (the sign-in gateways let exactly these through): the
# tools' from components/domain.py, DataHub's frontend, and the local stack's Dex discovery document.
HEALTH_PATHS = {
    **UI_HEALTH_PATHS,
    "datahub": FRONTEND_HEALTH_PATH,
    # The analysts' JupyterHub (Ingress `notebooks`): the hub's health answered through its proxy.
    "notebooks": JUPYTERHUB_HEALTH_PATH,
    "dex": f"{dex_values.PATH}/.well-known/openid-configuration",
}
SUPERSET_PASSWORD_KEY = "SUPERSET_ADMIN_PASSWORD"
SYSTEM_SECRET_KEY = "system_client_secret"
DAGSTER_RUN_LABEL = "dagster/run-id"

WORKSPACE_QUERY = """query SmokeWorkspace {
  workspaceOrError {
    __typename
    ... on Workspace { locationEntries { name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } }
    ... on PythonError { message }
  }
}"""
DOMAIN_QUERY = "query SmokeDomain($urn: String!) { domain(urn: $urn) { urn properties { name } } }"


def superset_warehouse_name(domain: str) -> str:
    """The database name the Superset init job registers the domain warehouse under (components/domain.py)."""
    return f"{domain} warehouse"


# ---- what the stack should hold -------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRef:
    namespace: str
    name: str
    port: int

    def __str__(self) -> str:
        return f"{self.namespace}/svc/{self.name}:{self.port}"


@dataclass(frozen=True)
class Ui:
    namespace: str
    tool: str
    host: str
    scheme: str
    health_path: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.health_path}"


@dataclass(frozen=True)
class DagsterTarget:
    domain: str
    webserver: ServiceRef
    locations: tuple[str, ...]


@dataclass(frozen=True)
class SupersetTarget:
    domain: str
    web: ServiceRef
    database: str


@dataclass(frozen=True)
class CatalogTarget:
    gms: ServiceRef
    domains: tuple[str, ...]


@dataclass(frozen=True)
class Expectations:
    stack: str
    namespaces: tuple[str, ...]
    uis: tuple[Ui, ...]
    dagster: tuple[DagsterTarget, ...]
    superset: tuple[SupersetTarget, ...]
    catalog: CatalogTarget | None
    # Local foundation: UIs are reached through a port-forward to the ingress controller.
    ingress_forward: ServiceRef | None = None
    kube_context: str | None = None


def _service_from_url(url: str) -> ServiceRef:
    parts = urlsplit(url)  # http://<svc>.<namespace>.svc:<port>
    host = parts.hostname or ""
    name, namespace = host.split(".")[:2]
    return ServiceRef(namespace, name, parts.port or 80)


def expectations(program: Program, config: StackConfig) -> Expectations:
    """Everything the smoke check looks for, read from the program's registered resources."""
    releases = program.of_type(RELEASE_TYPE)
    namespaces = {r.inputs["metadata"]["name"] for r in program.of_type(NAMESPACE_TYPE)}
    namespaces |= {r.inputs["namespace"] for r in releases}

    uis = []
    for r in program.of_type(INGRESS_TYPE):
        meta = r.inputs["metadata"]
        annotations = meta.get("annotations") or {}
        tool = meta["name"]
        https = any(k.endswith("/certificate-arn") for k in annotations)
        path = annotations.get(HEALTHCHECK_ANNOTATION) or HEALTH_PATHS.get(tool, "/")
        scheme = "https" if https else "http"
        uis.extend(Ui(meta["namespace"], tool, rule["host"], scheme, path) for rule in r.inputs["spec"]["rules"])

    dagster, superset = [], []
    for r in releases:
        chart, name, namespace, values = r.inputs["chart"], r.inputs["name"], r.inputs["namespace"], r.inputs["values"]
        if chart == "dagster":
            deployments = (values.get("dagster-user-deployments") or {}).get("deployments") or []
            service, port = dagster_ui_service(name)
            dagster.append(
                DagsterTarget(namespace, ServiceRef(namespace, service, port), tuple(d["name"] for d in deployments))
            )
        elif chart == "superset":
            service, port = superset_ui_service(name)
            superset.append(
                SupersetTarget(namespace, ServiceRef(namespace, service, port), superset_warehouse_name(namespace))
            )

    catalog_export = program.exports.get("catalog")
    catalog = (
        CatalogTarget(_service_from_url(catalog_export["gmsUrl"]), tuple(sorted(program.exports.get("domains", {}))))
        if isinstance(catalog_export, dict)
        else None
    )
    local = config.foundation == "local"
    return Expectations(
        stack=program.stack,
        namespaces=tuple(sorted(namespaces)),
        uis=tuple(sorted(uis, key=lambda u: (u.namespace, u.tool))),
        dagster=tuple(dagster),
        superset=tuple(superset),
        catalog=catalog,
        ingress_forward=ServiceRef(INGRESS_NAMESPACE, f"{INGRESS_RELEASE}-controller", 80) if local else None,
        kube_context=config.local.kube_context if local else None,
    )


# ---- talking to the cluster and the APIs ----------------------------------------------------------


class SmokeError(Exception):
    """A step could not be carried out (kubectl failed, an API did not answer as documented)."""


class Kube(Protocol):
    def get_json(self, *args: str) -> dict[str, Any]: ...

    def secret_value(self, namespace: str, name: str, key: str) -> str: ...

    def port_forward(self, service: ServiceRef) -> contextlib.AbstractContextManager[int]: ...


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise SmokeError(f"answer is not JSON (HTTP {self.status}): {self.body[:120]!r}") from exc


class Http(Protocol):
    def request(
        self, method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None
    ) -> Response: ...


_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")


class Kubectl:
    """kubectl with JSON output, for the context the stack names (or the current one)."""

    def __init__(self, context: str | None = None, *, executable: str = "kubectl", timeout: float = 30) -> None:
        self.base = [executable, *(["--context", context] if context else [])]
        self.timeout = timeout

    def get_json(self, *args: str) -> dict[str, Any]:
        command = [*self.base, *args, "-o", "json"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SmokeError(f"{shlex.join(command)}: {exc}") from exc
        if done.returncode != 0:
            raise SmokeError(f"{shlex.join(command)}: {done.stderr.strip() or f'exit {done.returncode}'}")
        return json.loads(done.stdout)

    def secret_value(self, namespace: str, name: str, key: str) -> str:
        data = self.get_json("get", "secret", name, "-n", namespace).get("data") or {}
        if key not in data:
            raise SmokeError(f"Secret {namespace}/{name} has no key {key}")
        return base64.b64decode(data[key]).decode()

    @contextlib.contextmanager
    def port_forward(self, service: ServiceRef) -> Iterator[int]:
        command = [*self.base, "-n", service.namespace, "port-forward", f"svc/{service.name}", f":{service.port}"]
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError as exc:
            raise SmokeError(f"{shlex.join(command)}: {exc}") from exc
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
        try:
            port = None
            while port is None:
                try:
                    line = lines.get(timeout=self.timeout)
                except queue.Empty:
                    raise SmokeError(f"{shlex.join(command)}: no port after {self.timeout:g}s") from None
                match = _FORWARDING.search(line)
                port = int(match.group(1)) if match else None
                if port is None and proc.poll() is not None:
                    error = proc.stderr.read().strip() if proc.stderr else ""
                    raise SmokeError(f"{shlex.join(command)}: {error or f'exit {proc.returncode}'}")
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


class UrllibHttp:
    """A small JSON-over-HTTP client on urllib; errors become responses, unreachable hosts SmokeError."""

    def __init__(self, timeout: float = 20) -> None:
        self.timeout = timeout

    def request(self, method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Accept": "application/json", **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as answer:
                return Response(answer.status, answer.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SmokeError(f"{method} {url}: {reason}") from exc


# ---- checks -----------------------------------------------------------------------------------------


@dataclass
class Check:
    kind: str
    subject: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.kind:<9} {self.subject}: {self.detail}"


@dataclass
class Report:
    stack: str
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def text(self) -> str:
        head = f"smoke check of stack {self.stack}"
        tail = f"{len(self.checks)} checks, {len(self.failed)} failed"
        return "\n".join([head, *(c.line() for c in self.checks), tail])


def _ready(kind: str, obj: dict[str, Any]) -> tuple[bool, str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if kind == "Job":
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        if conditions.get("Complete") == "True" or conditions.get("SuccessCriteriaMet") == "True":
            return True, "complete"
        if conditions.get("Failed") == "True":
            return False, f"failed ({status.get('failed', 0)} failed pods)"
        return False, f"not complete ({status.get('active', 0)} active)"
    want = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if kind == "Deployment":
        updated = status.get("updatedReplicas", 0)
        current = status.get("observedGeneration", 0) >= obj.get("metadata", {}).get("generation", 0)
        ok = ready >= want and updated >= want and current
        return ok, f"{ready}/{want} ready" + ("" if current else ", rollout not observed yet")
    return ready >= want, f"{ready}/{want} ready"


def _owner(obj: dict[str, Any], kind: str) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("kind") == kind:
            return ref.get("name")
    return None


def check_workloads(kube: Kube, namespaces: Sequence[str]) -> list[Check]:
    checks: list[Check] = []
    existing = {n["metadata"]["name"] for n in kube.get_json("get", "namespaces").get("items", [])}
    for ns in namespaces:
        if ns not in existing:
            checks.append(Check("namespace", ns, False, "missing"))
            continue
        items = kube.get_json("get", "deployments,statefulsets,jobs", "-n", ns).get("items", [])
        newest_by_cronjob: dict[str, dict[str, Any]] = {}
        counted = 0
        for obj in items:
            kind, meta = obj.get("kind", ""), obj.get("metadata", {})
            if kind == "Job":
                if DAGSTER_RUN_LABEL in (meta.get("labels") or {}):
                    continue
                cronjob = _owner(obj, "CronJob")
                if cronjob is not None:
                    known = newest_by_cronjob.get(cronjob)
                    if known is None or meta.get("creationTimestamp", "") > known["metadata"].get(
                        "creationTimestamp", ""
                    ):
                        newest_by_cronjob[cronjob] = obj
                    continue
            counted += 1
            ok, detail = _ready(kind, obj)
            if not ok:
                checks.append(Check("workload", f"{ns}/{kind}/{meta.get('name')}", False, detail))
        for cronjob, obj in sorted(newest_by_cronjob.items()):
            ok, detail = _ready("Job", obj)
            running = not ok and detail.startswith("not complete")
            counted += 1
            if not ok and not running:
                checks.append(Check("workload", f"{ns}/CronJob/{cronjob}", False, f"newest run {detail}"))
        if not any(c.subject.startswith(f"{ns}/") for c in checks):
            checks.append(Check("workloads", ns, True, f"{counted} Deployments, StatefulSets and Jobs ready"))
    return checks


def _guard(kind: str, subject: str, step: Callable[[], Check | list[Check]]) -> list[Check]:
    try:
        result = step()
    except (SmokeError, KeyError, TypeError, ValueError) as exc:
        return [Check(kind, subject, False, str(exc) or type(exc).__name__)]
    return result if isinstance(result, list) else [result]


def check_uis(kube: Kube, http: Http, exp: Expectations) -> list[Check]:
    def probe(ui: Ui, base: str | None) -> Check:
        if base is None:
            answer = http.request("GET", ui.url)
        else:
            answer = http.request("GET", f"{base}{ui.health_path}", headers={"Host": ui.host})
        ok = 200 <= answer.status < 300
        return Check("ui", f"{ui.tool} {ui.url}", ok, f"HTTP {answer.status}")

    if exp.ingress_forward is None:
        return [c for ui in exp.uis for c in _guard("ui", f"{ui.tool} {ui.url}", lambda ui=ui: probe(ui, None))]

    forward = exp.ingress_forward

    def through_forward() -> list[Check]:
        with kube.port_forward(forward) as port:
            base = f"http://127.0.0.1:{port}"
            return [c for ui in exp.uis for c in _guard("ui", f"{ui.tool} {ui.url}", lambda ui=ui: probe(ui, base))]

    return _guard("ui", f"port-forward {forward}", through_forward)


def _graphql(answer: Response) -> dict[str, Any]:
    if answer.status != 200:
        raise SmokeError(f"GraphQL answered HTTP {answer.status}")
    doc = answer.json()
    if doc.get("errors"):
        raise SmokeError(f"GraphQL errors: {'; '.join(str(e.get('message')) for e in doc['errors'])}")
    return doc["data"]


def check_dagster(kube: Kube, http: Http, target: DagsterTarget) -> Check:
    with kube.port_forward(target.webserver) as port:
        data = _graphql(http.request("POST", f"http://127.0.0.1:{port}/graphql", body={"query": WORKSPACE_QUERY}))
    workspace = data["workspaceOrError"]
    if workspace["__typename"] != "Workspace":
        return Check("dagster", target.domain, False, f"workspace error: {workspace.get('message')}")
    entries = {e["name"]: e for e in workspace["locationEntries"]}
    problems = []
    for name in target.locations:
        entry = entries.get(name)
        if entry is None:
            problems.append(f"{name}: not in the workspace")
            continue
        loaded = entry["locationOrLoadError"] or {}
        if loaded.get("__typename") == "PythonError":
            problems.append(f"{name}: {loaded.get('message', '').strip()}")
        elif entry["loadStatus"] != "LOADED" or loaded.get("__typename") != "RepositoryLocation":
            problems.append(f"{name}: {entry['loadStatus'].lower()}")
    if not target.locations:
        problems.append("the stack defines no code location")
    if problems:
        return Check("dagster", target.domain, False, "; ".join(problems))
    return Check("dagster", target.domain, True, f"code location {', '.join(target.locations)} loaded")


def check_catalog(kube: Kube, http: Http, target: CatalogTarget) -> list[Check]:
    secret = kube.secret_value(target.gms.namespace, AUTH_SECRET, SYSTEM_SECRET_KEY)
    headers = {"Authorization": f"Basic {SYSTEM_CLIENT_ID}:{secret}"}
    checks = []
    with kube.port_forward(target.gms) as port:
        for domain in target.domains:
            urn = f"urn:li:domain:{domain}"

            def one(urn: str = urn, domain: str = domain) -> Check:
                body = {"query": DOMAIN_QUERY, "variables": {"urn": urn}}
                data = _graphql(
                    http.request("POST", f"http://127.0.0.1:{port}/api/graphql", body=body, headers=headers)
                )
                found = data.get("domain")
                if not found:
                    return Check("datahub", domain, False, f"{urn} not in DataHub")
                return Check("datahub", domain, True, f"{urn} registered")

            checks += _guard("datahub", domain, one)
    return checks


def check_superset(kube: Kube, http: Http, target: SupersetTarget) -> Check:
    password = kube.secret_value(target.domain, SUPERSET_CREDENTIALS_SECRET, SUPERSET_PASSWORD_KEY)
    with kube.port_forward(target.web) as port:
        base = f"http://127.0.0.1:{port}/api/v1"
        login = http.request(
            "POST",
            f"{base}/security/login",
            # Allowed under AUTH_OAUTH: components/runtime/superset_sign_in.py, API_LOGIN_PROVIDER.
            body={"username": SUPERSET_ADMIN, "password": password, "provider": API_LOGIN_PROVIDER, "refresh": False},
        )
        if login.status != 200:
            return Check("superset", target.domain, False, f"login as {SUPERSET_ADMIN} answered HTTP {login.status}")
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        listing = http.request("GET", f"{base}/database/", headers=auth)
        if listing.status != 200:
            return Check("superset", target.domain, False, f"database list answered HTTP {listing.status}")
        ids = [d["id"] for d in listing.json()["result"] if d.get("database_name") == target.database]
        if not ids:
            return Check("superset", target.domain, False, f"no database named {target.database!r}")
        schemas = http.request("GET", f"{base}/database/{ids[0]}/schemas/", headers=auth)
    if schemas.status != 200:
        message = schemas.json().get("message", "") if schemas.body.startswith(b"{") else ""
        return Check(
            "superset",
            target.domain,
            False,
            f"{target.database!r} unreachable: HTTP {schemas.status} {message}".strip(),
        )
    count = len(schemas.json().get("result") or [])
    return Check("superset", target.domain, True, f"{target.database!r} reachable ({count} schemas)")


def run_checks(exp: Expectations, kube: Kube, http: Http) -> Report:
    report = Report(exp.stack)
    report.checks += _guard("workloads", "cluster", lambda: check_workloads(kube, exp.namespaces))
    report.checks += check_uis(kube, http, exp)
    for target in exp.dagster:
        report.checks += _guard("dagster", target.domain, lambda t=target: check_dagster(kube, http, t))
    if exp.catalog is not None:
        catalog = exp.catalog
        report.checks += _guard("datahub", "catalog", lambda: check_catalog(kube, http, catalog))
    for target in exp.superset:
        report.checks += _guard("superset", target.domain, lambda t=target: check_superset(kube, http, t))
    return report


def main(stack: str, *, context: str | None = None, timeout: float = 20) -> int:
    """Run the smoke check for `stack`; print the report; 0 all passed, 1 a check failed, 2 cannot start."""
    if shutil.which("kubectl") is None:
        print("error: kubectl is not on PATH (the smoke check reads the cluster with it)", file=sys.stderr)
        return 2
    try:
        config = parse_stack_config(
            {k.split(":", 1)[1]: _parse(v) for k, v in stack_config(stack).items() if k.startswith("dataplatform:")}
        )
        program = run_program(stack)
    except (pulumi.RunError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    exp = expectations(program, config)
    kube = Kubectl(context or exp.kube_context, timeout=timeout)
    report = run_checks(exp, kube, UrllibHttp(timeout=timeout))
    print(report.text())
    return 1 if report.failed else 0


def _parse(value: str) -> Any:
    return json.loads(value) if value[:1] in "{[" else value
