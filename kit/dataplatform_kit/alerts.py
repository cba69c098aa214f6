"""`quality_alert_sensor`: alert the domain's owners when an asset check fails.

A failed check does not fail its run, so Dagster's run-failure sensors never fire for it
(dagster-io/dagster#29896). This sensor reads asset-check evaluation events from the instance's
event log instead, after a cursor (the last event's storage id), and sends one alert per failed
evaluation through the domain's channel: a Slack incoming webhook (URL from a Kubernetes Secret,
`QUALITY_SLACK_WEBHOOK_URL`) or the domain's SNS topic (`QUALITY_SNS_TOPIC_ARN`, publish allowed only
to the domain's Pod Identity role). A delivery error fails the tick without moving the cursor, so
the alert is retried on the next tick rather than lost.
"""

import json
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    EventRecordsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from dataplatform_kit.checks import DOCS_KEY, DOMAIN_KEY, FAILED_KEY, SEVERITY_KEY
from dataplatform_kit.settings import QualitySettings, slack_webhook_url

BATCH = 100
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Alert:
    domain: str
    asset: str
    check: str
    severity: str
    run_id: str
    failed: list[str]
    docs: str | None

    @property
    def subject(self) -> str:
        # SNS subjects are limited to 100 characters.
        return f"[{self.domain or 'dagster'}] quality check failed: {self.asset} / {self.check}"[:100]

    @property
    def text(self) -> str:
        lines = [
            self.subject,
            f"severity: {self.severity}",
            f"run: {self.run_id}",
        ]
        if self.failed:
            lines.append("failed expectations: " + ", ".join(self.failed))
        if self.docs:
            lines.append(f"data docs: {self.docs}")
        return "\n".join(lines)


def _value(metadata: Any, key: str) -> Any:
    entry = metadata.get(key)
    return getattr(entry, "value", entry)


def _alert(record: Any, domain: str) -> Alert | None:
    event = record.event_log_entry.dagster_event
    evaluation = event.event_specific_data if event is not None else None
    if evaluation is None or evaluation.passed:
        return None
    metadata = evaluation.metadata
    return Alert(
        domain=_value(metadata, DOMAIN_KEY) or domain,
        asset=evaluation.asset_key.to_user_string(),
        check=evaluation.check_name,
        severity=_value(metadata, SEVERITY_KEY) or evaluation.severity.value.lower(),
        run_id=record.event_log_entry.run_id,
        failed=list(_value(metadata, FAILED_KEY) or []),
        docs=_value(metadata, DOCS_KEY),
    )


def send_slack(url: str, alert: Alert) -> None:
    body = json.dumps({"text": alert.text}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        if not 200 <= response.status < 300:
            raise RuntimeError(f"Slack webhook answered HTTP {response.status}")


def send_sns(topic_arn: str, alert: Alert) -> None:
    import boto3

    # The topic's region is in its ARN: arn:aws:sns:<region>:<account>:<name>.
    boto3.client("sns", region_name=topic_arn.split(":")[3]).publish(
        TopicArn=topic_arn, Subject=alert.subject, Message=alert.text
    )


def deliver(alerts: Sequence[Alert], settings: QualitySettings) -> None:
    if settings.alert_channel == "slack":
        url = slack_webhook_url()
        if not url:
            raise RuntimeError("QUALITY_ALERT_CHANNEL=slack but QUALITY_SLACK_WEBHOOK_URL is empty")
        for alert in alerts:
            send_slack(url, alert)
    elif settings.alert_channel == "sns":
        assert settings.sns_topic_arn is not None  # QualitySettings.from_env requires it for sns
        for alert in alerts:
            send_sns(settings.sns_topic_arn, alert)


def quality_alert_sensor(
    name: str = "quality_alerts",
    *,
    settings: QualitySettings | None = None,
    minimum_interval_seconds: int = 60,
) -> SensorDefinition:
    """A sensor (running by default) that alerts on every failed asset check of this Dagster instance."""

    @sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Alerts the domain's owners when an asset check fails (Slack or SNS, from the domain file).",
    )
    def _sensor(context: SensorEvaluationContext) -> SkipReason:
        current = settings or QualitySettings.from_env()
        after = int(context.cursor) if context.cursor else None
        records = context.instance.get_event_records(
            EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after),
            limit=BATCH,
            ascending=True,
        )
        if not records:
            return SkipReason("no new check results")
        alerts = [a for a in (_alert(r, current.domain) for r in records) if a is not None]
        if alerts and current.alert_channel != "none":
            deliver(alerts, current)
        context.update_cursor(str(records[-1].storage_id))
        sent = len(alerts) if current.alert_channel != "none" else 0
        return SkipReason(f"{len(records)} check results, {len(alerts)} failed, {sent} alerts sent")

    return _sensor
