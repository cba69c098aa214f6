"""The domain file: one `domains/<name>.yaml` per data domain, validated before any resource exists.

`load_domains` reads every domain file, validates each one and the references between them, and
either returns the domains of one stack or raises a single ConfigError listing every problem
(file, field, what is accepted). Nothing is returned from a partly valid set.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection, Iterable
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from components.validation import ConfigError, StrictModel, describe_errors
from components.values.dagster import PLATFORM_ENV_NAMES, PLATFORM_ENV_PREFIXES, is_platform_env

PROJECT_DIR = Path(__file__).resolve().parent.parent

STACKS = ("dev", "prod", "local")
StackName = Literal["dev", "prod", "local"]

# 20 keeps every name derived from a domain within its limit for the longest stack name ("local"):
# Helm release "<name>-datahub-ingestion" 38/53, bucket "dp-<env>-<name>-<hash8>" 38/63, IAM role
# "dp-<env>-<name>-domain" 36/64, RDS "dp-<env>-<name>-meta" 34/63, Redshift "dp-<env>-<name>" 29/64,
# namespace, label values and host labels 20/63. The slack is deliberate: charts append component
# suffixes to release names ("<release>-superset-redis-master") and truncate at 63, which can collide.
NAME_MAX_LENGTH = 20
# Namespaces and lake bucket purposes the platform uses itself.
RESERVED_NAMES = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "platform",
        "datahub",
        "access-logs",
        "ingress-nginx",
        "minio",
        "cnpg-system",
        "opencost",
    }
)
RESERVED_PREFIXES = ("kube-", "aws-", "amazon-", "eks-")
REQUIRED_ZONES = ("raw", "staging", "curated")
# Majors in RDS standard support when this release was cut; extend when RDS adds one.
POSTGRES_MAJORS = ("14", "15", "16", "17")
SECRET_MARKERS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL")

_LABEL = r"[a-z]([a-z0-9-]*[a-z0-9])?"
_HOSTNAME = r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"


# ---------------------------------------------------------------- problems with a precise location


def _fail(problems: Iterable[tuple[tuple[str | int, ...], str, Any]], *, missing: bool = False) -> None:
    """Raise every (loc, message, input) at once; pydantic prefixes each loc with the enclosing field."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("missing" if missing else "domain", "{message}", {"message": msg}),
            loc=loc,
            input=got,
        )
        for loc, msg, got in problems
    ]
    if details:
        raise ValidationError.from_exception_data("Domain", details)


# ---------------------------------------------------------------- Kubernetes quantities

# The grammar of k8s.io/apimachinery resource.Quantity: signed decimal, then a binary-SI suffix,
# a decimal-SI suffix or an integer exponent. "E" alone is exa; "2E3" is an exponent.
_QUANTITY = re.compile(r"([+-]?)(\d+(?:\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?", re.ASCII)
_BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY_HELP = "a Kubernetes quantity such as 8, 500m, 1.5, 2e3, 16Gi or 512M (no spaces, no 'B')"


