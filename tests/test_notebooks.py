"""The analyst sandbox's notebooks (components/notebooks.py): JupyterHub values (pure), the hub-side
profile module, the rendered chart, the program's objects on dev and local, deploy order, network
policies, the local read-only MinIO users and the notebook image's DuckDB helper."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from components.charts import PINNED
from components.config import NotebooksConfig, parse_stack_config
from components.images import SANDBOX_NOTEBOOK
from components.interfaces import ProductGrant
from components.local.domain_services import lake_bucket_name
from components.local.notebooks import analyst_credentials_secret, analyst_lake_policy, analyst_user_script
from components.notebooks import SIGN_IN_SECRET, sandbox_domains
from components.runtime import jupyterhub_sandbox as hub_module
from components.sandbox_names import SANDBOX_NAMESPACE, analyst_service_account
from components.validation import ConfigError
from components.values import jupyterhub as hub_values
from components.values.common import Image
from platformctl.chartkeys import reference_values, shared_charts_dir, unknown_keys
from platformctl.order import waits_for
from platformctl.rendered_checks import pss_restricted_violations
from platformctl.simulate import PROJECT_DIR
from tests.harness import Program, Secret, program_for, stack_config

CHART_SOURCE = shared_charts_dir() / "src" / "jupyterhub-4.4.0"
RELEASE = "kubernetes:helm.sh/v3:Release"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SA = "kubernetes:core/v1:ServiceAccount"
SECRET = "kubernetes:core/v1:Secret"
IMAGE_DIR = PROJECT_DIR / "images" / "sandbox-notebook"


def sign_in(**overrides: Any) -> hub_values.HubSignIn:
    base: dict[str, Any] = {
        "client_id": "dataplatform",
        "client_secret": SIGN_IN_SECRET,
        "client_secret_key": "client-secret",
        "callback_url": "https://notebooks.example.com/hub/oauth_callback",
        "groups_claim": "groups",
        "scopes": ("openid", "email", "profile"),
        "admin_groups": ("admins",),
        "issuer_url": "https://login.example.com/tenant/v2.0",
    }
    return hub_values.HubSignIn(**{**base, **overrides})


def profile(slug: str, groups: tuple[str, ...], secret: str | None = None) -> hub_values.NotebookProfile:
    return hub_values.NotebookProfile(
        slug=slug,
        display_name=slug,
        description=f"{slug} sandbox",
        service_account=analyst_service_account(slug),
        groups=groups,
        env={"SANDBOX_DOMAIN": slug, "SANDBOX_BUCKET": f"bucket-{slug}"},
        credentials_secret=secret,
    )


def build(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "image": Image(repository="registry.example.com/sandbox-notebook", tag="1.0.0"),
        "profiles": (profile("sales", ("sales-analytics", "admins")), profile("marketing", ("marketing-analytics",))),
        "sign_in": sign_in(),
        "culling": hub_values.Culling(timeout_seconds=3600, every_seconds=600, max_age_seconds=28800),
        "storage_gib": 10,
        "storage_class": "gp3",
        "user_cpu": ("250m", "2"),
        "user_memory": ("1Gi", "4Gi"),
    }
    return hub_values.jupyterhub_values(hub_values.JupyterHubArgs(**{**args, **overrides}))


# ---- values (pure) ------------------------------------------------------------------------------


def test_pinned_chart_is_the_source_version() -> None:
    assert PINNED["jupyterhub"].version == hub_values.CHART_VERSION == "4.4.0"
    assert PINNED["jupyterhub"].repo == "https://hub.jupyter.org/helm-chart/"
    # The source is the git tree: chartpress writes the version at release (../shared/charts/src/README.md).
    assert yaml.safe_load((CHART_SOURCE / "Chart.yaml").read_text())["name"] == "jupyterhub"


@pytest.mark.parametrize("local", [False, True], ids=["aws", "local"])
def test_every_key_exists_in_the_chart_defaults(local: bool) -> None:
    reference = reference_values("jupyterhub", "4.4.0")
    assert reference is not None
    secret = "analyst-sales-lake" if local else None
    values = build(profiles=(profile("sales", ("g",), secret),), storage_class=None if local else "gp3")
    assert unknown_keys(values, reference) == []


def test_a_profile_per_domain_runs_as_its_service_account_without_the_api_token() -> None:
    profiles = build()["singleuser"]["profileList"]
    assert [p["slug"] for p in profiles] == ["sales", "marketing"]
    for p in profiles:
        override = p["kubespawner_override"]
        assert override["service_account"] == analyst_service_account(p["slug"])
        # KubeSpawner 7 mounts the token whenever a service account is set, unless told not to.
        assert override["automount_service_account_token"] is False
        assert override["environment"]["SANDBOX_DOMAIN"] == p["slug"]
        assert "extra_container_config" not in override  # AWS: credentials come from Pod Identity


def test_local_profiles_load_their_minio_keys_from_a_secret() -> None:
    values = build(profiles=(profile("sales", ("g",), "analyst-sales-lake"),))
    (p,) = values["singleuser"]["profileList"]
    extra = p["kubespawner_override"]["extra_container_config"]
    assert extra == {"envFrom": [{"secretRef": {"name": "analyst-sales-lake"}}]}
    assert not any("SECRET" in k for k in p["kubespawner_override"]["environment"])


def test_sign_in_takes_the_client_secret_from_a_secret_and_admits_only_sandbox_groups() -> None:
    values = build()
    hub = values["hub"]
    assert hub["config"]["JupyterHub"]["authenticator_class"] == "generic-oauth"
    auth = hub["config"]["GenericOAuthenticator"]
    assert "client_secret" not in auth
    assert hub["extraEnv"] == {
        "OAUTH_CLIENT_SECRET": {"valueFrom": {"secretKeyRef": {"name": SIGN_IN_SECRET, "key": "client-secret"}}}
    }
    assert auth["allowed_groups"] == ["admins", "marketing-analytics", "sales-analytics"]
    assert auth["admin_groups"] == ["admins"]
    assert auth["manage_groups"] is True and auth["auth_state_groups_key"] == "oauth_user.groups"
    assert auth["userdata_from_id_token"] is True
    assert auth["oauth_callback_url"].endswith(hub_values.CALLBACK_PATH)
    # No endpoints given: the hub module discovers them from the issuer.
    assert "authorize_url" not in auth and values["custom"]["dataplatform"]["issuerUrl"] == sign_in().issuer_url
    assert values["custom"]["dataplatform"]["profileGroups"] == {
        "sales": ["admins", "sales-analytics"],
        "marketing": ["marketing-analytics"],
    }


def test_authenticator_settings_are_traits_of_oauthenticator() -> None:
    explicit = sign_in(authorize_url="http://dex/auth", token_url="http://dex/token")
    for args in (sign_in(), explicit):
        keys = set(build(sign_in=args)["hub"]["config"]["GenericOAuthenticator"])
        assert keys <= hub_values.AUTHENTICATOR_TRAITS


def test_spawner_settings_are_traits_of_kubespawner() -> None:
    assert set(build()["hub"]["config"]["KubeSpawner"]) <= hub_values.SPAWNER_TRAITS


def _user_pod(values: dict[str, Any]) -> dict[str, Any]:
    """A user server's pod as KubeSpawner 7.0.0 builds it (kubespawner/objects.py make_pod): its own security
    fields first, then pod_/container_security_context over them; the home volume, Pod Identity's token."""
    single = values["singleuser"]
    spawner = values["hub"]["config"].get("KubeSpawner", {})
    psc = {"fsGroup": single["fsGid"], **spawner.get("pod_security_context", {})}
    csc = {
        "runAsUser": single["uid"],
        "allowPrivilegeEscalation": single["allowPrivilegeEscalation"],
        **spawner.get("container_security_context", {}),
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "jupyter-analyst", "namespace": SANDBOX_NAMESPACE},
        "spec": {
            "securityContext": psc,
            "containers": [{"name": "notebook", "image": "x:1", "securityContext": csc}],
            "volumes": [
                {"name": "home", "persistentVolumeClaim": {"claimName": "claim-analyst"}},
                {"name": "eks-pod-identity-token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
            ],
        },
    }


