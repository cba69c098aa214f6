"""The analyst sandbox on AWS (docs/sandbox.md): marketing enables it in the shipped domains.

- effective access of the analyst role, computed from its policy in the dev records with an IAM evaluator
  (tests/iam_eval.py): its own curated/ and sandbox/ and the consumed product readable; raw, staging, other
  products, other domains' buckets and every write outside sandbox/ denied; the key only through S3;
- its trust (Pod Identity for the notebook ServiceAccount, the domain's pipeline role for Superset), the
  pipeline role's one AssumeRole, the Pod Identity association, parliament;
- the Athena workgroup enforces its configuration; the Glue tables; Superset's Athena connection;
- nothing for domains without the sandbox, and nothing on the local foundation.
"""

from __future__ import annotations

import json
import shlex
from typing import Any
from urllib.parse import parse_qs, urlsplit

import parliament
import pytest

from components import tools
from components.aws.sandbox import STORAGE_FORMATS
from components.aws.sandbox_access import RESULTS_PREFIX, RESULTS_RETENTION_DAYS, sandbox_tables, table_name
from components.domain import grants_for
from components.domain_config import ATHENA_MIN_CUTOFF_BYTES, Domain, Sandbox, load_domains
from components.interfaces import TableSchema
from components.sandbox_names import SANDBOX_NAMESPACE, analyst_service_account, athena_workgroup, glue_database
from components.tools.sandbox import request as sandbox_request
from platformctl.simulate import Program, Resource
from tests.harness import PROJECT_DIR, program_for
from tests.iam_eval import allowed

REGION = "eu-west-1"
VIA_S3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}


@pytest.fixture(scope="module")
def dev() -> Program:
    return program_for("dev")


def one(program: Program, type_: str, name: str) -> Resource:
    (found,) = [r for r in program.resources if r.type == type_ and r.name == name]
    return found


def bucket_arn(program: Program, domain: str) -> str:
    return one(program, "aws:s3/bucket:Bucket", f"{domain}-bucket").outputs["arn"]


def attached(program: Program, role: Resource) -> list[Resource]:
    return [
        r
        for r in program.resources
        if r.type == "aws:iam/rolePolicy:RolePolicy" and r.inputs.get("role") in (role.inputs["name"], role.id)
    ]


def analyst_documents(program: Program) -> list[dict[str, Any]]:
    """Every policy attached to marketing's analyst role: its RolePolicies, found by the role they name."""
    role = one(program, "aws:iam/role:Role", "marketing-analyst")
    policies = attached(program, role)
    assert [p.name for p in policies] == ["marketing-analyst"]
    assert not role.inputs.get("inlinePolicies") and not role.inputs.get("managedPolicyArns")
    assert not [r for r in program.resources if "Attachment" in r.type and role.urn in r.depends_on]
    return [json.loads(p.inputs["policy"]) for p in policies]


# ---------------------------------------------------------------- the evaluator itself


