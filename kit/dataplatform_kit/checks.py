"""`gx_check`: one call declares a Great Expectations suite as a Dagster asset check on an asset.

What the returned check does on every run:
- loads the asset's data (`load()`), runs the suite as a GX checkpoint (see `validation.py`);
- writes Data Docs to the domain bucket through the `docs_resource` (any resource with
  `put_tree(root, prefix)` and `uri(key)`) and links them from the check's metadata;
- publishes the results to DataHub as assertions with run events on the table's dataset URN,
  unless the domain turned catalog publishing off (`quality.catalog: false`);
- reports a failure with ERROR severity when the domain's policy (`quality.blockOn`) says a failed
  check of this severity blocks, WARN otherwise. The check is declared `blocking=True` exactly when it
  can block, so Dagster skips downstream assets in the same run after a blocking failure.
Alerts are the sensor's job (`alerts.quality_alert_sensor`): a failed check does not fail the run.
"""

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from dataplatform_kit.settings import QualitySettings, Severity
from dataplatform_kit.validation import Table, dataset_urn, validate

# Check metadata keys the alert sensor reads back.
SEVERITY_KEY = "quality/severity"
DOMAIN_KEY = "quality/domain"
DOCS_KEY = "data_docs"
FAILED_KEY = "failed_expectations"
KIT_TAG = "dataplatform-kit/gx"


def gx_check(
    asset: AssetKey | str,
    suite: gx.ExpectationSuite,
    *,
    load: Callable[[], pd.DataFrame],
    table: tuple[str, str],
    severity: Severity = "error",
    name: str = "gx_suite",
    docs_resource: str = "lake",
    docs_prefix: str = "docs",
    settings: QualitySettings | None = None,
) -> AssetChecksDefinition:
    """A Dagster asset check on `asset` running `suite` over `load()`; `table` is (schema, table) in the warehouse."""
    policy = settings or QualitySettings.from_env()
    if severity not in ("error", "warning"):
        raise ValueError(f"severity={severity!r}: expected 'error' or 'warning'")
    blocks = policy.blocks(severity)
    target = Table(*table)
    key = AssetKey.from_user_string(asset) if isinstance(asset, str) else asset

    @asset_check(
        asset=key,
        name=name,
        blocking=blocks,
        required_resource_keys={docs_resource},
        description=f"Great Expectations suite `{suite.name}` ({severity}"
        + (", blocks downstream assets)." if blocks else ", reports only)."),
        metadata={KIT_TAG: suite.name},
    )
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        # Re-read at run time: the catalog URL and token can change without reloading the code.
        current = settings or QualitySettings.from_env()
        docs = getattr(context.resources, docs_resource)
        frame = load()
        with tempfile.TemporaryDirectory() as docs_dir:
            outcome = validate(frame, suite, table=target, docs_dir=Path(docs_dir), settings=current)
            docs.put_tree(Path(docs_dir), docs_prefix)
        metadata: dict[str, Any] = {
            "rows": len(frame),
            "evaluated_expectations": outcome.result.statistics["evaluated_expectations"],
            FAILED_KEY: MetadataValue.json(outcome.failed_expectations),
            DOCS_KEY: MetadataValue.url(docs.uri(f"{docs_prefix.rstrip('/')}/index.html")),
            "dataset_urn": dataset_urn(target, current),
            SEVERITY_KEY: severity,
            DOMAIN_KEY: current.domain,
        }
        if outcome.catalog is not None:
            metadata["catalog"] = outcome.catalog
        return AssetCheckResult(
            passed=bool(outcome.result.success),
            severity=AssetCheckSeverity.ERROR if blocks else AssetCheckSeverity.WARN,
            metadata=metadata,
        )

    return _check
