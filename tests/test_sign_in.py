"""Sign in once: every UI is behind a sign-in gateway, HTTPS-only on AWS, and reachable by its groups only."""

from __future__ import annotations

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
from components.config import parse_stack_config
from components.domain_config import load_domains
from components.runtime import superset_sign_in
from components.sandbox_names import SANDBOX_NAMESPACE
from components.validation import ConfigError
from components.values import dex as dex_values
from components.values import jupyterhub, oauth2_proxy
from platformctl.chartkeys import reference_values, shared_charts_dir, unknown_keys
from platformctl.simulate import PROJECT_DIR
from tests.harness import Program, Secret, program_for, stack_config

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
STACKS = ["dev", "prod", "local"]


@pytest.fixture(scope="module", params=STACKS)
def program(request: pytest.FixtureRequest) -> Program:
    return program_for(request.param)


def gateways(program: Program) -> dict[str, dict[str, Any]]:
    """Gateway release name -> its values."""
    return {
        r.inputs["name"]: r.inputs["values"] for r in program.of_type(RELEASE) if r.inputs["chart"] == "oauth2-proxy"
    }


def flags(values: dict[str, Any], name: str) -> list[str]:
    return [a.split("=", 1)[1] for a in values["extraArgs"] if a.startswith(f"--{name}=")]


def backend(ingress: dict[str, Any]) -> str:
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    return path["backend"]["service"]["name"]


def signs_in_itself(program: Program, ingress: Any) -> bool:
    """The analysts' JupyterHub: its proxy sends every request without a hub cookie or token to the hub's
    own OIDC sign-in (GenericOAuthenticator), which admits only the listed groups (tests/test_notebooks.py)."""
    ns = ingress.inputs["metadata"]["namespace"]
    if ns != SANDBOX_NAMESPACE or backend(ingress.inputs) != "proxy-public":
        return False
    (hub,) = [r for r in program.of_type(RELEASE) if r.inputs["chart"] == "jupyterhub"]
    config = hub.inputs["values"]["hub"]["config"]
    return config["JupyterHub"]["authenticator_class"] == "generic-oauth" and bool(
        config["GenericOAuthenticator"]["allowed_groups"]
    )


