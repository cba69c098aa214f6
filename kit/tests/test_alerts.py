"""The alert sensor: failed checks reach the owners through a webhook stand-in or the domain's SNS topic."""

import json
from pathlib import Path

import boto3
import pytest
from dagster import DagsterInstance, SensorDefinition, build_sensor_context
from dagster._core.definitions.sensor_definition import SensorExecutionData
from dataplatform_kit import QualitySettings
from defs import build
from moto import mock_aws
from standins import StandIn
from suites import BAD, GOOD

TOPIC = "arn:aws:sns:eu-west-1:123456789012:dp-dev-sales-quality"


def run_job(settings: QualitySettings, data, tmp_path: Path) -> tuple[SensorDefinition, DagsterInstance]:
    instance = DagsterInstance.ephemeral()
    defs = build(settings, "error", data, tmp_path / "lake")
    defs.resolve_job_def("daily").execute_in_process(instance=instance, raise_on_error=False)
    return defs.get_sensor_def("quality_alerts"), instance


def tick(sensor: SensorDefinition, instance: DagsterInstance, cursor: str | None = None) -> SensorExecutionData:
    return sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor))


def test_failed_check_posts_to_the_slack_webhook(
    webhook: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUALITY_SLACK_WEBHOOK_URL", f"{webhook.url}/services/T000/B000/XXXX")
    settings = QualitySettings(catalog=False, alert_channel="slack", domain="sales")

    sensor, instance = run_job(settings, BAD, tmp_path)
    first = tick(sensor, instance)

    (request,) = webhook.requests
    assert (request.method, request.path) == ("POST", "/services/T000/B000/XXXX")
    assert request.headers["Content-Type"] == "application/json"
    text = request.body["text"]
    assert text.startswith("[sales] quality check failed: orders / gx_suite")
    assert "severity: error" in text
    assert "expect_column_values_to_be_between(order_count)" in text
    assert (tmp_path / "lake" / "docs" / "index.html").as_uri() in text
    # The cursor moved: the next tick sends nothing again.
    assert first.cursor
    again = tick(sensor, instance, first.cursor)
    assert len(webhook.requests) == 1
    assert again.skip_message == "no new check results"


def test_passing_check_sends_nothing(webhook: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALITY_SLACK_WEBHOOK_URL", webhook.url)

    sensor, instance = run_job(QualitySettings(catalog=False, alert_channel="slack"), GOOD, tmp_path)

    assert tick(sensor, instance).skip_message == "1 check results, 0 failed, 0 alerts sent"
    assert webhook.requests == []


def test_webhook_error_keeps_the_cursor_so_the_alert_is_retried(
    webhook: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUALITY_SLACK_WEBHOOK_URL", webhook.url)
    webhook.status = 500
    settings = QualitySettings(catalog=False, alert_channel="slack", domain="sales")

    sensor, instance = run_job(settings, BAD, tmp_path)

    with pytest.raises(Exception, match="500"):
        tick(sensor, instance)
    webhook.status = 200
    # No cursor was stored by the failed tick, so the next one sends the same alert.
    delivered = tick(sensor, instance)
    first, retried = (r.body["text"] for r in webhook.requests)
    assert first == retried
    assert delivered.skip_message == "1 check results, 1 failed, 1 alerts sent"


def test_failed_check_publishes_to_the_sns_topic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sns = boto3.client("sns", region_name="eu-west-1")
        topic = sns.create_topic(Name="dp-dev-sales-quality")["TopicArn"]
        assert topic == TOPIC
        sqs = boto3.client("sqs", region_name="eu-west-1")
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

        settings = QualitySettings(catalog=False, alert_channel="sns", sns_topic_arn=topic, domain="sales")
        tick(*run_job(settings, BAD, tmp_path))

        (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["TopicArn"] == TOPIC
    assert envelope["Subject"] == "[sales] quality check failed: orders / gx_suite"
    assert "expect_column_values_to_be_unique(order_date)" in envelope["Message"]


def test_sns_channel_needs_a_topic() -> None:
    with pytest.raises(ValueError, match="QUALITY_SNS_TOPIC_ARN"):
        QualitySettings.from_env({"QUALITY_ALERT_CHANNEL": "sns"})
