"""DomainQuality: where a domain's failed quality checks alert its owners, and the kit's settings.

Creates, from the domain file's `quality:` block:
- `alerts.channel: sns` (AWS foundation): an SNS topic `dp-<env>-<domain>-quality` encrypted with the
  AWS-managed SNS key, one email subscription per address (default: owners.email), and a topic policy
  that lets only the domain's Pod Identity role publish, over TLS only;
- `alerts.channel: slack`: the Secret `quality-alerts` in the domain namespace holding the webhook URL
  from the stack's secret config `dataplatform:qualitySlackWebhooks.<domain>`.

Invariants: the webhook URL stays a secret Output and reaches pods only through `secretKeyRef` to that
Secret, never in Helm values or env values; logical names start with the domain name; the env the kit
reads (dataplatform_kit.settings) is built here, in one place: `user_code_env`.
On the local foundation there is no SNS: an `sns` channel creates nothing and the run warns.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.domain_config import Domain
from components.validation import ConfigError

ALERTS_SECRET = "quality-alerts"
# The key is the variable's name: the Secret reaches the code server and the run pods whole (envFrom).
SLACK_WEBHOOK_KEY = "QUALITY_SLACK_WEBHOOK_URL"
WEBHOOKS_CONFIG = "qualitySlackWebhooks"
_SLACK_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]+)?/\S+")


def sns_available(config: StackConfig) -> bool:
    return config.foundation == "aws"


def alert_channel(domain: Domain, config: StackConfig) -> str:
    """The channel the stack actually wires: `sns` degrades to none without AWS (the local foundation)."""
    channel = domain.quality.alerts.channel
    if channel == "sns" and not sns_available(config):
        return "none"
    return channel


def quality_problems(config: StackConfig, domains: list[Domain], *, every_domain: bool = True) -> list[str]:
    """Problems between the domain files' quality blocks and the stack config (never shows a webhook URL).

    Retired domains run no code, so their quality blocks need nothing. Without `every_domain` (a domain
    stack loads only its own file and its producers'), webhooks of other domains are not reported.
    """
    domains = [d for d in domains if not d.retired]
    webhooks = config.quality_slack_webhooks
    by_name = {d.name: d for d in domains}
    key = f"dataplatform:{WEBHOOKS_CONFIG}"
    problems = [
        f"domains/{d.name}.yaml: quality.alerts.channel: slack needs the webhook URL in the stack's secret "
        f"config {key}.{d.name} (pulumi config set --secret --path '{key}.{d.name}' <url>)"
        for d in domains
        if d.quality.alerts.channel == "slack" and d.name not in webhooks
    ]
    for name, url in sorted(webhooks.items()):
        if name not in by_name and not every_domain:
            continue
        if name not in by_name:
            problems.append(
                f"{key}.{name}: no active domain '{name}' in this stack (its domains: {', '.join(by_name) or 'none'})"
            )
        elif by_name[name].quality.alerts.channel != "slack":
            problems.append(
                f"{key}.{name}: domains/{name}.yaml does not use quality.alerts.channel: slack; remove the key or "
                "set the channel"
            )
        if not _SLACK_URL.fullmatch(url.get_secret_value()):
            problems.append(f"{key}.{name}: must be an https:// webhook URL (the value is secret, so not shown)")
    return problems


def check_quality(config: StackConfig, domains: list[Domain], *, every_domain: bool = True) -> None:
    """Raise one ConfigError for every quality problem; warn where the local foundation drops SNS alerts."""
    problems = quality_problems(config, domains, every_domain=every_domain)
    if problems:
        raise ConfigError(problems, title="invalid quality settings")
    for d in domains:
        if d.quality.alerts.channel == "sns" and not sns_available(config) and not d.retired:
            pulumi.log.warn(
                f"domains/{d.name}.yaml: quality.alerts.channel: sns has no SNS on the {config.foundation} "
                "foundation; failed checks of this stack alert no one (use slack to alert from it)"
            )


def topic_policy(topic_arn: str, role_arn: str) -> dict[str, Any]:
    """Only the domain's role may publish, and only over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DomainRolePublishes",
                "Effect": "Allow",
                "Principal": {"AWS": role_arn},
                "Action": "sns:Publish",
                "Resource": topic_arn,
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def user_code_env(domain: Domain, channel: str, *, warehouse_kind: str, topic_arn: str | None) -> dict[str, str]:
    """The plain variables dataplatform_kit.settings reads; the Slack webhook comes from the Secret (envFrom)."""
    q = domain.quality
    env = {
        "QUALITY_DOMAIN": domain.name,
        "QUALITY_BLOCK_ON": q.block_on,
        "QUALITY_CATALOG": "true" if q.catalog else "false",
        "QUALITY_ALERT_CHANNEL": channel,
        # The catalog's dataset URNs use the warehouse ingestion's platform and database (WAREHOUSE_DB).
        "QUALITY_DATASET_PLATFORM": warehouse_kind,
    }
    if channel == "sns":
        assert topic_arn is not None
        env["QUALITY_SNS_TOPIC_ARN"] = topic_arn
    return env


class DomainQuality(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        domain: Domain,
        config: StackConfig,
        *,
        namespace: str,
        role_arn: pulumi.Output[str] | None,
        warehouse_kind: str,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:quality:DomainQuality", name, None, opts)
        d = domain.name
        child = pulumi.ResourceOptions(parent=self)
        self.channel = alert_channel(domain, config)
        self.topic: aws.sns.Topic | None = None
        self.secret: k8s.core.v1.Secret | None = None
        self.resources: list[pulumi.Resource] = []
        topic_arn: pulumi.Output[str] | None = None

        if self.channel == "sns":
            assert role_arn is not None, "the aws foundation gives every domain a Pod Identity role"
            self.topic = aws.sns.Topic(
                f"{d}-quality-alerts",
                aws.sns.TopicArgs(
                    name=f"dp-{config.environment}-{d}-quality",
                    display_name=f"{d} data quality",
                    kms_master_key_id="alias/aws/sns",
                    tags=tags,
                ),
                opts=child,
            )
            topic_arn = self.topic.arn
            policy = aws.sns.TopicPolicy(
                f"{d}-quality-alerts",
                aws.sns.TopicPolicyArgs(
                    arn=self.topic.arn,
                    policy=pulumi.Output.all(self.topic.arn, role_arn).apply(
                        lambda a: json.dumps(topic_policy(a[0], a[1]))
                    ),
                ),
                opts=child,
            )
            emails = domain.quality.alerts.emails or [domain.owners.email]
            subscriptions = [
                aws.sns.TopicSubscription(
                    f"{d}-quality-alerts-{email}",
                    aws.sns.TopicSubscriptionArgs(topic=self.topic.arn, protocol="email", endpoint=email),
                    opts=child,
                )
                for email in emails
            ]
            self.resources = [self.topic, policy, *subscriptions]
        elif self.channel == "slack":
            url = config.quality_slack_webhooks[d].get_secret_value()
            self.secret = k8s.core.v1.Secret(
                f"{d}-quality-alerts",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=ALERTS_SECRET, namespace=namespace, labels={"dataplatform.io/domain": d}
                ),
                type="Opaque",
                string_data={SLACK_WEBHOOK_KEY: pulumi.Output.secret(url)},
                opts=child,
            )
            self.resources = [self.secret]

        arn = topic_arn if topic_arn is not None else pulumi.Output.from_input("")
        # The Secret whose key QUALITY_SLACK_WEBHOOK_URL the pods load whole (slack only).
        self.secret_name: str | None = ALERTS_SECRET if self.channel == "slack" else None
        self.env: pulumi.Output[dict[str, str]] = arn.apply(
            lambda a: user_code_env(domain, self.channel, warehouse_kind=warehouse_kind, topic_arn=a or None)
        )
        self.exports = {
            "blockOn": domain.quality.block_on,
            "catalog": domain.quality.catalog,
            "alerts": self.channel,
            "topicArn": topic_arn,
        }
        self.register_outputs(self.exports)
