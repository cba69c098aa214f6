"""MetadataDatabases: Secrets and the init Job on the records, and the init script on a real PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.interfaces import PostgresServer
from components.metadata_db import (
    PSQL_IMAGE,
    RUN_AS_UID,
    SECRETS_DIR,
    DatabaseSpec,
    MetadataDatabases,
    init_script,
    password_file,
)
from tests.harness import Program, Secret, run_function

TOOLS = [
    DatabaseSpec("superset"),
    DatabaseSpec("dagster", password_key="postgresql-password"),
    DatabaseSpec("airbyte", user_key="DATABASE_USER", createdb=True),
]


@pytest.fixture(scope="module")
def program() -> Program:
    def build() -> None:
        provider = k8s.Provider("k8s")
        MetadataDatabases(
            "sales-metadb",
            namespace="sales",
            server=PostgresServer(
                host=pulumi.Output.from_input("db.internal"),
                port=5432,
                admin_user="dpadmin",
                admin_password=pulumi.Output.secret("admin-pw-value"),
                sslmode="require",
            ),
            tools=TOOLS,
            service_account="sales-db-init",
            labels={"dataplatform.io/domain": "sales"},
            opts=pulumi.ResourceOptions(providers=[provider]),
        )

    return run_function(build)


def test_one_secret_per_tool_plus_admin_all_secret(program: Program) -> None:
    secrets = {r.inputs["metadata"]["name"]: r for r in program.of_type("kubernetes:core/v1:Secret")}
    assert set(secrets) == {"metadata-db-admin", "airbyte-db", "dagster-db", "superset-db"}
    for r in secrets.values():
        assert isinstance(r.inputs["stringData"], Secret), f"{r.name} stringData must stay secret"


def test_job_reads_passwords_only_from_secret_files(program: Program) -> None:
    job = program.one("kubernetes:batch/v1:Job")
    pod = job.inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert not [e for e in container["env"] if "PASSWORD" in e["name"] or "valueFrom" in e]
    (volume,) = pod["volumes"]
    files = {
        item["path"]: (source["secret"]["name"], item["key"])
        for source in volume["projected"]["sources"]
        for item in source["secret"]["items"]
    }
    assert files == {
        "admin-password": ("metadata-db-admin", "password"),
        "airbyte-password": ("airbyte-db", "password"),
        "dagster-password": ("dagster-db", "postgresql-password"),
        "superset-password": ("superset-db", "password"),
    }
    assert volume["projected"]["defaultMode"] == 0o440
    (mount,) = container["volumeMounts"]
    assert (mount["name"], mount["mountPath"], mount["readOnly"]) == ("passwords", SECRETS_DIR, True)
    script = container["command"][-1]
    assert all(f"{SECRETS_DIR}/{path}" in script for path in files)
    assert "admin-pw-value" not in str(job.inputs)
    assert {e["name"]: e.get("value") for e in container["env"]}["PGSSLMODE"] == "require"
    kubernetes_validate.validate(dict(job.inputs), "1.35.0", strict=True)


def test_job_pod_is_restricted(program: Program) -> None:
    spec = program.one("kubernetes:batch/v1:Job").inputs["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == RUN_AS_UID >= 10000
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (c,) = spec["containers"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["limits"] and c["resources"]["requests"]
    assert c["image"] == PSQL_IMAGE and c["imagePullPolicy"] == "Always"
    assert re.fullmatch(r"postgres:[\w.-]+@sha256:[0-9a-f]{64}", PSQL_IMAGE)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL on a Unix socket, run as the `postgres` OS user (initdb refuses root)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("PostgreSQL server binaries are required (.ci/run installs Debian's postgresql)")
    root = Path(tempfile.mkdtemp(prefix="dp-pg-"))
    os.chmod(root, 0o777)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    os.chmod(sock, 0o777)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*as_pg, initdb, "-D", str(data), "-U", "postgres", "--auth=trust"], check=True, capture_output=True, timeout=60
    )
    opts = f"-k {sock} -p {port} -c listen_addresses=''"
    # The server inherits stdout, so it must not be a pipe we wait on.
    log = root / "server.log"
    subprocess.run(
        [*as_pg, pg_ctl, "-D", str(data), "-o", opts, "-l", str(log), "-w", "start"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    try:
        yield {"PGHOST": str(sock), "PGPORT": port, "PGUSER": "postgres", "PGDATABASE": "postgres"}
    finally:
        subprocess.run(
            [*as_pg, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], stdout=subprocess.DEVNULL, timeout=60
        )
        shutil.rmtree(root, ignore_errors=True)


def _as_job_user() -> list[str]:
    """Run as the Job's UID, which has no passwd entry, as in the container (needs root here)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={RUN_AS_UID}", f"--regid={RUN_AS_UID}", "--clear-groups"]


