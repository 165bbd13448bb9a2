#!/usr/bin/env bash
# Live updates end to end: a supplier's progress report reaches a buyer's open event stream,
# on SQLite (one instance) and — with DATABASE_URL set — across two instances sharing
# PostgreSQL (LISTEN/NOTIFY). Prints the latency per setup.
#
#   bench/live.sh
#   DATABASE_URL=postgres://…?tlsmode=disable bench/live.sh   # an empty database
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product subcon >/dev/null
BIN="$(swift build --show-bin-path)/subcon"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
wait_up() { for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.2; done; echo "no server on $1"; exit 1; }

echo "== SQLite, one instance"
DATA_DIR=$(mktemp -d) LOG_LEVEL=warning env -u DATABASE_URL "$BIN" serve --demo --port 8131 >/tmp/subcon-live-1.log 2>&1 & PIDS+=($!)
wait_up 8131
python3 bench/live.py http://127.0.0.1:8131 http://127.0.0.1:8131

if [ -n "${DATABASE_URL:-}" ]; then
  echo "== PostgreSQL, two instances"
  LOG_LEVEL=warning "$BIN" serve --demo --port 8132 >/tmp/subcon-live-2.log 2>&1 & PIDS+=($!)
  wait_up 8132
  LOG_LEVEL=warning "$BIN" serve --port 8133 >/tmp/subcon-live-3.log 2>&1 & PIDS+=($!)
  wait_up 8133
  python3 bench/live.py http://127.0.0.1:8132 http://127.0.0.1:8133
fi
