#!/usr/bin/env bash
# Load benchmark: seeds a large data set into a fresh database, starts a release build of the
# server and drives it over HTTP with wrk from a second process. Not a test — the numbers depend
# on the machine. Results go to bench/out/results.md (and the terminal).
#
#   bench/run.sh                      # SQLite in a temporary DATA_DIR
#   DATABASE_URL=postgres://… bench/run.sh
#   DURATION=30s CONNECTIONS=64 bench/run.sh
#   ONLY='material|write-off' bench/run.sh   # only scenarios whose name matches (grep -E)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-8123}
SUPPLIERS=${SUPPLIERS:-2000}
USERS_PER_SUPPLIER=${USERS_PER_SUPPLIER:-5}
NOTIFICATIONS=${NOTIFICATIONS:-20000}
ORDERS=${ORDERS:-20000}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product subcon >/dev/null
BIN="$(swift build -c release --show-bin-path)/subcon"

export DATA_DIR=${DATA_DIR:-$(mktemp -d /tmp/subcon-bench.XXXXXX)}
export LOG_LEVEL=warning
echo "seeding $SUPPLIERS suppliers × $USERS_PER_SUPPLIER users, $NOTIFICATIONS notifications per inbox, $ORDERS orders into ${DATABASE_URL:-$DATA_DIR}"
start=$(date +%s.%N)
"$BIN" seed-bench --suppliers "$SUPPLIERS" --users-per-supplier "$USERS_PER_SUPPLIER" --notifications "$NOTIFICATIONS" --orders "$ORDERS"
echo "seeded in $(echo "$(date +%s.%N) - $start" | bc) s"

"$BIN" serve --port "$PORT" >/tmp/subcon-bench-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

