# Two commands for a new machine: `make setup`, then `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup test test-scan lint plan scan test-examples test-kit local local-down

setup:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	# The policy pack pins its own protobuf/grpc, so it gets its own venv.
	$(PY) -m venv policy/.venv
	policy/.venv/bin/pip install --quiet -r policy/requirements.txt
	# checkov pins packaging<24 (the program needs >=26): its own venv too (tests/test_scan.py).
	$(PY) -m venv scan/.venv
	scan/.venv/bin/pip install --quiet -r scan/requirements.txt

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright

# Under 60 s on 2 cores; the checkov scan of every stack runs apart (test-scan, which .ci/run calls too).
test:
	$(BIN)/pytest -q -n 2 --ignore=tests/test_scan.py

test-scan:
	$(BIN)/pytest -q -n 2 tests/test_scan.py

# The example user code (dbt + Great Expectations on DuckDB) has its own venv and tests.
test-examples:
	bash examples/domain-user-code/run-tests.sh

# The user-code kit (kit/): real GX checkpoints, the DataHub plugin against a GMS stand-in, Dagster runs.
test-kit:
	bash kit/run-tests.sh

plan:
	$(BIN)/python -m platformctl plan --stack $(or $(STACK),dev)

# The whole platform on a laptop kind cluster (docs/local.md); CONTEXT=<name> uses an existing cluster.
local:
	$(BIN)/python -m platformctl.local up $(if $(CONTEXT),--context $(CONTEXT))

local-down:
	$(BIN)/python -m platformctl.local down

# checkov over a stack's objects and rendered releases, with scan/skips.yaml (also run by `make test`).
scan:
	$(BIN)/python -m platformctl.scan --stack $(or $(STACK),dev)
