#!/usr/bin/env bash
# Creates this example's venv if missing, installs the pinned requirements, runs the tests.
# Arguments go to pytest. SALES_TEST_POSTGRES_DSN (a libpq DSN) runs the local-stack test against that
# PostgreSQL; without it, a throwaway PostgreSQL on loopback is started when the server binaries exist.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# The platform kit from this repository (the image installs it the same way: no dependencies of its own).
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e ../../kit

pg_bin() { command -v "$1" 2>/dev/null || ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | tail -n 1; }
if [ -z "${SALES_TEST_POSTGRES_DSN:-}" ] && [ -n "$(pg_bin initdb)" ]; then
  pgroot=$(mktemp -d)
  chmod 777 "$pgroot"
  as_pg=()
  [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)  # initdb refuses to run as root
  "${as_pg[@]}" "$(pg_bin initdb)" -D "$pgroot/data" -U postgres --auth=trust >/dev/null
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$(pg_bin pg_ctl)" -D "$pgroot/data" -l "$pgroot/server.log" -w \
    -o "-p $port -k $pgroot -c listen_addresses=127.0.0.1" start >/dev/null
  trap '"${as_pg[@]}" "$(pg_bin pg_ctl)" -D "$pgroot/data" -m immediate stop >/dev/null; rm -rf "$pgroot"' EXIT
  export SALES_TEST_POSTGRES_DSN="host=127.0.0.1 port=$port dbname=postgres user=postgres"
fi
.venv/bin/python -m pytest -q "$@"