def parse_quantity(text: str) -> Decimal:
    """The value of a Kubernetes quantity string ("500m" -> 0.5, "1Ki" -> 1024); ValueError if malformed."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"must be {_QUANTITY_HELP}")
    sign, number, suffix = match.groups()
    value = Decimal(number)
    try:
        if suffix in _BINARY_SI:
            value *= 2 ** _BINARY_SI[suffix]
        elif suffix in _DECIMAL_SI:
            value = value.scaleb(_DECIMAL_SI[suffix])
        elif suffix:
            value = value.scaleb(int(suffix[1:]))
    except ArithmeticError:
        raise ValueError(f"is out of range; must be {_QUANTITY_HELP}") from None
    return -value if sign == "-" else value


def _number_to_text(value: Any) -> Any:
    # YAML reads `cpu: 8` and `engineVersion: 16` as numbers; Kubernetes and RDS take the text.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _cpu(value: str) -> str:
    if parse_quantity(value) < Decimal("0.001"):
        raise ValueError(f"must be a positive CPU amount of at least 1m, as {_QUANTITY_HELP}")
    return value


def _memory(value: str) -> str:
    if parse_quantity(value) < 2**20:
        raise ValueError("must be at least 1Mi of memory (note: 512m means 0.512 bytes; write 512Mi)")
    return value


Cpu = Annotated[str, BeforeValidator(_number_to_text), AfterValidator(_cpu)]
Memory = Annotated[str, BeforeValidator(_number_to_text), AfterValidator(_memory)]


def _format_cpu(value: Decimal) -> str:
    return f"{value.normalize():f} CPU"


def _format_memory(value: Decimal) -> str:
    return f"{(value / 2**30).quantize(Decimal('0.01')).normalize():f}Gi"


# ---------------------------------------------------------------- scalar field types


def _domain_name(value: str) -> str:
    if not re.fullmatch(_LABEL, value):
        raise ValueError(
            "must be a DNS-1123 label: lowercase letters, digits and '-', starting with a letter and "
            "ending with a letter or digit, e.g. sales"
        )
    if len(value) > NAME_MAX_LENGTH:
        raise ValueError(f"must be at most {NAME_MAX_LENGTH} characters so every derived resource name fits")
    if "--" in value:
        raise ValueError("must not contain '--' (RDS identifiers cannot contain two consecutive hyphens)")
    if value in RESERVED_NAMES or value.startswith(RESERVED_PREFIXES):
        raise ValueError(
            f"is reserved for a system or platform namespace ({', '.join(sorted(RESERVED_NAMES))} and "
            f"names starting with {', '.join(RESERVED_PREFIXES)}); choose another name"
        )
    return value


def _label(max_length: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not re.fullmatch(_LABEL, value) or len(value) > max_length:
            raise ValueError(
                f"must be a DNS label of at most {max_length} characters: lowercase letters, digits and '-', "
                "starting with a letter, e.g. orders"
            )
        return value

    return check


def _email(value: str) -> str:
    local = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    if len(value) > 254 or not re.fullmatch(rf"{local}@{_HOSTNAME}\.[a-z]{{2,63}}", value, re.ASCII):
        raise ValueError("must be an email address such as sales-data@example.com (domain part lowercase)")
    return value


def _k8s_label_value(value: str) -> str:
    # Also used as AWS tag values and Kubernetes label values, so it must satisfy both.
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?", value):
        raise ValueError(
            "must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, e.g. cc-4100"
        )
    return value


def _product_ref(value: str) -> str:
    domain, dot, product = value.partition(".")
    if not dot or not re.fullmatch(_LABEL, domain) or not re.fullmatch(_LABEL, product):
        raise ValueError("must be '<domain>.<product>', e.g. sales.orders")
    return value


def _product_prefix(value: str) -> str:
    parts = value.removesuffix("/").split("/")
    if ".." in parts or "." in parts:
        raise ValueError("must not contain '.' or '..' segments")
    if (
        len(parts) < 2
        or parts[0] != "curated"
        or not all(re.fullmatch(r"[a-z0-9_][a-z0-9._-]*", p, re.ASCII) for p in parts[1:])
    ):
        raise ValueError(
            "must be a folder inside the curated zone: 'curated/' then one or more segments of lowercase "
            "letters, digits, '.', '_' or '-', e.g. curated/orders/"
        )
    return "/".join(parts) + "/"


def _contract_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError("must be an http(s) URL, e.g. https://git.example.com/sales/contracts/orders.yaml")
    return value


def _image_repository(value: str) -> str:
    host = rf"{_HOSTNAME}(:[0-9]+)?"
    component = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
    if len(value) > 255 or not re.fullmatch(rf"({host}/)?{component}(/{component})*", value, re.ASCII):
        raise ValueError(
            "must be an image repository without tag or digest, e.g. ghcr.io/example-org/sales-dagster "
            "(put the tag or digest in tools.dagster.image.tag)"
        )
    return value


def _quoted(value: Any) -> Any:
    if isinstance(value, (int, float)):
        raise ValueError(f'must be a quoted string, e.g. "{value}" (YAML reads 1.20 as the number 1.2)')
    return value


def _image_tag(value: str) -> str:
    if value.lower() == "latest":
        raise ValueError("must be a pinned tag or digest, not 'latest' (a moving tag makes deployments unrepeatable)")
    if not (re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", value) or re.fullmatch(r"sha256:[a-f0-9]{64}", value)):
        raise ValueError("must be an image tag such as 2024.06.1 or a digest sha256:<64 hex digits>")
    return value


def _instance_class(value: str) -> str:
    if not re.fullmatch(r"db\.[a-z0-9]+\.[a-z0-9]+", value):
        raise ValueError("must be an RDS instance class such as db.t4g.micro or db.m7g.large")
    return value


def _hostname(value: str) -> str:
    if len(value) > 253 or not re.fullmatch(_HOSTNAME, value):
        raise ValueError("must be a lowercase DNS host name such as redis.example.internal")
    return value


def _postgres_major(value: str) -> str:
    if value not in POSTGRES_MAJORS:
        raise ValueError(f"must be a PostgreSQL major version RDS supports: {', '.join(POSTGRES_MAJORS)}")
    return value


def _python_path(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", value, re.ASCII):
        raise ValueError("must be a dotted Python module or package name, e.g. sales_pipelines.definitions")
    return value


def _path_in_image(*, absolute: bool, suffix: str = "") -> Callable[[str], str]:
    def check(value: str) -> str:
        parts = value.split("/")
        if ".." in parts or (absolute and not value.startswith("/")) or not value.endswith(suffix) or "\\" in value:
            kind = "an absolute path" if absolute else "a path"
            raise ValueError(f"must be {kind} inside the image without '..'{f', ending in {suffix}' if suffix else ''}")
        return value

    return check


def _env_name_problem(name: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return "is not an environment variable name: use letters, digits and '_', not starting with a digit"
    marker = next((m for m in SECRET_MARKERS if m in name.upper()), None)
    if marker:
        return (
            f"looks like a secret (the name contains {marker}); env holds only non-secret settings. Secrets "
            "reach pods only through Kubernetes Secrets the platform creates: ask the platform team"
        )
    return None


def _env_value(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError('must be a quoted string, e.g. "true" or "8080" (Kubernetes env values are text)')
    return value


_MONTHS = {
    m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
}
_WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_CRON_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)
_CRON_HELP = "a 5-field cron schedule 'minute hour day-of-month month day-of-week', e.g. '0 3 * * *'"


def _cron_part_ok(part: str, low: int, high: int, names: dict[str, int]) -> bool:
    """One comma-separated item: '*', 'n' or 'a-b' (numbers or names), optionally '/step'."""
    span, slash, step = part.partition("/")
    if slash and not re.fullmatch(r"[1-9][0-9]*", step):
        return False
    if span == "*":
        return True
    bounds = span.split("-")
    if len(bounds) > 2 or not all(b.upper() in names or re.fullmatch(r"[0-9]{1,2}", b) for b in bounds):
        return False
    numbers = [names[b.upper()] if b.upper() in names else int(b) for b in bounds]
    return all(low <= n <= high for n in numbers) and numbers == sorted(numbers)


def _cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(f"has {len(fields)} fields; must be {_CRON_HELP}")
    for text, (label, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        if not all(_cron_part_ok(part, low, high, names) for part in text.split(",")):
            raise ValueError(f"has an invalid {label} field {text!r} (allowed {low}-{high}); must be {_CRON_HELP}")
    return value


DomainName = Annotated[str, AfterValidator(_domain_name)]
ProductName = Annotated[str, AfterValidator(_label(40))]
ZoneName = Annotated[str, AfterValidator(_label(30))]
Email = Annotated[str, AfterValidator(_email)]
LabelValue = Annotated[str, AfterValidator(_k8s_label_value)]
ProductRef = Annotated[str, AfterValidator(_product_ref)]
ProductPrefix = Annotated[str, AfterValidator(_product_prefix)]
ContractUrl = Annotated[str, AfterValidator(_contract_url)]
ImageRepository = Annotated[str, AfterValidator(_image_repository)]
ImageTag = Annotated[str, BeforeValidator(_quoted), AfterValidator(_image_tag)]
PostgresMajor = Annotated[str, BeforeValidator(_number_to_text), AfterValidator(_postgres_major)]
PythonPath = Annotated[str, AfterValidator(_python_path)]
AbsolutePath = Annotated[str, AfterValidator(_path_in_image(absolute=True))]
PythonFile = Annotated[str, AfterValidator(_path_in_image(absolute=False, suffix=".py"))]
EnvValue = Annotated[str, BeforeValidator(_env_value)]
Cron = Annotated[str, AfterValidator(_cron)]
Text = Annotated[str, Field(min_length=1, max_length=1000)]


def _from_yaml() -> Any:
    # An omitted block is validated like an empty one the user wrote (validate_default), so
    # omitting tools.dagster still reports the missing image instead of passing silently.
    return {}


# ---------------------------------------------------------------- resources and quota


class Amounts(StrictModel):
    """CPU and memory of one container, as Kubernetes quantities."""

    cpu: Cpu = Field(description="CPU as a Kubernetes quantity, e.g. 250m or 1.")
    memory: Memory = Field(description="Memory as a Kubernetes quantity, e.g. 512Mi or 2Gi (binary suffixes).")


def _resources(request_cpu: str, request_memory: str, limit_cpu: str, limit_memory: str) -> Any:
    return {
        "requests": {"cpu": request_cpu, "memory": request_memory},
        "limits": {"cpu": limit_cpu, "memory": limit_memory},
    }


class Resources(StrictModel):
    """Container requests and limits; each request must be <= its limit."""

    requests: Amounts = Field(description="What the scheduler reserves for the container (counts against the quota).")
    limits: Amounts = Field(description="The most the container may use; it is throttled (CPU) or killed (memory).")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        _fail(
            (("requests", key), f"must be <= limits.{key} ({getattr(self.limits, key)})", getattr(self.requests, key))
            for key in ("cpu", "memory")
            if parse_quantity(getattr(self.requests, key)) > parse_quantity(getattr(self.limits, key))
        )
        return self


class Quota(StrictModel):
    """The namespace's ResourceQuota and the LimitRange defaults for containers that set no resources."""

    cpu: Cpu = Field(default="8", description="Total CPU requests of all pods in the namespace (ResourceQuota).")
    memory: Memory = Field(
        default="24Gi", description="Total memory requests of all pods in the namespace (ResourceQuota)."
    )
    pods: int = Field(default=60, ge=1, le=500, description="Maximum number of pods in the namespace (1-500).")
    limit_range: Resources = Field(
        default_factory=lambda: _resources("100m", "128Mi", "500m", "512Mi"),
        description="LimitRange defaults: requests and limits given to containers that declare none. "
        "Limits must fit within the quota.",
    )

    @model_validator(mode="after")
    def _defaults_fit(self) -> Quota:
        _fail(
            (("limitRange", "limits", key), f"must fit within quota.{key} ({getattr(self, key)})", limit)
            for key in ("cpu", "memory")
            if parse_quantity(limit := getattr(self.limit_range.limits, key)) > parse_quantity(getattr(self, key))
        )
        return self


