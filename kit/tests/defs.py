"""A three-step pipeline for the kit's tests: orders -> GX check -> published orders."""

from pathlib import Path

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, ConfigurableResource, Definitions, asset, define_asset_job
from dataplatform_kit import QualitySettings, gx_check, quality_alert_sensor
from suites import orders_suite

TABLE: dict[str, pd.DataFrame] = {}


class FolderDocs(ConfigurableResource):
    """A docs store in a local folder (the example's LakeResource has the same two methods)."""

    root: str

    def put_tree(self, root: Path, prefix: str) -> list[str]:
        keys = []
        for path in sorted(root.rglob("*")):
            if path.is_file():
                key = f"{prefix}/{path.relative_to(root).as_posix()}"
                target = Path(self.root) / key
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
                keys.append(key)
        return keys

    def uri(self, key: str) -> str:
        return (Path(self.root) / key).as_uri()


def build(settings: QualitySettings, severity: str, data: pd.DataFrame, docs_root: Path) -> Definitions:
    @asset
    def orders() -> None:
        TABLE["orders"] = data

    @asset(deps=[orders])
    def published_orders(context: AssetExecutionContext) -> None:
        context.log.info(f"publishing {len(TABLE['orders'])} rows")

    check = gx_check(
        AssetKey("orders"),
        orders_suite(),
        load=lambda: TABLE["orders"],
        table=("sales", "orders"),
        severity=severity,  # type: ignore[arg-type]
        settings=settings,
    )
    return Definitions(
        assets=[orders, published_orders],
        asset_checks=[check],
        jobs=[define_asset_job("daily", selection="*")],
        sensors=[quality_alert_sensor(settings=settings)],
        resources={"lake": FolderDocs(root=str(docs_root))},
    )
