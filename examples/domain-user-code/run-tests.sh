#!/usr/bin/env bash
# Creates this example's venv if missing, installs the pinned requirements, runs the tests.
# Arguments go to pytest. SALES_TEST_POSTGRES_DSN (a libpq DSN) also runs the local-stack test against that PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/python -m pytest -q "$@"