# ---------------------------------------------------------------- data services


class Lake(StrictModel):
    """The domain's lake bucket and its zone prefixes."""

    zones: list[ZoneName] = Field(
        default_factory=lambda: list(REQUIRED_ZONES),
        description="Top-level prefixes of the bucket, one per zone; must include raw, staging and curated.",
    )
    raw_retention_days: int = Field(
        default=365, ge=1, le=36500, description="Objects under raw/ expire after this many days (1-36500)."
    )
    noncurrent_version_expiry_days: int = Field(
        default=30, ge=1, le=3650, description="Overwritten or deleted object versions expire after this many days."
    )

    @field_validator("zones")
    @classmethod
    def _required_zones(cls, zones: list[str]) -> list[str]:
        missing = [z for z in REQUIRED_ZONES if z not in zones]
        if missing:
            raise ValueError(f"must include {', '.join(REQUIRED_ZONES)} (missing {', '.join(missing)})")
        if len(set(zones)) != len(zones):
            raise ValueError("must not repeat a zone")
        return zones


class Warehouse(StrictModel):
    """The domain's Redshift Serverless namespace and workgroup."""

    base_capacity: int = Field(
        default=8, ge=8, le=512, multiple_of=8, description="Workgroup base capacity in RPUs: a multiple of 8, 8-512."
    )


class MetadataDb(StrictModel):
    """The PostgreSQL instance on RDS that holds the tools' metadata (Dagster, Airbyte, Superset)."""

    instance_class: Annotated[str, AfterValidator(_instance_class)] = Field(
        default="db.t4g.micro",
        description="RDS instance class, e.g. db.t4g.micro or db.m7g.large.",
    )
    allocated_storage_gib: int = Field(default=20, ge=20, le=65536, description="Storage in GiB (20-65536).")
    engine_version: PostgresMajor = Field(
        default="17", description=f"PostgreSQL major version: one of {', '.join(POSTGRES_MAJORS)}."
    )


# ---------------------------------------------------------------- tools


class DagsterImage(StrictModel):
    """The domain's user-code image."""

    repository: ImageRepository = Field(
        description="Image repository without tag, e.g. ghcr.io/example-org/sales-dagster."
    )
    tag: ImageTag = Field(description="A pinned tag (never latest) or a digest sha256:<64 hex digits>. Quote it.")

    @property
    def reference(self) -> str:
        """The full image reference: repository:tag or repository@sha256:..."""
        separator = "@" if self.tag.startswith("sha256:") else ":"
        return f"{self.repository}{separator}{self.tag}"


