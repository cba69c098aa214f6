"""The kit's dataset URN is the one DataHub's warehouse source builds from the recipe the platform deploys.

fixtures/platform-recipes.json holds, per stack, the sales warehouse recipe the catalog feed deploys and the
env the platform gives the user code (written and kept current by the platform's tests/test_quality.py).
DataHub's own source code names the table from the recipe; the GMS stand-in receives the kit's URN.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from datahub.emitter.mce_builder import make_dataset_urn_with_platform_instance
from datahub.ingestion.api.common import PipelineContext
from dataplatform_kit import QualitySettings, Table
from dataplatform_kit.validation import validate
from standins import StandIn
from suites import GOOD, orders_suite

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "platform-recipes.json").read_text())
SCHEMA, TABLE = "sales", "orders_daily"  # the example's curated model (profiles.yml schema, model name)


def recipe_urn(recipe: dict[str, Any]) -> str:
    """The URN DataHub's source emits for SCHEMA.TABLE, computed by the source's own code from its recipe."""
    source = recipe["source"]
    if source["type"] == "postgres":
        from datahub.ingestion.source.sql.postgres.source import PostgresConfig, PostgresSource

        # Stateful ingestion needs a live DataHub and changes which entities are soft-deleted, not their names.
        settings = {k: v for k, v in source["config"].items() if k != "stateful_ingestion"}
        config = PostgresConfig.model_validate(settings)
        recipe_context = PipelineContext(run_id="urn-check", pipeline_name=recipe["pipeline_name"])
        pg = PostgresSource(config, recipe_context)
        name = pg.get_identifier(schema=SCHEMA, entity=TABLE, inspector=None)  # type: ignore[arg-type]
        return make_dataset_urn_with_platform_instance(pg.platform, name, config.platform_instance, config.env)
    if source["type"] == "redshift":
        from datahub.ingestion.source.redshift.config import RedshiftConfig, dataset_name

        config = RedshiftConfig.model_validate(source["config"])
        name = dataset_name(config.database, SCHEMA, TABLE)
        # RedshiftSource.gen_dataset_urn, which needs a live connection to construct.
        return make_dataset_urn_with_platform_instance("redshift", name, config.platform_instance, config.env)
    raise AssertionError(f"no URN rule for source type {source['type']}")


@pytest.mark.parametrize("stack", sorted(FIXTURE))
def test_emitted_urn_is_the_recipes_urn(stack: str, gms: StandIn, tmp_path: Path, monkeypatch) -> None:
    deployed = FIXTURE[stack]
    for name, value in deployed["userCodeEnv"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATAHUB_GMS_URL", gms.url)
    expected = recipe_urn(deployed["recipe"])

    validate(GOOD, orders_suite(), table=Table(SCHEMA, TABLE), docs_dir=tmp_path, settings=QualitySettings.from_env())

    events = [p["aspect"] for p in gms.proposals() if p["aspectName"] == "assertionRunEvent"]
    assert events and {e["asserteeUrn"] for e in events} == {expected}
    assert expected.startswith(f"urn:li:dataset:(urn:li:dataPlatform:{deployed['recipe']['source']['type']},")
