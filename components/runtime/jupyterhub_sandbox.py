"""The analyst sandbox's hub-side configuration. Runs inside JupyterHub (chart jupyterhub 4.4.0).

The platform ships this file as `hub.extraFiles` into `/usr/local/etc/jupyterhub/jupyterhub_config.d/`,
which the chart's `jupyterhub_config.py` executes after its own configuration, with its globals (`c`,
the traitlets config). It reads the platform's settings from the chart's `custom.dataplatform` values
(through the chart's `z2jh.get_config`) and:

- offers each user only the profiles of the domains whose groups they are in: `KubeSpawner.profile_list`
  becomes a callable over the user's JupyterHub groups, which GenericOAuthenticator fills from the ID
  token's groups claim at every sign-in (`manage_groups`). KubeSpawner 7.0 validates the chosen profile
  against the same callable's list (`load_user_options`), so a hand-made spawn request cannot pick a
  profile the user was not offered;
- where the hub can read the identity provider's discovery document (every OIDC provider on AWS),
  sets GenericOAuthenticator's authorize and token URLs from it, since OAuthenticator 17.4 has no
  discovery of its own; where it cannot (the local Dex behind a port-forward), the values carry the
  URLs and this step is skipped.

Settings (`custom.dataplatform`): `profileGroups` (profile slug -> groups allowed to use it) and
`issuerUrl` (set only when the URLs are to be discovered).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

DISCOVERY_PATH = "/.well-known/openid-configuration"
SETTINGS_KEY = "custom.dataplatform"


def allowed_profiles(
    profiles: Sequence[Mapping[str, Any]], user_groups: Iterable[str], profile_groups: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    """The profiles a member of `user_groups` may start, in their configured order. A profile whose slug
    has no entry in `profile_groups` is offered to nobody (fail closed)."""
    groups = set(user_groups)
    return [dict(p) for p in profiles if groups & set(profile_groups.get(str(p.get("slug", "")), ()))]


def profile_list_for(
    profiles: Sequence[Mapping[str, Any]], profile_groups: Mapping[str, Sequence[str]]
) -> Callable[[Any], list[dict[str, Any]]]:
    """`KubeSpawner.profile_list` as a callable of the spawner: the profiles of the spawning user's groups."""
    frozen = [dict(p) for p in profiles]
    allowed = {slug: tuple(groups) for slug, groups in profile_groups.items()}

    def profile_list(spawner: Any) -> list[dict[str, Any]]:
        return allowed_profiles(frozen, (g.name for g in spawner.user.groups), allowed)

    return profile_list


def discover(issuer_url: str, fetch: Callable[[str], Mapping[str, Any]] | None = None) -> dict[str, str]:
    """The authorize and token endpoints from the issuer's discovery document."""
    url = issuer_url.rstrip("/") + DISCOVERY_PATH
    document = (fetch or _fetch_json)(url)
    missing = [k for k in ("authorization_endpoint", "token_endpoint") if not document.get(k)]
    if missing:
        raise RuntimeError(f"{url}: the discovery document has no {', '.join(missing)}")
    return {"authorize_url": document["authorization_endpoint"], "token_url": document["token_endpoint"]}


def _fetch_json(url: str) -> Mapping[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:  # the https issuer of the stack config
        return json.load(response)


def configure(c: Any, settings: Mapping[str, Any], fetch: Callable[[str], Mapping[str, Any]] | None = None) -> None:
    """Apply the platform's settings to the traitlets config `c` (the chart already set profile_list)."""
    profiles = list(c.KubeSpawner.get("profile_list", []) or [])
    c.KubeSpawner.profile_list = profile_list_for(profiles, settings.get("profileGroups", {}))
    issuer = settings.get("issuerUrl")
    if issuer:
        for trait, value in discover(issuer, fetch).items():
            setattr(c.GenericOAuthenticator, trait, value)


# Executed by the chart's jupyterhub_config.py (which defines `c`); importing the module does nothing.
_c = globals().get("c")
if _c is not None:
    from z2jh import get_config  # type: ignore[import-not-found]  # the chart's helper, next to jupyterhub_config.py

    configure(_c, get_config(SETTINGS_KEY, {}) or {})