class CodeLocation(StrictModel):
    """How `dagster api grpc` finds the definitions in the user-code image: exactly one of module, package, pythonFile."""

    module: PythonPath | None = Field(default=None, description="Python module holding the Definitions (-m).")
    package: PythonPath | None = Field(default=None, description="Python package holding the Definitions.")
    python_file: PythonFile | None = Field(default=None, description="Python file holding the Definitions.")
    working_directory: AbsolutePath | None = Field(
        default=None, description="Absolute working directory inside the image (default: the image's WORKDIR)."
    )
    attribute: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = Field(
        default=None, description="Name of the Definitions object when the module holds several."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> CodeLocation:
        given = [self.module, self.package, self.python_file]
        if sum(x is not None for x in given) != 1:
            raise ValueError("set exactly one of module, package or pythonFile")
        return self

    @property
    def dagster_api_grpc_args(self) -> list[str]:
        """The arguments dagster-user-deployments passes to `dagster api grpc` (dagsterApiGrpcArgs)."""
        if self.module:
            args = ["--module-name", self.module]
        elif self.package:
            args = ["--package-name", self.package]
        else:
            args = ["--python-file", str(self.python_file)]
        if self.working_directory:
            args += ["--working-directory", self.working_directory]
        if self.attribute:
            args += ["--attribute", self.attribute]
        return args


class DagsterResources(StrictModel):
    """Requests and limits of the Dagster pods."""

    webserver: Resources = Field(
        default_factory=lambda: _resources("250m", "512Mi", "1", "1Gi"), description="The Dagster webserver (UI)."
    )
    daemon: Resources = Field(
        default_factory=lambda: _resources("250m", "512Mi", "1", "1Gi"),
        description="The daemon (schedules, sensors, run queue).",
    )
    user_code: Resources = Field(
        default_factory=lambda: _resources("250m", "512Mi", "1", "2Gi"),
        description="The user-code gRPC server running the domain's image.",
    )


class Dbt(StrictModel):
    """The dbt project baked into the user-code image."""

    enabled: bool = Field(default=True, description="Whether the image carries a dbt project.")
    project_dir: AbsolutePath = Field(
        default="/opt/dagster/app/dbt",
        description="Absolute path of the dbt project inside the image (the code reads it as DBT_PROJECT_DIR).",
    )
    target: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = Field(
        default=None,
        description="dbt target (profiles.yml output) to run; default: the warehouse kind (redshift on AWS, postgres on the local stack).",
    )


class GreatExpectations(StrictModel):
    """Great Expectations suites shipped in the user-code image."""

    enabled: bool = Field(default=True, description="Whether the image runs Great Expectations suites.")


class Dagster(StrictModel):
    """Orchestration: the Dagster webserver and daemon, and one user-code deployment running the domain's image."""

    enabled: bool = Field(default=True, description="Deploy Dagster for this domain.")
    image: DagsterImage | None = Field(
        default=None,
        description="The user-code image (required when enabled). It must run the same Dagster version as "
        "the platform's pinned Dagster chart (see the `dagster` pin in components/charts.py).",
    )
    code_location: CodeLocation | None = Field(
        default=None, description="Where the definitions live in the image (required when enabled)."
    )
    port: int = Field(
        default=3030, ge=1024, le=65535, description="gRPC port of the user-code server (non-root: 1024-65535)."
    )
    resources: DagsterResources = Field(default_factory=_from_yaml, description="Requests and limits per pod.")
    env: dict[str, EnvValue] = Field(
        default_factory=dict,
        description="Plain, non-secret environment variables for the user code and its runs. Names that look "
        "like secrets (PASSWORD, SECRET, TOKEN, KEY...) and names the platform sets (AWS_*, DBT_*, ...) are rejected.",
    )
    dbt: Dbt = Field(default_factory=_from_yaml, description="The dbt project inside the image.")
    great_expectations: GreatExpectations = Field(
        default_factory=_from_yaml, description="Great Expectations suites inside the image."
    )

    @field_validator("env")
    @classmethod
    def _plain_env_names(cls, env: dict[str, str]) -> dict[str, str]:
        # Checked here rather than as a key type so the problem reads env.<NAME>, not env.<NAME>.[key].
        _fail(((name,), problem, name) for name in env if (problem := _env_name_problem(name)))
        _fail(
            (
                (name,),
                f"is set by the platform (names starting {', '.join(PLATFORM_ENV_PREFIXES)} or {', '.join(sorted(PLATFORM_ENV_NAMES))}); choose another name",
                name,
            )
            for name in env
            if is_platform_env(name)
        )
        return env

    @model_validator(mode="after")
    def _image_when_enabled(self) -> Dagster:
        if not self.enabled:
            return self
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        if self.image is None:
            problems.append((("image",), "is required when Dagster is enabled: {repository, tag}", None))
        if self.code_location is None:
            problems.append(
                (("codeLocation",), "is required when Dagster is enabled: one of module, package, pythonFile", None)
            )
        _fail(problems, missing=True)
        return self


class Airbyte(StrictModel):
    """Ingestion: Airbyte, its services and the job pods that run connector syncs."""

    enabled: bool = Field(default=True, description="Deploy Airbyte for this domain.")
    replicas: int = Field(default=1, ge=1, le=3, description="Replicas of the Airbyte server and workers (1-3).")
    resources: Resources = Field(
        default_factory=lambda: _resources("250m", "512Mi", "1", "1Gi"), description="Each Airbyte service container."
    )
    job_resources: Resources = Field(
        default_factory=lambda: _resources("500m", "1Gi", "2", "2Gi"),
        description="Each connector job container (syncs, checks, discovers).",
    )


class Redis(StrictModel):
    """Superset's cache and Celery broker."""

    bundled: bool = Field(default=True, description="Run a Redis inside the namespace (the chart's subchart).")
    host: Annotated[str, AfterValidator(_hostname)] | None = Field(
        default=None, description="Host of an external Redis; required when bundled is false."
    )
    port: int = Field(default=6379, ge=1, le=65535, description="Port of the external Redis.")

    @model_validator(mode="after")
    def _host_matches_mode(self) -> Redis:
        if not self.bundled and self.host is None:
            _fail([(("host",), "is required when bundled is false", None)], missing=True)
        if self.bundled and self.host is not None:
            _fail([(("host",), "is only used with bundled: false; remove it or set bundled: false", self.host)])
        return self


class Superset(StrictModel):
    """BI: Superset with its web and worker pods."""

    enabled: bool = Field(default=True, description="Deploy Superset for this domain.")
    replicas: int = Field(default=1, ge=1, le=5, description="Replicas of the Superset web pod (1-5).")
    resources: Resources = Field(
        default_factory=lambda: _resources("250m", "512Mi", "1", "1Gi"), description="Each Superset container."
    )
    redis: Redis = Field(default_factory=_from_yaml, description="Cache and Celery broker.")


# Athena refuses a per-query cutoff below 10 MiB (WorkGroupConfiguration.BytesScannedCutoffPerQuery);
# whole GiB keep the domain file readable and far above it.
ATHENA_MIN_CUTOFF_BYTES = 10 * 2**20
SCAN_LIMIT_MAX_GIB = 1024


class Sandbox(StrictModel):
    """The analyst sandbox: read-only exploration of curated data and consumed products (docs/sandbox.md)."""

    enabled: bool = Field(default=False, description="Give the domain's analysts the sandbox.")
    query_scan_limit_gib: int = Field(
        default=10,
        ge=1,
        le=SCAN_LIMIT_MAX_GIB,
        description=f"Athena cancels a sandbox query that scans more than this many GiB (1-{SCAN_LIMIT_MAX_GIB}).",
    )

    @property
    def scan_limit_bytes(self) -> int:
        return self.query_scan_limit_gib * 2**30


class DatahubSources(StrictModel):
    """What the scheduled ingestion reads. Unset: on when the tool it reads is enabled."""

    warehouse: bool = Field(default=True, description="The Redshift Serverless warehouse.")
    lake: bool = Field(default=True, description="The lake bucket (S3 data lake source).")
    dbt: bool | None = Field(default=None, description="dbt artifacts (needs Dagster and dbt enabled).")
    superset: bool | None = Field(default=None, description="Superset dashboards and charts (needs Superset).")
    dagster: bool | None = Field(default=None, description="Dagster assets and jobs (needs Dagster).")


class DatahubIngestion(StrictModel):
    """Scheduled metadata ingestion from the domain's systems into the central DataHub catalog."""

    enabled: bool = Field(default=True, description="Run scheduled DataHub ingestion for this domain.")
    schedule: Cron = Field(default="0 3 * * *", description="When to ingest: a 5-field cron schedule (UTC).")
    sources: DatahubSources = Field(default_factory=_from_yaml, description="Per-source toggles.")
    resources: Resources = Field(
        default_factory=lambda: _resources("250m", "512Mi", "1", "1Gi"), description="The ingestion job container."
    )


class Tools(StrictModel):
    """The tools deployed in the domain's namespace."""

    dagster: Dagster = Field(default_factory=_from_yaml, description="Orchestration (runs dbt and Great Expectations).")
    airbyte: Airbyte = Field(default_factory=_from_yaml, description="Ingestion.")
    superset: Superset = Field(default_factory=_from_yaml, description="BI.")
    datahub_ingestion: DatahubIngestion = Field(default_factory=_from_yaml, description="Catalog ingestion.")
    sandbox: Sandbox = Field(default_factory=_from_yaml, description="Read-only exploration for analysts.")

    @field_validator("datahub_ingestion")
    @classmethod
    def _sources_follow_tools(cls, ingestion: DatahubIngestion, info: ValidationInfo) -> DatahubIngestion:
        available: dict[str, tuple[bool, str]] = {}
        dagster: Dagster | None = info.data.get("dagster")
        superset: Superset | None = info.data.get("superset")
        # A tool whose own block is invalid is missing here; its problems are reported at its field.
        if dagster is not None:
            available["dagster"] = (dagster.enabled, "tools.dagster.enabled is false")
            available["dbt"] = (
                dagster.enabled and dagster.dbt.enabled,
                "dbt runs in Dagster: it needs tools.dagster.enabled and tools.dagster.dbt.enabled",
            )
        if superset is not None:
            available["superset"] = (superset.enabled, "tools.superset.enabled is false")
        sources = ingestion.sources
        _fail(
            (("sources", key), f"cannot be true: {why}; set it to false or remove it", True)
            for key, (ok, why) in available.items()
            if getattr(sources, key) is True and not ok
        )
        resolved = {
            key: ok if getattr(sources, key) is None else getattr(sources, key) for key, (ok, _) in available.items()
        }
        return ingestion.model_copy(update={"sources": sources.model_copy(update=resolved)})


# ---------------------------------------------------------------- cost assumptions and budget

# Defaults of the usage the estimate assumes (docs/cost.md); a domain overrides them in `cost:`.
DEFAULT_WAREHOUSE_HOURS_PER_DAY = 2
DEFAULT_ZONE_GB = 50
DEFAULT_NAT_GB_PER_MONTH = 20
DEFAULT_LOGS_GB_PER_MONTH = 2


class CostAssumptions(StrictModel):
    """Usage the monthly cost estimate assumes for this domain. It changes no resource."""

    warehouse_active_hours_per_day: float = Field(
        default=DEFAULT_WAREHOUSE_HOURS_PER_DAY,
        ge=0,
        le=24,
        description="Hours per day the Redshift Serverless workgroup runs queries at its base capacity (0-24).",
    )
    lake_gb_per_zone: dict[ZoneName, float] = Field(
        default_factory=dict,
        description=f"Average GB stored per lake zone (S3 Standard GB-month); zones not listed assume {DEFAULT_ZONE_GB}.",
    )
    nat_gb_per_month: float = Field(
        default=DEFAULT_NAT_GB_PER_MONTH,
        ge=0,
        description="GB per month the domain's pods send or receive through the NAT gateways (SaaS sources, APIs).",
    )
    logs_gb_per_month: float = Field(
        default=DEFAULT_LOGS_GB_PER_MONTH,
        ge=0,
        description="GB per month of CloudWatch Logs the domain's database and warehouse ingest.",
    )

    @field_validator("lake_gb_per_zone")
    @classmethod
    def _non_negative(cls, gb: dict[str, float]) -> dict[str, float]:
        _fail(((zone,), "must be a number of GB >= 0", value) for zone, value in gb.items() if value < 0)
        return gb

    def zone_gb(self, zone: str) -> float:
        return self.lake_gb_per_zone.get(zone, DEFAULT_ZONE_GB)


class Budget(StrictModel):
    """What the domain may cost per month; the plan check fails when the estimate exceeds it."""

    monthly_usd: float = Field(gt=0, description="Monthly budget in USD, compared with the domain's estimate.")


# ---------------------------------------------------------------- data quality


class QualityAlerts(StrictModel):
    """Where a failed quality check alerts the domain's owners."""

    channel: Literal["slack", "sns", "none"] = Field(
        default="none",
        description="slack: an incoming webhook whose URL is the stack's secret config "
        "dataplatform:qualitySlackWebhooks.<domain>; sns: a topic the stack creates for the domain, with "
        "email subscribers (AWS foundation only); none: no alerts.",
    )
    emails: list[Email] = Field(
        default_factory=list,
        description="SNS only: addresses subscribed to the domain's topic (default: owners.email). Each must "
        "confirm the subscription email AWS sends.",
    )

    @model_validator(mode="after")
    def _emails_for_sns(self) -> QualityAlerts:
        if self.emails and self.channel != "sns":
            _fail([(("emails",), "is only used with channel: sns", self.emails)])
        if len(set(self.emails)) != len(self.emails):
            _fail([(("emails",), "must not repeat an address", self.emails)])
        return self


class Quality(StrictModel):
    """Data-quality checks (the platform kit's `gx_check`): what blocks, where results and alerts go."""

    block_on: Literal["error", "warning", "none"] = Field(
        default="error",
        description="Which failed checks stop downstream assets: error (error-severity checks; warnings only "
        "report), warning (every failed check), none (nothing blocks, all report).",
    )
    catalog: bool = Field(default=True, description="Publish check results to DataHub as assertions with run events.")
    alerts: QualityAlerts = Field(default_factory=_from_yaml, description="Where failed checks alert the owners.")


# ---------------------------------------------------------------- governance and the domain


class Owners(StrictModel):
    """Who answers for the domain."""

    team: LabelValue = Field(description="Owning team, used for the owner tag and label, e.g. sales-analytics.")
    email: Email = Field(description="Team contact address, e.g. sales-data@example.com.")


# Athena's DDL types (https://docs.aws.amazon.com/athena/latest/ug/data-types.html), as Glue stores them.
PRIMITIVE_TYPES = frozenset(
    {"boolean", "tinyint", "smallint", "int", "bigint", "float", "double", "string", "binary", "date", "timestamp"}
)
_TYPE_HELP = (
    "an Athena column type: boolean, tinyint, smallint, int, bigint, float, double, string, binary, date, "
    "timestamp, decimal(p,s), char(n), varchar(n), array<t>, map<k,t> or struct<name:t,...>, lowercase"
)
COLUMN_NAME = r"[a-z_][a-z0-9_]{0,127}"


def _split_top(text: str) -> list[str]:
    """`a,map<b,c>,d` -> ["a", "map<b,c>", "d"]: commas outside angle brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"<": 1, ">": -1}.get(ch, 0)
        if depth < 0:
            raise ValueError
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError
    return [*parts, text[start:]]


def _type_ok(text: str) -> bool:
    if text in PRIMITIVE_TYPES:
        return True
    if m := re.fullmatch(r"decimal\((\d{1,2}),(\d{1,2})\)", text):
        precision, scale = int(m[1]), int(m[2])
        return 1 <= precision <= 38 and scale <= precision
    if m := re.fullmatch(r"(char|varchar)\((\d{1,5})\)", text):
        return 1 <= int(m[2]) <= (255 if m[1] == "char" else 65535)
    m = re.fullmatch(r"(array|map|struct)<(.+)>", text)
    if not m:
        return False
    try:
        inner = _split_top(m[2])
    except ValueError:
        return False
    if m[1] == "array":
        return len(inner) == 1 and _type_ok(inner[0])
    if m[1] == "map":
        return len(inner) == 2 and inner[0] in PRIMITIVE_TYPES and _type_ok(inner[1])
    fields = [f.partition(":") for f in inner]
    return all(sep and re.fullmatch(COLUMN_NAME, name) and _type_ok(t) for name, sep, t in fields)


def _column_type(value: str) -> str:
    if not _type_ok(value.replace(" ", "")):
        raise ValueError(f"must be {_TYPE_HELP}")
    return value.replace(" ", "")


def _column_name(value: str) -> str:
    if not re.fullmatch(COLUMN_NAME, value):
        raise ValueError(
            "must be a column name Athena accepts unquoted: lowercase letters, digits and '_', "
            "not starting with a digit, at most 128 characters"
        )
    return value


class Column(StrictModel):
    """One column of a product's table, as Athena sees it."""

    name: Annotated[str, AfterValidator(_column_name)] = Field(description="Column name, e.g. order_id.")
    type: Annotated[str, AfterValidator(_column_type)] = Field(description="Athena type, e.g. bigint or decimal(12,2).")


class ProductSchema(StrictModel):
    """The declared table of a product: reviewed with the domain file, registered in Glue by the sandbox."""

    format: Literal["parquet", "orc", "json"] = Field(
        default="parquet", description="File format under the product prefix: parquet, orc or json (one object a line)."
    )
    columns: list[Column] = Field(min_length=1, max_length=500, description="The table's columns, in order.")

    @field_validator("columns")
    @classmethod
    def _distinct_columns(cls, columns: list[Column]) -> list[Column]:
        _fail(
            ((i, "name"), f"repeats columns[{j}].name; column names must be unique", c.name)
            for i, c in enumerate(columns)
            for j in [next(k for k, o in enumerate(columns) if o.name == c.name)]
            if j < i
        )
        return columns


class Product(StrictModel):
    """A data product the domain exposes to other domains: a folder in its curated zone."""

    name: ProductName = Field(
        description="Product name, a DNS label unique in the domain; others consume <domain>.<name>."
    )
    description: Text = Field(description="What the product contains and how fresh it is.")
    prefix: ProductPrefix = Field(description="Folder inside the curated zone, e.g. curated/orders/ (slash added).")
    contract: ContractUrl | None = Field(default=None, description="URL of the data contract (schema, SLOs).")
    table_schema: ProductSchema | None = Field(
        default=None,
        alias="schema",
        description="Its table (format and columns): sandbox domains can query it by name in Athena.",
    )


# An IdP group as the identity provider's groups claim carries it (Entra ID: object ids; others: names).
GroupName = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\w .@:/=+-]+$")]


