"""Superset's own sign-in through the platform's OIDC provider. Runs inside Superset.

The platform ships this file into Superset's config directory (chart `extraConfigs`, mounted on
the Python path), and `superset_config.py` imports it (a `configOverrides` block). Every setting
comes from the environment, which the platform fills from the tool's Secrets:

- SIGN_IN_ISSUER_URL, SIGN_IN_CLIENT_ID, SIGN_IN_CLIENT_SECRET (secret), SIGN_IN_SCOPES,
  SIGN_IN_GROUPS_CLAIM;
- SIGN_IN_OWNER_GROUPS and SIGN_IN_VIEWER_GROUPS (comma-separated): owners become Superset
  `Admin`s, viewers `Gamma`; roles are re-synced at every login, so a group change takes effect
  at the next sign-in. A user in no mapped group gets `Public`, which has no permissions;
- where pods cannot read the issuer's discovery document (the local stack's Dex):
  SIGN_IN_AUTHORIZE_URL (the browser's), SIGN_IN_TOKEN_URL and SIGN_IN_JWKS_URL (in-cluster).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

PROVIDER = "oidc"  # the callback is /oauth-authorized/oidc
OWNER_ROLE = "Admin"
VIEWER_ROLE = "Gamma"
NO_ACCESS_ROLE = "Public"


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def groups_of(claims: Mapping[str, Any], claim: str) -> list[str]:
    value = claims.get(claim, [])
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def user_info(claims: Mapping[str, Any], groups_claim: str) -> dict[str, Any]:
    """What Flask-AppBuilder needs to find or register the user, with the groups as role keys."""
    email = str(claims.get("email") or claims.get("preferred_username") or claims["sub"])
    return {
        "username": str(claims.get("preferred_username") or email),
        "email": email,
        "first_name": str(claims.get("given_name", "")),
        "last_name": str(claims.get("family_name", "")),
        "role_keys": groups_of(claims, groups_claim),
    }


def roles_mapping(env: Mapping[str, str]) -> dict[str, list[str]]:
    """IdP group -> Superset roles; an owner group is never demoted to a viewer."""
    owners = _split(env.get("SIGN_IN_OWNER_GROUPS", ""))
    viewers = [g for g in _split(env.get("SIGN_IN_VIEWER_GROUPS", "")) if g not in owners]
    return {**{g: [OWNER_ROLE] for g in owners}, **{g: [VIEWER_ROLE] for g in viewers}}


def oauth_provider(env: Mapping[str, str]) -> dict[str, Any]:
    """The Flask-AppBuilder OAUTH_PROVIDERS entry (Authlib remote app settings)."""
    issuer = env["SIGN_IN_ISSUER_URL"].rstrip("/")
    remote: dict[str, Any] = {
        "client_id": env["SIGN_IN_CLIENT_ID"],
        "client_secret": env["SIGN_IN_CLIENT_SECRET"],
        "client_kwargs": {"scope": env.get("SIGN_IN_SCOPES", "openid email profile")},
    }
    if env.get("SIGN_IN_TOKEN_URL"):
        remote |= {
            "authorize_url": env["SIGN_IN_AUTHORIZE_URL"],
            "access_token_url": env["SIGN_IN_TOKEN_URL"],
            "jwks_uri": env["SIGN_IN_JWKS_URL"],
            "issuer": issuer,
        }
    else:
        remote["server_metadata_url"] = f"{issuer}/.well-known/openid-configuration"
    return {"name": PROVIDER, "token_key": "access_token", "icon": "fa-sign-in", "remote_app": remote}


# The emergency admin, the catalog's Superset ingestion and `platformctl smoke` log in with
# POST /api/v1/security/login {"provider": "db"} (API_LOGIN_PROVIDER). Flask-AppBuilder registers that API
# whatever AUTH_TYPE is, and its `db` branch (security/api.py -> manager.auth_user_db) never reads AUTH_TYPE;
# only security/schemas.py `validate_provider` does. Superset 6.1.0 requires flask-appbuilder>=5.0.2,<6:
# in FAB 5.0.2 to 5.2.1 that check passes when AUTH_TYPE maps to no API provider (AUTH_OAUTH); from 5.2.2
# (dpgaspar/Flask-AppBuilder#2462) it rejects "db" under AUTH_OAUTH unless
# AUTH_API_LOGIN_ALLOW_MULTIPLE_PROVIDERS is set. Set it, so the password login works on every FAB in the range.
API_LOGIN_PROVIDER = "db"


def settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The superset_config names this module sets (AUTH_TYPE is set by the caller: AUTH_OAUTH)."""
    env = os.environ if env is None else env
    return {
        "OAUTH_PROVIDERS": [oauth_provider(env)],
        "AUTH_USER_REGISTRATION": True,
        "AUTH_USER_REGISTRATION_ROLE": NO_ACCESS_ROLE,
        "AUTH_ROLES_MAPPING": roles_mapping(env),
        "AUTH_ROLES_SYNC_AT_LOGIN": True,
        "AUTH_API_LOGIN_ALLOW_MULTIPLE_PROVIDERS": True,
    }


try:  # inside the Superset image
    from superset.security import SupersetSecurityManager as _Base  # type: ignore[import-not-found]
except ImportError:  # tests and linters, outside the image
    _Base = object


class PlatformSecurityManager(_Base):  # type: ignore[misc,valid-type]
    """Reads the user and groups from the ID token Authlib has already verified ("userinfo")."""

    def oauth_user_info(self, provider: str, response: Mapping[str, Any] | None = None) -> dict[str, Any]:
        claims = (response or {}).get("userinfo") or {}
        return user_info(claims, os.environ.get("SIGN_IN_GROUPS_CLAIM", "groups"))
