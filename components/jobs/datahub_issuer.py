"""Issue one domain's DataHub ingestion token and store it in that domain's Secret.

Runs in the catalog namespace (components.catalog_feed: the issuer Job and its weekly rotation
CronJob), as `python /scripts/datahub_issuer.py`, in the datahub-ingestion image. It uses only
the standard library and imports nothing from this repository, because the file alone is mounted.

It acts as DataHub's system client (HTTP Basic "<client id>:<secret>"; the secret is a file mounted
from the catalog's auth Secret and never leaves that namespace). Idempotently, it upserts the domain's
ingestion user, its team group and an access policy (EDIT_ENTITY, what GMS requires for writes through
its REST APIs), creates a personal access token for the user (GraphQL createAccessToken), writes it
into the domain's pre-created Secret (get/patch only, with the pod's ServiceAccount token), and revokes
the token issued two runs ago, so a run that started with the previous token can finish. A token it
could not store is revoked at once.

Environment: DATAHUB_GMS_URL, DATAHUB_SYSTEM_CLIENT_ID, DOMAIN, TARGET_NAMESPACE, TOKEN_STORE_NAME (the
domain Secret's name), TEAM, TEAM_EMAIL, ACCESS_VALIDITY (a DataHub token duration, e.g. ONE_MONTH),
and KUBERNETES_SERVICE_HOST/PORT (set by the kubelet). Files: SYSTEM_CLIENT_SECRET_FILE, and the
ServiceAccount token and CA under SERVICE_ACCOUNT_DIR.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Where the program mounts the one key of the catalog's auth Secret this Job needs.
SYSTEM_CLIENT_SECRET_DIR = "/var/run/dataplatform/datahub-system-client"
SYSTEM_CLIENT_SECRET_FILE = f"{SYSTEM_CLIENT_SECRET_DIR}/secret"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
REQUIRED_ENV = (
    "DATAHUB_GMS_URL",
    "DATAHUB_SYSTEM_CLIENT_ID",
    "DOMAIN",
    "TARGET_NAMESPACE",
    "TOKEN_STORE_NAME",
    "TEAM",
    "TEAM_EMAIL",
    "ACCESS_VALIDITY",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
)
RESTLI = {"X-RestLi-Protocol-Version": "2.0.0"}
CREATE_TOKEN = """
mutation issue($input: CreateAccessTokenInput!) {
  createAccessToken(input: $input) { accessToken metadata { urn } }
}"""
REVOKE_TOKEN = "mutation revoke($id: String!) { revokeAccessToken(tokenId: $id) }"
TOKEN_URN_PREFIX = "urn:li:dataHubAccessToken:"


def read_secret_file(path: str) -> str:
    """A mounted Secret key's value, stripped; a clear exit if it is missing or empty."""
    try:
        with open(path, encoding="utf-8") as f:
            value = f.read().strip()
    except OSError as error:
        raise SystemExit(f"datahub_issuer: cannot read {path}: {error}") from error
    if not value:
        raise SystemExit(f"datahub_issuer: {path} is empty")
    return value


@dataclass(frozen=True)
class Settings:
    gms_url: str
    client_id: str
    domain: str
    namespace: str
    secret: str
    team: str
    team_email: str
    duration: str
    kubernetes_api: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        missing = [name for name in REQUIRED_ENV if not env.get(name)]
        if missing:
            raise SystemExit(f"datahub_issuer: missing environment variables: {', '.join(missing)}")
        return cls(
            gms_url=env["DATAHUB_GMS_URL"],
            client_id=env["DATAHUB_SYSTEM_CLIENT_ID"],
            domain=env["DOMAIN"],
            namespace=env["TARGET_NAMESPACE"],
            secret=env["TOKEN_STORE_NAME"],
            team=env["TEAM"],
            team_email=env["TEAM_EMAIL"],
            duration=env["ACCESS_VALIDITY"],
            kubernetes_api=f"https://{env['KUBERNETES_SERVICE_HOST']}:{env['KUBERNETES_SERVICE_PORT']}",
        )