class Access(StrictModel):
    """Who reaches the domain's UIs, by the identity provider's groups (docs/identity.md)."""

    owners_group: GroupName | None = Field(
        default=None, description="IdP group of the owners: admins of the domain's Superset (default: owners.team)."
    )
    groups: list[GroupName] = Field(
        default_factory=list, description="More IdP groups that may use the domain's UIs, as viewers in Superset."
    )


class Domain(StrictModel):
    """One data domain, as written in domains/<name>.yaml."""

    name: DomainName = Field(
        description=f"Domain name: a DNS-1123 label of at most {NAME_MAX_LENGTH} characters; the file must be "
        "domains/<name>.yaml. It names the namespace, releases, buckets and roles, so never change it."
    )
    description: Text = Field(description="What the domain is about.")
    owners: Owners = Field(description="Owning team and contact.")
    cost_center: LabelValue = Field(description="Cost center for the cost-center tag, e.g. cc-4100.")
    stacks: list[StackName] = Field(
        default_factory=lambda: list(STACKS),
        min_length=1,
        description=f"Stacks that include this domain: any of {', '.join(STACKS)} (default: all).",
    )
    quota: Quota = Field(default_factory=_from_yaml, description="Namespace quota and container defaults.")
    lake: Lake = Field(default_factory=_from_yaml, description="The lake bucket and its zones.")
    warehouse: Warehouse = Field(default_factory=_from_yaml, description="Redshift Serverless.")
    metadata_db: MetadataDb = Field(default_factory=_from_yaml, description="The tools' PostgreSQL on RDS.")
    tools: Tools = Field(default_factory=_from_yaml, description="Dagster, Airbyte, Superset, DataHub ingestion.")
    products: list[Product] = Field(default_factory=list, description="Data products this domain exposes.")
    consumes: list[ProductRef] = Field(
        default_factory=list, description="Other domains' products this domain reads, as <domain>.<product>."
    )
    retired: bool = Field(
        default=False,
        description="Offboarding: keep only the bucket, database and warehouse namespace (retained, unprotected); "
        "delete the file in a later change. See docs/runbooks/offboarding.md.",
    )
    quality: Quality = Field(default_factory=_from_yaml, description="Data-quality checks: blocking, catalog, alerts.")
    access: Access = Field(default_factory=_from_yaml, description="IdP groups that may use the domain's UIs.")

    cost: CostAssumptions = Field(
        default_factory=_from_yaml, description="Usage assumptions of the cost estimate (docs/cost.md)."
    )
    budget: Budget | None = Field(default=None, description="Monthly budget; the plan check fails above it.")

    @property
    def owners_group(self) -> str:
        return self.access.owners_group or self.owners.team

    @property
    def access_groups(self) -> tuple[str, ...]:
        """Every group that reaches the domain's UIs: the owners first, then the viewers."""
        return tuple(dict.fromkeys([self.owners_group, *self.access.groups]))

    @field_validator("stacks")
    @classmethod
    def _unique_stacks(cls, stacks: list[str]) -> list[str]:
        if len(set(stacks)) != len(stacks):
            raise ValueError("must not repeat a stack")
        return stacks

    @field_validator("products")
    @classmethod
    def _distinct_products(cls, products: list[Product]) -> list[Product]:
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        for i, product in enumerate(products):
            for j, earlier in enumerate(products[:i]):
                if product.name == earlier.name:
                    problems.append(
                        ((i, "name"), f"repeats the name of products[{j}]; names must be unique", product.name)
                    )
                if product.prefix.startswith(earlier.prefix) or earlier.prefix.startswith(product.prefix):
                    problems.append(
                        (
                            (i, "prefix"),
                            f"overlaps products[{j}].prefix ({earlier.prefix}); prefixes must not nest",
                            product.prefix,
                        )
                    )
        _fail(problems)
        return products

    @field_validator("consumes")
    @classmethod
    def _consumes_others(cls, consumes: list[str], info: ValidationInfo) -> list[str]:
        own = info.data.get("name")
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        for i, ref in enumerate(consumes):
            if ref.partition(".")[0] == own:
                problems.append(((i,), "names this domain; a domain reads its own data without consuming it", ref))
            if ref in consumes[:i]:
                problems.append(((i,), "is listed twice", ref))
        _fail(problems)
        return consumes

    @model_validator(mode="after")
    def _cost_zones_exist(self) -> Domain:
        _fail(
            (("cost", "lakeGbPerZone", zone), f"is not a lake zone of this domain ({', '.join(self.lake.zones)})", zone)
            for zone in self.cost.lake_gb_per_zone
            if zone not in self.lake.zones
        )
        return self

    @model_validator(mode="after")
    def _tools_fit_quota(self) -> Domain:
        # A lower bound: the pods declared here, one per replica. Charts add pods of their own.
        tools = self.tools
        pods: list[tuple[str, Resources, int]] = []
        if tools.dagster.enabled:
            r = tools.dagster.resources
            pods += [("dagster", r.webserver, 1), ("dagster", r.daemon, 1), ("dagster", r.user_code, 1)]
        if tools.airbyte.enabled:
            pods += [
                ("airbyte", tools.airbyte.resources, tools.airbyte.replicas),
                ("airbyte", tools.airbyte.job_resources, 1),
            ]
        if tools.superset.enabled:
            pods += [("superset", tools.superset.resources, tools.superset.replicas)]
        if tools.datahub_ingestion.enabled:
            pods += [("datahubIngestion", tools.datahub_ingestion.resources, 1)]
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        for key, fmt in (("cpu", _format_cpu), ("memory", _format_memory)):
            per_tool: dict[str, Decimal] = {}
            for tool, resources, count in pods:
                per_tool[tool] = per_tool.get(tool, Decimal(0)) + count * parse_quantity(
                    getattr(resources.requests, key)
                )
            total = sum(per_tool.values(), Decimal(0))
            if total > parse_quantity(getattr(self.quota, key)):
                breakdown = ", ".join(f"{tool} {fmt(v)}" for tool, v in per_tool.items())
                problems.append(
                    (
                        ("quota", key),
                        f"is below the {fmt(total)} the enabled tools request ({breakdown}); raise it or shrink tools.*.resources",
                        getattr(self.quota, key),
                    )
                )
        pod_count = sum(count for _, _, count in pods)
        if pod_count > self.quota.pods:
            problems.append(
                (("quota", "pods"), f"is below the {pod_count} pods the enabled tools run at least", self.quota.pods)
            )
        _fail(problems)
        return self


