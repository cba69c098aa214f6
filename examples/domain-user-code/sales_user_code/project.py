"""The sales dbt project as Dagster sees it.

Kept free of other imports so `dagster-dbt project prepare-and-package --file` can load it at image build time.
"""

import os
from pathlib import Path

from dagster_dbt import DbtProject

# The platform passes the domain file's `dbt.projectDir` as DBT_PROJECT_DIR; without it (tests, the image
# build), the project beside the package, which the image puts at /opt/dagster/app/dbt (the default).
sales_project = DbtProject(
    project_dir=os.environ.get("DBT_PROJECT_DIR") or Path(__file__).resolve().parent.parent / "dbt"
)
# `dagster dev` re-parses on reload; images bake target/manifest.json at build time instead.
sales_project.prepare_if_dev()