def test_the_evaluator_follows_iam_logic() -> None:
    allow = {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/curated/*"}
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/curated/secret/*"}
    doc = {"Version": "2012-10-17", "Statement": [allow, deny]}
    assert allowed([doc], "s3:GetObject", "arn:aws:s3:::b/curated/x")
    assert allowed([doc], "S3:getobject", "arn:aws:s3:::b/curated/x")  # actions are case-insensitive
    assert not allowed([doc], "s3:GetObject", "arn:aws:s3:::b/curated/secret/x")  # an explicit deny wins
    assert not allowed([doc], "s3:PutObject", "arn:aws:s3:::b/curated/x")
    assert not allowed([doc], "s3:GetObject", "arn:aws:s3:::b/raw/x")
    conditioned = {**allow, "Condition": {"StringLike": {"s3:prefix": ["curated/*"]}}}
    doc = {"Version": "2012-10-17", "Statement": [conditioned]}
    assert allowed([doc], "s3:GetObject", "arn:aws:s3:::b/curated/x", {"s3:prefix": "curated/a"})
    assert not allowed([doc], "s3:GetObject", "arn:aws:s3:::b/curated/x", {"s3:prefix": "raw/a"})
    assert not allowed([doc], "s3:GetObject", "arn:aws:s3:::b/curated/x")  # a missing key fails the condition


# ---------------------------------------------------------------- effective access


def test_the_analyst_reads_its_curated_data_and_consumed_products_and_writes_only_sandbox(dev: Program) -> None:
    docs = analyst_documents(dev)
    own, sales = bucket_arn(dev, "marketing"), bucket_arn(dev, "sales")
    other = own.replace("marketing", "finance")  # any other domain's bucket, by the naming rule
    platform = bucket_arn(dev, "platform")

    def can(action: str, resource: str, **context: str) -> bool:
        return allowed(docs, action, resource, context)

    # Allowed: its own curated/ and sandbox/, the product it consumes (sales.orders), Athena's results.
    for key in ("curated/campaign-attribution/part-0.parquet", "sandbox/notes.csv", f"{RESULTS_PREFIX}q.csv"):
        assert can("s3:GetObject", f"{own}/{key}"), key
    assert can("s3:GetObject", f"{sales}/curated/orders/2025/part-0.parquet")
    assert can("s3:ListBucket", own, **{"s3:prefix": "curated/campaign-attribution/"})
    assert can("s3:ListBucket", sales, **{"s3:prefix": "curated/orders/2025/"})
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"):
        assert can(action, f"{own}/sandbox/scratch.parquet"), action
        assert can(action, f"{own}/{RESULTS_PREFIX}q.csv"), action

    # Denied: raw and staging, other products, other domains' and the platform's buckets, listing outside.
    for key in ("raw/shop/orders.json", "staging/orders/part-0.parquet", "sandboxes/x", "curatedx/y"):
        assert not can("s3:GetObject", f"{own}/{key}"), key
    for key in ("curated/daily-revenue/part-0.parquet", "raw/shop/orders.json", "curated/ordersx/y", "sandbox/x"):
        assert not can("s3:GetObject", f"{sales}/{key}"), key
    for bucket in (other, platform):
        assert not can("s3:GetObject", f"{bucket}/curated/x/part-0.parquet")
        assert not can("s3:ListBucket", bucket, **{"s3:prefix": "curated/"})
    assert not can("s3:ListBucket", own, **{"s3:prefix": "raw/"})
    assert not can("s3:ListBucket", own)  # the whole bucket
    assert not can("s3:ListBucket", sales, **{"s3:prefix": "curated/daily-revenue/"})

    # Denied: every write outside sandbox/ of its own bucket, and any bucket-level change.
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl"):
        for resource in (
            f"{own}/curated/campaign-attribution/x",
            f"{own}/raw/x",
            f"{own}/staging/x",
            f"{sales}/sandbox/x",
            f"{sales}/curated/orders/x",
            f"{other}/sandbox/x",
        ):
            assert not can(action, resource), (action, resource)
    for action in ("s3:PutBucketPolicy", "s3:DeleteBucket", "s3:PutLifecycleConfiguration"):
        assert not can(action, own), action


def test_the_analyst_uses_the_lake_key_only_through_s3_for_what_it_may_read_or_write(dev: Program) -> None:
    docs = analyst_documents(dev)
    key = one(dev, "aws:kms/key:Key", "lake-key").outputs["arn"]
    own, sales = bucket_arn(dev, "marketing"), bucket_arn(dev, "sales")
    other = own.replace("marketing", "finance")
    ctx = "kms:EncryptionContext:aws:s3:arn"

    assert allowed(docs, "kms:Decrypt", key, {**VIA_S3, ctx: own})
    assert allowed(docs, "kms:Decrypt", key, {**VIA_S3, ctx: sales})
    assert allowed(docs, "kms:GenerateDataKey", key, {**VIA_S3, ctx: own})
    assert allowed(docs, "kms:GenerateDataKey", key, {**VIA_S3, ctx: f"{own}/sandbox/x"})
    # Not for other buckets, not outside S3, not for its own bucket's other prefixes (objects without bucket keys).
    assert not allowed(docs, "kms:Decrypt", key, {**VIA_S3, ctx: other})
    assert not allowed(docs, "kms:GenerateDataKey", key, {**VIA_S3, ctx: sales})
    assert not allowed(docs, "kms:GenerateDataKey", key, {**VIA_S3, ctx: f"{own}/curated/x"})
    assert not allowed(docs, "kms:Decrypt", key, {ctx: own})
    assert not allowed(docs, "kms:Decrypt", key, {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com", ctx: own})
    for action in ("kms:Encrypt", "kms:CreateGrant", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"):
        assert not allowed(docs, action, key, {**VIA_S3, ctx: own}), action


def test_the_lake_key_policy_lets_iam_grant_the_analyst_its_key_use(dev: Program) -> None:
    """A key policy that did not delegate to the account would make the role's KMS statements void (KMS checks
    the key policy first): its one statement trusts the account root for what the analyst role uses."""
    key = one(dev, "aws:kms/key:Key", "lake-key")
    (statement,) = json.loads(key.inputs["policy"])["Statement"]
    account = one(dev, "aws:iam/role:Role", "marketing-analyst").outputs["arn"].split(":")[4]
    assert statement["Effect"] == "Allow" and statement["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    used = {a for d in analyst_documents(dev) for s in d["Statement"] for a in _actions(s) if a.startswith("kms:")}
    assert used == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert used <= set(statement["Action"])


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_the_analyst_queries_only_through_its_workgroup_and_reads_only_its_glue_database(dev: Program) -> None:
    docs = analyst_documents(dev)
    workgroup = one(dev, "aws:athena/workgroup:Workgroup", "marketing-sandbox").outputs["arn"]
    glue = f"arn:aws:glue:{REGION}:123456789012"
    catalog = f"arn:aws:athena:{REGION}:123456789012:datacatalog/AwsDataCatalog"
    for action in ("athena:StartQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution"):
        assert allowed(docs, action, workgroup), action
        assert not allowed(docs, action, workgroup.replace("marketing", "sales")), action
    assert allowed(docs, "athena:ListDatabases", catalog)
    assert not allowed(docs, "athena:UpdateWorkGroup", workgroup)
    assert not allowed(docs, "athena:DeleteWorkGroup", workgroup)
    for resource in (f"{glue}:catalog", f"{glue}:database/dp_dev_marketing", f"{glue}:table/dp_dev_marketing/x"):
        assert allowed(docs, "glue:GetTable", resource) or allowed(docs, "glue:GetDatabase", resource), resource
    assert not allowed(docs, "glue:GetTable", f"{glue}:table/dp_dev_sales/orders")
    for action in ("glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable", "glue:CreateDatabase"):
        assert not allowed(docs, action, f"{glue}:table/dp_dev_marketing/x"), action
        assert not allowed(docs, action, f"{glue}:database/dp_dev_marketing"), action
    for action in (
        "iam:PassRole",
        "sts:AssumeRole",
        "redshift-serverless:GetCredentials",
        "secretsmanager:GetSecretValue",
    ):
        assert not allowed(docs, action, "*"), action


def test_the_analyst_documents_pass_parliament(dev: Program) -> None:
    # Identity policies (parliament has no mode for trust policies; the pack's iam-trust-scoped checks those).
    assume = one(dev, "aws:iam/rolePolicy:RolePolicy", "marketing-domain-assume-analyst")
    for doc in [*analyst_documents(dev), json.loads(assume.inputs["policy"])]:
        assert parliament.analyze_policy_string(json.dumps(doc)).findings == []


# ---------------------------------------------------------------- who may become the analyst


def test_only_the_notebook_service_account_and_the_domain_superset_may_assume_the_analyst_role(dev: Program) -> None:
    role = one(dev, "aws:iam/role:Role", "marketing-analyst")
    pipeline = one(dev, "aws:iam/role:Role", "marketing-domain")
    assert role.inputs["name"] == "dp-dev-marketing-analyst"
    pods, superset = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert pods["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert pods["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    tags = pods["Condition"]["StringEquals"]
    assert tags["aws:RequestTag/kubernetes-namespace"] == SANDBOX_NAMESPACE
    assert tags["aws:RequestTag/kubernetes-service-account"] == analyst_service_account("marketing")
    assert tags["aws:RequestTag/eks-cluster-name"] == one(dev, "aws:eks/cluster:Cluster", "cluster").outputs["name"]
    assert superset == {
        "Sid": "DomainSuperset",
        "Effect": "Allow",
        "Principal": {"AWS": pipeline.outputs["arn"]},
        # The pipeline role's Pod Identity session tags are transitive into Superset's chained AssumeRole.
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }
    # IAM rejects a trust policy naming a role that does not exist yet.
    assert pipeline.urn in role.depends_on


def test_the_pipeline_role_may_assume_its_own_analyst_role_and_no_other(dev: Program) -> None:
    analyst = one(dev, "aws:iam/role:Role", "marketing-analyst")
    pipeline = one(dev, "aws:iam/role:Role", "marketing-domain")
    policies = attached(dev, pipeline)
    assert {p.name for p in policies} == {"marketing-domain", "marketing-domain-assume-analyst"}
    assume = [s for r in policies for s in json.loads(r.inputs["policy"])["Statement"] if "sts:" in json.dumps(s)]
    assert assume == [
        {
            "Sid": "AssumeAnalyst",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Resource": analyst.outputs["arn"],
        }
    ]
    # Sales has no sandbox: its pipeline role assumes nothing.
    sales = one(dev, "aws:iam/role:Role", "sales-domain")
    sales_policies = attached(dev, sales)
    assert [r.name for r in sales_policies] == ["sales-domain"]
    assert "sts:" not in sales_policies[0].inputs["policy"]


def test_the_notebook_service_account_is_bound_to_the_analyst_role(dev: Program) -> None:
    association = one(dev, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "marketing-analyst")
    assert association.inputs["namespace"] == SANDBOX_NAMESPACE
    assert association.inputs["serviceAccount"] == analyst_service_account("marketing")
    assert association.inputs["roleArn"] == one(dev, "aws:iam/role:Role", "marketing-analyst").outputs["arn"]
    assert association.inputs["clusterName"] == one(dev, "aws:eks/cluster:Cluster", "cluster").outputs["name"]


# ---------------------------------------------------------------- Athena and Glue


def test_the_workgroup_enforces_encrypted_results_under_sandbox_and_the_scan_limit(dev: Program) -> None:
    (marketing,) = [d for d in load_domains(PROJECT_DIR / "domains", stack="dev") if d.name == "marketing"]
    workgroup = one(dev, "aws:athena/workgroup:Workgroup", "marketing-sandbox")
    assert workgroup.inputs["name"] == "dp-dev-marketing-sandbox"
    config = workgroup.inputs["configuration"]
    # Enforced: a client's own output location, encryption or limit is ignored.
    assert config["enforceWorkgroupConfiguration"] is True
    assert config["publishCloudwatchMetricsEnabled"] is True
    assert config["bytesScannedCutoffPerQuery"] == marketing.tools.sandbox.query_scan_limit_gib * 2**30 == 20 * 2**30
    bucket = one(dev, "aws:s3/bucket:Bucket", "marketing-bucket").inputs["bucket"]
    results = config["resultConfiguration"]
    assert results["outputLocation"] == f"s3://{bucket}/{RESULTS_PREFIX}"
    assert results["encryptionConfiguration"] == {
        "encryptionOption": "SSE_KMS",
        "kmsKeyArn": one(dev, "aws:kms/key:Key", "lake-key").outputs["arn"],
    }


def test_the_scan_limit_never_goes_below_athenas_minimum() -> None:
    # Athena (and the provider) refuse a cutoff below 10 MiB; the smallest value the domain file takes is 1 GiB.
    assert Sandbox(enabled=True, query_scan_limit_gib=1).scan_limit_bytes >= ATHENA_MIN_CUTOFF_BYTES == 10485760
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Sandbox(enabled=True, query_scan_limit_gib=0)


def test_athena_results_expire_in_the_sandbox_domains_bucket_only(dev: Program) -> None:
    def expiries(domain: str) -> dict[str, int]:
        rules = one(
            dev, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{domain}-bucket-lifecycle"
        )
        return {
            r["filter"]["prefix"]: r["expiration"]["days"]
            for r in rules.inputs["rules"]
            if r.get("expiration") and r.get("filter", {}).get("prefix")
        }

    assert expiries("marketing")[RESULTS_PREFIX] == RESULTS_RETENTION_DAYS
    assert RESULTS_PREFIX not in expiries("sales")


def test_products_with_a_schema_are_tables_of_the_domain_database(dev: Program) -> None:
    database = one(dev, "aws:glue/catalogDatabase:CatalogDatabase", "marketing-sandbox")
    assert database.inputs["name"] == "dp_dev_marketing"
    tables = {r.inputs["name"]: r.inputs for r in dev.resources if r.type == "aws:glue/catalogTable:CatalogTable"}
    # Its own product and the one it consumes; sales' daily-revenue is neither consumed nor declared.
    assert set(tables) == {"marketing__campaign_attribution", "sales__orders"}
    orders = tables["sales__orders"]
    (sales,) = [d for d in load_domains(PROJECT_DIR / "domains", stack="dev") if d.name == "sales"]
    declared = sales.products[0].table_schema
    assert declared is not None
    assert orders["databaseName"] == "dp_dev_marketing" and orders["tableType"] == "EXTERNAL_TABLE"
    sd = orders["storageDescriptor"]
    sales_bucket = one(dev, "aws:s3/bucket:Bucket", "sales-bucket").inputs["bucket"]
    assert sd["location"] == f"s3://{sales_bucket}/curated/orders/"
    assert [(c["name"], c["type"]) for c in sd["columns"]] == [(c.name, c.type) for c in declared.columns]
    assert (sd["inputFormat"], sd["outputFormat"], sd["serDeInfo"]["serializationLibrary"]) == STORAGE_FORMATS[
        "parquet"
    ]
    assert STORAGE_FORMATS["parquet"][2] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


# ---------------------------------------------------------------- Superset


def test_superset_connects_to_athena_as_the_analyst_role_next_to_the_warehouse(dev: Program) -> None:
    release = one(dev, "kubernetes:helm.sh/v3:Release", "marketing-superset")
    init = release.inputs["values"]["init"]["command"][-1]
    registered = {}
    for step in init.split("; "):
        if step.startswith("superset set-database-uri"):
            argv = shlex.split(step)
            registered[argv[argv.index("-d") + 1]] = argv[argv.index("-u") + 1]
    assert set(registered) == {"marketing warehouse", "marketing sandbox"}
    uri = urlsplit(registered["marketing sandbox"])
    assert uri.scheme == "awsathena+rest" and uri.hostname == f"athena.{REGION}.amazonaws.com"
    assert uri.path == "/dp_dev_marketing" and uri.username is None and uri.password is None
    analyst = one(dev, "aws:iam/role:Role", "marketing-analyst").outputs["arn"]
    assert parse_qs(uri.query) == {"work_group": ["dp-dev-marketing-sandbox"], "role_arn": [analyst]}
    assert "pyathena==" in release.inputs["values"]["bootstrapScript"]
    # The init job registers it once the role may query and the tables exist.
    for name in ("marketing-analyst", "marketing-domain-assume-analyst"):
        assert one(dev, "aws:iam/rolePolicy:RolePolicy", name).urn in release.depends_on
    for table in ("marketing-sandbox-sales__orders", "marketing-sandbox-marketing__campaign_attribution"):
        assert one(dev, "aws:glue/catalogTable:CatalogTable", table).urn in release.depends_on


# ---------------------------------------------------------------- who gets nothing


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_only_sandbox_domains_on_aws_get_the_sandbox(stack: str) -> None:
    program = program_for(stack)
    sandboxes = [r for r in program.resources if r.type == "dataplatform:sandbox:AwsSandbox"]
    sandbox_types = ("aws:athena/", "aws:glue/")
    for domain in ("sales", "marketing"):
        superset = one(program, "kubernetes:helm.sh/v3:Release", f"{domain}-superset")
        has_athena = "awsathena" in superset.inputs["values"]["init"]["command"][-1]
        assert has_athena == (domain == "marketing" and stack != "local"), (stack, domain)
    if stack == "local":
        # No AWS side: the local sandbox is the notebooks' MinIO user (docs/notebooks.md).
        assert sandboxes == []
        assert not [r for r in program.resources if r.type.startswith(sandbox_types)]
    else:
        assert [r.name for r in sandboxes] == ["marketing-sandbox"]
        assert {r.name for r in program.resources if r.type.startswith(sandbox_types)} == {
            "marketing-sandbox",
            "marketing-sandbox-sales__orders",
            "marketing-sandbox-marketing__campaign_attribution",
        }
        assert not [r for r in program.resources if r.name.startswith("sales-") and "analyst" in r.name]


# ---------------------------------------------------------------- what the domain stack asks for


def _domain(**fields: Any) -> Domain:
    doc: dict[str, Any] = {
        "name": "finance",
        "description": "d",
        "owners": {"team": "finance", "email": "finance@example.com"},
        "costCenter": "cc-1",
        "tools": {
            "dagster": {
                "image": {"repository": "ghcr.io/example-org/finance", "tag": "1.0.0"},
                "codeLocation": {"module": "finance"},
            },
            "sandbox": {"enabled": True, "queryScanLimitGib": 3},
        },
        "products": [
            {"name": "ledger", "description": "d", "prefix": "curated/ledger/", "schema": SCHEMA},
            {"name": "raw-feed", "description": "d", "prefix": "curated/feed/"},
        ],
    }
    return Domain.model_validate(doc | fields)


SCHEMA = {
    "format": "json",
    "columns": [{"name": "entry_id", "type": "bigint"}, {"name": "amount", "type": "decimal(12, 2)"}],
}


def test_the_request_carries_the_limit_and_the_own_products_with_their_schemas() -> None:
    request = sandbox_request(_domain())
    assert request is not None
    assert request.scan_limit_bytes == 3 * 2**30
    ledger, feed = request.products
    assert (ledger.producer, ledger.product, ledger.prefix) == ("finance", "ledger", "curated/ledger/")
    # Spaces are dropped: Glue stores the type as Athena writes it.
    assert ledger.schema == TableSchema("json", (("entry_id", "bigint"), ("amount", "decimal(12,2)")))
    assert feed.schema is None
    assert [t.name for t in sandbox_tables(request.products, ())] == ["finance__ledger"]


def test_no_request_when_the_sandbox_is_off_or_the_domain_retired() -> None:
    tools = _domain().tools.model_dump(by_alias=True)
    assert sandbox_request(_domain(tools=tools | {"sandbox": {"enabled": False}})) is None
    assert sandbox_request(_domain(retired=True)) is None


def test_consumed_products_carry_their_producers_schema_into_the_grant() -> None:
    finance = _domain()
    consumer = _domain(name="audit", products=[], consumes=["finance.ledger", "finance.raw-feed"])
    grants = grants_for(consumer, {"finance": finance, "audit": consumer})
    assert [(g.product, g.schema is not None) for g in grants] == [("ledger", True), ("raw-feed", False)]
    assert [t.name for t in sandbox_tables((), grants)] == ["finance__ledger"]


def test_table_names_are_unique_per_producer_and_product() -> None:
    # Domain names never contain '--', so '__' separates the producer from the product unambiguously.
    assert table_name("sales", "daily-revenue") == "sales__daily_revenue"
    assert table_name("sales-eu", "orders") != table_name("sales", "eu-orders")


def test_the_sandbox_is_a_registry_tool_that_exports_what_analysts_query(dev: Program) -> None:
    assert "sandbox" in [t.name for t in tools.TOOLS]
    exports = dev.exports["domains"]
    assert exports["marketing"]["sandbox"] == {
        "analystRoleArn": one(dev, "aws:iam/role:Role", "marketing-analyst").outputs["arn"],
        "athenaWorkgroup": "dp-dev-marketing-sandbox",
        "glueDatabase": "dp_dev_marketing",
        "region": REGION,
    }
    assert "sandbox" not in exports["sales"]
    # The names the notebooks half derives on its own (components/sandbox_names.py) are the ones built.
    assert exports["marketing"]["sandbox"]["athenaWorkgroup"] == athena_workgroup("dev", "marketing")
    assert exports["marketing"]["sandbox"]["glueDatabase"] == glue_database("dev", "marketing")
    # No ServiceAccount in the domain namespace: the notebooks' lives in the sandbox namespace.
    assert not [r for r in dev.resources if r.name == "marketing-sa-sandbox"]
    assert "sandbox" not in program_for("local").exports["domains"]["marketing"]