# ---------------------------------------------------------------- loading the folder


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key written twice in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue  # unhashable keys are the SafeLoader's error to report
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (each key may appear once)", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _display(path: Path, directory: Path) -> str:
    resolved = path.resolve()
    if resolved.is_relative_to(PROJECT_DIR):
        return resolved.relative_to(PROJECT_DIR).as_posix()
    return path.relative_to(directory.parent).as_posix()


@lru_cache(maxsize=256)
def _parsed(text: str) -> Any:
    """A domain file's YAML, parsed once per text: the offline tools and the tests load the same files
    hundreds of times per process (callers get a deep copy; errors are raised again, not cached)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass


def _read(path: Path, shown: str) -> tuple[Any, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [f"{shown}: is not UTF-8 text"]
    except OSError as exc:
        return None, [f"{shown}: cannot be read ({exc.strerror})"]
    try:
        raw = copy.deepcopy(_parsed(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return None, [f"{shown}: invalid YAML at {where}{exc.problem}"]
    except yaml.YAMLError as exc:
        return None, [f"{shown}: invalid YAML: {exc}"]
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        return None, [f"{shown}: must be a YAML mapping of domain fields (name, owners, tools, ...), got {got}"]
    return raw, []


def _cross_domain(
    domains: dict[str, tuple[Domain, str]], broken: set[str], stack: str, consumers: Collection[str] | None = None
) -> list[str]:
    problems = []
    for domain, shown in domains.values():
        if consumers is not None and domain.name not in consumers:
            continue
        for i, ref in enumerate(domain.consumes):
            where = f"{shown}: consumes[{i}]"
            other_name, _, product = ref.partition(".")
            if other_name in broken:
                continue  # that domain's file has its own problems listed
            if other_name not in domains:
                known = ", ".join(sorted(domains)) or "none"
                problems.append(f"{where}: no domain named '{other_name}' (known domains: {known}) (got {ref!r})")
                continue
            other = domains[other_name][0]
            if other.retired and not domain.retired:
                problems.append(
                    f"{where}: domain '{other_name}' is retired; remove this entry (its grant goes with the producer)"
                )
            elif product not in {p.name for p in other.products}:
                offered = ", ".join(p.name for p in other.products) or "none"
                problems.append(f"{where}: domain '{other_name}' has no product '{product}' (its products: {offered})")
            elif stack in domain.stacks and stack not in other.stacks:
                problems.append(
                    f"{where}: domain '{other_name}' is not in stack '{stack}' (its stacks: {', '.join(other.stacks)}); "
                    f"add {stack} to its stacks or remove {stack} from this domain's stacks"
                )
    return problems


def _producers(directory: Path, names: Collection[str]) -> set[str]:
    """The domains whose products the files of `names` consume (read leniently: validation comes after)."""
    out: set[str] = set()
    for name in names:
        try:
            raw = yaml.safe_load((directory / f"{name}.yaml").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        consumes = raw.get("consumes") if isinstance(raw, dict) else None
        out |= {str(ref).partition(".")[0] for ref in consumes or [] if isinstance(ref, str)}
    return out


def load_domains(directory: Path, *, stack: str, only: Collection[str] | None = None) -> list[Domain]:
    """Validate every `<name>.yaml` in `directory` and return the domains included in `stack`, sorted by name.

    Raises one ConfigError listing every problem in every file, and returns nothing unless all are valid.
    `only` (a domain stack, components/split.py): just those files and their producers' files, and only
    their consumes are checked, so the cost does not grow with the number of domains; the environment's
    stack and CI validate every file.
    """
    if stack not in STACKS:
        raise ConfigError([f"stack '{stack}': domain files know the stacks {', '.join(STACKS)}"], title="invalid stack")
    if not directory.is_dir():
        raise ConfigError([f"{directory}: the domains folder does not exist"], title="invalid domain files")
    problems: list[str] = []
    domains: dict[str, tuple[Domain, str]] = {}
    broken: set[str] = set()
    wanted = None if only is None else set(only) | _producers(directory, only)
    for path in sorted(directory.iterdir()):
        if wanted is not None and path.stem not in wanted:
            continue
        shown = _display(path, directory)
        if path.suffix == ".yml":
            problems.append(f"{shown}: domain files end in .yaml; rename it to {path.stem}.yaml")
        if path.suffix != ".yaml" or not path.is_file():
            continue
        raw, read_problems = _read(path, shown)
        problems += read_problems
        if raw is None:
            broken.add(path.stem)
            continue
        try:
            domain = Domain.model_validate(raw)
        except ValidationError as exc:
            problems += describe_errors(shown, exc, separator=": ")
            broken.update({path.stem, raw["name"]} if isinstance(raw.get("name"), str) else {path.stem})
            continue
        # <name>.yaml: one obvious file per domain, so two files cannot define the same domain
        # unnoticed, and path-based review rules (CODEOWNERS) map each file to its owning team.
        if path.stem != domain.name:
            problems.append(
                f"{shown}: name: '{domain.name}' does not match the file name; rename the file to {domain.name}.yaml"
            )
        if domain.name in domains:
            problems.append(f"{shown}: name: domain '{domain.name}' is also defined in {domains[domain.name][1]}")
            continue
        domains[domain.name] = (domain, shown)
    problems += _cross_domain(domains, broken, stack, only)
    if problems:
        raise ConfigError(problems, title=f"invalid domain files ({_display(directory, directory)}/*.yaml)")
    return [domain for domain, _ in domains.values() if stack in domain.stacks]
