#!/usr/bin/env bash
# `make bench-load`: the scaled topology (scripts/run_prod_local.sh) on a fresh PostgreSQL database, the fake
# LINE and Twilio APIs, locust headless (benchmarks/load.py), then the reconciliation and the table
# (benchmarks/load_check.py). Settings (environment):
#   LOAD_TIME (2m)  LOAD_USERS (120)  LOAD_SPAWN (20/s)  LOAD_PORT (8610)
#   LOAD_TOPOLOGY ("--web 2 --threads 4 --workers 2")   LOAD_DB (postgresql://postgres@127.0.0.1:5432/otodoke_load)
#   LOAD_JOBS_DB (11: the Redis database of the bench's job queue, apart from run-prod-local's 3)
#   LOAD_DIR (instance/load: the run's files, and the topology's pid files and secret in LOAD_DIR/topology)
# The database named by LOAD_DB is dropped and made again, the Redis database LOAD_JOBS_DB emptied and
# LOAD_DIR removed: never point them at ones you keep. Two runs at once need a LOAD_PORT, LOAD_DB,
# LOAD_JOBS_DB and LOAD_DIR each.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv/bin
TIME="${LOAD_TIME:-2m}" USERS="${LOAD_USERS:-120}" SPAWN="${LOAD_SPAWN:-20}" PORT="${LOAD_PORT:-8610}"
TOPOLOGY="${LOAD_TOPOLOGY:---web 2 --threads 4 --workers 2}"
DB="${LOAD_DB:-postgresql://postgres@127.0.0.1:5432/otodoke_load}"
JOBS_DB="${LOAD_JOBS_DB:-11}"
DIR="${LOAD_DIR:-instance/load}"
STATE="$DIR/topology"     # run_prod_local.sh's pid files and secret, apart from a run-prod-local's instance/
rm -rf "$DIR"; mkdir -p "$STATE"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then echo "port $PORT is in use (LOAD_PORT)" >&2; exit 1; fi

DB_NAME="${DB##*/}"
psql "${DB%/*}/postgres" -qc "drop database if exists \"$DB_NAME\" with (force)"
redis-cli -h 127.0.0.1 -p 6379 -n "$JOBS_DB" flushdb >/dev/null   # no job left from an earlier run
export JOBS_URL="redis://127.0.0.1:6379/$JOBS_DB"

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

LINE_PORT=$($VENV/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$VENV/python -m sandbox.fake_line --port "$LINE_PORT" --no-validate >/dev/null 2>&1 &
PIDS+=($!)
# The fake Twilio REST API (SMS and calls the orders queue), in a process of its own.
$VENV/python -c "
import sys, time
from sandbox.fake_twilio import serve
with serve() as (fake, url):
    open('$DIR/twilio_url', 'w').write(url); time.sleep(10**6)" &
PIDS+=($!)
for _ in $(seq 50); do [[ -s $DIR/twilio_url ]] && break; sleep 0.2; done

export LINE_CHANNEL_SECRET=load-line-secret LINE_CHANNEL_ACCESS_TOKEN=load-line-token
export LINE_API_HOST="http://127.0.0.1:$LINE_PORT"
export TWILIO_ACCOUNT_SID=ACload TWILIO_AUTH_TOKEN=load-twilio-token TWILIO_FROM_NUMBER=+815000000000
export TWILIO_API_BASE_URL="$(cat "$DIR/twilio_url")"
export PUBLIC_BASE_URL="http://127.0.0.1:$PORT" LOAD_DIR="$DIR" PYTHONPATH=.

# shellcheck disable=SC2086
PROD_DB="$DB" PROD_LOCAL_DIR="$STATE" bash scripts/run_prod_local.sh $TOPOLOGY --port "$PORT" > "$DIR/topology.log" 2>&1 &
PIDS+=($!)
# Up to LOAD_BOOT_S (90) seconds for the gunicorn processes to import the app: a busy machine takes more than 30.
BOOT_DEADLINE=$((SECONDS + ${LOAD_BOOT_S:-90}))
while ((SECONDS < BOOT_DEADLINE)); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null && break; sleep 0.5
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" || { echo "topology did not come up:"; cat "$DIR/topology.log"; exit 1; }
$VENV/python -m benchmarks.load_seed --db "$DB" --jobs "$JOBS_URL" --secret-file "$STATE/prod_local_secret" --out "$DIR"

echo "uptime before: $(uptime)"
cpu_before=$($VENV/python -m benchmarks.load_check cpu "$STATE")
$VENV/locust -f benchmarks/load.py --headless --users "$USERS" --spawn-rate "$SPAWN" --run-time "$TIME" \
  --host "http://127.0.0.1:$PORT" --csv "$DIR/stats" --only-summary --loglevel WARNING > "$DIR/locust.log" 2>&1 || true
echo "uptime after:  $(uptime)"
cpu_after=$($VENV/python -m benchmarks.load_check cpu "$STATE")
echo "locust: $USERS users, spawn $SPAWN/s, $TIME; topology: $TOPOLOGY; $(nproc) cores"
# Reconcile while the workers still run: the outbox drains first, then the database is counted.
rc=0
$VENV/python -m benchmarks.load_check --db "$DB" --dir "$DIR" --fake-line "http://127.0.0.1:$LINE_PORT" \
  --web-cpu "$(python3 -c "print($cpu_after - $cpu_before)")" || rc=$?
exit $rc