def test_every_ui_ingress_targets_a_sign_in_gateway(program: Program) -> None:
    by_name = gateways(program)
    ingresses = program.of_type(INGRESS)
    uis = [i for i in ingresses if i.inputs["metadata"]["namespace"] != "identity"]
    assert len(uis) >= 7  # three tools in two domains, and DataHub
    own = [i.name for i in uis if signs_in_itself(program, i)]
    assert own == ["notebooks-ingress"]  # the shipped examples enable the sandbox
    for ingress in (i for i in uis if i.name not in own):
        service = backend(ingress.inputs)
        assert service in by_name, f"{ingress.name} reaches {service} without a sign-in gateway"
        # The gateway proxies to the UI of the same host, in the same namespace.
        (upstream,) = by_name[service]["config"]["upstreams"]
        assert upstream.endswith(f".{ingress.inputs['metadata']['namespace']}.svc:" + upstream.rsplit(":", 1)[1])
    # The identity provider itself is the only Ingress without a gateway, and only on the laptop.
    others = [i.name for i in ingresses if i not in uis]
    assert others == (["identity-dex"] if program.stack == "local" else [])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_ui_is_https_only_on_aws(stack: str) -> None:
    program = program_for(stack)
    for ingress in program.of_type(INGRESS):
        a = ingress.inputs["metadata"]["annotations"]
        assert a["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:"), ingress.name
        assert yaml.safe_load(a["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
        assert a["alb.ingress.kubernetes.io/ssl-redirect"] == "443", ingress.name
    for values in gateways(program).values():
        (redirect,) = flags(values, "redirect-url")
        assert redirect.startswith("https://") and flags(values, "cookie-secure") == ["true"]


def test_gateways_sign_in_with_the_stacks_provider_and_skip_only_the_health_path(program: Program) -> None:
    issuer = "http://dex.localtest.me:8080/dex" if program.stack == "local" else None
    for name, values in gateways(program).items():
        assert flags(values, "provider") == ["oidc"]
        (got,) = flags(values, "oidc-issuer-url")
        assert got == (issuer or "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0")
        (skip,) = flags(values, "skip-auth-route")
        assert skip.startswith("GET=^/") and skip.endswith("$"), name
        assert values["config"]["existingSecret"] == "sign-in"
        assert values["serviceAccount"]["automountServiceAccountToken"] is False


def test_group_rules_match_the_domain_files(program: Program) -> None:
    domains = load_domains(PROJECT_DIR / "domains", stack=program.stack)
    admins = {"data-platform-admins"}
    by_name = gateways(program)
    for d in domains:
        for tool in ("dagster", "airbyte", "superset"):
            values = by_name[f"{d.name}-{tool}-oauth2-proxy"]
            assert set(flags(values, "allowed-group")) == {*d.access_groups, *admins}
            assert d.owners_group == d.owners.team  # the samples keep the default owners group


def test_a_domains_group_cannot_reach_another_domains_ui(program: Program) -> None:
    domains = load_domains(PROJECT_DIR / "domains", stack=program.stack)
    assert len(domains) >= 2
    by_name = gateways(program)
    for d in domains:
        for other in domains:
            if other.name == d.name:
                continue
            allowed = set(flags(by_name[f"{other.name}-superset-oauth2-proxy"], "allowed-group"))
            assert d.owners_group not in allowed, f"{d.name}'s group reaches {other.name}'s UIs"


def test_the_catalog_admits_every_signed_in_user_by_default(program: Program) -> None:
    values = gateways(program)["datahub-oauth2-proxy"]
    assert flags(values, "allowed-group") == []


def test_load_balancer_reaches_only_the_gateways(program: Program) -> None:
    for policy in program.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        if policy.inputs["metadata"]["name"] != "allow-load-balancer":
            continue
        if policy.inputs["metadata"]["namespace"] in ("identity", "minio", "cnpg-system"):
            continue
        (rule,) = policy.inputs["spec"]["ingress"]
        # The sandbox hub's proxy, which hands unsigned requests to the hub's own sign-in.
        port = jupyterhub.PROXY_CONTAINER_PORT if policy.inputs["metadata"]["namespace"] == SANDBOX_NAMESPACE else None
        assert rule["ports"] == [{"protocol": "TCP", "port": port or oauth2_proxy.CONTAINER_PORT}], policy.name


def leaves(value: Any) -> list[Any]:
    """Every scalar below `value`, secrets unwrapped."""
    if isinstance(value, Secret):
        return leaves(value.value)
    if isinstance(value, dict):
        return [x for v in value.values() for x in leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in leaves(v)]
    return [value]


def _secret_values(program: Program) -> set[str]:
    """The client and cookie secrets (and Dex's hashes): the Secrets' generated or configured values."""
    out = set()
    for r in program.of_type(SECRET):
        if r.inputs["metadata"]["name"] in ("sign-in", "dex-env", "datahub-sign-in"):
            data = r.inputs["stringData"]
            data = data.value if isinstance(data, Secret) else data
            out |= {leaves(v)[0] for k, v in data.items() if k != oauth2_proxy.CLIENT_ID_KEY}
    return {v for v in out if isinstance(v, str)}


def test_client_and_cookie_secrets_appear_only_in_kubernetes_secrets(program: Program) -> None:
    secrets = _secret_values(program)
    assert len(secrets) >= 2, "no sign-in secret found"
    for r in program.resources:
        if r.type == SECRET or r.type.startswith("random:"):
            continue
        for value in leaves(r.inputs):
            assert not (isinstance(value, str) and any(s in value for s in secrets)), r.name
    exports = dict(program.exports)
    exports.pop("signIn", None)  # the laptop's test-user passwords, a secret output for `--show-secrets`
    for value in leaves(exports):
        assert not (isinstance(value, str) and any(s in value for s in secrets))


def test_sign_in_secrets_are_secret_outputs(program: Program) -> None:
    for r in program.of_type(SECRET):
        if r.inputs["metadata"]["name"] == "sign-in":
            data = r.inputs["stringData"]
            assert isinstance(data, Secret) or all(
                isinstance(data[k], Secret) for k in (oauth2_proxy.CLIENT_SECRET_KEY, oauth2_proxy.COOKIE_SECRET_KEY)
            )


def test_superset_signs_in_through_the_provider(program: Program) -> None:
    for r in program.of_type(RELEASE):
        if r.inputs["chart"] != "superset":
            continue
        values = r.inputs["values"]
        assert "AUTH_TYPE = AUTH_OAUTH" in values["configOverrides"]["sign_in"]
        assert values["extraConfigs"]["dataplatform_sign_in.py"] == Path(superset_sign_in.__file__).read_text()


@pytest.mark.parametrize(("stack", "password_login"), [("dev", "true"), ("prod", "false")])
def test_datahub_provisions_users_just_in_time_and_prod_has_no_password_login(stack: str, password_login: str):
    frontend = program_for(stack).one(RELEASE, "catalog-datahub").inputs["values"]["datahub-frontend"]
    oidc = frontend["oidcAuthentication"]
    assert oidc["enabled"] is True and oidc["provider"] == "other"
    assert oidc["clientSecretRef"] == {"secretRef": "datahub-sign-in", "secretKey": "client-secret"}
    env = {e["name"]: e["value"] for e in frontend["extraEnvs"]}
    assert env["AUTH_OIDC_JIT_PROVISIONING_ENABLED"] == "true"
    assert env["AUTH_JAAS_ENABLED"] == password_login


def test_local_stack_uses_the_bundled_dex_with_in_cluster_endpoints() -> None:
    program = program_for("local")
    dex = program.one(RELEASE, "identity-dex").inputs["values"]
    assert dex["config"]["issuer"] == "http://dex.localtest.me:8080/dex"
    assert sorted(dex["config"]["staticClients"][0]["redirectURIs"]) == program.exports["signInRedirectUris"]
    users = {u["username"]: u for u in dex["config"]["staticPasswords"]}
    assert users["sales"]["groups"] == ["sales-analytics"]
    assert all("hash" not in u and u["hashFromEnv"].startswith("DEX_PASSWORD_HASH_") for u in users.values())
    for values in gateways(program).values():
        assert flags(values, "redeem-url") == ["http://dex.identity.svc:5556/dex/token"]
        assert flags(values, "cookie-secure") == ["false"]
    assert isinstance(program.exports["signIn"], Secret)


# --- configuration errors ----------------------------------------------------------------------


def raw(stack: str, **changes: Any) -> dict[str, Any]:
    cfg = {k.split(":", 1)[1]: yaml.safe_load(v) if v[:1] in "{[" else v for k, v in stack_config(stack).items()}
    cfg.update(changes)
    return cfg


@pytest.mark.parametrize(
    ("stack", "change", "message"),
    [
        ("dev", {"identity": {"provider": "oidc", "issuerUrl": "https://idp.example.com"}}, "clientId"),
        (
            "dev",
            {"identity": {"provider": "dex", "users": [{"email": "a@b.io", "username": "a", "groups": ["g"]}]}},
            "identity.provider must be oidc",
        ),
        ("dev", {"identity": {"provider": "oidc", "issuerUrl": "http://idp", "clientId": "x"}}, "identity.issuerUrl"),
        ("local", {"identity": {"provider": "dex"}}, "at least one user"),
        ("local", {"identity": {"provider": "dex", "users": [{"email": "a@b.io", "username": "a"}]}}, "groups"),
    ],
)
def test_a_bad_identity_block_names_the_key(stack: str, change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw(stack, **change))
    assert "dataplatform:" in str(err.value) and message in str(err.value)


def test_the_client_secret_is_given_exactly_once() -> None:
    with pytest.raises(ConfigError, match="exactly once"):
        parse_stack_config(raw("dev", identityClientSecret="s3cr3t-from-pulumi-config"))


def test_aws_ingress_needs_a_certificate() -> None:
    ingress = raw("dev")["ingress"]
    with pytest.raises(ConfigError, match=r"ingress.certificateArn is required"):
        parse_stack_config(raw("dev", ingress={"baseDomain": ingress["baseDomain"]}))


def test_the_client_secret_from_pulumi_config_stays_secret() -> None:
    config = raw("dev")
    config["identity"] = {k: v for k, v in config["identity"].items() if k != "clientSecretArn"}
    program = program_for(
        "dev",
        config={
            f"dataplatform:{k}": v for k, v in {**config, "identityClientSecret": "pulumi-config-secret-value"}.items()
        },
    )
    found = [r for r in program.of_type(SECRET) if r.inputs["metadata"]["name"] == "sign-in"]
    assert found
    for r in program.resources:
        if r.type != SECRET:
            assert "pulumi-config-secret-value" not in str(r.inputs), r.name


# --- the values against the charts ------------------------------------------------------------


def _gateway_args(**kw: Any) -> oauth2_proxy.GatewayArgs:
    base: dict[str, Any] = {
        "public_url": "https://superset.sales.data.example.com",
        "upstream": "http://sales-superset.sales.svc:8088",
        "health_path": "/health",
        "client_secret": "sign-in",
        "oidc": oauth2_proxy.OidcEndpoints("https://idp.example.com"),
        "groups_claim": "groups",
        "scopes": ("openid", "email", "profile"),
        "allowed_groups": ("sales-analytics",),
    }
    return oauth2_proxy.GatewayArgs(**{**base, **kw})


def _dex_args() -> dex_values.DexArgs:
    return dex_values.DexArgs(
        issuer_url="http://dex.localtest.me:8080/dex",
        client_id="dataplatform",
        redirect_uris=("http://superset.sales.localtest.me:8080/oauth2/callback",),
        users=(dex_values.DexUser("a@localtest.me", "a", ("g",)),),
        env_secret="dex-env",
    )


@pytest.mark.parametrize(
    ("chart", "values"),
    [("oauth2-proxy", oauth2_proxy.oauth2_proxy_values(_gateway_args())), ("dex", dex_values.dex_values(_dex_args()))],
)
def test_every_key_exists_in_the_chart(chart: str, values: dict[str, Any]) -> None:
    reference = reference_values(chart, PINNED[chart].version)
    assert reference is not None
    assert unknown_keys(values, reference) == []


def _render(chart_dir: str, values: dict[str, Any], name: str, namespace: str, tmp: Path) -> list[dict[str, Any]]:
    copy = tmp / chart_dir
    shutil.copytree(shared_charts_dir() / "src" / chart_dir, copy)
    with helm.Chart.load(str(copy)) as chart:
        manifests = chart.render(values, name=name, namespace=namespace)
    docs = (yaml.safe_load_all(t) for p, t in manifests.items() if p.endswith(".yaml"))
    return [d for stream in docs for d in stream if d]


def test_the_gateway_renders_with_our_flags_and_no_secret(tmp_path: Path) -> None:
    objects = _render(
        "oauth2-proxy-10.7.0",
        oauth2_proxy.oauth2_proxy_values(_gateway_args()),
        "sales-superset-oauth2-proxy",
        "sales",
        tmp_path,
    )
    kinds = sorted(o["kind"] for o in objects)
    assert "Secret" not in kinds  # the client Secret is ours
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    (service,) = [o for o in objects if o["kind"] == "Service"]
    assert service["metadata"]["name"] == "sales-superset-oauth2-proxy" and service["spec"]["ports"][0]["port"] == 80
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--allowed-group=sales-analytics" in container["args"]
    assert "--skip-auth-route=GET=^/health$" in container["args"]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert refs == {"sign-in"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    for obj in objects:
        kubernetes_validate.validate(obj, "1.35.0", strict=True)


def test_dex_renders_without_secrets_in_its_config(tmp_path: Path) -> None:
    objects = _render("dex-0.24.0", dex_values.dex_values(_dex_args()), "dex", "identity", tmp_path)
    (config,) = [o for o in objects if o["kind"] == "Secret"]
    text = yaml.safe_dump(config)
    assert "hashFromEnv" in text or "config.yaml" in text
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "Role")]
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/dexidp/dex:{dex_values.IMAGE_TAG}"
    assert container["envFrom"] == [{"secretRef": {"name": "dex-env"}}]


def test_explicit_endpoints_come_together() -> None:
    with pytest.raises(ValueError, match="together"):
        oauth2_proxy.OidcEndpoints("http://dex/dex", login_url="http://dex/dex/auth")


# --- Superset's sign-in module (runs inside Superset) -------------------------------------------


def test_superset_maps_owners_to_admin_and_viewers_to_gamma() -> None:
    env = {"SIGN_IN_OWNER_GROUPS": "sales-analytics,admins", "SIGN_IN_VIEWER_GROUPS": "finance,admins"}
    assert superset_sign_in.roles_mapping(env) == {
        "sales-analytics": ["Admin"],
        "admins": ["Admin"],
        "finance": ["Gamma"],
    }


def test_superset_reads_the_user_and_groups_from_the_id_token() -> None:
    claims = {"sub": "1", "email": "ann@example.com", "given_name": "Ann", "family_name": "Lee", "groups": ["g1"]}
    info = superset_sign_in.PlatformSecurityManager().oauth_user_info("oidc", {"userinfo": claims})
    assert info == {
        "username": "ann@example.com",
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "role_keys": ["g1"],
    }
    assert superset_sign_in.user_info({"sub": "1", "roles": "one"}, "roles")["role_keys"] == ["one"]


def test_superset_uses_discovery_or_the_explicit_endpoints() -> None:
    env = {"SIGN_IN_ISSUER_URL": "https://idp.example.com/", "SIGN_IN_CLIENT_ID": "c", "SIGN_IN_CLIENT_SECRET": "s"}
    remote = superset_sign_in.oauth_provider(env)["remote_app"]
    assert remote["server_metadata_url"] == "https://idp.example.com/.well-known/openid-configuration"
    local = {
        **env,
        "SIGN_IN_AUTHORIZE_URL": "http://dex.localtest.me:8080/dex/auth",
        "SIGN_IN_TOKEN_URL": "http://dex.identity.svc:5556/dex/token",
        "SIGN_IN_JWKS_URL": "http://dex.identity.svc:5556/dex/keys",
    }
    remote = superset_sign_in.oauth_provider(local)["remote_app"]
    assert "server_metadata_url" not in remote
    assert remote["access_token_url"] == "http://dex.identity.svc:5556/dex/token"
    settings = superset_sign_in.settings(local)
    assert settings["AUTH_USER_REGISTRATION_ROLE"] == "Public" and settings["AUTH_ROLES_SYNC_AT_LOGIN"] is True


def test_superset_env_names_what_the_module_reads(program: Program) -> None:
    source = Path(superset_sign_in.__file__).read_text()
    read = {name for name in __import__("re").findall(r"\"(SIGN_IN_[A-Z_]+)\"", source)}
    for r in program.of_type(SECRET):
        if r.inputs["metadata"]["name"] == "superset-env":
            data = r.inputs["stringData"]
            data = data.value if isinstance(data, Secret) else data
            creds = next(
                c
                for c in program.of_type(SECRET)
                if c.inputs["metadata"]["name"] == "superset-credentials"
                and c.inputs["metadata"]["namespace"] == r.inputs["metadata"]["namespace"]
            ).inputs["stringData"]
            creds = creds.value if isinstance(creds, Secret) else creds
            provided = set(data) | set(creds)
            optional = (
                {"SIGN_IN_AUTHORIZE_URL", "SIGN_IN_TOKEN_URL", "SIGN_IN_JWKS_URL"}
                if program.stack != "local"
                else set()
            )
            assert read - optional <= provided, read - provided


# Flask-AppBuilder's auth type constants (flask_appbuilder/const.py): AUTH_DB 1, AUTH_LDAP 2, AUTH_OAUTH 4.
FAB_AUTH_DB, FAB_AUTH_LDAP, FAB_AUTH_OAUTH = 1, 2, 4


def fab_api_login_accepts(config: dict[str, Any], provider: str) -> bool:
    """Flask-AppBuilder 5.2.2's check of the login API's `provider` (security/schemas.py validate_provider),
    the strictest form in the range Superset 6.1.0 allows (>=5.0.2,<6); 5.0.2 to 5.2.1 also accept any
    provider when AUTH_TYPE maps to none (AUTH_OAUTH)."""
    if config.get("AUTH_API_LOGIN_ALLOW_MULTIPLE_PROVIDERS", False):
        return True
    provider_name = {FAB_AUTH_DB: "db", FAB_AUTH_LDAP: "ldap"}.get(config["AUTH_TYPE"])
    return provider_name is not None and provider_name == provider


def superset_config(override: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The names the sign-in configOverrides block sets, evaluated as superset_config.py would be."""
    fab = types.ModuleType("flask_appbuilder.security.manager")
    fab.AUTH_OAUTH = FAB_AUTH_OAUTH  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flask_appbuilder.security.manager", fab)
    monkeypatch.setitem(sys.modules, "dataplatform_sign_in", superset_sign_in)
    monkeypatch.setattr(sys, "path", list(sys.path))
    env = {"SIGN_IN_ISSUER_URL": "https://idp.example.com", "SIGN_IN_CLIENT_ID": "c", "SIGN_IN_CLIENT_SECRET": "s"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    names: dict[str, Any] = {}
    exec(compile(override, "superset_config.py", "exec"), names)
    return names


def test_the_password_login_api_works_under_the_platforms_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emergency admin, the catalog's Superset ingestion and smoke log in with provider "db" while
    Superset runs AUTH_OAUTH: Flask-AppBuilder 5.2.2+ accepts that only with the multiple-providers switch."""
    release = program_for("dev").one(RELEASE, "sales-superset")
    config = superset_config(release.inputs["values"]["configOverrides"]["sign_in"], monkeypatch)
    assert config["AUTH_TYPE"] == FAB_AUTH_OAUTH
    assert fab_api_login_accepts(config, superset_sign_in.API_LOGIN_PROVIDER)
    # Without the switch, 5.2.2 refuses it: the switch is what keeps the login working.
    assert not fab_api_login_accepts({**config, "AUTH_API_LOGIN_ALLOW_MULTIPLE_PROVIDERS": False}, "db")
    assert superset_sign_in.API_LOGIN_PROVIDER == "db"
