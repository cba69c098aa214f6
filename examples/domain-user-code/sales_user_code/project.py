"""The sales dbt project as Dagster sees it.

Kept free of other imports so `dagster-dbt project prepare-and-package --file` can load it at image build time.
"""

from pathlib import Path

from dagster_dbt import DbtProject

# Beside the package: the image puts it at /opt/dagster/app/dbt, the domain file's default `dbt.projectDir`.
sales_project = DbtProject(project_dir=Path(__file__).resolve().parent.parent / "dbt")
# `dagster dev` re-parses on reload; images bake target/manifest.json at build time instead.
sales_project.prepare_if_dev()