def test_user_servers_meet_pod_security_restricted() -> None:
    values = build()
    assert pss_restricted_violations(_user_pod(values), "1.35") == []
    # Without the platform's contexts, KubeSpawner's own would not.
    del values["hub"]["config"]["KubeSpawner"]
    assert pss_restricted_violations(_user_pod(values), "1.35") != []


def test_explicit_endpoints_skip_discovery() -> None:
    values = build(sign_in=sign_in(authorize_url="http://dex/auth", token_url="http://dex.identity.svc/token"))
    auth = values["hub"]["config"]["GenericOAuthenticator"]
    assert (auth["authorize_url"], auth["token_url"]) == ("http://dex/auth", "http://dex.identity.svc/token")
    assert "issuerUrl" not in values["custom"]["dataplatform"]
    with pytest.raises(ValueError, match="together"):
        sign_in(authorize_url="http://dex/auth")


def test_the_hub_module_is_shipped_whole_into_the_config_directory() -> None:
    (f,) = build()["hub"]["extraFiles"].values()
    assert f["mountPath"] == "/usr/local/etc/jupyterhub/jupyterhub_config.d/dataplatform_sandbox.py"
    assert f["stringData"] == Path(hub_module.__file__).read_text()


def test_culling_storage_and_user_resources() -> None:
    values = build()
    assert values["cull"] | {} == {
        "enabled": True,
        "users": False,
        "adminUsers": True,
        "timeout": 3600,
        "every": 600,
        "maxAge": 28800,
    }
    storage = values["singleuser"]["storage"]
    assert storage["type"] == "dynamic" and storage["capacity"] == "10Gi"
    assert storage["dynamic"]["storageClass"] == "gp3"
    assert values["singleuser"]["cpu"] == {"guarantee": 0.25, "limit": 2.0}
    # JupyterHub's ByteSpecification: G and M are binary units.
    assert values["singleuser"]["memory"] == {"guarantee": "1G", "limit": "4G"}
    with pytest.raises(ValueError, match="Mi or Gi"):
        hub_values.kubespawner_bytes("4G")