def _run_script(
    script: str, env: dict[str, str], passwords: dict[str, str], folder: Path
) -> subprocess.CompletedProcess:
    folder.mkdir(exist_ok=True)
    os.chmod(folder.parent, 0o755)
    os.chmod(folder, 0o755)
    for name, value in passwords.items():
        path = folder / password_file(name)
        path.write_text(value)
        os.chmod(path, 0o444)
    command = [*_as_job_user(), "sh", "-c", script]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(command, env={**clean, **env}, capture_output=True, text=True, timeout=60)


@pytest.fixture
def secrets() -> Iterator[Path]:
    """A folder the Job's UID can read (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="dp-pg-secrets-"))
    try:
        yield folder / "secrets"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _psql(env: dict[str, str], sql: str) -> str:
    out = subprocess.run(["psql", "-XAtc", sql], env={**os.environ, **env}, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def test_init_script_is_idempotent_on_a_real_postgres(postgres: dict[str, str], secrets: Path) -> None:
    script = init_script(TOOLS, str(secrets))
    passwords = {"admin": "unused-with-trust-auth", "airbyte": "a1", "dagster": "d1", "superset": "s1"}
    for _ in range(2):
        done = _run_script(script, postgres, passwords, secrets)
        assert done.returncode == 0, done.stderr
    createdb = _psql(
        postgres,
        "SELECT string_agg(rolname || ':' || rolcreatedb, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('airbyte','dagster')",
    )
    assert createdb == "airbyte:true,dagster:false"
    dbs = _psql(
        postgres,
        "SELECT string_agg(datname || ':' || pg_get_userbyid(datdba), ',' ORDER BY datname) FROM pg_database WHERE datname IN ('airbyte','dagster','superset')",
    )
    assert dbs == "airbyte:airbyte,dagster:dagster,superset:superset"
    # A changed password is applied on the next run; the role and database stay.
    before = _psql(postgres, "SELECT rolpassword FROM pg_authid WHERE rolname = 'dagster'")
    done = _run_script(script, postgres, {**passwords, "dagster": "d2"}, secrets)
    assert done.returncode == 0, done.stderr
    hashed = _psql(postgres, "SELECT rolpassword FROM pg_authid WHERE rolname = 'dagster'")
    assert hashed != before and (hashed.startswith("SCRAM-SHA-256$") or hashed.startswith("md5"))
    assert _psql(postgres, "SELECT has_database_privilege('public', 'dagster', 'CONNECT')") == "f"


def test_init_script_fails_loudly_on_error(postgres: dict[str, str], secrets: Path) -> None:
    bad = {**postgres, "PGDATABASE": "does_not_exist"}
    started = time.monotonic()
    done = _run_script(
        init_script([DatabaseSpec("dagster")], str(secrets)), bad, {"admin": "x", "dagster": "x"}, secrets
    )
    assert done.returncode != 0
    assert time.monotonic() - started < 10


def test_init_script_fails_without_its_password_file(postgres: dict[str, str], secrets: Path) -> None:
    done = _run_script(init_script([DatabaseSpec("dagster")], str(secrets)), postgres, {"admin": "x"}, secrets)
    assert done.returncode != 0 and "dagster-password" in done.stderr
    assert "clearing password" not in done.stderr
    empty = _run_script(init_script([DatabaseSpec("dagster")], str(secrets)), postgres, {"dagster": ""}, secrets)
    assert empty.returncode != 0 and "clearing password" not in empty.stderr
