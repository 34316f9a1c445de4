#!/usr/bin/env bash
# `make run`: prepare the database, then run web, worker, beat and the upstream simulator in the
# foreground until Ctrl-C. Every step is idempotent, so running it again reuses what exists.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export SIM_PORT="${SIM_PORT:-8081}"
mkdir -p var
python manage.py migrate --noinput
python manage.py seed_demo --simulator-url "http://127.0.0.1:${SIM_PORT}/api/v2"
# The catalog comes from the simulator, which honcho is about to start: fill it in the background.
seed_catalog() {
  if python manage.py seed_catalog Simulator --wait 90 >var/seed_catalog.log 2>&1; then
    echo "catalog: $(tail -n 1 var/seed_catalog.log)"
  else
    echo "catalog seeding failed: see var/seed_catalog.log"
  fi
}
seed_catalog &
seed_pid=$!
# A background job ignores Ctrl-C, so stop it (and its python) when we stop.
stop_seeding() {
  pkill -TERM -P "$seed_pid" 2>/dev/null || true
  kill "$seed_pid" 2>/dev/null || true
}
trap stop_seeding EXIT
echo "Panel: http://127.0.0.1:${PORT:-8000}/   backoffice: http://127.0.0.1:${PORT:-8000}/${ADMIN_URL:-admin/}   (Ctrl-C stops everything)"
honcho -f Procfile.dev start
