"""The warehouse grants: the module the Job runs (against a fake Data API), and the Job, identity and
order the program registers for it (issue 10, item 6: dbt logs in with IAM and needs its schema)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from components.images import DATAHUB_INGESTION
from components.jobs import warehouse_grants as grants
from components.warehouse_access import COMMAND, GRANTS_IMAGE, MODULE_FILE
from tests.harness import Program, program_for

ENV = {
    "WAREHOUSE_WORKGROUP": "dp-dev-sales",
    "WAREHOUSE_DB": "analytics",
    "WAREHOUSE_ADMIN_LOGIN_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift!dp-dev-sales-admin",
    "WAREHOUSE_USER": "IAMR:dp-dev-sales-domain",
    "WAREHOUSE_SCHEMA": "sales",
    "AWS_REGION": "eu-west-1",
}


class FakeDataApi:
    """Records every ExecuteStatement; `users` are the users pg_user holds; `failures` fail first."""

    def __init__(self, users: frozenset[str] = frozenset(), failures: int = 0, status: str = "FAILED") -> None:
        self.users, self.failures, self.failed_status = set(users), failures, status
        self.calls: list[dict[str, Any]] = []
        self._results: dict[str, dict[str, Any]] = {}

    def execute_statement(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls.append(kwargs)
        statement_id = str(len(self.calls))
        if self.failures:
            self.failures -= 1
            self._results[statement_id] = {"Status": self.failed_status, "Error": "workgroup is not available"}
            return {"Id": statement_id}
        rows = 0
        if kwargs["Sql"].startswith("SELECT"):
            rows = int(kwargs["Parameters"][0]["value"] in self.users)
        elif kwargs["Sql"].startswith("CREATE USER"):
            self.users.add(kwargs["Sql"].split('"')[1])
        self._results[statement_id] = {"Status": "FINISHED", "ResultRows": rows}
        return {"Id": statement_id}

    def describe_statement(self, **kwargs: Any) -> Mapping[str, Any]:
        return self._results[kwargs["Id"]]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _run(api: FakeDataApi, env: dict[str, str] = ENV) -> list[str]:
    settings = grants.Settings.from_env(env)
    clock = Clock()
    return grants.apply(grants.Warehouse(api, settings, clock=clock, sleep=clock.sleep), settings)


def test_a_new_user_is_created_without_password_and_owns_its_schema():
    api = FakeDataApi()
    ran = _run(api)
    assert ran == [
        'CREATE USER "IAMR:dp-dev-sales-domain" PASSWORD DISABLE',
        'CREATE SCHEMA IF NOT EXISTS "sales" AUTHORIZATION "IAMR:dp-dev-sales-domain"',
        'ALTER SCHEMA "sales" OWNER TO "IAMR:dp-dev-sales-domain"',
    ]
    # Every call is the admin through the AWS-managed secret, on the domain's workgroup and database.
    for call in api.calls:
        assert call["WorkgroupName"] == "dp-dev-sales" and call["Database"] == "analytics"
        assert call["SecretArn"] == ENV["WAREHOUSE_ADMIN_LOGIN_ARN"]
        assert "DbUser" not in call and "password" not in json.dumps(call).lower().replace("password disable", "")


def test_rerunning_changes_nothing_but_the_idempotent_statements():
    api = FakeDataApi(users=frozenset({"IAMR:dp-dev-sales-domain"}))
    ran = _run(api)
    assert not any(sql.startswith("CREATE USER") for sql in ran)
    assert ran == grants.grant_statements("IAMR:dp-dev-sales-domain", "sales")
    # The existence check passes the name as a parameter, not in the SQL text.
    assert api.calls[0]["Parameters"] == [{"name": "name", "value": "IAMR:dp-dev-sales-domain"}]


@pytest.mark.parametrize("status", ["FAILED", "ABORTED"])
def test_it_waits_for_a_warehouse_that_is_not_ready_yet(status):
    api = FakeDataApi(failures=3, status=status)
    assert len(_run(api)) == 3
    assert len(api.calls) == 3 + 4  # three failed tries of the check, then check + three statements


def test_it_gives_up_after_the_deadline():
    api = FakeDataApi(failures=10_000)
    with pytest.raises(SystemExit, match="gave up"):
        _run(api, {**ENV, "GRANTS_DEADLINE_SECONDS": "60"})


@pytest.mark.parametrize("name", grants.REQUIRED_ENV)
def test_missing_settings_are_named(name):
    with pytest.raises(SystemExit, match=name):
        grants.Settings.from_env({k: v for k, v in ENV.items() if k != name})


def test_identifiers_are_checked_and_quoted():
    with pytest.raises(SystemExit, match="WAREHOUSE_SCHEMA"):
        grants.Settings.from_env({**ENV, "WAREHOUSE_SCHEMA": 'sales"; drop table x; --'})
    assert grants.quote('a"b') == '"a""b"'


def test_main_runs_against_a_client():
    assert grants.main(ENV, FakeDataApi()) == 0


# ---------------------------------------------------------------- what the program registers


@pytest.fixture(scope="module")
def dev() -> Program:
    return program_for("dev")


def _by_name(program: Program, type_: str) -> dict[str, Any]:
    return {r.name: r for r in program.of_type(type_)}


def _job(program: Program, domain: str) -> Any:
    return _by_name(program, "kubernetes:batch/v1:Job")[f"{domain}-warehouse-grants-job"]


def test_the_job_runs_the_tested_module_in_an_image_with_python_and_boto3(dev):
    job = _job(dev, "sales")
    spec = job.inputs["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["command"] == COMMAND == ["python", "/app/warehouse_grants.py"]
    assert container["image"] == GRANTS_IMAGE == DATAHUB_INGESTION.ref
    # The image contract: the interpreter the command calls, and the one module the code imports besides the stdlib.
    assert COMMAND[0] in DATAHUB_INGESTION.executables
    assert "boto3" in DATAHUB_INGESTION.python_modules
    configmap = _by_name(dev, "kubernetes:core/v1:ConfigMap")["sales-warehouse-grants-code"].inputs
    assert configmap["data"] == {"warehouse_grants.py": MODULE_FILE.read_text(encoding="utf-8")}
    assert configmap["immutable"] is True
    [code] = [v for v in spec["volumes"] if v.get("configMap")]
    assert code["configMap"]["name"] == configmap["metadata"]["name"]
    assert {"name": code["name"], "mountPath": "/app", "readOnly": True} in container["volumeMounts"]
    # Every variable the module requires is set, and no password is.
    env = {e["name"]: e for e in container["env"]}
    assert set(grants.REQUIRED_ENV) <= set(env)
    assert all("value" in e and "valueFrom" not in e for e in env.values())
    assert env["WAREHOUSE_USER"]["value"] == "IAMR:dp-dev-sales-domain"
    assert env["WAREHOUSE_SCHEMA"]["value"] == "sales"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_job_reaches_the_admin_secret_only_through_its_own_identity(dev):
    job = _job(dev, "sales")
    sa = job.inputs["spec"]["template"]["spec"]["serviceAccountName"]
    [association] = [
        r
        for r in dev.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if r.inputs["namespace"] == "sales" and r.inputs["serviceAccount"] == sa
    ]
    roles = {r.outputs.get("arn"): r for r in dev.of_type("aws:iam/role:Role")}
    role = roles[association.inputs["roleArn"]]
    assert role.inputs["name"] == "dp-dev-sales-wh-admin"
    trust = json.loads(role.inputs["assumeRolePolicy"])
    [statement] = trust["Statement"]
    assert statement["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"] == sa
    assert statement["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-namespace"] == "sales"
    [policy] = [r for r in dev.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "sales-warehouse-admin"]
    doc = json.loads(policy.inputs["policy"])
    secret_arn = _job_env(job)["WAREHOUSE_ADMIN_LOGIN_ARN"]
    assert {s["Sid"]: s["Resource"] for s in doc["Statement"]}["AdminSecret"] == secret_arn
    # No other role may read the admin secret.
    for other in dev.of_type("aws:iam/rolePolicy:RolePolicy"):
        if other.name != "sales-warehouse-admin":
            assert secret_arn not in other.inputs["policy"]


def _job_env(job: Any) -> dict[str, str]:
    [container] = job.inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"]}


def test_the_job_waits_for_the_warehouse_and_its_identity_and_dagster_waits_for_the_job(dev):
    job = _job(dev, "sales")
    waits = set(job.depends_on)
    by_urn = {r.urn: r for r in dev.resources}
    kinds = {by_urn[u].type for u in waits if u in by_urn}
    assert "aws:eks/podIdentityAssociation:PodIdentityAssociation" in kinds
    assert "aws:iam/rolePolicy:RolePolicy" in kinds
    assert "aws:redshiftserverless/workgroup:Workgroup" in kinds
    [dagster] = [r for r in dev.of_type("kubernetes:helm.sh/v3:Release") if r.name == "sales-dagster"]
    # depends_on a component is recorded as depends_on its children.
    assert job.urn in dagster.depends_on


def test_the_local_warehouse_needs_no_grants_job():
    # The local PostgreSQL warehouse is owned by its password login, which creates its schema itself.
    local = program_for("local")
    assert not [r for r in local.of_type("kubernetes:batch/v1:Job") if "warehouse-grants" in r.name]
