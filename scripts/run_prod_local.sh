#!/usr/bin/env bash
# The production topology on this machine: PostgreSQL + Redis, migrations once, N gunicorn processes and
# N worker processes with OTODOKE_ENV=production. Ctrl-C (or `scripts/run_prod_local.sh --stop`) stops all.
#   --web N       gunicorn processes (default 2)      --threads N  threads each (default 2, gthread)
#   --workers N   `otodoke worker` processes (default 2)
#   --port P      (default 8000)                      --sandboxes  turn the LINE/phone sandboxes on
#   --stop        stop a running instance ($PROD_LOCAL_DIR/prod_local.pid)
# Environment: PROD_DB (default postgresql://postgres@127.0.0.1:5432/otodoke_prod_local),
# JOBS_URL (default redis://127.0.0.1:6379/3), PROD_LOCAL_DIR (default instance: the pid files and the
# generated secret key, so two instances from one checkout each need their own); LINE_*/TWILIO_* as set.
set -euo pipefail
cd "$(dirname "$0")/.."

WEB=2 THREADS=2 WORKERS=2 PORT=8000 SANDBOXES=0 STOP=0 CHECK=0
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --web) WEB="${2:?}"; shift 2 ;;
    --threads) THREADS="${2:?}"; shift 2 ;;
    --workers) WORKERS="${2:?}"; shift 2 ;;
    --port) PORT="${2:?}"; shift 2 ;;
    --sandboxes) SANDBOXES=1; shift ;;
    --stop) STOP=1; shift ;;
    --print-config) CHECK=1; shift ;;   # print the settings and exit (tests)
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$WEB" "$THREADS" "$WORKERS" "$PORT"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive number: $n" >&2; exit 2; }
done

STATE="${PROD_LOCAL_DIR:-instance}"
mkdir -p "$STATE"
PIDFILE="$STATE/prod_local.pid"
if [[ $STOP == 1 ]]; then
  [[ -f $PIDFILE ]] || { echo "not running (no $PIDFILE)"; exit 0; }
  while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$PIDFILE"
  rm -f "$PIDFILE"; echo "stopped"; exit 0
fi

DB_URL="${PROD_DB:-postgresql://postgres@127.0.0.1:5432/otodoke_prod_local}"
export OTODOKE_ENV=production
export DATABASE_URL="$DB_URL"
export JOBS_URL="${JOBS_URL:-redis://127.0.0.1:6379/3}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}"
# A generated secret kept in $STATE (instance/, never committed): sessions and signed links survive restarts.
SECRET_FILE="$STATE/prod_local_secret"
[[ -s $SECRET_FILE ]] || { umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$SECRET_FILE"; }
export SECRET_KEY="$(cat "$SECRET_FILE")"
if [[ $SANDBOXES == 1 ]]; then export LINE_SANDBOX=1 TWILIO_SANDBOX=1; else export LINE_SANDBOX=0 TWILIO_SANDBOX=0; fi

if [[ $CHECK == 1 ]]; then
  echo "web=$WEB threads=$THREADS workers=$WORKERS port=$PORT sandboxes=$SANDBOXES"
  echo "DATABASE_URL=$DATABASE_URL JOBS_URL=$JOBS_URL OTODOKE_ENV=$OTODOKE_ENV"
  echo "PIDFILE=$PIDFILE SECRET_FILE=$SECRET_FILE"
  exit 0
fi
[[ -f $PIDFILE ]] && { echo "already running? $PIDFILE exists (use --stop)" >&2; exit 1; }

VENV=.venv/bin
DB_NAME="${DB_URL##*/}"; ADMIN_URL="${DB_URL%/*}/postgres"
if ! psql "$ADMIN_URL" -tAc "select 1 from pg_database where datname='$DB_NAME'" | grep -q 1; then
  psql "$ADMIN_URL" -qc "create database \"$DB_NAME\""
fi
"$VENV/otodoke" db upgrade          # migrations once, before any process starts (Procfile: release)

PIDS=()
stop_all() {
  trap - INT TERM EXIT
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$PIDFILE"; echo "run-prod-local: stopped"
}
trap stop_all INT TERM EXIT

for ((i = 0; i < WEB; i++)); do
  # One gunicorn master per "process" with one gthread worker each, as on N small instances; each
  # binds the same port with SO_REUSEPORT so the kernel spreads connections between them.
  "$VENV/gunicorn" --config python:otodoke.gunicorn_conf --workers 1 --threads "$THREADS" \
    --worker-class gthread --reuse-port --bind "127.0.0.1:$PORT" --access-logfile /dev/null \
    --pid "$STATE/prod_local_web$i.pid" 'otodoke:create_app()' &
  PIDS+=($!)
done
for ((i = 0; i < WORKERS; i++)); do
  "$VENV/otodoke" worker &
  PIDS+=($!)
done
printf '%s\n' "${PIDS[@]}" > "$PIDFILE"
echo "run-prod-local: http://127.0.0.1:$PORT  web ${WEB}x${THREADS} threads, $WORKERS workers (Ctrl-C stops all)"
wait