def test_no_cluster_wide_or_privileged_pieces() -> None:
    values = build()
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is False  # a privileged init container
    assert values["proxy"]["service"]["type"] == "ClusterIP"
    assert values["scheduling"]["userScheduler"]["enabled"] is False
    assert values["prePuller"]["hook"]["enabled"] is False and values["prePuller"]["continuous"]["enabled"] is False
    for part in (values["hub"], values["proxy"]["chp"], values["singleuser"]):
        assert set(part["networkPolicy"]["egressAllowRules"].values()) == {False}
    assert values["proxy"]["chp"]["networkPolicy"]["allowedIngressPorts"] == []


def test_bad_profiles_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        build(profiles=())
    with pytest.raises(ValueError, match="unique"):
        build(profiles=(profile("sales", ("g",)), profile("sales", ("h",))))
    with pytest.raises(ValueError, match="no group"):
        profile("sales", ())


# ---- the hub-side module ------------------------------------------------------------------------


PROFILES = [{"slug": "sales", "display_name": "s"}, {"slug": "marketing", "display_name": "m"}, {"slug": "x"}]
GROUPS = {"sales": ["sales-analytics", "admins"], "marketing": ["marketing-analytics", "admins"]}


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (["sales-analytics"], ["sales"]),
        (["marketing-analytics", "other"], ["marketing"]),
        (["admins"], ["sales", "marketing"]),
        (["other"], []),
        ([], []),
    ],
)
def test_profiles_follow_the_users_groups(groups: list[str], expected: list[str]) -> None:
    # `x` has no groups entry: offered to nobody.
    assert [p["slug"] for p in hub_module.allowed_profiles(PROFILES, groups, GROUPS)] == expected


class _Section(dict):
    def __getattr__(self, name: str) -> Any:
        return self[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class _Config(dict):
    """Enough of traitlets' Config: sections by attribute, created on first use."""

    def __getattr__(self, name: str) -> _Section:
        return self.setdefault(name, _Section())


def _spawner(*groups: str) -> Any:
    return types.SimpleNamespace(user=types.SimpleNamespace(groups=[types.SimpleNamespace(name=g) for g in groups]))


def test_configure_makes_profile_list_a_callable_of_the_users_groups_and_discovers_endpoints() -> None:
    c = _Config()
    c.KubeSpawner.profile_list = PROFILES
    fetched: list[str] = []

    def fetch(url: str) -> dict[str, str]:
        fetched.append(url)
        return {"authorization_endpoint": "https://idp/authorize", "token_endpoint": "https://idp/token"}

    hub_module.configure(c, {"profileGroups": GROUPS, "issuerUrl": "https://idp/v2.0/"}, fetch)
    assert callable(c.KubeSpawner.profile_list)
    assert [p["slug"] for p in c.KubeSpawner.profile_list(_spawner("sales-analytics"))] == ["sales"]
    assert c.KubeSpawner.profile_list(_spawner("nobody")) == []
    assert fetched == ["https://idp/v2.0/.well-known/openid-configuration"]
    assert c.GenericOAuthenticator.authorize_url == "https://idp/authorize"
    assert c.GenericOAuthenticator.token_url == "https://idp/token"


def test_discovery_without_endpoints_fails_loudly() -> None:
    with pytest.raises(RuntimeError, match="token_endpoint"):
        hub_module.discover("https://idp", lambda url: {"authorization_endpoint": "https://idp/a"})


def test_the_module_configures_the_hub_when_the_chart_executes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """As jupyterhub_config.py does: exec(compile(source)) with its globals, `c` and the z2jh helper."""
    z2jh = types.ModuleType("z2jh")
    settings = {"custom.dataplatform": {"profileGroups": GROUPS}}
    z2jh.get_config = lambda key, default=None: settings.get(key, default)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "z2jh", z2jh)
    c = _Config()
    c.KubeSpawner.profile_list = PROFILES
    source = Path(hub_module.__file__).read_text()
    exec(compile(source=source, filename=hub_values.HUB_MODULE_FILE, mode="exec"), {"c": c})
    profile_list: Any = c.KubeSpawner.profile_list
    assert [p["slug"] for p in profile_list(_spawner("admins"))] == ["sales", "marketing"]
    assert "authorize_url" not in c.GenericOAuthenticator  # no issuerUrl: the values carry the URLs


# ---- the rendered chart -------------------------------------------------------------------------


