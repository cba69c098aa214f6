"""Register a domain in DataHub: upsert each aspect of the proposals file through GMS.

Runs in the domain namespace (components.catalog_feed: the registration Job), as
`python /registration/datahub_registration.py`, in the datahub-ingestion image. It uses only the
standard library and imports nothing from this repository, because the file alone is mounted.

It authenticates with the domain's own token (Bearer), read from the file the program mounts from the
domain's token Secret. Upserts are idempotent, so a re-run (a new Job after the domain file changed)
only rewrites what is declared. A fresh token or access policy takes GMS a few minutes to see, and
GMS may be starting: those answers are retried until the deadline; any other error stops the Job.

Environment: DATAHUB_GMS_URL, DATAHUB_GMS_TOKEN_FILE (the mounted token), PROPOSALS_FILE (a JSON list
of {entityType, entityUrn, aspectName, aspect}, rendered by the program from the domain file).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

REQUIRED_ENV = ("DATAHUB_GMS_URL", "DATAHUB_GMS_TOKEN_FILE", "PROPOSALS_FILE")
# 401/403: a fresh token or access policy takes GMS a few minutes to see (policy cache);
# 429/5xx and 0 (no connection): GMS is busy or starting.
RETRY = frozenset({0, 401, 403, 429, 500, 502, 503, 504})


def post(url: str, token: str, body: Mapping[str, Any]) -> tuple[int, str]:
    """(status, text) of one POST; HTTP errors and unreachable hosts (status 0) are returned, not raised."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-RestLi-Protocol-Version": "2.0.0",
            "Authorization": f"Bearer {token}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except OSError as error:
        return 0, str(error)


def proposal_body(proposal: Mapping[str, Any]) -> dict[str, Any]:
    """The ingestProposal request for one entry of the proposals file."""
    return {
        "proposal": {
            "entityType": proposal["entityType"],
            "entityUrn": proposal["entityUrn"],
            "changeType": "UPSERT",
            "aspectName": proposal["aspectName"],
            "aspect": {"contentType": "application/json", "value": json.dumps(proposal["aspect"])},
        }
    }


def register(
    gms_url: str,
    token: str,
    proposals: Sequence[Mapping[str, Any]],
    deadline_seconds: float = 900,
    pause: float = 10.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    url = gms_url.rstrip("/") + "/aspects?action=ingestProposal"
    for p in proposals:
        body = proposal_body(p)
        deadline = clock() + deadline_seconds
        while True:
            status, text = post(url, token, body)
            if 200 <= status < 300:
                break
            if status not in RETRY or clock() > deadline:
                raise SystemExit(f"{p['aspectName']} of {p['entityUrn']}: HTTP {status} {text[:500]}")
            sleep(pause)
        print(f"upserted {p['aspectName']} of {p['entityUrn']}", flush=True)


def read_token(path: str) -> str:
    """The mounted token, stripped; a clear exit if the issuer has not written it."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as error:
        raise SystemExit(f"datahub_registration: cannot read the token file {path}: {error}") from error
    if not token:
        raise SystemExit(f"datahub_registration: the token file {path} is empty")
    return token


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    missing = [name for name in REQUIRED_ENV if not env.get(name)]
    if missing:
        raise SystemExit(f"datahub_registration: missing environment variables: {', '.join(missing)}")
    with open(env["PROPOSALS_FILE"], encoding="utf-8") as f:
        proposals = json.load(f)
    register(env["DATAHUB_GMS_URL"], read_token(env["DATAHUB_GMS_TOKEN_FILE"]), proposals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
