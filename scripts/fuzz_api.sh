#!/usr/bin/env bash
# API fuzzing and schema conformance: starts a demo server (SQLite, or PostgreSQL when
# DATABASE_URL is set) and runs schemathesis against /api/v1/openapi.json twice — signed in as a
# manufacturer administrator and as a supplier administrator — with the checks for server
# errors, response schema, status codes and content type. The operations that end the
# caller's own session (logout, password change, token revocation) are left out of that run:
# they would turn the rest into 401s; the test suite covers them by hand.
#
#   scripts/fuzz_api.sh [max examples per operation, default 25] [max seconds per persona, default 150]
#
# Exit 0 when no check failed. A longer, nightly-style run: scripts/fuzz_api.sh 300 1800
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${1:-25}
MAXTIME=${2:-150}
BIN=${SUBCON_BIN:-.build/debug/subcon}
PORT=${FUZZ_PORT:-18432}
DATA=$(mktemp -d /tmp/subcon-fuzz.XXXXXX)
REPORT=${FUZZ_REPORT_DIR:-$DATA/report}
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install -q schemathesis >/dev/null 2>&1
# The console script may not be on PATH (pyenv shims); call the CLI through the interpreter.
st() { python3 -c 'import sys; from schemathesis.cli import schemathesis; sys.argv[0] = "st"; schemathesis()' "$@"; }

DATA_DIR=$DATA LOG_LEVEL=error SUBCON_ROOT=$PWD "$BIN" serve --demo --port "$PORT" >"$DATA/server.log" 2>&1 &
SERVER=$!
# The database and stored files go at exit; the server's log and the report stay when it failed.
cleanup() {
  rc=$?
  kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true
  if [ "$rc" = 0 ]; then rm -rf "$DATA"; else echo "fuzzing's files kept in $DATA"; fi
}
trap cleanup EXIT
for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.5; done

token() {
  curl -fsS -XPOST "http://127.0.0.1:$PORT/api/v1/auth/token" -H 'Content-Type: application/json' \
    -d "{\"login\":\"$1\",\"password\":\"demo\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])'
}

status=0
total=0
# The supplier first: the administrator's run may deactivate the supplier's organization (that is
# allowed to it), which would leave the supplier's run with nothing but 401s.
export SCHEMATHESIS_HOOKS=scripts.schemathesis_hooks
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
for login in supplier1 admin; do
  TOKEN=$(token "$login")
  echo "== schemathesis as $login (at most $EXAMPLES examples per operation, ${MAXTIME}s)"
  set +e
  st run "http://127.0.0.1:$PORT/api/v1/openapi.json" --url "http://127.0.0.1:$PORT" \
    -H "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-operation-id logout --exclude-operation-id changePassword --exclude-operation-id revokeToken --exclude-operation-id resetPassword \
    --exclude-path /api/v1/auth/token --exclude-path-regex '/events$' \
    --phases examples,coverage,fuzzing --max-examples "$EXAMPLES" --max-time "$MAXTIME" \
    --seed 20261201 --workers 2 --suppress-health-check all --warnings off \
    --report ndjson --report-ndjson-path "$REPORT/$login.ndjson" --output-truncate true
  rc=$?
  set -e
  n=$(grep -c '"ScenarioFinished"\|"NonFatalError"' "$REPORT/$login.ndjson" 2>/dev/null || true)
  reqs=$(python3 - "$REPORT/$login.ndjson" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    def count(o):
        global n
        if isinstance(o, dict):
            if "response" in o and isinstance(o.get("response"), dict) and "status_code" in o["response"]:
                n += 1
            for v in o.values(): count(v)
        elif isinstance(o, list):
            for v in o: count(v)
    count(ev)
print(n)
PY
)
  echo "== $login: $reqs requests checked, schemathesis exit $rc"
  total=$((total + reqs))
  [ $rc -eq 0 ] || status=1
done
echo "API fuzzing: $total requests in all"
if grep -q "Internal Server Error\|PANIC\|Fatal error" "$DATA/server.log"; then
  echo "the server logged a crash or a 500:"; tail -n 40 "$DATA/server.log"; status=1
fi
exit $status
