"""Pushes each finished run of this code location to the central DataHub (it has no Dagster pull source).

The platform sets DATAHUB_GMS_URL and DATAHUB_GMS_TOKEN_FILE when the domain's catalog feed takes
Dagster. The file is the domain's token Secret, mounted as a volume: the weekly rotation rewrites it
in place (kubelet refreshes mounted Secrets; env vars never change in a running pod). So the token is
read from the file on every call, never cached: a code server that runs for weeks keeps working.
"""

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from dagster import DagsterRunStatus, DefaultSensorStatus, RunStatusSensorContext, SensorDefinition, run_status_sensor

CODE_LOCATION = "sales"


class CatalogUnavailableError(RuntimeError):
    """The catalog cannot be called yet (no token file, or an error answer)."""


def gms_token() -> str:
    """The current token: the whole content of the file DATAHUB_GMS_TOKEN_FILE names, read now."""
    path = Path(os.environ["DATAHUB_GMS_TOKEN_FILE"])
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise CatalogUnavailableError(f"{path} does not exist yet (the token issuer has not run)") from None
    if not token:
        raise CatalogUnavailableError(f"{path} is empty")
    return token


def run_proposal(job: str, run_id: str, status: str) -> dict[str, Any]:
    """The job as a DataHub DataFlow whose custom properties record its latest finished run."""
    return {
        "entityType": "dataFlow",
        "entityUrn": f"urn:li:dataFlow:(dagster,{CODE_LOCATION}.{job},PROD)",
        "changeType": "UPSERT",
        "aspectName": "dataFlowInfo",
        "aspect": {
            "contentType": "application/json",
            "value": json.dumps({"name": job, "customProperties": {"lastRunId": run_id, "lastRunStatus": status}}),
        },
    }


def push(proposal: dict[str, Any]) -> None:
    """Upsert one aspect through GMS with the token as it is now."""
    url = os.environ["DATAHUB_GMS_URL"].rstrip("/") + "/aspects?action=ingestProposal"
    request = urllib.request.Request(
        url,
        data=json.dumps({"proposal": proposal}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-RestLi-Protocol-Version": "2.0.0",
            "Authorization": f"Bearer {gms_token()}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30):
            pass
    except urllib.error.HTTPError as error:
        raise CatalogUnavailableError(f"GMS answered {error.code} for {proposal['entityUrn']}") from error


def _push_run(context: RunStatusSensorContext) -> None:
    run = context.dagster_run
    push(run_proposal(run.job_name, run.run_id, run.status.value))
    context.log.info(f"pushed run {run.run_id} of {run.job_name} to DataHub")


def catalog_sensors() -> list[SensorDefinition]:
    """One sensor per finished state, when the platform connects this code location to DataHub."""
    if not os.environ.get("DATAHUB_GMS_URL"):
        return []

    @run_status_sensor(
        run_status=DagsterRunStatus.SUCCESS, name="datahub_run_success", default_status=DefaultSensorStatus.RUNNING
    )
    def datahub_run_success(context: RunStatusSensorContext) -> None:
        _push_run(context)

    @run_status_sensor(
        run_status=DagsterRunStatus.FAILURE, name="datahub_run_failure", default_status=DefaultSensorStatus.RUNNING
    )
    def datahub_run_failure(context: RunStatusSensorContext) -> None:
        _push_run(context)

    return [datahub_run_success, datahub_run_failure]
