#!/usr/bin/env bash
# Runs the whole suite on SQLite, then on PostgreSQL when one is reachable.
# TEST_DATABASE_URL names a PostgreSQL server database to use; otherwise the local server on
# 127.0.0.1:5432 is tried. REQUIRE_POSTGRES=1 (set by CI) makes a missing PostgreSQL a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

# Known vulnerabilities in what is installed fail the run; an unreachable service only warns (scripts/audit.py).
echo "== pip-audit =="
$PY scripts/audit.py
audit_rc=$?

echo "== tests on SQLite =="
env -u TEST_DATABASE_URL $PY -m pytest -q -p no:cacheprovider "$@"
sqlite_rc=$?

pg_url="${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
if $PY -m core.testdb check "$pg_url"; then
  echo "== tests on PostgreSQL ($($PY -m core.testdb describe "$pg_url")) =="
  TEST_DATABASE_URL="$pg_url" $PY -m pytest -q -p no:cacheprovider "$@"
  pg_rc=$?
else
  echo "!! PostgreSQL is not reachable at $($PY -m core.testdb describe "$pg_url"): the PostgreSQL pass was NOT run"
  if [ "${REQUIRE_POSTGRES:-0}" = "1" ]; then pg_rc=1; else pg_rc=0; fi
fi

if [ $audit_rc -ne 0 ] || [ $sqlite_rc -ne 0 ] || [ $pg_rc -ne 0 ]; then
  echo "FAILED: pip-audit=$audit_rc sqlite=$sqlite_rc postgresql=$pg_rc"
  exit 1
fi
echo "all test passes green (sqlite=$sqlite_rc postgresql=$pg_rc)"
