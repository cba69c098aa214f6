"""Every container image the program sets itself, pinned in one place, with what each must contain.

A contract lists what the program relies on inside an image: the executables its commands call
(checked against every Job, CronJob and chart command the program writes), the Python modules its
code imports, and what the image is known to lack, so that whoever needs it must install it (the
Superset bootstrap installs the database drivers the lean image lacks). Each fact names where it
was checked. Charts' own default images are pinned by the chart version (components/charts.py);
`SUBCHART_DEFAULT_IMAGES` records the defaults of subcharts we have no reference values for.

Repositories that stopped serving their tags are in `DEAD_REPOSITORIES`: no image the program runs,
whether set here or defaulted by a chart, may come from one (tests/test_images.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageContract:
    repository: str
    tag: str
    # Executables on PATH (or absolute paths) that our commands call.
    executables: frozenset[str]
    # Python modules importable in the image's interpreter that our code relies on.
    python_modules: frozenset[str] = frozenset()
    # Modules (or tools) the image is known not to have.
    lacks: frozenset[str] = frozenset()
    # DataHub ingestion images: the source plugins installed.
    datahub_sources: frozenset[str] = frozenset()
    source: str = ""
    # The image index digest, next to the tag it was read for ("" where no public source gives it).
    digest: str = ""

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


# The official ingestion image at the app version of chart datahub 1.1.0 (global.datahub.version v1.7.0).
DATAHUB_INGESTION = ImageContract(
    repository="acryldata/datahub-ingestion",
    tag="v1.7.0",
    executables=frozenset({"sh", "python", "datahub"}),
    # boto3: the warehouse grants Job (components/jobs/warehouse_grants.py) calls the Redshift Data API;
    # the s3, glue and redshift source plugins of acryl-datahub[all] depend on it. The DataHub token issuer
    # and registration modules need only the standard library (tests/test_jobs.py checks every module's imports).
    python_modules=frozenset({"boto3"}),
    datahub_sources=frozenset({"s3", "redshift", "postgres", "dbt", "superset"}),
    source=(
        "datahub-project/datahub docker/datahub-ingestion/Dockerfile: ubuntu:24.04 base (/bin/sh), a venv on "
        "PATH in /home/datahub/.venv (python, and the datahub CLI of acryl-datahub); the default `full` "
        "variant installs acryl-datahub[all], which has every source plugin"
    ),
)

# The metadata-database init Job (psql under the image's shell).
POSTGRES_CLIENT = ImageContract(
    repository="postgres",
    tag="17.2-alpine",
    # The index digest BuildKit resolved for this tag in public build logs (docs/security.md, image digests).
    digest="sha256:7e5df973a74872482e320dcbdeb055e178d6f42de0558b083892c50cda833c96",
    executables=frozenset({"sh", "psql", "cat", "["}),
    source="docker-library/postgres 17/alpine: alpine (busybox sh), PostgreSQL client and server binaries on PATH",
)

# The local foundation's lake-init Job.
MINIO_CLIENT = ImageContract(
    repository="quay.io/minio/mc",
    tag="RELEASE.2024-11-21T17-21-54Z",
    executables=frozenset({"sh", "mc", "cat"}),
    source=(
        "minio/mc Dockerfile.release at tag RELEASE.2024-11-21T17-21-54Z: ubi9/ubi-micro (bash as /bin/sh, "
        "coreutils: the Dockerfile itself RUNs chmod there) with /usr/bin/mc"
    ),
)

# Superset's web, worker and init pods (chart superset 0.22.8, appVersion 6.1.0). Docker Hub directly:
# the chart's default host apachesuperset.docker.scarf.sh is a telemetry proxy for the same image.
SUPERSET = ImageContract(
    repository="apache/superset",
    tag="6.1.0",
    executables=frozenset({"sh", "bash", "superset", "python", "uv", "grep", "sleep"}),
    python_modules=frozenset(
        {
            "superset",
            "sqlalchemy",
            "packaging",
            "pkg_resources",
            "redis",
            "flask",
            "flask_caching",
            "cryptography",
            "requests",
            "dateutil",
            "urllib3",
        }
    ),
    lacks=frozenset({"psycopg2", "sqlalchemy_redshift", "boto3", "botocore", "authlib", "pyathena", "tenacity", "pip"}),
    source=(
        "apache/superset Dockerfile (5.x/6.x): python:3.11-slim (Debian: sh, bash, grep, sleep), `pip install uv` "
        "into the system Python, `uv venv /app/.venv` (no pip in it) first on PATH, owned by root while the "
        "image runs as `superset`; the lean target installs requirements/base.txt only: sqlalchemy 1.4.54, "
        "packaging, setuptools 80.9 (pkg_resources), redis 4.6.0, flask 2.3.3, flask-caching, cryptography 44.0.3, "
        "requests, python-dateutil, urllib3, and no psycopg2, sqlalchemy-redshift, boto3, authlib, pyathena or tenacity "
        "(apache/superset #31026, #32217, #35174)"
    ),
)

# Superset's bundled Redis (subchart bitnami/redis 17.9.4). Bitnami moved every versioned tag from
# docker.io/bitnami to docker.io/bitnamilegacy in 2025 (bitnami/containers #83267); same image and tag.
SUPERSET_REDIS = ImageContract(
    repository="bitnamilegacy/redis",
    tag="7.0.10-debian-11-r4",
    executables=frozenset(),
    source="bitnami/charts bitnami/redis/values.yaml at chart 17.9.4: image docker.io/bitnami/redis:7.0.10-debian-11-r4",
)

# The analysts' notebook servers: built from images/sandbox-notebook by CI (workflow job `sandbox-image`);
# each stack names its build in dataplatform:notebooks.image (the shipped example is refused by real runs).
# The chart starts `jupyterhub-singleuser` (singleuser.cmd) as uid 1000 / gid 100 (singleuser.uid, fsGid).
SANDBOX_NOTEBOOK = ImageContract(
    repository="ghcr.io/example-org/sandbox-notebook",
    tag="0.1.0",
    executables=frozenset({"jupyterhub-singleuser", "python", "sh"}),
    python_modules=frozenset({"duckdb", "pyathena", "pandas", "boto3", "sandbox_lake"}),
    source=(
        "images/sandbox-notebook/Dockerfile: quay.io/jupyter/minimal-notebook:2025-11-24 (jupyter/docker-stacks: "
        "user jovyan 1000:100, conda Python and jupyterhub-singleuser on PATH), requirements.txt pins duckdb "
        "1.4.4, pyathena[pandas] 3.40.0 (boto3 is its dependency) and pandas 2.3.3; the httpfs and aws DuckDB "
        "extensions installed into DUCKDB_EXTENSION_DIRECTORY; sandbox_lake.py on PYTHONPATH"
    ),
)

IMAGES: dict[str, ImageContract] = {
    c.ref: c for c in (DATAHUB_INGESTION, POSTGRES_CLIENT, MINIO_CLIENT, SUPERSET, SUPERSET_REDIS, SANDBOX_NOTEBOOK)
}

# Default images of subcharts that have no reference values under ../shared/charts:
# (chart, subchart key) -> (registry, repository, tag), from the subchart's own values.yaml.
SUBCHART_DEFAULT_IMAGES: dict[tuple[str, str], tuple[str, str, str]] = {
    # apache/superset helm/superset/Chart.yaml 0.22.8: redis 17.9.4 from oci://registry-1.docker.io/bitnamicharts.
    ("superset", "redis"): ("docker.io", "bitnami/redis", "7.0.10-debian-11-r4"),
}

# Repositories (normalised `registry/path/`) that no longer serve the tags charts pin, and why.
DEAD_REPOSITORIES: dict[str, str] = {
    "docker.io/bitnami/": (
        "Bitnami removed versioned tags from docker.io/bitnami in 2025 (bitnami/containers #83267); "
        "the same tags are in docker.io/bitnamilegacy"
    ),
}


# Docker Hub's other host names.
_DOCKER_HUB = ("registry-1.docker.io", "index.docker.io", "registry.hub.docker.com")


def normalise(image: str) -> str:
    """`registry/path:tag`, with Docker Hub's implicit registry and `library/` made explicit."""
    name = image.split("@", 1)[0]
    first, _, rest = name.partition("/")
    if not rest:
        return f"docker.io/library/{name}"
    if first in _DOCKER_HUB:
        return f"docker.io/{rest}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{name}"
    return name


def dead_repository(image: str) -> str | None:
    """Why `image` cannot be pulled because of where it comes from, or None."""
    full = normalise(image)
    for prefix, why in DEAD_REPOSITORIES.items():
        if full.startswith(prefix):
            return f"{image}: {why}"
    return None
