"""Run a Great Expectations suite as a GX checkpoint: Data Docs to a folder, results to DataHub.

The checkpoint's actions are GX's own `UpdateDataDocsAction` and the DataHub GX plugin's GX Core 1.x
action (`datahub_gx_plugin.action_v1.DataHubValidationAction`), which emits one assertion per
expectation and a run event per result to the domain's DataHub, authenticated with the domain's token.
In-memory (pandas) batches carry no table identity, so the action gets `platform` and `dataset_name`
explicitly: the same `<database>.<schema>.<table>` the domain's warehouse ingestion recipe names.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import great_expectations as gx
import pandas as pd
from datahub.emitter.mce_builder import make_dataset_urn_with_platform_instance
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from dataplatform_kit.settings import QualitySettings, catalog_token

DOCS_SITE = "lake"
CATALOG_ACTION = "datahub"
CATALOG_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Table:
    """A warehouse table as the domain's ingestion recipe names it in DataHub."""

    schema: str
    name: str

    def dataset_name(self, database: str) -> str:
        # The PostgreSQL and Redshift sources name tables <database>.<schema>.<table>.
        return f"{database}.{self.schema}.{self.name}"


def dataset_urn(table: Table, settings: QualitySettings) -> str:
    return make_dataset_urn_with_platform_instance(
        platform=settings.dataset_platform,
        name=table.dataset_name(settings.dataset_database),
        platform_instance=None,
        env=settings.datahub_env,
    )


@dataclass(frozen=True)
class Outcome:
    result: ExpectationSuiteValidationResult
    # None: publishing is off or no catalog is configured; else the action's own report.
    catalog: str | None

    @property
    def failed_expectations(self) -> list[str]:
        return [
            f"{r.expectation_config.type}({r.expectation_config.kwargs.get('column')})"
            for r in self.result.results
            if not r.success and r.expectation_config is not None
        ]


@functools.cache
def _reporting_action_class() -> type:
    """The plugin's action, unchanged, but keeping its report (GX discards action results).

    Imported lazily: the plugin refuses to import under GX 0.x. Built once, because GX registers
    every action class by its `type`.
    """
    from datahub_gx_plugin.action_v1 import DataHubValidationAction

    class ReportingDataHubAction(DataHubValidationAction):
        type: Literal["dataplatform_kit_datahub"] = "dataplatform_kit_datahub"  # type: ignore[assignment]
        # GX stores the checkpoint and runs a re-parsed copy, so the key must be a field.
        report_key: str = ""

        def run(self, checkpoint_result: Any, action_context: Any = None) -> dict:
            outcome = super().run(checkpoint_result, action_context)
            _REPORTS.setdefault(self.report_key, []).append(str(outcome.get("datahub_notification_result")))
            return outcome

    return ReportingDataHubAction


# Reports by run key; popped by `validate` after its checkpoint ran.
_REPORTS: dict[str, list[str]] = {}


def _catalog_action(table: Table, settings: QualitySettings, report_key: str) -> Any | None:
    if not (settings.catalog and settings.gms_url):
        return None
    action = _reporting_action_class()(
        name=CATALOG_ACTION,
        server_url=settings.gms_url,
        token=catalog_token(),
        platform=settings.dataset_platform,
        dataset_name=table.dataset_name(settings.dataset_database),
        env=settings.datahub_env,
        timeout_sec=CATALOG_TIMEOUT_SECONDS,
        # A catalog outage must not fail the data check; the outcome lands in the check's metadata.
        graceful_exceptions=True,
        # Results are written when the call returns, so the check's metadata tells the truth.
        emit_mode="SYNC_PRIMARY",
        report_key=report_key,
    )
    return action


def validate(
    frame: pd.DataFrame,
    suite: gx.ExpectationSuite,
    *,
    table: Table,
    docs_dir: Path,
    settings: QualitySettings,
) -> Outcome:
    """Validate `frame` against a copy of `suite` in an ephemeral context; Data Docs go to `docs_dir`."""
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            # Pods have no internet egress; GX would otherwise try to send usage events.
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            data_docs_sites={
                DOCS_SITE: {
                    "class_name": "SiteBuilder",
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                }
            },
        ),
    )
    batch = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset(table.name)
        .add_batch_definition_whole_dataframe("whole table")
    )
    # A fresh suite per context: GX binds a suite to the context that stored it.
    suite = context.suites.add(
        gx.ExpectationSuite(name=suite.name, expectations=[e.copy() for e in suite.expectations])
    )
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=suite.name, data=batch, suite=suite))
    actions: list[Any] = [UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE])]
    report_key = uuid.uuid4().hex
    catalog = _catalog_action(table, settings, report_key)
    if catalog is not None:
        actions.append(catalog)
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=suite.name, validation_definitions=[definition], actions=actions)
    )
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    (result,) = run.run_results.values()
    reports = _REPORTS.pop(report_key, [])
    return Outcome(result=result, catalog=reports[0] if reports else None)