def call(
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    context: ssl.SSLContext | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    """(status, parsed JSON or text) for one HTTP request; HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": content_type, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


class Gms:
    """DataHub's GMS as the system client."""

    def __init__(self, url: str, authorization: str, wait_seconds: float = 900, pause: float = 10) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": authorization}
        self.wait_seconds = wait_seconds
        self.pause = pause

    def wait(self) -> None:
        """Until GMS answers its health check (a fresh install takes minutes)."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                if call("GET", f"{self.url}/health")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"GMS at {self.url} did not become healthy")
            time.sleep(self.pause)

    def propose(self, entity_type: str, urn: str, aspect_name: str, aspect: Mapping[str, Any]) -> None:
        proposal = {
            "entityType": entity_type,
            "entityUrn": urn,
            "changeType": "UPSERT",
            "aspectName": aspect_name,
            "aspect": {"contentType": "application/json", "value": json.dumps(aspect)},
        }
        status, body = call(
            "POST",
            f"{self.url}/aspects?action=ingestProposal",
            {"proposal": proposal},
            {**self.headers, **RESTLI},
        )
        if status >= 300:
            raise SystemExit(f"upsert {aspect_name} of {urn} failed: HTTP {status} {body}")

    def graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        status, body = call("POST", f"{self.url}/api/graphql", {"query": query, "variables": variables}, self.headers)
        if status >= 300 or not isinstance(body, dict) or body.get("errors"):
            raise SystemExit(f"GraphQL failed: HTTP {status} {body}")
        return body["data"]


class Kube:
    """The one domain Secret, through the Kubernetes API (get and merge-patch)."""

    def __init__(self, api: str, token: str, context: ssl.SSLContext | None = None) -> None:
        self.api = api.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.context = context

    @classmethod
    def in_cluster(cls, api: str, service_account_dir: str = SERVICE_ACCOUNT_DIR) -> Kube:
        """With the pod's ServiceAccount token, trusting the cluster CA."""
        token = read_secret_file(f"{service_account_dir}/token")
        return cls(api, token, ssl.create_default_context(cafile=f"{service_account_dir}/ca.crt"))

    def _path(self, namespace: str, name: str) -> str:
        return f"{self.api}/api/v1/namespaces/{namespace}/secrets/{name}"

    def read_secret(self, namespace: str, name: str) -> dict[str, str]:
        status, body = call("GET", self._path(namespace, name), headers=self.headers, context=self.context)
        if status != 200 or not isinstance(body, dict):
            raise SystemExit(f"cannot read Secret {namespace}/{name}: HTTP {status} {body}")
        return {k: base64.b64decode(v).decode() for k, v in (body.get("data") or {}).items()}

    def write_secret(self, namespace: str, name: str, values: Mapping[str, str]) -> None:
        data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
        status, body = call(
            "PATCH",
            self._path(namespace, name),
            {"data": data},
            self.headers,
            self.context,
            content_type="application/merge-patch+json",
        )
        if status != 200:
            raise SystemExit(f"cannot write Secret {namespace}/{name}: HTTP {status} {body}")


def actor_urn(domain: str) -> str:
    return f"urn:li:corpuser:ingestion-{domain}"


def issue(
    gms: Gms,
    kube: Kube,
    *,
    domain: str,
    namespace: str,
    secret: str,
    team: str,
    team_email: str,
    duration: str,
) -> None:
    actor = actor_urn(domain)
    gms.wait()
    gms.propose(
        "corpuser",
        actor,
        "corpUserInfo",
        {"active": True, "displayName": f"Ingestion ({domain})", "title": f"Catalog feed of data domain {domain}"},
    )
    gms.propose(
        "corpGroup",
        f"urn:li:corpGroup:{team}",
        "corpGroupInfo",
        {
            "displayName": team,
            "email": team_email,
            "description": "Team owning data domains (managed by the data platform)",
            "admins": [],
            "members": [],
            "groups": [],
        },
    )
    gms.propose(
        "dataHubPolicy",
        f"urn:li:dataHubPolicy:dataplatform-ingestion-{domain}",
        "dataHubPolicyInfo",
        {
            "displayName": f"Data platform: catalog feed of domain {domain}",
            "description": "Lets the domain's ingestion user write metadata (managed by the data platform).",
            "type": "METADATA",
            "state": "ACTIVE",
            "privileges": ["EDIT_ENTITY"],
            "actors": {"users": [actor], "resourceOwners": False, "allUsers": False, "allGroups": False},
            "editable": False,
        },
    )
    current = kube.read_secret(namespace, secret)
    created = gms.graphql(
        CREATE_TOKEN,
        {
            "input": {
                "type": "PERSONAL",
                "actorUrn": actor,
                "duration": duration,
                "name": f"dataplatform-{domain}",
                "description": f"Ingestion and registration of data domain {domain}; rotated by the data platform",
            }
        },
    )["createAccessToken"]
    token_id = created["metadata"]["urn"].removeprefix(TOKEN_URN_PREFIX)
    try:
        kube.write_secret(
            namespace,
            secret,
            {"token": created["accessToken"], "token-id": token_id, "previous-token-id": current.get("token-id", "")},
        )
    except SystemExit:
        gms.graphql(REVOKE_TOKEN, {"id": token_id})
        raise
    stale = current.get("previous-token-id", "")
    if stale and stale != token_id:
        gms.graphql(REVOKE_TOKEN, {"id": stale})
    print(f"issued a {duration} token for {actor} into {namespace}/{secret}", flush=True)


def main(
    env: Mapping[str, str] | None = None,
    *,
    secret_file: str = SYSTEM_CLIENT_SECRET_FILE,
    kube: Kube | None = None,
    gms_wait_seconds: float = 900,
) -> int:
    settings = Settings.from_env(os.environ if env is None else env)
    client_secret = read_secret_file(secret_file)
    gms = Gms(settings.gms_url, f"Basic {settings.client_id}:{client_secret}", wait_seconds=gms_wait_seconds)
    issue(
        gms,
        kube or Kube.in_cluster(settings.kubernetes_api),
        domain=settings.domain,
        namespace=settings.namespace,
        secret=settings.secret,
        team=settings.team,
        team_email=settings.team_email,
        duration=settings.duration,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
