"""The domain file model and loader: the samples load, and every kind of bad input is reported by file and field."""

from __future__ import annotations

import copy
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.domain_config import NAME_MAX_LENGTH, PROJECT_DIR, STACKS, Domain, load_domains, parse_quantity
from components.validation import ConfigError

DOMAINS = PROJECT_DIR / "domains"
FIXTURES = PROJECT_DIR / "tests" / "fixtures" / "domains"


def minimal(name: str = "bad", **fields: Any) -> dict[str, Any]:
    """The smallest valid domain document, with `fields` merged in at the top level."""
    doc: dict[str, Any] = {
        "name": name,
        "description": "A test domain.",
        "owners": {"team": "test-team", "email": "test@example.com"},
        "costCenter": "cc-1",
        "tools": {
            "dagster": {
                "image": {"repository": "ghcr.io/example-org/test-dagster", "tag": "1.0.0"},
                "codeLocation": {"module": "test_pipelines"},
            }
        },
    }
    doc.update(fields)
    return doc


def with_value(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of `doc` with the field at `dotted` set to `value` (or removed when value is DELETE)."""
    out = copy.deepcopy(doc)
    *parents, leaf = dotted.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return out


DELETE = object()


def write(folder: Path, filename: str, content: dict[str, Any] | str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
    (folder / filename).write_text(text, encoding="utf-8")


def problems_of(folder: Path, stack: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_domains(folder, stack=stack)
    return caught.value.problems


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    # Named "domains" so problems read "domains/<file>", as they do for the project's folder.
    return tmp_path / "domains"


# ---------------------------------------------------------------- the shipped files


@pytest.mark.parametrize("stack", STACKS)
def test_sample_domains_load_in_every_stack(stack: str) -> None:
    domains = load_domains(DOMAINS, stack=stack)

    assert [d.name for d in domains] == ["marketing", "sales"]
    marketing, sales = domains
    assert marketing.consumes == ["sales.orders"]
    assert "orders" in [p.name for p in sales.products]
    for domain in domains:
        image = domain.tools.dagster.image
        assert image is not None and image.tag != "latest"


def test_sales_sample_values_reach_the_model() -> None:
    sales = next(d for d in load_domains(DOMAINS, stack="prod") if d.name == "sales")

    assert sales.owners.email == "sales-data@example.com"
    assert sales.quota.cpu == "8" and sales.quota.memory == "24Gi" and sales.quota.pods == 60
    assert sales.lake.zones == ["raw", "staging", "curated"]
    assert sales.products[0].prefix == "curated/orders/"
    assert sales.tools.dagster.image is not None
    assert sales.tools.dagster.image.reference == "ghcr.io/example-org/sales-dagster:2025.06.3"


def test_the_sample_file_and_readme_are_not_loaded(folder: Path) -> None:
    folder.mkdir()
    shutil.copy(DOMAINS / "_example.yaml.sample", folder)
    shutil.copy(DOMAINS / "README.md", folder)

    assert load_domains(folder, stack="dev") == []


def test_the_sample_file_itself_is_a_valid_domain(folder: Path) -> None:
    # It consumes sales.orders, so it needs the sales domain beside it.
    folder.mkdir()
    shutil.copy(DOMAINS / "_example.yaml.sample", folder / "example.yaml")
    shutil.copy(DOMAINS / "sales.yaml", folder)

    assert [d.name for d in load_domains(folder, stack="local")] == ["example", "sales"]


def test_problems_in_project_files_are_named_relative_to_the_project() -> None:
    problems = problems_of(FIXTURES / "broken")

    # Each file's own problems first (files sorted by name), then the references between files.
    assert problems == [
        "tests/fixtures/domains/broken/sales.yaml: tools.dagster.image.tag: must be a pinned tag or digest, "
        "not 'latest' (a moving tag makes deployments unrepeatable) (got 'latest')",
        "tests/fixtures/domains/broken/sales.yaml: tools.dagster.imagePullPolicy: unknown key "
        "(check the spelling; see the documented fields)",
        "tests/fixtures/domains/broken/marketing.yaml: consumes[0]: no domain named 'finance' "
        "(known domains: marketing) (got 'finance.ledger')",
    ]


# ---------------------------------------------------------------- one rejection per field


def _limits(request_cpu: str, request_memory: str, limit_cpu: str, limit_memory: str) -> dict[str, Any]:
    return {
        "requests": {"cpu": request_cpu, "memory": request_memory},
        "limits": {"cpu": limit_cpu, "memory": limit_memory},
    }


REJECTIONS = [
    ("name", "Sales", "name", "DNS-1123 label"),
    ("name", "9lives", "name", "starting with a letter"),
    ("name", "a" * (NAME_MAX_LENGTH + 1), "name", f"at most {NAME_MAX_LENGTH} characters"),
    ("name", "sales--eu", "name", "two consecutive hyphens"),
    ("name", "default", "name", "reserved"),
    ("name", "platform", "name", "reserved"),
    ("name", "datahub", "name", "reserved"),
    ("name", "kube-system", "name", "reserved"),
    ("name", "kube-node-lease", "name", "reserved"),
    ("name", "aws-data", "name", "reserved"),
    ("name", "amazon-data", "name", "reserved"),
    ("name", "eks-data", "name", "reserved"),
    ("description", "", "description", "at least 1 character"),
    ("owners.email", "sales at example.com", "owners.email", "email address"),
    ("owners.team", "sales team", "owners.team", "letters, digits"),
    ("costCenter", "cc 4100", "costCenter", "letters, digits"),
    ("stacks", ["qa"], "stacks[0]", "'dev', 'prod' or 'local'"),
    ("stacks", ["dev", "dev"], "stacks", "must not repeat"),
    ("stacks", [], "stacks", "at least 1 item"),
    ("quota.cpu", "8 cores", "quota.cpu", "Kubernetes quantity"),
    ("quota.cpu", "-1", "quota.cpu", "positive CPU amount"),
    ("quota.cpu", "0", "quota.cpu", "positive CPU amount"),
    ("quota.memory", "16GB", "quota.memory", "no 'B'"),
    ("quota.memory", "512m", "quota.memory", "write 512Mi"),
    ("quota.pods", 0, "quota.pods", "greater than or equal to 1"),
    ("quota.limitRange", _limits("100m", "128Mi", "16", "512Mi"), "quota.limitRange.limits.cpu", "quota.cpu (8)"),
    ("quota.limitRange", _limits("100m", "128Mi", "1", "32Gi"), "quota.limitRange.limits.memory", "quota.memory"),
    ("quota.limitRange", _limits("1", "128Mi", "500m", "1Gi"), "quota.limitRange.requests.cpu", "<= limits.cpu (500m)"),
    ("quota.limitRange", {"requests": {"cpu": "1", "memory": "1Gi"}}, "quota.limitRange.limits", "Field required"),
    ("lake.zones", ["raw", "curated"], "lake.zones", "must include raw, staging, curated (missing staging)"),
    ("lake.zones", ["raw", "staging", "curated", "raw"], "lake.zones", "must not repeat"),
    ("lake.zones", ["raw", "staging", "curated", "Sandbox"], "lake.zones[3]", "DNS label"),
    ("lake.rawRetentionDays", 0, "lake.rawRetentionDays", "greater than or equal to 1"),
    ("lake.noncurrentVersionExpiryDays", 0, "lake.noncurrentVersionExpiryDays", "greater than or equal to 1"),
    ("warehouse.baseCapacity", 12, "warehouse.baseCapacity", "multiple of 8"),
    ("warehouse.baseCapacity", 0, "warehouse.baseCapacity", "greater than or equal to 8"),
    ("warehouse.baseCapacity", 520, "warehouse.baseCapacity", "less than or equal to 512"),
    ("metadataDb.engineVersion", 12, "metadataDb.engineVersion", "14, 15, 16, 17"),
    ("metadataDb.instanceClass", "t4g.micro", "metadataDb.instanceClass", "db.t4g.micro"),
    ("metadataDb.allocatedStorageGib", 5, "metadataDb.allocatedStorageGib", "greater than or equal to 20"),
    ("tools.dagster.image", DELETE, "tools.dagster.image", "is required when Dagster is enabled"),
    ("tools.dagster.codeLocation", DELETE, "tools.dagster.codeLocation", "is required when Dagster is enabled"),
    ("tools.dagster.image.tag", "latest", "tools.dagster.image.tag", "not 'latest'"),
    ("tools.dagster.image.tag", DELETE, "tools.dagster.image.tag", "Field required"),
    ("tools.dagster.image.tag", 1.2, "tools.dagster.image.tag", "quoted string"),
    ("tools.dagster.image.tag", "sha256:abc", "tools.dagster.image.tag", "sha256:<64 hex digits>"),
    ("tools.dagster.image.repository", "ghcr.io/o/i:1.0", "tools.dagster.image.repository", "without tag or digest"),
    (
        "tools.dagster.codeLocation",
        {"module": "a", "package": "b"},
        "tools.dagster.codeLocation",
        "exactly one of module, package or pythonFile",
    ),
    ("tools.dagster.codeLocation", {"module": "my-pipelines"}, "tools.dagster.codeLocation.module", "dotted Python"),
    ("tools.dagster.codeLocation", {"pythonFile": "../defs.py"}, "tools.dagster.codeLocation.pythonFile", "'..'"),
    ("tools.dagster.port", 80, "tools.dagster.port", "greater than or equal to 1024"),
    ("tools.dagster.env", {"DB_PASSWORD": "x"}, "tools.dagster.env.DB_PASSWORD", "contains PASSWORD"),
    ("tools.dagster.env", {"api_token": "x"}, "tools.dagster.env.api_token", "contains TOKEN"),
    ("tools.dagster.env", {"AWS_SECRET_ACCESS_KEY": "x"}, "tools.dagster.env.AWS_SECRET_ACCESS_KEY", "SECRET"),
    ("tools.dagster.env", {"STRIPE_KEY": "x"}, "tools.dagster.env.STRIPE_KEY", "contains KEY"),
    ("tools.dagster.env", {"1BATCH": "x"}, "tools.dagster.env.1BATCH", "not an environment variable name"),
    ("tools.dagster.env", {"BATCH": 500}, "tools.dagster.env.BATCH", "quoted string"),
    ("tools.dagster.env", {"DBT_TARGET": "dev"}, "tools.dagster.env.DBT_TARGET", "is set by the platform"),
    ("tools.dagster.env", {"LAKE_BUCKET": "b"}, "tools.dagster.env.LAKE_BUCKET", "is set by the platform"),
    (
        "tools.dagster.resources",
        {"userCode": _limits("4", "1Gi", "2", "1Gi")},
        "tools.dagster.resources.userCode.requests.cpu",
        "must be <= limits.cpu (2)",
    ),
    (
        "tools.dagster.resources",
        {"daemon": _limits("1", "2Gi", "1", "1Gi")},
        "tools.dagster.resources.daemon.requests.memory",
        "must be <= limits.memory (1Gi)",
    ),
    ("tools.dagster.dbt", {"projectDir": "dbt"}, "tools.dagster.dbt.projectDir", "absolute path"),
    ("tools.airbyte", {"replicas": 0}, "tools.airbyte.replicas", "greater than or equal to 1"),
    ("tools.superset", {"redis": {"bundled": False}}, "tools.superset.redis.host", "required when bundled is false"),
    ("tools.superset", {"redis": {"host": "redis.internal"}}, "tools.superset.redis.host", "only used with bundled"),
    (
        "tools.superset",
        {"redis": {"bundled": False, "host": "Redis_Host"}},
        "tools.superset.redis.host",
        "DNS host name",
    ),
    ("tools.datahubIngestion", {"schedule": "0 3 * *"}, "tools.datahubIngestion.schedule", "has 4 fields"),
    ("tools.datahubIngestion", {"schedule": "61 * * * *"}, "tools.datahubIngestion.schedule", "minute field '61'"),
    ("tools.datahubIngestion", {"schedule": "0 3 * * MON-SUNDAY"}, "tools.datahubIngestion.schedule", "day of week"),
    ("tools.datahubIngestion", {"schedule": "*/0 * * * *"}, "tools.datahubIngestion.schedule", "minute field"),
    ("tools.datahubIngestion", {"schedule": "@daily"}, "tools.datahubIngestion.schedule", "5-field cron"),
    ("tools", {"dagsterr": {}}, "tools.dagsterr", "unknown key"),
    ("quota", {"cpus": "8"}, "quota.cpus", "unknown key"),
    ("products", [{"name": "orders", "description": "d"}], "products[0].prefix", "Field required"),
    ("products", [{"name": "Orders", "description": "d", "prefix": "curated/o/"}], "products[0].name", "DNS label"),
    ("products", [{"name": "o", "description": "d", "prefix": "raw/o"}], "products[0].prefix", "curated zone"),
    ("products", [{"name": "o", "description": "d", "prefix": "curated/"}], "products[0].prefix", "curated zone"),
    ("products", [{"name": "o", "description": "d", "prefix": "/curated/o"}], "products[0].prefix", "curated zone"),
    ("products", [{"name": "o", "description": "d", "prefix": "curated/../raw"}], "products[0].prefix", "'..'"),
    (
        "products",
        [{"name": "o", "description": "d", "prefix": "curated/o/", "contract": "ftp://x/y"}],
        "products[0].contract",
        "http(s) URL",
    ),
    (
        "products",
        [
            {"name": "o", "description": "d", "prefix": "curated/a/"},
            {"name": "o", "description": "d", "prefix": "curated/b/"},
        ],
        "products[1].name",
        "repeats the name of products[0]",
    ),
    (
        "products",
        [
            {"name": "a", "description": "d", "prefix": "curated/a"},
            {"name": "b", "description": "d", "prefix": "curated/a/b"},
        ],
        "products[1].prefix",
        "overlaps products[0].prefix (curated/a/)",
    ),
    ("tools.sandbox", {"queryScanLimitGib": 0}, "tools.sandbox.queryScanLimitGib", "greater than or equal to 1"),
    ("tools.sandbox", {"queryScanLimitGib": 2048}, "tools.sandbox.queryScanLimitGib", "less than or equal to 1024"),
    ("tools.sandbox", {"scanLimit": 1}, "tools.sandbox.scanLimit", "unknown key"),
    (
        "products",
        [{"name": "o", "description": "d", "prefix": "curated/o/", "schema": {"columns": []}}],
        "products[0].schema.columns",
        "at least 1 item",
    ),
    (
        "products",
        [
            {
                "name": "o",
                "description": "d",
                "prefix": "curated/o/",
                "schema": {"columns": [{"name": "a", "type": "Int"}]},
            }
        ],
        "products[0].schema.columns[0].type",
        "an Athena column type",
    ),
    (
        "products",
        [
            {
                "name": "o",
                "description": "d",
                "prefix": "curated/o/",
                "schema": {"columns": [{"name": "a", "type": "map<string,array<int>"}]},
            }
        ],
        "products[0].schema.columns[0].type",
        "decimal(p,s)",
    ),
    (
        "products",
        [
            {
                "name": "o",
                "description": "d",
                "prefix": "curated/o/",
                "schema": {"columns": [{"name": "A b", "type": "int"}]},
            }
        ],
        "products[0].schema.columns[0].name",
        "lowercase letters, digits and '_'",
    ),
    (
        "products",
        [
            {
                "name": "o",
                "description": "d",
                "prefix": "curated/o/",
                "schema": {"columns": [{"name": "a", "type": "int"}, {"name": "a", "type": "string"}]},
            }
        ],
        "products[0].schema.columns[1].name",
        "repeats columns[0].name",
    ),
    (
        "products",
        [{"name": "o", "description": "d", "prefix": "curated/o/", "schema": {"format": "csv", "columns": []}}],
        "products[0].schema.format",
        "'parquet', 'orc' or 'json'",
    ),
    ("consumes", ["orders"], "consumes[0]", "'<domain>.<product>'"),
    ("consumes", ["bad.orders"], "consumes[0]", "names this domain"),
    ("consumes", ["sales.orders", "sales.orders"], "consumes[1]", "listed twice"),
    ("tenant", "x", "tenant", "unknown key"),
]


@pytest.mark.parametrize(("dotted", "value", "field", "expected"), REJECTIONS)
def test_a_bad_value_is_reported_with_file_field_and_what_is_accepted(
    folder: Path, dotted: str, value: Any, field: str, expected: str
) -> None:
    doc = with_value(minimal(), dotted, value)
    filename = f"{doc['name']}.yaml" if dotted == "name" and value != "" else "bad.yaml"
    write(folder, filename, doc)
    # The consumed domain exists, so only the value under test is wrong.
    write(
        folder, "sales.yaml", minimal("sales", products=[{"name": "orders", "description": "d", "prefix": "curated/o"}])
    )

    problems = problems_of(folder)

    prefix = f"domains/{filename}: {field}: "
    matching = [p for p in problems if p.startswith(prefix)]
    assert matching, f"no problem starts with {prefix!r}: {problems}"
    assert any(expected in p for p in matching), matching


def test_quota_too_small_for_the_enabled_tools_lists_each_tool(folder: Path) -> None:
    write(folder, "bad.yaml", minimal(quota={"cpu": "1", "memory": "2Gi", "pods": 3}))

    problems = problems_of(folder)

    assert problems == [
        "domains/bad.yaml: quota.cpu: is below the 2 CPU the enabled tools request (dagster 0.75 CPU, "
        "airbyte 0.75 CPU, superset 0.25 CPU, datahubIngestion 0.25 CPU); raise it or shrink tools.*.resources (got '1')",
        "domains/bad.yaml: quota.memory: is below the 4Gi the enabled tools request (dagster 1.5Gi, airbyte 1.5Gi, "
        "superset 0.5Gi, datahubIngestion 0.5Gi); raise it or shrink tools.*.resources (got '2Gi')",
        "domains/bad.yaml: quota.pods: is below the 7 pods the enabled tools run at least (got 3)",
    ]


def test_disabled_tools_do_not_count_against_the_quota(folder: Path) -> None:
    tools = {"dagster": {"enabled": False}, "airbyte": {"enabled": False}, "superset": {"enabled": False}}
    write(folder, "bad.yaml", minimal(quota={"cpu": "250m", "memory": "512Mi", "pods": 1}, tools=tools))

    # The LimitRange default limits (500m, 512Mi) must still fit the quota.
    assert problems_of(folder) == [
        "domains/bad.yaml: quota.limitRange.limits.cpu: must fit within quota.cpu (250m) (got '500m')"
    ]


def test_a_datahub_source_for_a_disabled_tool_is_rejected(folder: Path) -> None:
    tools = {
        "dagster": {"enabled": False},
        "superset": {"enabled": False},
        "datahubIngestion": {"sources": {"superset": True, "dagster": True, "dbt": True}},
    }
    write(folder, "bad.yaml", minimal(tools=tools))

    problems = problems_of(folder)

    for source in ("dagster", "dbt", "superset"):
        assert any(
            p.startswith(f"domains/bad.yaml: tools.datahubIngestion.sources.{source}: cannot be true") for p in problems
        )


def test_the_dagster_image_is_required_even_when_tools_is_omitted(folder: Path) -> None:
    doc = minimal()
    del doc["tools"]
    write(folder, "bad.yaml", doc)

    assert problems_of(folder) == [
        "domains/bad.yaml: tools.dagster.image: is required when Dagster is enabled: {repository, tag}",
        "domains/bad.yaml: tools.dagster.codeLocation: is required when Dagster is enabled: "
        "one of module, package, pythonFile",
    ]


# ---------------------------------------------------------------- file-level problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "domains/bad.yaml: invalid YAML at line 2, column 1: "),
        ("name: bad\n\tdescription: x\n", "domains/bad.yaml: invalid YAML at line 2"),
        ("name: bad\nname: other\n", "domains/bad.yaml: invalid YAML at line 2, column 1: duplicate key 'name'"),
        (
            "- name: bad\n",
            "domains/bad.yaml: must be a YAML mapping of domain fields (name, owners, tools, ...), got a list",
        ),
        ("", "domains/bad.yaml: must be a YAML mapping of domain fields (name, owners, tools, ...), got an empty file"),
        (
            "just text\n",
            "domains/bad.yaml: must be a YAML mapping of domain fields (name, owners, tools, ...), got a str",
        ),
    ],
)
def test_unreadable_files_are_reported(folder: Path, text: str, expected: str) -> None:
    write(folder, "bad.yaml", text)

    problems = problems_of(folder)

    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_non_utf8_file_is_reported(folder: Path) -> None:
    folder.mkdir()
    (folder / "bad.yaml").write_bytes(b"name: caf\xe9\n")

    assert problems_of(folder) == ["domains/bad.yaml: is not UTF-8 text"]


def test_the_file_name_must_match_the_domain_name(folder: Path) -> None:
    write(folder, "sales-eu.yaml", minimal("sales"))

    assert problems_of(folder) == [
        "domains/sales-eu.yaml: name: 'sales' does not match the file name; rename the file to sales.yaml"
    ]


def test_duplicate_domain_names_name_both_files(folder: Path) -> None:
    write(folder, "sales.yaml", minimal("sales"))
    write(folder, "sales2.yaml", minimal("sales"))

    problems = problems_of(folder)

    assert "domains/sales2.yaml: name: domain 'sales' is also defined in domains/sales.yaml" in problems


def test_a_yml_file_is_reported_not_ignored(folder: Path) -> None:
    write(folder, "sales.yml", minimal("sales"))

    assert problems_of(folder) == ["domains/sales.yml: domain files end in .yaml; rename it to sales.yaml"]


def test_a_missing_folder_or_unknown_stack_is_a_config_error(folder: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_domains(folder, stack="dev")
    folder.mkdir()
    with pytest.raises(ConfigError, match="stack 'qa'"):
        load_domains(folder, stack="qa")


# ---------------------------------------------------------------- cross-domain references


def _sales(**fields: Any) -> dict[str, Any]:
    return minimal("sales", products=[{"name": "orders", "description": "d", "prefix": "curated/orders/"}], **fields)


def test_consuming_an_unknown_domain_or_product_is_reported(folder: Path) -> None:
    write(folder, "sales.yaml", _sales())
    write(folder, "marketing.yaml", minimal("marketing", consumes=["finance.ledger", "sales.refunds", "sales.orders"]))

    assert problems_of(folder) == [
        "domains/marketing.yaml: consumes[0]: no domain named 'finance' (known domains: marketing, sales) "
        "(got 'finance.ledger')",
        "domains/marketing.yaml: consumes[1]: domain 'sales' has no product 'refunds' (its products: orders)",
    ]


def test_consuming_a_domain_outside_the_stack_is_reported_for_that_stack_only(folder: Path) -> None:
    write(folder, "sales.yaml", _sales(stacks=["prod"]))
    write(folder, "marketing.yaml", minimal("marketing", consumes=["sales.orders"]))

    assert problems_of(folder, stack="dev") == [
        "domains/marketing.yaml: consumes[0]: domain 'sales' is not in stack 'dev' (its stacks: prod); "
        "add dev to its stacks or remove dev from this domain's stacks"
    ]
    assert [d.name for d in load_domains(folder, stack="prod")] == ["marketing", "sales"]


def test_references_to_a_broken_domain_are_not_reported_twice(folder: Path) -> None:
    write(folder, "sales.yaml", with_value(_sales(), "tools.dagster.image.tag", "latest"))
    write(folder, "marketing.yaml", minimal("marketing", consumes=["sales.orders"]))

    problems = problems_of(folder)

    assert len(problems) == 1 and problems[0].startswith("domains/sales.yaml: tools.dagster.image.tag:")


def test_every_problem_in_every_file_is_reported_together(folder: Path) -> None:
    write(folder, "alpha.yaml", with_value(minimal("alpha"), "quota.memory", "16GB"))
    write(folder, "beta.yaml", "name: [\n")
    write(folder, "gamma.yaml", with_value(minimal("gamma", consumes=["nobody.x"]), "warehouse.baseCapacity", 12))
    write(folder, "delta.yaml", minimal("delta", consumes=["nobody.x"]))
    write(folder, "fine.yaml", minimal("fine"))

    with pytest.raises(pulumi.RunError) as caught:
        load_domains(folder, stack="dev")

    message = str(caught.value)
    assert message.startswith("invalid domain files (domains/*.yaml):\n")
    assert "Traceback" not in message
    lines = message.splitlines()[1:]
    assert [line.split(":")[0] for line in lines] == [
        "  - domains/alpha.yaml",
        "  - domains/beta.yaml",
        "  - domains/gamma.yaml",
        "  - domains/delta.yaml",
    ]
    assert "quota.memory" in lines[0] and "warehouse.baseCapacity" in lines[2] and "consumes[0]" in lines[3]


# ---------------------------------------------------------------- stacks and values


def test_only_the_domains_of_the_stack_are_returned(folder: Path) -> None:
    write(folder, "alpha.yaml", minimal("alpha", stacks=["prod"]))
    write(folder, "beta.yaml", minimal("beta", stacks=["dev", "local"]))
    write(folder, "gamma.yaml", minimal("gamma"))

    assert [d.name for d in load_domains(folder, stack="dev")] == ["beta", "gamma"]
    assert [d.name for d in load_domains(folder, stack="prod")] == ["alpha", "gamma"]
    assert [d.name for d in load_domains(folder, stack="local")] == ["beta", "gamma"]


def test_defaults_and_derived_values() -> None:
    doc = minimal(
        products=[{"name": "orders", "description": "d", "prefix": "curated/orders"}],
        tools={
            "dagster": {
                "image": {"repository": "registry.example.com:5000/team/img", "tag": "sha256:" + "a" * 64},
                "codeLocation": {"pythonFile": "defs.py", "workingDirectory": "/app", "attribute": "defs"},
                "env": {"REPORTING_CURRENCY": "EUR"},
            },
            "superset": {"enabled": False, "redis": {"bundled": False, "host": "redis.internal"}},
            "datahubIngestion": {"schedule": "*/30 1-5,22 * JAN-MAR MON-FRI"},
        },
        quota={"cpu": 8, "memory": "24Gi"},
        metadataDb={"engineVersion": 16},
    )

    domain = Domain.model_validate(doc)

    assert domain.stacks == ["dev", "prod", "local"]
    assert domain.quota.cpu == "8" and domain.metadata_db.engine_version == "16"
    assert domain.warehouse.base_capacity == 8 and domain.metadata_db.instance_class == "db.t4g.micro"
    assert domain.products[0].prefix == "curated/orders/"
    dagster = domain.tools.dagster
    assert dagster.image is not None and dagster.code_location is not None
    assert dagster.image.reference == "registry.example.com:5000/team/img@sha256:" + "a" * 64
    assert dagster.code_location.dagster_api_grpc_args == [
        "--python-file",
        "defs.py",
        "--working-directory",
        "/app",
        "--attribute",
        "defs",
    ]
    assert dagster.port == 3030 and dagster.dbt.project_dir == "/opt/dagster/app/dbt"
    # Unset sources follow their tool: Superset is disabled, so its source is off.
    sources = domain.tools.datahub_ingestion.sources
    assert (sources.warehouse, sources.lake, sources.dbt, sources.dagster, sources.superset) == (
        True,
        True,
        True,
        True,
        False,
    )


# ---------------------------------------------------------------- Kubernetes quantities


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8", Decimal(8)),
        ("500m", Decimal("0.5")),
        ("1.5", Decimal("1.5")),
        ("2e3", Decimal(2000)),
        ("2E3", Decimal(2000)),
        ("1e-3", Decimal("0.001")),
        ("16Gi", Decimal(16 * 2**30)),
        ("1Ki", Decimal(1024)),
        ("16G", Decimal(16 * 10**9)),
        ("128M", Decimal(128 * 10**6)),
        ("1k", Decimal(1000)),
        ("1E", Decimal(10**18)),
        ("250u", Decimal("0.00025")),
        ("5n", Decimal("0.000000005")),
        (".5", Decimal("0.5")),
        ("1.", Decimal(1)),
        ("+2", Decimal(2)),
        ("-1", Decimal(-1)),
    ],
)
def test_quantity_parser_accepts_what_kubernetes_accepts(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "8 cores",
        "16GB",
        " 8",
        "8 ",
        "1ki",
        "1KI",
        "1K",
        "1e",
        "1e1.5",
        "Gi",
        ".",
        "1.5.5",
        "0x10",
        "1_000",
        "\u0661",
        "--1",
    ],
)
def test_quantity_parser_rejects_what_kubernetes_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="Kubernetes quantity"):
        parse_quantity(text)


# ---------------------------------------------------------------- derived names


def test_the_longest_name_keeps_every_derived_name_within_its_limit() -> None:
    name = "a" + "b" * (NAME_MAX_LENGTH - 1)
    Domain.model_validate(minimal(name))
    env = max(STACKS, key=len)
    derived = {
        name: 63,  # namespace, label values, host label <tool>.<name>.<baseDomain>
        f"{name}-datahub-ingestion": 53,  # longest Helm release name
        f"dp-{env}-{name}-meta": 63,  # RDS identifier
        f"dp-{env}-{name}": 64,  # Redshift Serverless namespace and workgroup
        f"dp-{env}-{name}-{'0' * 8}": 63,  # S3 bucket
        f"dp-{env}-{name}-domain": 64,  # IAM role
        f"dp-{env}-{name}-analyst": 64,  # the sandbox's IAM role
        f"dp-{env}-{name}-sandbox": 128,  # the sandbox's Athena workgroup
        f"{name}-superset-redis-master": 52,  # chart-built StatefulSet (pod label adds a hash)
    }
    too_long = {n: limit for n, limit in derived.items() if len(n) > limit}
    assert not too_long
    with pytest.raises(ValueError, match=f"at most {NAME_MAX_LENGTH} characters"):
        Domain.model_validate(minimal(name + "c"))
