"""Data quality: the domain file's `quality:` block, the SNS topic or Slack Secret per domain, the kit's env.

`kit/tests/fixtures/platform-recipes.json` carries what the program deploys (the warehouse ingestion
recipe and the user code's env) to the kit's tests, which check that the kit's dataset URN is the one
DataHub's source builds from that recipe. Regenerate it with `.venv/bin/python -m tests.test_quality`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from components.config import StackConfig
from components.domain_config import Domain, load_domains
from components.quality import ALERTS_SECRET, SLACK_WEBHOOK_KEY, quality_problems, topic_policy
from components.validation import ConfigError
from components.values.dagster import DATAHUB_TOKEN_FILE
from tests.harness import PROJECT_DIR, Program, Secret, program_for, run_program, stack_config, walk

FIXTURE = PROJECT_DIR / "kit" / "tests" / "fixtures" / "platform-recipes.json"
RELEASE = "kubernetes:helm.sh/v3:Release"
WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/not-a-real-secret"
KIT_ENV = ("WAREHOUSE_DB", "QUALITY_DATASET_PLATFORM", "QUALITY_DOMAIN", "QUALITY_BLOCK_ON", "QUALITY_CATALOG")


def sample(name: str) -> dict[str, Any]:
    return yaml.safe_load((PROJECT_DIR / "domains" / f"{name}.yaml").read_text())


def user_code_env(program: Program, domain: str) -> dict[str, Any]:
    (release,) = [r for r in program.of_type(RELEASE) if r.name == f"{domain}-dagster"]
    (deployment,) = release.inputs["values"]["dagster-user-deployments"]["deployments"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in deployment["env"]}


def platform_recipes() -> dict[str, Any]:
    """Per stack: the sales warehouse recipe the catalog feed deploys and the env the kit reads."""
    out = {}
    for stack in ("dev", "local"):
        program = program_for(stack)
        (recipes,) = [r for r in program.resources if r.name == "sales-catalog-recipes"]
        env = user_code_env(program, "sales")
        out[stack] = {
            "recipe": yaml.safe_load(recipes.inputs["data"]["warehouse.yml"]),
            "userCodeEnv": {k: env[k] for k in KIT_ENV},
        }
    return out


# ---------------------------------------------------------------- the domain file


def load(tmp_path: Path, quality: dict[str, Any] | None) -> list[Domain]:
    doc = sample("sales")
    doc.pop("quality", None)
    if quality is not None:
        doc["quality"] = quality
    folder = tmp_path / "domains"
    folder.mkdir()
    (folder / "sales.yaml").write_text(yaml.safe_dump(doc))
    return load_domains(folder, stack="dev")


def test_quality_defaults_block_on_errors_publish_to_the_catalog_and_send_no_alerts(tmp_path: Path) -> None:
    (domain,) = load(tmp_path, None)

    assert (domain.quality.block_on, domain.quality.catalog, domain.quality.alerts.channel) == ("error", True, "none")


@pytest.mark.parametrize(
    ("quality", "problem"),
    [
        ({"blockOn": "fatal"}, "quality.blockOn: Input should be 'error', 'warning' or 'none'"),
        ({"alerts": {"channel": "teams"}}, "quality.alerts.channel: Input should be 'slack', 'sns' or 'none'"),
        ({"alerts": {"channel": "slack", "emails": ["a@example.com"]}}, "quality.alerts.emails: is only used with"),
        ({"alerts": {"channel": "sns", "emails": ["not-an-address"]}}, "quality.alerts.emails[0]: must be an email"),
        ({"alerts": {"channel": "sns", "emails": ["a@example.com"] * 2}}, "quality.alerts.emails: must not repeat"),
        ({"catalog": "yes please"}, "quality.catalog: Input should be a valid boolean"),
        ({"blocks": "error"}, "quality.blocks: unknown key"),
    ],
)
def test_bad_quality_block_names_file_and_field(tmp_path: Path, quality: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, quality)

    assert any(p.startswith(f"domains/sales.yaml: {problem}") for p in caught.value.problems), caught.value.problems


def stack(webhooks: dict[str, str], foundation: str = "dev") -> StackConfig:
    raw = {
        k.removeprefix("dataplatform:"): json.loads(v) if v[:1] in "{[" else v
        for k, v in stack_config(foundation).items()
    }
    return StackConfig.model_validate({**raw, "qualitySlackWebhooks": webhooks})


def test_slack_channel_needs_the_stacks_secret_webhook_and_never_shows_it(tmp_path: Path) -> None:
    (domain,) = load(tmp_path, {"alerts": {"channel": "slack"}})

    assert quality_problems(stack({}), [domain]) == [
        "domains/sales.yaml: quality.alerts.channel: slack needs the webhook URL in the stack's secret config "
        "dataplatform:qualitySlackWebhooks.sales (pulumi config set --secret --path "
        "'dataplatform:qualitySlackWebhooks.sales' <url>)"
    ]
    assert quality_problems(stack({"sales": WEBHOOK}), [domain]) == []
    problems = quality_problems(stack({"sales": "http://hooks.example.com/secret-path", "hr": WEBHOOK}), [domain])
    assert problems == [
        "dataplatform:qualitySlackWebhooks.hr: no active domain 'hr' in this stack (its domains: sales)",
        "dataplatform:qualitySlackWebhooks.sales: must be an https:// webhook URL (the value is secret, so not shown)",
    ]
    assert isinstance(stack({"sales": WEBHOOK}).quality_slack_webhooks["sales"], SecretStr)
    # A domain stack (split) loads only its own file: another domain's webhook is that domain's business.
    assert quality_problems(stack({"sales": WEBHOOK, "hr": WEBHOOK}), [domain], every_domain=False) == []


def test_a_webhook_for_a_domain_without_slack_is_refused_before_any_resource(tmp_path: Path) -> None:
    config = {**stack_config("dev"), "dataplatform:qualitySlackWebhooks": {"sales": WEBHOOK}}

    with pytest.raises(ConfigError, match=r"qualitySlackWebhooks\.sales: domains/sales\.yaml does not use"):
        run_program("dev", config=config)


# ---------------------------------------------------------------- SNS per domain (AWS)


def test_sns_topic_with_email_subscribers_and_a_policy_scoped_to_the_domain_role() -> None:
    program = program_for("dev")
    (topic,) = program.of_type("aws:sns/topic:Topic")
    (policy,) = program.of_type("aws:sns/topicPolicy:TopicPolicy")
    (subscription,) = program.of_type("aws:sns/topicSubscription:TopicSubscription")
    role = program.one("aws:iam/role:Role", "sales-domain")
    arn = topic.outputs["arn"]

    assert topic.inputs["name"] == "dp-dev-sales-quality"
    assert topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"
    assert topic.inputs["tags"]["domain"] == "sales"
    assert (subscription.inputs["topic"], subscription.inputs["protocol"], subscription.inputs["endpoint"]) == (
        arn,
        "email",
        "sales-data@example.com",  # owners.email: sales.yaml lists no other address
    )
    assert policy.inputs["arn"] == arn
    document = json.loads(policy.inputs["policy"])
    assert document == topic_policy(arn, role.outputs["arn"])
    (allow,) = [s for s in document["Statement"] if s["Effect"] == "Allow"]
    assert (allow["Principal"], allow["Action"], allow["Resource"]) == (
        {"AWS": role.outputs["arn"]},
        "sns:Publish",
        arn,
    )
    # marketing's file has no quality block: no channel, no topic.
    assert all(r.name.startswith("sales-") for r in program.resources if r.type.startswith("aws:sns/"))


def test_user_code_gets_the_kit_settings_and_the_topic_arn() -> None:
    program = program_for("dev")
    (topic,) = program.of_type("aws:sns/topic:Topic")
    env = user_code_env(program, "sales")

    assert {k: env[k] for k in KIT_ENV} | {"QUALITY_ALERT_CHANNEL": env["QUALITY_ALERT_CHANNEL"]} == {
        "WAREHOUSE_DB": "analytics",
        "QUALITY_DATASET_PLATFORM": "redshift",
        "QUALITY_DOMAIN": "sales",
        "QUALITY_BLOCK_ON": "error",
        "QUALITY_CATALOG": "true",
        "QUALITY_ALERT_CHANNEL": "sns",
    }
    assert env["QUALITY_SNS_TOPIC_ARN"] == topic.outputs["arn"]
    # Catalog publishing uses the domain's own token, from its Secret mounted as a file (read on each call).
    assert env["DATAHUB_GMS_TOKEN_FILE"] == DATAHUB_TOKEN_FILE
    assert user_code_env(program, "marketing")["QUALITY_ALERT_CHANNEL"] == "none"


def test_local_foundation_has_no_sns_so_alerts_are_off() -> None:
    program = program_for("local")

    assert not [r for r in program.resources if r.type.startswith("aws:sns/")]
    env = user_code_env(program, "sales")
    assert (env["QUALITY_ALERT_CHANNEL"], env["QUALITY_DATASET_PLATFORM"]) == ("none", "postgres")
    assert "QUALITY_SNS_TOPIC_ARN" not in env


# ---------------------------------------------------------------- Slack: the URL only in a Secret


@pytest.fixture(scope="module")
def slack_program(tmp_path_factory: pytest.TempPathFactory) -> Program:
    folder = tmp_path_factory.mktemp("slack") / "domains"
    folder.mkdir()
    # One domain keeps this extra program run short.
    doc = {k: v for k, v in sample("marketing").items() if k != "consumes"}
    doc["quality"] = {"blockOn": "warning", "catalog": False, "alerts": {"channel": "slack"}}
    (folder / "marketing.yaml").write_text(yaml.safe_dump(doc))
    config = {**stack_config("dev"), "dataplatform:qualitySlackWebhooks": {"marketing": WEBHOOK}}
    return run_program("dev", domains_dir=folder, config=config)


def test_slack_webhook_reaches_the_user_code_only_through_a_secret(slack_program: Program) -> None:
    (secret,) = [
        r for r in slack_program.of_type("kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] == ALERTS_SECRET
    ]
    assert secret.inputs["metadata"]["namespace"] == "marketing"
    assert secret.inputs["stringData"] == Secret({SLACK_WEBHOOK_KEY: WEBHOOK})
    env = user_code_env(slack_program, "marketing")
    # The Secret's one key is the variable's name, and the code server and the run pods load it whole.
    assert SLACK_WEBHOOK_KEY == "QUALITY_SLACK_WEBHOOK_URL" and SLACK_WEBHOOK_KEY not in env
    values = next(r for r in slack_program.of_type(RELEASE) if r.name == "marketing-dagster").inputs["values"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert {"name": ALERTS_SECRET} in deployment["envSecrets"]
    assert {"name": ALERTS_SECRET} in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    assert (env["QUALITY_ALERT_CHANNEL"], env["QUALITY_BLOCK_ON"], env["QUALITY_CATALOG"]) == (
        "slack",
        "warning",
        "false",
    )
    (release,) = [r for r in slack_program.of_type(RELEASE) if r.name == "marketing-dagster"]
    assert secret.urn in release.depends_on  # the Secret exists before the pods that read it
    # The URL is nowhere else: not in any release's values (not even as a secret), ConfigMap or export.
    assert not any(isinstance(v, Secret) for v in walk(release.inputs["values"]))
    for resource in slack_program.resources:
        if resource is not secret:
            assert WEBHOOK not in json.dumps(resource.inputs, default=repr), resource.name
    assert WEBHOOK not in json.dumps(slack_program.exports, default=repr)


# ---------------------------------------------------------------- the kit's URN fixture


def test_kit_fixture_is_what_the_program_deploys() -> None:
    assert json.loads(FIXTURE.read_text()) == platform_recipes(), (
        "the warehouse recipe or the user code's env changed: regenerate with "
        "`.venv/bin/python -m tests.test_quality` and run the kit's tests (make test-kit)"
    )


def test_every_env_value_is_plain_text() -> None:
    for value in walk(user_code_env(program_for("dev"), "sales")):
        assert not isinstance(value, Secret)


if __name__ == "__main__":
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(platform_recipes(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE.relative_to(PROJECT_DIR)}")