def _rendered_objects(values: dict[str, Any], tmp: Path) -> list[dict[str, Any]]:
    copy = tmp / "jupyterhub"
    shutil.copytree(CHART_SOURCE, copy)
    with helm.Chart.load(str(copy)) as chart:
        manifests = chart.render(values, name="notebooks", namespace=SANDBOX_NAMESPACE)
    docs = (yaml.safe_load_all(text) for path, text in manifests.items() if path.endswith(".yaml"))
    return [doc for stream in docs for doc in stream if doc]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    (release,) = [r for r in program_for("dev").of_type(RELEASE) if r.inputs["chart"] == "jupyterhub"]
    return _rendered_objects(release.inputs["values"], tmp_path_factory.mktemp("chart"))


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_rendered_objects_are_valid_and_namespaced(rendered: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in rendered}
    assert {"Deployment", "Service", "NetworkPolicy", "Role", "PersistentVolumeClaim"} <= kinds
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "DaemonSet", "PriorityClass"}
    for obj in rendered:
        kubernetes_validate.validate(obj, "1.35", strict=True)
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in rendered if s["kind"] == "Service")
    # The proxy never calls the Kubernetes API: no token; the hub needs its own (KubeSpawner).
    proxy = one(rendered, "Deployment", "proxy")["spec"]["template"]["spec"]
    assert proxy["automountServiceAccountToken"] is False
    assert proxy["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_hub_and_proxy_meet_pod_security_restricted(rendered: list[dict[str, Any]]) -> None:
    pods = [o for o in rendered if o["kind"] == "Deployment"]
    assert {o["metadata"]["name"] for o in pods} == {"hub", "proxy"}
    for obj in pods:
        assert pss_restricted_violations(obj, "1.35") == [], obj["metadata"]["name"]


def test_the_hub_reads_the_client_secret_and_runs_the_module(rendered: list[dict[str, Any]]) -> None:
    pod = one(rendered, "Deployment", "hub")["spec"]["template"]["spec"]
    (hub,) = pod["containers"]
    env = {e["name"]: e for e in hub["env"]}
    assert env["OAUTH_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": SIGN_IN_SECRET, "key": "client-secret"}
    mounts = {m["mountPath"]: m for m in hub["volumeMounts"]}
    assert mounts[f"{hub_values.CONFIG_D}/{hub_values.HUB_MODULE_FILE}"]["subPath"] == "dataplatform-sandbox"
    assert hub["image"] == f"{hub_values.HUB_IMAGE}:4.4.0"
    # A high UID in the group that owns the sqlite volume (fsGroup), which is the only path the hub writes.
    assert (hub["securityContext"]["runAsUser"], hub["securityContext"]["runAsGroup"]) == (65532, 1000)
    assert pod["securityContext"]["fsGroup"] == 1000
    (db,) = [m for m in hub["volumeMounts"] if m["name"] == "pvc"]
    assert db["mountPath"] == "/srv/jupyterhub"
    # The health path the load balancer checks through the proxy is the one the chart probes the hub on.
    assert hub["readinessProbe"]["httpGet"]["path"] == hub_values.HEALTH_PATH


def test_the_hub_can_spawn_and_the_proxy_and_user_servers_reach_its_api(rendered: list[dict[str, Any]]) -> None:
    hub = one(rendered, "Deployment", "hub")["spec"]["template"]
    # KubeSpawner calls the API with the hub's own token: mounted (neither pod nor account turns it off) ...
    assert hub["spec"]["serviceAccountName"] == "hub"
    assert hub["spec"].get("automountServiceAccountToken") is not False
    assert one(rendered, "ServiceAccount", "hub").get("automountServiceAccountToken") is not False
    # ... and bound to a namespaced Role that creates and deletes pods and home volumes.
    (rule, _events) = one(rendered, "Role", "hub")["rules"]
    assert {"pods", "persistentvolumeclaims"} <= set(rule["resources"]) and {"create", "delete"} <= set(rule["verbs"])
    binding = one(rendered, "RoleBinding", "hub")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": SANDBOX_NAMESPACE}]
    assert binding["roleRef"]["name"] == "hub"
    # The hub API (8081, the Service port `http`) admits pods labelled network-access-hub: the proxy (chart
    # template) and user servers (the chart's default singleuser.extraLabels, which the values leave alone).
    (api,) = one(rendered, "NetworkPolicy", "hub")["spec"]["ingress"]
    assert api["ports"] == [{"port": "http"}]
    assert api["from"] == [{"podSelector": {"matchLabels": {"hub.jupyter.org/network-access-hub": "true"}}}]
    proxy = one(rendered, "Deployment", "proxy")["spec"]["template"]["metadata"]["labels"]
    assert proxy["hub.jupyter.org/network-access-hub"] == "true"
    (release,) = [r for r in program_for("dev").of_type(RELEASE) if r.inputs["chart"] == "jupyterhub"]
    assert "extraLabels" not in release.inputs["values"]["singleuser"]
    defaults = reference_values("jupyterhub", hub_values.CHART_VERSION)
    assert defaults is not None
    assert defaults["singleuser"]["extraLabels"] == {"hub.jupyter.org/network-access-hub": "true"}
    # The idle culler runs inside the hub pod and calls http://localhost:8081 (the chart's jupyterhub_config.py).
    config = (CHART_SOURCE / "files" / "hub" / "jupyterhub_config.py").read_text()
    assert '"--url=http://localhost:8081"' in config


def test_user_servers_cannot_reach_each_other(rendered: list[dict[str, Any]]) -> None:
    policy = one(rendered, "NetworkPolicy", "singleuser")["spec"]
    sources = [peer for rule in policy["ingress"] for peer in rule.get("from", [{}])]
    # Only pods labelled network-access-singleuser (hub, proxy) reach a user server, on its notebook port.
    assert sources == [{"podSelector": {"matchLabels": {"hub.jupyter.org/network-access-singleuser": "true"}}}]
    assert all(rule.get("from") for rule in policy["ingress"])
    # User servers do not carry that label (their extra labels come from singleuser.extraLabels).
    (release,) = [r for r in program_for("dev").of_type(RELEASE) if r.inputs["chart"] == "jupyterhub"]
    assert "hub.jupyter.org/network-access-singleuser" not in (
        release.inputs["values"]["singleuser"].get("extraLabels") or {}
    )
    # Egress only to the hub and the proxy: DNS, HTTPS and the data services come from the guardrails.
    peers = [p for rule in policy["egress"] for p in rule["to"]]
    assert {p["podSelector"]["matchLabels"]["component"] for p in peers} == {"hub", "proxy", "autohttps"}


def test_no_chart_policy_opens_a_port_to_everyone(rendered: list[dict[str, Any]]) -> None:
    for policy in (o for o in rendered if o["kind"] == "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{policy['metadata']['name']}: {rule}"
        for rule in policy["spec"].get("egress", []):
            assert all("ipBlock" not in p for p in rule["to"]), policy["metadata"]["name"]


# ---- the program: objects, order, policies ------------------------------------------------------


@pytest.fixture(scope="module", params=["dev", "local"])
def program(request: pytest.FixtureRequest) -> Program:
    return program_for(request.param)


def hub_release(program: Program):
    (release,) = [r for r in program.of_type(RELEASE) if r.inputs["chart"] == "jupyterhub"]
    return release


def in_sandbox(program: Program, type_: str) -> list[Any]:
    return [r for r in program.of_type(type_) if (r.inputs.get("metadata") or {}).get("namespace") == SANDBOX_NAMESPACE]


def test_only_sandbox_domains_get_a_service_account_and_profile(program: Program) -> None:
    # The shipped examples: marketing enables the sandbox, sales does not.
    accounts = {r.inputs["metadata"]["name"]: r for r in in_sandbox(program, SA)}
    assert set(accounts) == {analyst_service_account("marketing")}
    assert accounts["analyst-marketing"].inputs["automountServiceAccountToken"] is False
    values = hub_release(program).inputs["values"]
    assert [p["slug"] for p in values["singleuser"]["profileList"]] == ["marketing"]
    groups = values["custom"]["dataplatform"]["profileGroups"]["marketing"]
    assert "marketing-analytics" in groups and "sales-analytics" not in groups
    assert "data-platform-admins" in groups
    assert not [r for r in program.resources if "notebooks-sa" in r.name and "sales" in r.name]


def test_sandbox_domains_are_the_enabled_active_ones() -> None:
    from components.domain_config import load_domains

    domains = load_domains(PROJECT_DIR / "domains", stack="dev")
    assert [d.name for d in sandbox_domains(domains)] == ["marketing"]
    retired = [d.model_copy(update={"retired": True}) for d in domains]
    assert sandbox_domains(retired) == []


def test_the_release_waits_for_namespace_and_secrets(program: Program) -> None:
    release = hub_release(program)
    waits = waits_for(program)(release.urn)
    namespace = [
        r for r in program.of_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == SANDBOX_NAMESPACE
    ]
    assert namespace and namespace[0].urn in waits
    needed = in_sandbox(program, SECRET)
    assert SIGN_IN_SECRET in {r.inputs["metadata"]["name"] for r in needed}
    for r in needed:
        assert r.urn in waits, r.name
    ingress = [r for r in in_sandbox(program, "kubernetes:networking.k8s.io/v1:Ingress")]
    assert len(ingress) == 1 and release.urn in waits_for(program)(ingress[0].urn)


def test_the_analyst_service_account_is_the_domains_and_waits_for_the_namespace(program: Program) -> None:
    (sa,) = in_sandbox(program, SA)
    domain = program.by_urn(sa.parent)
    assert domain.type == "dataplatform:domain:DataDomainStack" and domain.name == "marketing"
    namespace = next(
        r for r in program.of_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == SANDBOX_NAMESPACE
    )
    assert namespace.urn in waits_for(program)(sa.urn)
    # It was registered under the notebooks component before: the alias names that parent, so the
    # engine computes the old URN (the root stack's type is not part of a URN) and replaces nothing.
    (alias,) = sa.aliases
    parts = dict(part.split("=", 1) for part in alias.split(","))
    assert parts["parentUrn"] == (
        f"urn:pulumi:{program.stack}::dataplatform::dataplatform:notebooks:AnalystNotebooks::notebooks"
    )
    before = (
        f"urn:pulumi:{program.stack}::dataplatform::dataplatform:notebooks:AnalystNotebooks"
        "$kubernetes:core/v1:ServiceAccount::notebooks-marketing-sa"
    )
    assert f"{parts['parentUrn'].rsplit('::', 1)[0]}${sa.type}::{parts['name']}" == before
    assert sa.name == "marketing-notebooks-sa"  # a domain's logical names start with the domain


def test_no_secret_reaches_the_values(program: Program) -> None:
    release = hub_release(program)
    assert not isinstance(release.inputs["values"], Secret)
    secret = one_secret(program, SIGN_IN_SECRET)
    data = secret.inputs["stringData"]
    assert isinstance(data, Secret) and set(data.value) == {"client-secret"}


def one_secret(program: Program, name: str):
    (found,) = [r for r in in_sandbox(program, SECRET) if r.inputs["metadata"]["name"] == name]
    return found


def test_the_namespace_enforces_restricted(program: Program) -> None:
    (ns,) = [
        r for r in program.of_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == SANDBOX_NAMESPACE
    ]
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_namespace_has_no_blanket_same_namespace_allow(program: Program) -> None:
    names = {r.inputs["metadata"]["name"] for r in in_sandbox(program, NETPOL)}
    assert "default-deny" in names and "allow-dns" in names and "allow-https-egress" in names
    assert "allow-same-namespace" not in names
    lb = [r for r in in_sandbox(program, NETPOL) if r.inputs["metadata"]["name"] == "allow-load-balancer"]
    (rule,) = lb[0].inputs["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": hub_values.PROXY_CONTAINER_PORT}]


def _egress_cidrs(program: Program) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in in_sandbox(program, NETPOL):
        if r.inputs["metadata"]["name"] != "allow-data-services":
            continue
        for rule in r.inputs["spec"]["egress"]:
            for peer in rule["to"]:
                out[peer["ipBlock"]["cidr"]] = [int(p["port"]) for p in rule["ports"]]
    return out


def test_aws_pods_reach_the_pod_identity_agent_and_no_vpc_database() -> None:
    assert _egress_cidrs(program_for("dev")) == {"169.254.170.23/32": [80]}


def test_local_pods_reach_the_api_server_minio_and_dex() -> None:
    program = program_for("local")
    assert {p for ports in _egress_cidrs(program).values() for p in ports} == {6443, 8443}
    (egress,) = [r for r in in_sandbox(program, NETPOL) if r.inputs["metadata"]["name"] == "allow-namespace-egress"]
    targets = {
        rule["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]: [
            int(p["port"]) for p in rule["ports"]
        ]
        for rule in egress.inputs["spec"]["egress"]
    }
    assert targets == {"minio": [9000], "identity": [5556]}
    # MinIO admits the sandbox namespace on its S3 port.
    (allow,) = [r for r in program.of_type(NETPOL) if r.name == "notebooks-minio-access"]
    assert allow.inputs["metadata"]["namespace"] == "minio"
    (rule,) = allow.inputs["spec"]["ingress"]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": SANDBOX_NAMESPACE}


def test_the_identity_provider_allows_the_hubs_callback_only() -> None:
    uris = program_for("dev").exports["signInRedirectUris"]
    assert "https://notebooks.dev.data.example.com/hub/oauth_callback" in uris
    assert not any(u.startswith("https://notebooks.") and u.endswith("/oauth2/callback") for u in uris)


def test_local_profiles_use_dex_urls_and_the_minio_credentials() -> None:
    values = hub_release(program_for("local")).inputs["values"]
    auth = values["hub"]["config"]["GenericOAuthenticator"]
    assert auth["token_url"].startswith("http://dex.identity.svc:")
    (p,) = values["singleuser"]["profileList"]
    override = p["kubespawner_override"]
    assert override["extra_container_config"]["envFrom"] == [
        {"secretRef": {"name": analyst_credentials_secret("marketing")}}
    ]
    assert override["environment"]["SANDBOX_BUCKET"] == lake_bucket_name("local", "marketing")
    assert override["environment"]["AWS_ENDPOINT_URL"] == "http://minio.minio.svc:9000"
    assert override["environment"]["SANDBOX_CONSUMES"] == "sales.orders"


def test_the_local_secret_and_profile_give_the_helper_minio_keys_and_endpoint() -> None:
    """What a laptop notebook's `sandbox_lake.connect()` sees: the profile's env plus the Secret it loads whole."""
    program = program_for("local")
    override = hub_release(program).inputs["values"]["singleuser"]["profileList"][0]["kubespawner_override"]
    name = override["extra_container_config"]["envFrom"][0]["secretRef"]["name"]
    (secret,) = [r for r in in_sandbox(program, "kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] == name]
    data = secret.inputs["stringData"].value
    assert set(data) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # the names the helper and boto3 read
    lake = _helper()
    env = {**override["environment"], **{k: str(v) for k, v in data.items()}}
    assert lake.extensions(env) == ("httpfs",)
    sql = lake.secret_sql(env)
    assert "KEY_ID 'marketing-analyst'" in sql and "PROVIDER" not in sql
    assert "ENDPOINT 'minio.minio.svc:9000'" in sql and "URL_STYLE 'path'" in sql and "USE_SSL false" in sql


def test_the_alb_checks_the_health_path_the_chart_probes() -> None:
    (ingress,) = in_sandbox(program_for("dev"), "kubernetes:networking.k8s.io/v1:Ingress")
    annotations = ingress.inputs["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == hub_values.HEALTH_PATH == "/hub/health"
    assert annotations["alb.ingress.kubernetes.io/group.name"] == "dp-dev-sandbox"
    (rule,) = ingress.inputs["spec"]["rules"]
    assert rule["host"] == "notebooks.dev.data.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "proxy-public", "port": {"number": 80}}


def test_aws_profiles_name_the_domain_bucket_and_no_endpoint() -> None:
    program = program_for("dev")
    env = hub_release(program).inputs["values"]["singleuser"]["profileList"][0]["kubespawner_override"]["environment"]
    bucket = next(r for r in program.of_type("aws:s3/bucket:Bucket") if r.name.startswith("marketing"))
    assert env["SANDBOX_BUCKET"] == bucket.outputs.get("bucket", bucket.inputs.get("bucket"))
    assert "AWS_ENDPOINT_URL" not in env and env["AWS_REGION"] == "eu-west-1"
    # The domain half's Athena workgroup and Glue database, as it names them.
    athena = [r for r in program.of_type("aws:athena/workgroup:Workgroup") if r.name.startswith("marketing")]
    assert [w.inputs["name"] for w in athena] == [env["SANDBOX_ATHENA_WORKGROUP"]]
    glue = [r for r in program.of_type("aws:glue/catalogDatabase:CatalogDatabase") if r.name.startswith("marketing")]
    assert [g.inputs["name"] for g in glue] == [env["SANDBOX_GLUE_DATABASE"]]


# ---- local MinIO users ---------------------------------------------------------------------------


def test_the_analyst_policy_reads_curated_and_consumed_products_only() -> None:
    grant = ProductGrant(producer="sales", product="orders", prefix="curated/orders/")
    policy = analyst_lake_policy("dp-local-marketing", [(grant, "dp-local-sales")])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"s3:ListBucket", "s3:GetObject"}
    reads = sorted(r for s in policy["Statement"] if s["Action"] == ["s3:GetObject"] for r in s["Resource"])
    assert reads == ["arn:aws:s3:::dp-local-marketing/curated/*", "arn:aws:s3:::dp-local-sales/curated/orders/*"]
    lists = [s["Condition"]["StringLike"]["s3:prefix"] for s in policy["Statement"] if s["Action"] == ["s3:ListBucket"]]
    assert lists == [["curated/", "curated/*"], ["curated/orders/", "curated/orders/*"]]


def test_the_local_job_applies_the_user_from_secret_refs_only() -> None:
    program = program_for("local")
    (job,) = [r for r in program.of_type("kubernetes:batch/v1:Job") if r.name == "notebooks-marketing-lake-init"]
    assert job.inputs["metadata"]["namespace"] == "minio"
    (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
    for e in container["env"]:
        assert "valueFrom" in e or e["name"] in ("MC_HOST_lake", "MC_CONFIG_DIR"), e["name"]
    script = container["command"][-1]
    assert "mc admin policy attach lake marketing-analyst" in script and "mc mb" not in script
    secret = one_secret(program, analyst_credentials_secret("marketing"))
    assert set(secret.inputs["stringData"].value) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert analyst_user_script(policy_name="p", policy={}).startswith("set -eu\n")


# ---- configuration ----------------------------------------------------------------------------------


def test_defaults_are_production_settings() -> None:
    nb = NotebooksConfig()
    assert (nb.cull_timeout_seconds, nb.storage_gib, nb.cull_max_age_seconds) == (3600, 10, 28800)


@pytest.mark.parametrize(
    ("notebooks", "field"),
    [
        ({"storageGib": 0}, "notebooks.storageGib"),
        ({"cullTimeoutSeconds": 10}, "notebooks.cullTimeoutSeconds"),
        ({"image": {"repository": "ghcr.io/x/nb", "tag": "latest"}}, "notebooks.image.tag"),
        ({"user": {"memoryLimit": "4G"}}, "notebooks.user.memoryLimit"),
        ({"idleTimeout": 5}, "notebooks.idleTimeout"),
    ],
)
def test_bad_notebook_settings_name_the_key(notebooks: dict[str, Any], field: str) -> None:
    raw = {k.split(":", 1)[1]: v for k, v in stack_config("dev").items()}
    with pytest.raises(ConfigError) as err:
        parse_stack_config({**{k: yaml.safe_load(v) for k, v in raw.items()}, "notebooks": notebooks})
    assert field in str(err.value)


# ---- the notebook image ---------------------------------------------------------------------------


def _helper() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("sandbox_lake", IMAGE_DIR / "sandbox_lake.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _FakeDuckdb:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def connect(self, database: str, config: dict[str, str]) -> _FakeDuckdb:
        self.calls.append(("connect", (database, config)))
        return self

    def load_extension(self, name: str) -> None:
        self.calls.append(("load", name))

    def execute(self, sql: str) -> None:
        self.calls.append(("sql", sql))


def test_duckdb_helper_uses_minio_keys_locally() -> None:
    lake = _helper()
    fake = _FakeDuckdb()
    env = {
        "AWS_ACCESS_KEY_ID": "marketing-analyst",
        "AWS_SECRET_ACCESS_KEY": "it's",
        "AWS_ENDPOINT_URL": "http://minio.minio.svc:9000",
        "AWS_REGION": "eu-west-1",
        "DUCKDB_EXTENSION_DIRECTORY": "/opt/duckdb/extensions",
    }
    lake.connect(env=env, duckdb_module=fake)
    assert fake.calls[0] == ("connect", (":memory:", {"extension_directory": "/opt/duckdb/extensions"}))
    assert ("load", "httpfs") in fake.calls and ("load", "aws") not in fake.calls
    sql = fake.calls[-1][1]
    assert "KEY_ID 'marketing-analyst'" in sql and "SECRET 'it''s'" in sql
    assert "ENDPOINT 'minio.minio.svc:9000'" in sql and "URL_STYLE 'path'" in sql and "USE_SSL false" in sql


def test_duckdb_helper_uses_the_credential_chain_on_aws() -> None:
    lake = _helper()
    fake = _FakeDuckdb()
    lake.connect(env={"AWS_REGION": "eu-west-1"}, duckdb_module=fake)
    assert [c for c in fake.calls if c[0] == "load"] == [("load", "httpfs"), ("load", "aws")]
    assert (
        fake.calls[-1][1]
        # No CHAIN (only the SDK default chain reaches Pod Identity's agent); REFRESH 'auto' renews the
        # temporary credentials the secret stores once, when a request fails (duckdb-aws v1.4 aws_secret.cpp).
        == "CREATE OR REPLACE SECRET sandbox_lake "
        "(TYPE s3, PROVIDER credential_chain, REGION 'eu-west-1', REFRESH 'auto')"
    )
    assert lake.curated("orders", env={"SANDBOX_BUCKET": "b"}) == "s3://b/curated/orders/"


def test_the_image_installs_what_its_contract_promises() -> None:
    dockerfile = (IMAGE_DIR / "Dockerfile").read_text()
    (base,) = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert base == "quay.io/jupyter/minimal-notebook:2025-11-24"  # a dated tag, never latest
    pins = {
        line.split("==")[0].split("[")[0]: line.split("==")[1]
        for line in (IMAGE_DIR / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert pins == {"duckdb": "1.4.4", "pyathena": "3.40.0", "pandas": "2.3.3"}
    # boto3 comes with PyAthena; sandbox_lake is copied onto PYTHONPATH.
    assert SANDBOX_NOTEBOOK.python_modules - set(pins) == {"boto3", "sandbox_lake"}
    assert "COPY sandbox_lake.py /opt/sandbox/sandbox_lake.py" in dockerfile and "PYTHONPATH=/opt/sandbox" in dockerfile
    assert "install_extension" in dockerfile and "'httpfs', 'aws'" in dockerfile
    # The chart starts this command as this user, which the docker-stacks images provide.
    reference = reference_values("jupyterhub", "4.4.0")
    assert reference is not None and reference["singleuser"]["cmd"] in SANDBOX_NOTEBOOK.executables
    assert (reference["singleuser"]["uid"], reference["singleuser"]["fsGid"]) == (
        hub_values.SINGLEUSER_UID,
        hub_values.SINGLEUSER_GID,
    )


def test_the_stack_image_is_what_the_release_runs() -> None:
    values = hub_release(program_for("dev")).inputs["values"]
    assert values["singleuser"]["image"]["name"] == SANDBOX_NOTEBOOK.repository
    assert values["singleuser"]["image"]["tag"] == SANDBOX_NOTEBOOK.tag
