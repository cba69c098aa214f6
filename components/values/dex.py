"""Helm values for the bundled identity provider of the local stack (chart `dex` 0.24.0 from
https://charts.dexidp.io).

Dex signs laptop users in the way the cloud IdP does: static users with groups, one static client
for every UI. No secret is in the values: the client secret comes from `secretEnv` and each user's
bcrypt hash from `hashFromEnv`, both read from the Secret named in `envFrom`. Storage is in memory:
sessions end when Dex restarts, and nothing else is stored (the users and client are config).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from components.values.common import container_security_context, pod_security_context, resources

# Groups on static users (staticPasswords[].groups) need Dex v2.45.0 or newer (dexidp/dex#4456);
# the chart's own appVersion is v2.44.0.
IMAGE_TAG = "v2.45.0"
PORT = 5556
PATH = "/dex"
CLIENT_SECRET_ENV = "DEX_CLIENT_SECRET"
_UID = 1001  # the dex image's user


@dataclass(frozen=True)
class DexUser:
    email: str
    username: str
    groups: tuple[str, ...]

    @property
    def hash_env(self) -> str:
        """The env var (from the Secret) that carries this user's bcrypt hash."""
        return "DEX_PASSWORD_HASH_" + re.sub(r"[^A-Z0-9]", "_", self.username.upper())


@dataclass(frozen=True)
class DexArgs:
    issuer_url: str
    client_id: str
    redirect_uris: tuple[str, ...]
    users: tuple[DexUser, ...]
    env_secret: str  # CLIENT_SECRET_ENV and each user's hash_env


def dex_values(args: DexArgs) -> dict[str, Any]:
    return {
        "image": {"tag": IMAGE_TAG},
        "config": {
            "issuer": args.issuer_url,
            "storage": {"type": "memory"},
            "web": {"http": f"0.0.0.0:{PORT}"},
            "oauth2": {"skipApprovalScreen": True, "responseTypes": ["code"]},
            "enablePasswordDB": True,
            "staticPasswords": [
                {
                    "email": u.email,
                    "username": u.username,
                    "userID": u.username,
                    "hashFromEnv": u.hash_env,
                    "groups": list(u.groups),
                }
                for u in args.users
            ],
            "staticClients": [
                {
                    "id": args.client_id,
                    "name": "Data platform",
                    "secretEnv": CLIENT_SECRET_ENV,
                    "redirectURIs": list(args.redirect_uris),
                }
            ],
        },
        "envFrom": [{"secretRef": {"name": args.env_secret}}],
        # Memory storage: no Dex CRDs, so no RBAC and no API token.
        "rbac": {"create": False},
        "serviceAccount": {"create": True},
        "podSecurityContext": pod_security_context(_UID, _UID),
        "securityContext": container_security_context(_UID, _UID),
        "resources": resources("25m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
    }