BASE="http://127.0.0.1:$PORT"
token() { curl -sf -XPOST "$BASE/api/v1/auth/token" -H 'Content-Type: application/json' \
  -d "{\"login\":\"$1\",\"password\":\"demo\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])'; }
ADMIN=$(token admin)
SUPPLIER=$(token supplier1)
JAR=$(mktemp)
curl -sf -c "$JAR" -b "$JAR" "$BASE/login" >/dev/null
CSRF=$(awk '/subcon_csrf/{print $7}' "$JAR")
curl -sf -c "$JAR" -b "$JAR" -d "login=admin&password=demo&_csrf=$CSRF" "$BASE/login" -o /dev/null
SESSION=$(awk '/subcon_session/{print $7}' "$JAR")
SUPPLIER_ORG=$(curl -sf "$BASE/api/v1/me" -H "Authorization: Bearer $SUPPLIER" | python3 -c 'import json,sys;print(json.load(sys.stdin)["organization"]["id"])')

mkdir -p bench/out
OUT=bench/out/results.md
{
  echo "| scenario | req/s | p50 | p90 | p99 | non-2xx |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
} >"$OUT"

run() {
  local name=$1; shift
  if [ -n "${ONLY:-}" ] && ! grep -Eq "$ONLY" <<<"$name"; then return; fi
  local raw
  raw=$(wrk -t"${THREADS:-2}" -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  local rps p50 p90 p99 errors
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$raw")
  p50=$(awk '$1=="50%"{print $2}' <<<"$raw")
  p90=$(awk '$1=="90%"{print $2}' <<<"$raw")
  p99=$(awk '$1=="99%"{print $2}' <<<"$raw")
  errors=$(awk '/Non-2xx/{print $5}' <<<"$raw")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p90" "$p99" "${errors:-0}" | tee -a "$OUT"
}

run "GET /healthz (database ping)" "$BASE/healthz"
run "GET /api/v1/me (token auth + 2 reads)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/me"
run "GET /api/v1/users page 100 of 10k (admin)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/users?page=100&per=50"
run "GET /api/v1/users?q=bs0199 (search)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/users?q=bs0199"
run "GET /api/v1/organizations/{own} (supplier)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/organizations/$SUPPLIER_ORG"
run "GET /api/v1/organizations (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/organizations"
run "GET /api/v1/notifications (20k inbox)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/notifications?per=20"
ORDER=$(curl -sf "$BASE/api/v1/orders?per=1" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys;print(json.load(sys.stdin)["items"][0]["id"])')
run "GET /api/v1/orders?awaiting=true (20k orders, buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders?awaiting=true&per=50"
run "GET /api/v1/orders page 100 (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders?page=100&per=50"
run "GET /api/v1/orders (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/orders?per=50"
run "GET /api/v1/orders/{id} (detail)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders/$ORDER"
run "GET /orders page (session, Leaf)" -H "Cookie: subcon_session=$SESSION" "$BASE/orders"
# Material: ~13k answered orders with an issue, a confirmation, and half of them a receipt and
# consumption (~33k movements over 50 lots), a fifth with a delivery note on its way.
WORKING=$(curl -sf "$BASE/api/v1/orders?status=in_production&per=1" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys;print(json.load(sys.stdin)["items"][0]["id"])')
run "GET /api/v1/material/stock (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/material/stock"
run "GET /api/v1/material/stock?supplierId (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/material/stock?supplierId=$SUPPLIER_ORG"
run "GET /api/v1/write-off (month, all suppliers)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/write-off"
run "GET /api/v1/write-off (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/write-off"
run "GET /api/v1/material/due-to-issue (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/material/due-to-issue"
run "GET /api/v1/material/due-to-arrive (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/material/due-to-arrive"
run "GET /api/v1/orders/{id}/material" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders/$WORKING/material"
run "GET /material page (session, Leaf)" -H "Cookie: subcon_session=$SESSION" "$BASE/material"
run "GET / home page (session, Leaf)" -H "Cookie: subcon_session=$SESSION" "$BASE/"
run "GET /admin/users page (session, Leaf)" -H "Cookie: subcon_session=$SESSION" "$BASE/admin/users?page=10"
# Quality: an inspection per receipt (~6.5k), a lot waiting for inspection on every tenth order
# (~1.3k), a quality exception on every fourth (~3.3k, half open).
run "GET /api/v1/inspections (work list, page of 50)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/inspections"
run "GET /api/v1/exceptions?status=open (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/exceptions?status=open&per=50"
run "GET /api/v1/exceptions (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/exceptions?status=open"
run "GET /api/v1/quality/stats (month, all suppliers)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/quality/stats"
run "GET /api/v1/lessons?q=划伤 (closed 8D search)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/lessons?q=%E5%88%92%E4%BC%A4"
run "GET /exceptions page (session, Leaf)" -H "Cookie: subcon_session=$SESSION" "$BASE/exceptions"
run "GET /inspections page (session, Leaf)" -H "Cookie: subcon_session=$SESSION" "$BASE/inspections"
# Settlement: a year of locked statements for every supplier (24k rows, for the lists and the
# change feed), then this month's statement generated over HTTP and timed: SUP-JG first (every
# tenth order: ~650 accepted receipt lines and ~160 exception penalties), then 30 others.
FINANCE=$(token finance)
PERIOD=$(TZ=${SUBCON_TIMEZONE:-Asia/Shanghai} date +%Y-%m)
gen() { curl -s -o /tmp/subcon-bench-statement.json -w '%{http_code} %{time_total}' -XPOST "$BASE/api/v1/statements" \
  -H "Authorization: Bearer $FINANCE" -H 'Content-Type: application/json' -d "{\"supplierId\":\"$1\",\"period\":\"$PERIOD\"}"; }
read -r CODE SECS <<<"$(gen "$SUPPLIER_ORG")"
JG_STATEMENT=$(python3 -c 'import json;print(json.load(open("/tmp/subcon-bench-statement.json")).get("id",""))')
JG_LINES=$(python3 -c 'import json;print(len(json.load(open("/tmp/subcon-bench-statement.json")).get("lines",[])))')
printf '| POST /api/v1/statements: generate SUP-JG %s (%s lines, HTTP %s) | — | %s ms | | | |\n' "$PERIOD" "$JG_LINES" "$CODE" \
  "$(echo "$SECS * 1000 / 1" | bc)" | tee -a "$OUT"
OTHERS=$(curl -sf "$BASE/api/v1/organizations?per=100" -H "Authorization: Bearer $ADMIN" | python3 -c '
import json,sys
print(" ".join(o["id"] for o in json.load(sys.stdin)["items"] if o["kind"]=="supplier" and o["code"].startswith("BS")))')
TIMES=""
for id in $(echo "$OTHERS" | tr ' ' '\n' | head -30); do read -r _ S <<<"$(gen "$id")"; TIMES="$TIMES $S"; done
python3 - "$TIMES" <<'PY' | tee -a "$OUT"
import sys
t = sorted(float(x) * 1000 for x in sys.argv[1].split())
if t:
    q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
    print(f"| POST /api/v1/statements: generate {len(t)} other suppliers, one each | — | {q(.5):.0f} ms | {q(.9):.0f} ms | {t[-1]:.0f} ms (max) | |")
PY
run "GET /api/v1/statements (24k, buyer, page 1)" -H "Authorization: Bearer $FINANCE" "$BASE/api/v1/statements?per=50"
run "GET /api/v1/statements page 100 (buyer)" -H "Authorization: Bearer $FINANCE" "$BASE/api/v1/statements?page=100&per=50"
run "GET /api/v1/statements?status=locked&period= (buyer)" -H "Authorization: Bearer $FINANCE" "$BASE/api/v1/statements?status=locked&period=$(TZ=Asia/Shanghai date -d '-1 month' +%Y-%m)"
run "GET /api/v1/statements (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/statements"
run "GET /api/v1/statements/changes?after=20000 (ERP feed)" -H "Authorization: Bearer $FINANCE" "$BASE/api/v1/statements/changes?after=20000"
[ -n "$JG_STATEMENT" ] && run "GET /api/v1/statements/{id} (SUP-JG, $JG_LINES lines)" -H "Authorization: Bearer $FINANCE" "$BASE/api/v1/statements/$JG_STATEMENT"
run "GET /statements page (session, Leaf)" -H "Cookie: subcon_session=$SESSION" "$BASE/statements"
# Every role's day: the to-do home and the dashboard as one person sees them (one connection),
# then the same and the reports under load.
SJAR=$(mktemp)
curl -sf -c "$SJAR" -b "$SJAR" "$BASE/login" >/dev/null
SCSRF=$(awk '/subcon_csrf/{print $7}' "$SJAR")
curl -sf -c "$SJAR" -b "$SJAR" -d "login=supplier1&password=demo&_csrf=$SCSRF" "$BASE/login" -o /dev/null
SSESSION=$(awk '/subcon_session/{print $7}' "$SJAR")
one() { local saved=$CONNECTIONS; CONNECTIONS=1 THREADS=1 run "$@"; CONNECTIONS=$saved; }
one "one person: GET /healthz (ceiling)" "$BASE/healthz"
one "one person: GET / to-do (admin, every kind)" -H "Cookie: subcon_session=$SESSION" "$BASE/"
one "one person: GET / to-do (supplier)" -H "Cookie: subcon_session=$SSESSION" "$BASE/"
one "one person: GET /dashboard (admin)" -H "Cookie: subcon_session=$SESSION" "$BASE/dashboard"
one "one person: GET /dashboard (supplier)" -H "Cookie: subcon_session=$SSESSION" "$BASE/dashboard"
run "GET / to-do page (admin)" -H "Cookie: subcon_session=$SESSION" "$BASE/"
run "GET /api/v1/dashboard (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/dashboard"
run "GET /api/v1/dashboard (supplier)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/dashboard"
run "GET /api/v1/orders?late=true (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders?late=true&per=50"
run "GET /api/v1/late-lines (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/late-lines?per=50"
run "GET /api/v1/late-lines (supplier)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/late-lines"
run "GET /api/v1/reports/order-progress (3 months, buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/reports/order-progress?supplierId=$SUPPLIER_ORG"
run "GET /api/v1/reports/delivery-performance (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/reports/delivery-performance"
run "GET /api/v1/reports/quality-by-supplier (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/reports/quality-by-supplier"
run "GET /api/v1/reports/exception-aging (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/reports/exception-aging"
run "GET /api/v1/reports/held-material (supplier)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/reports/held-material"
echo "results in $OUT (wrk: 2 threads, $CONNECTIONS connections, $DURATION each, same 2-core machine as the server)"
