"""`dataplatform:local.userCode`: a stack runs another user-code image than the domain files name.

`make local` builds the example user code, loads it into kind and maps every domain to it through
this key, so nobody edits `domains/*.yaml` for a laptop. Checked on the whole program under mocks
(the Dagster release values) and on the validation that names the bad key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.config import parse_stack_config, with_user_code_overrides
from components.domain_config import load_domains
from components.validation import ConfigError
from tests.harness import PROJECT_DIR, Program, Secret, program_for, stack_config

IMAGE = {"repository": "dataplatform-local/user-code", "tag": "src-0123456789ab"}
MODULE = "sales_user_code.definitions"


def _local_config(**local: Any) -> dict[str, Any]:
    config: dict[str, Any] = dict(stack_config("local"))
    config["dataplatform:local"] = {"kubeContext": "kind-dataplatform", **local}
    return config


def _user_code(program: Program, domain: str) -> dict[str, Any]:
    values = program.one("kubernetes:helm.sh/v3:Release", f"{domain}-dagster").inputs["values"]
    assert not isinstance(values, Secret)
    [deployment] = values["dagster-user-deployments"]["deployments"]
    return deployment


@pytest.fixture(scope="module")
def overridden() -> Program:
    override = {"image": IMAGE, "codeLocation": {"module": MODULE}}
    return program_for("local", config=_local_config(userCode={"sales": override, "marketing": override}))


@pytest.mark.parametrize("domain", ["sales", "marketing"])
def test_each_mapped_domain_runs_the_local_image(overridden: Program, domain: str) -> None:
    deployment = _user_code(overridden, domain)
    assert deployment["image"]["repository"] == IMAGE["repository"]
    assert deployment["image"]["tag"] == IMAGE["tag"]
    # kind-loaded images exist only on the node: a pull would fail.
    assert deployment["image"]["pullPolicy"] == "IfNotPresent"
    assert MODULE in deployment["dagsterApiGrpcArgs"]


def test_without_the_key_the_domain_files_images_run() -> None:
    deployment = _user_code(program_for("local"), "sales")
    assert deployment["image"]["repository"] == "ghcr.io/example-org/sales-dagster"


def test_the_code_location_defaults_to_the_domain_files() -> None:
    config = parse_stack_config(
        {**_parsed(_local_config()), "local": {"userCode": {"sales": {"image": IMAGE}}}},
    )
    [sales] = [d for d in _domains(config) if d.name == "sales"]
    assert sales.tools.dagster.image is not None and sales.tools.dagster.image.tag == IMAGE["tag"]
    assert sales.tools.dagster.code_location is not None and sales.tools.dagster.code_location.module == MODULE


def test_the_domain_files_are_not_changed() -> None:
    before = (PROJECT_DIR / "domains" / "sales.yaml").read_text()
    config = parse_stack_config({**_parsed(_local_config()), "local": {"userCode": {"sales": {"image": IMAGE}}}})
    _domains(config)
    assert (PROJECT_DIR / "domains" / "sales.yaml").read_text() == before


def _parsed(raw: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in raw.items():
        name = key.removeprefix("dataplatform:")
        out[name] = json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value
    return out


def _domains(config: Any, directory: Path | None = None) -> list[Any]:
    domains = load_domains(directory or PROJECT_DIR / "domains", stack=config.environment)
    return with_user_code_overrides(domains, config)


def test_an_unknown_domain_is_named_with_its_key() -> None:
    config = parse_stack_config({**_parsed(_local_config()), "local": {"userCode": {"finance": {"image": IMAGE}}}})
    with pytest.raises(ConfigError) as err:
        _domains(config)
    assert err.value.problems == [
        "dataplatform:local.userCode.finance: no domain 'finance' on this stack (its domains: marketing, sales)"
    ]


def test_a_domain_without_dagster_is_refused(tmp_path: Path) -> None:
    for name in ("sales", "marketing"):
        text = (PROJECT_DIR / "domains" / f"{name}.yaml").read_text()
        (tmp_path / f"{name}.yaml").write_text(text)
    sales = (tmp_path / "sales.yaml").read_text().replace("  dagster:\n", "  dagster:\n    enabled: false\n", 1)
    (tmp_path / "sales.yaml").write_text(sales)
    config = parse_stack_config({**_parsed(_local_config()), "local": {"userCode": {"sales": {"image": IMAGE}}}})
    with pytest.raises(ConfigError, match=r"dataplatform:local\.userCode\.sales: .*tools\.dagster\.enabled: false"):
        _domains(config, tmp_path)


def test_a_moving_tag_is_refused_before_anything_runs() -> None:
    with pytest.raises(ConfigError) as err:
        program_for("local", config=_local_config(userCode={"sales": {"image": {**IMAGE, "tag": "latest"}}}))
    assert any(p.startswith("dataplatform:local.userCode.sales.image.tag: ") for p in err.value.problems)


def test_only_the_local_foundation_takes_the_key() -> None:
    raw = _parsed(dict(stack_config("dev")))
    with pytest.raises(ConfigError, match=r"local\.userCode applies only to the local foundation"):
        parse_stack_config({**raw, "local": {"userCode": {"sales": {"image": IMAGE}}}})
