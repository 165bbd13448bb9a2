#!/usr/bin/env bash
# Load benchmark: seeds a large data set into a fresh database, starts a release build of the
# server and drives it over HTTP with wrk from a second process. Not a test — the numbers depend
# on the machine, so every figure is printed beside the same run's ceiling (an unmatched route
# through all middleware) as a share of it. Results go to bench/out/results.md (and the terminal).
#
#   bench/run.sh                      # SQLite in a temporary DATA_DIR, the large data set
#   SCALE=small bench/run.sh          # 20,000 orders × 3 lines, 2,000 suppliers (a quick look)
#   DATABASE_URL=postgres://… bench/run.sh
#   DATABASE_URL=postgres://… INSTANCES=2 bench/run.sh   # also two instances behind nginx
#   DURATION=30s CONNECTIONS=64 bench/run.sh
#   ONLY='material|write-off' bench/run.sh   # only scenarios whose name matches (grep -E)
#   SEEDED=1 DATA_DIR=… bench/run.sh  # reuse a database seeded by an earlier run
#   BIN=/tmp/subcon-before bench/run.sh  # a binary built earlier, not the checkout's
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-8123}
NOTIFICATIONS=${NOTIFICATIONS:-20000}
if [ "${SCALE:-large}" = small ]; then
  SUPPLIERS=${SUPPLIERS:-2000}; USERS_PER_SUPPLIER=${USERS_PER_SUPPLIER:-5}; ORDERS=${ORDERS:-20000}
  LINES=${LINES:-3}; ITEMS=${ITEMS:-1}; MONTHS=${MONTHS:-1}
else
  # 1,000 suppliers, 50,000 items, 200,000 orders × 5 lines over 24 months: about 2 million
  # ledger movements, half a million inspections, 100,000 exceptions, 24,000 statements.
  SUPPLIERS=${SUPPLIERS:-1000}; USERS_PER_SUPPLIER=${USERS_PER_SUPPLIER:-5}; ORDERS=${ORDERS:-200000}
  LINES=${LINES:-5}; ITEMS=${ITEMS:-50000}; MONTHS=${MONTHS:-24}
fi

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# BIN=path/to/subcon runs a binary built earlier (two builds compared, one after the other).
if [ -z "${BIN:-}" ]; then
  swift build -c release --product subcon >/dev/null
  BIN="$(swift build -c release --show-bin-path)/subcon"
fi

export DATA_DIR=${DATA_DIR:-$(mktemp -d /tmp/subcon-bench.XXXXXX)}
# The run's own scratch files (cookies, scripts, memory samples), removed when it ends; DATA_DIR
# stays, to be run again with SEEDED=1.
SCRATCH=$(mktemp -d /tmp/subcon-bench-run.XXXXXX)
export LOG_LEVEL=warning
if [ -z "${SEEDED:-}" ]; then
  echo "seeding $SUPPLIERS suppliers × $USERS_PER_SUPPLIER users, $ORDERS orders × $LINES lines over $ITEMS items and $MONTHS months into ${DATABASE_URL:-$DATA_DIR}"
  start=$(date +%s.%N)
  "$BIN" seed-bench --suppliers "$SUPPLIERS" --users-per-supplier "$USERS_PER_SUPPLIER" --notifications "$NOTIFICATIONS" --orders "$ORDERS" \
    --lines-per-order "$LINES" --items "$ITEMS" --months "$MONTHS"
  echo "seeded in $(echo "$(date +%s.%N) - $start" | bc) s"
fi

"$BIN" serve --port "$PORT" >/tmp/subcon-bench-server.log 2>&1 &
SERVER=$!
PIDS="$SERVER"
trap 'kill $PIDS 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

BASE="http://127.0.0.1:$PORT"
# Signing in is retried for up to two minutes: on a file not yet in the page cache, the first
# background passes after a start hold the database connections while they read it in.
token() {
  for _ in $(seq 1 120); do
    curl -sf -XPOST "$BASE/api/v1/auth/token" -H 'Content-Type: application/json' -d "{\"login\":\"$1\",\"password\":\"demo\"}" \
      | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])' 2>/dev/null && return
    sleep 1
  done
  echo "could not sign in as $1" >&2; return 1
}
ADMIN=$(token admin)
SUPPLIER=$(token supplier1)
JAR=$(mktemp -p "$SCRATCH")
curl -sf -c "$JAR" -b "$JAR" "$BASE/login" >/dev/null
CSRF=$(awk '/subcon_csrf/{print $7}' "$JAR")
curl -sf -c "$JAR" -b "$JAR" -d "login=admin&password=demo&_csrf=$CSRF" "$BASE/login" -o /dev/null
SESSION=$(awk '/subcon_session/{print $7}' "$JAR")
# The largest supplier's own session: its phone pages (work list, material hub) read SUP-JG's
# tenth of all orders.
SJAR=$(mktemp -p "$SCRATCH")
curl -sf -c "$SJAR" -b "$SJAR" "$BASE/login" >/dev/null
SCSRF=$(awk '/subcon_csrf/{print $7}' "$SJAR")
curl -sf -c "$SJAR" -b "$SJAR" -d "login=supplier1&password=demo&_csrf=$SCSRF" "$BASE/login" -o /dev/null
SSESSION=$(awk '/subcon_session/{print $7}' "$SJAR")
SUPPLIER_ORG=$(curl -sf "$BASE/api/v1/me" -H "Authorization: Bearer $SUPPLIER" | python3 -c 'import json,sys;print(json.load(sys.stdin)["organization"]["id"])')
# An ordinary supplier, one of the seeded thousand (a few hundred documents, not SUP-JG's tenth):
# lists that walk an index shared by every supplier and filter it are slowest for the smallest.
SMALL_LOGIN=$(printf 'bs%05d-00' $((SUPPLIERS / 2)))
SMALL=$(token "$SMALL_LOGIN")
SMALL_CODE=$(printf 'BS%05d' $((SUPPLIERS / 2)))
SMJAR=$(mktemp -p "$SCRATCH")
curl -sf -c "$SMJAR" -b "$SMJAR" "$BASE/login" >/dev/null
SMCSRF=$(awk '/subcon_csrf/{print $7}' "$SMJAR")
curl -sf -c "$SMJAR" -b "$SMJAR" -d "login=$SMALL_LOGIN&password=demo&_csrf=$SMCSRF" "$BASE/login" -o /dev/null
SMSESSION=$(awk '/subcon_session/{print $7}' "$SMJAR")

mkdir -p bench/out
OUT=bench/out/results.md
{
  echo "| scenario | req/s | share of ceiling | p50 | p90 | p99 | non-2xx |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$OUT"
CEILING=""

run() {
  local name=$1; shift
  if [ -n "${ONLY:-}" ] && ! grep -Eq "$ONLY" <<<"$name"; then return; fi
  local raw
  raw=$(wrk -t"${THREADS:-2}" -c"$CONNECTIONS" -d"$DURATION" --timeout "${TIMEOUT:-10s}" --latency "$@")
  local rps p50 p90 p99 errors
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$raw")
  p50=$(awk '$1=="50%"{print $2}' <<<"$raw")
  p90=$(awk '$1=="90%"{print $2}' <<<"$raw")
  p99=$(awk '$1=="99%"{print $2}' <<<"$raw")
  errors=$(awk '/Non-2xx/{print $5}' <<<"$raw")
  local share="—"
  [ -n "$CEILING" ] && share=$(python3 -c "print(f'{$rps / $CEILING:.3f}')")
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$rps" "$share" "$p50" "$p90" "$p99" "${errors:-0}" | tee -a "$OUT"
  settle
  printf '| %s | %s MB |\n' "$name" "$(( $(cat "$SCENE" 2>/dev/null || echo 0) / 1024 ))" >>"$MEMORY"
  echo 0 >"$SCENE"
}

# wrk stops sending when its time is up, but requests it left queued still run on the server:
# wait (up to a minute) until the server answers promptly again, so that one slow scenario does
# not spill into the next one's figures.
# The server's own memory (anonymous pages), sampled twice a second: VmHWM also counts the
# pages of the database file SQLite reads through its memory map, which are the kernel's page
# cache, shared and reclaimable.
# SCENE holds the peak since the last scenario began, so bench/out/memory.md says which request
# needs the memory.
ANON=$(mktemp -p "$SCRATCH"); SCENE=$(mktemp -p "$SCRATCH"); echo 0 >"$SCENE"
MEMORY=bench/out/memory.md
printf '| scenario | peak anonymous memory |\n| --- | ---: |\n' >"$MEMORY"
( peak=0; while kill -0 "$SERVER" 2>/dev/null; do
    a=$(awk '/RssAnon/{print $2}' "/proc/$SERVER/status" 2>/dev/null || echo 0)
    [ "${a:-0}" -gt "$peak" ] && { peak=$a; echo "$peak" >"$ANON"; }
    [ "${a:-0}" -gt "$(cat "$SCENE" 2>/dev/null || echo 0)" ] && echo "$a" >"$SCENE"
    sleep 0.5
  done ) &
PIDS="$PIDS $!"
# Idle means the server process used under 5 % of a core over half a second: a quick /healthz is
# not enough, since one event loop's database connection may be free while the other's still
# works through the queue.
settle() {
  local a b
  for _ in $(seq 1 120); do
    a=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
    sleep 0.5
    b=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
    [ $((b - a)) -le 2 ] && return
  done
  echo "| (the server was still busy a minute after the scenario above) | | | | | | |" | tee -a "$OUT"
}

# The ceiling: an API route nobody matches, through every middleware (a small 404 problem
# document; outside /api a 404 is a whole HTML page), so the share says how much of what the
# HTTP stack allows a request uses. It is taken once the server is idle: the background passes
# a start runs (the sweep of late lines, the corrective checks, the scorecards' grading) take
# about 3 s of CPU on the large data set, and a ceiling taken beside them came out 10–35 % low,
# which made every share look that much better. It is taken again after the reads, for the
# drift of a busy machine.
ceiling() {
  local raw rps
  settle
  raw=$(wrk -t"${THREADS:-2}" -c"$CONNECTIONS" -d"$DURATION" --latency "$1/api/v1/no-such-route")
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$raw")
  [ -z "$CEILING" ] && CEILING=$rps
  printf '| ceiling: unmatched route, all middleware (%s)%s | %s | %s | %s | %s | %s | — |\n' "$1" "$2" "$rps" \
    "$(python3 -c "print(f'{$rps / $CEILING:.3f}')")" \
    "$(awk '$1=="50%"{print $2}' <<<"$raw")" "$(awk '$1=="90%"{print $2}' <<<"$raw")" "$(awk '$1=="99%"{print $2}' <<<"$raw")" | tee -a "$OUT"
}
CEILING=
ceiling "$BASE" ""

run "GET /healthz (database ping)" "$BASE/healthz"
run "GET /api/v1/me (token auth + 2 reads)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/me"
run "GET /api/v1/users page 100 of 10k (admin)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/users?page=100&per=50"
run "GET /api/v1/users?q=bs0019 (search, a page of 50 found)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/users?q=bs0019&per=50"
run "GET /api/v1/items?q=BI0200 (search of 50k items)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/items?q=BI0200&per=50"
run "GET /api/v1/organizations/{own} (supplier)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/organizations/$SUPPLIER_ORG"
run "GET /api/v1/organizations (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/organizations"
run "GET /api/v1/notifications (20k inbox)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/notifications?per=20"
ORDER=$(curl -sf "$BASE/api/v1/orders?per=1" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys;print(json.load(sys.stdin)["items"][0]["id"])')
run "GET /api/v1/orders?awaiting=true (20k orders, buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders?awaiting=true&per=50"
run "GET /api/v1/orders page 100 (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders?page=100&per=50"
run "GET /api/v1/orders (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/orders?per=50"
run "GET /api/v1/orders?q=BX-01999 (search by code, buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders?q=BX-01999&per=50"
run "GET /api/v1/orders/{id} (detail)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders/$ORDER"
run "GET /orders page (session, written in Swift)" -H "Cookie: subcon_session=$SESSION" "$BASE/orders"
# Material: ~13k answered orders with an issue, a confirmation, and half of them a receipt and
# consumption (~33k movements over 50 lots), a fifth with a delivery note on its way.
WORKING=$(curl -sf "$BASE/api/v1/orders?status=in_production&per=1" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys;print(json.load(sys.stdin)["items"][0]["id"])')
run "GET /api/v1/material/stock (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/material/stock"
run "GET /api/v1/material/stock?supplierId (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/material/stock?supplierId=$SUPPLIER_ORG"
run "GET /api/v1/material/stock page 100 (buyer, every supplier)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/material/stock?page=100"
run "GET /api/v1/material/due-to-issue (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/material/due-to-issue"
run "GET /api/v1/material/due-to-arrive (buyer, 50 lines)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/material/due-to-arrive"
run "GET /api/v1/material/due-to-arrive (supplier, 50 lines)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/material/due-to-arrive"
# The key after the supplier's 500th line to arrive: a page far down the list, walked by key.
next_after() { curl -sf "$1" -H "Authorization: Bearer $2" | python3 -c 'import json,sys;print(json.load(sys.stdin).get("next",""))'; }
ARRIVE_AFTER=$(next_after "$BASE/api/v1/material/due-to-arrive?limit=500" "$SUPPLIER")
run "GET /api/v1/material/due-to-arrive (supplier, after the 500th line)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/material/due-to-arrive?after=$ARRIVE_AFTER"
run "GET /api/v1/receipts?awaiting=true (supplier)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/receipts?awaiting=true"
run "GET /api/v1/receipts (buyer, 50 newest)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/receipts"
RECEIPTS_AFTER=$(next_after "$BASE/api/v1/receipts?limit=500" "$ADMIN")
run "GET /api/v1/receipts (buyer, after the 500th)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/receipts?after=$RECEIPTS_AFTER"
run "GET /api/v1/deliveries?open=true (buyer, 50)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/deliveries?open=true"
run "GET /api/v1/material/documents (buyer, 50 newest)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/material/documents"
run "GET /api/v1/material/documents (supplier, 50 newest)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/material/documents"
run "GET /api/v1/material/documents (ordinary supplier, 50 newest)" -H "Authorization: Bearer $SMALL" "$BASE/api/v1/material/documents"
run "GET /api/v1/orders/{id}/material" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders/$WORKING/material"
run "GET /material page (session, first ten rows of each list)" -H "Cookie: subcon_session=$SESSION" "$BASE/material"
run "GET /material page (supplier, session, first ten rows of each list)" -H "Cookie: subcon_session=$SSESSION" "$BASE/material"
run "GET /material page (ordinary supplier, session)" -H "Cookie: subcon_session=$SMSESSION" "$BASE/material"
run "GET /material?list=arrive (supplier, one list opened whole: 50 rows)" -H "Cookie: subcon_session=$SSESSION" "$BASE/material?list=arrive"
run "GET /material?list=arrive (supplier, after the 500th line)" -H "Cookie: subcon_session=$SSESSION" "$BASE/material?list=arrive&after=$ARRIVE_AFTER"
run "GET /work page (supplier's work list, session, Swift)" -H "Cookie: subcon_session=$SSESSION" "$BASE/work"
run "GET /work page (ordinary supplier's work list, session)" -H "Cookie: subcon_session=$SMSESSION" "$BASE/work"
run "GET /work page 100 (supplier's work list, deep)" -H "Cookie: subcon_session=$SSESSION" "$BASE/work?page=100"
run "GET /api/v1/work (supplier's work list, page of 50)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/work"
run "GET /material/stock page (session, every supplier, 50 rows)" -H "Cookie: subcon_session=$SESSION" "$BASE/material/stock"
run "GET /material/stock page (session, one supplier by code)" -H "Cookie: subcon_session=$SESSION" "$BASE/material/stock?supplierCode=$SMALL_CODE"
run "GET /prices page (session, price agreements, filter of 1,000 suppliers)" -H "Cookie: subcon_session=$SESSION" "$BASE/prices"
run "GET /deliveries page (session, Swift)" -H "Cookie: subcon_session=$SESSION" "$BASE/deliveries"
run "GET /deliveries page (supplier, session, Swift)" -H "Cookie: subcon_session=$SSESSION" "$BASE/deliveries"
run "GET / home page (session, Leaf)" -H "Cookie: subcon_session=$SESSION" "$BASE/"
run "GET / home page (supplier, session, Leaf)" -H "Cookie: subcon_session=$SSESSION" "$BASE/"
run "GET / home page (ordinary supplier, session)" -H "Cookie: subcon_session=$SMSESSION" "$BASE/"
run "GET /api/v1/inspections/recent (buyer, 50 whole)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/inspections/recent"
run "GET /admin/users page (session, Leaf)" -H "Cookie: subcon_session=$SESSION" "$BASE/admin/users?page=10"
# Quality: an inspection per receipt (~6.5k), a lot waiting for inspection on every tenth order
# (~1.3k), a quality exception on every fourth (~3.3k, half open).
run "GET /api/v1/inspections (work list, page of 50)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/inspections"
run "GET /api/v1/exceptions?status=open (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/exceptions?status=open&per=50"
run "GET /api/v1/exceptions (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/exceptions?status=open"
run "GET /api/v1/quality/stats (month, all suppliers)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/quality/stats"
run "GET /api/v1/corrective-checks (buyer, 50 latest)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/corrective-checks"
run "GET /api/v1/corrective-checks (ordinary supplier)" -H "Authorization: Bearer $SMALL" "$BASE/api/v1/corrective-checks"
run "GET /api/v1/lessons?q=划伤 (closed 8D search)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/lessons?q=%E5%88%92%E4%BC%A4"
run "GET /lessons page (session, the newest hundred closed 8D lessons)" -H "Cookie: subcon_session=$SESSION" "$BASE/lessons"
run "GET /exceptions page (session, Swift)" -H "Cookie: subcon_session=$SESSION" "$BASE/exceptions"
run "GET /inspections page (session, Swift)" -H "Cookie: subcon_session=$SESSION" "$BASE/inspections"
run "GET /late-lines page (session, Swift)" -H "Cookie: subcon_session=$SESSION" "$BASE/late-lines"
# Settlement: locked statements for every supplier up to the month before last (for the lists and
# the change feed), each holding its month's sources as a month-end leaves them; then the last
# closed month's statement generated over HTTP and timed: SUP-JG first (every tenth order: on the
# large data set about 2,400 accepted receipt lines and 280 exception penalties a month), then 30 others.
FINANCE=$(token finance)
if [ -z "${ONLY:-}" ] || grep -Eq "$ONLY" <<<"generate"; then
PERIOD=$(TZ=${SUBCON_TIMEZONE:-Asia/Shanghai} date -d "$(TZ=${SUBCON_TIMEZONE:-Asia/Shanghai} date +%Y-%m-15) -1 month" +%Y-%m)
gen() { curl -s -o "$SCRATCH/statement.json" -w '%{http_code} %{time_total}' -XPOST "$BASE/api/v1/statements" \
  -H "Authorization: Bearer $FINANCE" -H 'Content-Type: application/json' -d "{\"supplierId\":\"$1\",\"period\":\"$PERIOD\"}"; }
read -r CODE SECS <<<"$(gen "$SUPPLIER_ORG")"
JG_STATEMENT=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1])).get("id",""))' "$SCRATCH/statement.json")
JG_LINES=$(python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1])).get("lines",[])))' "$SCRATCH/statement.json")
if [ -z "$JG_STATEMENT" ]; then
  # Generated by an earlier run on the same data (a 409): time reading that one instead.
  JG_STATEMENT=$(curl -sf "$BASE/api/v1/statements?supplierId=$SUPPLIER_ORG&period=$PERIOD" -H "Authorization: Bearer $FINANCE" \
    | python3 -c 'import json,sys;i=json.load(sys.stdin)["items"];print(i[0]["id"] if i else "")')
  [ -n "$JG_STATEMENT" ] && JG_LINES=$(curl -sf "$BASE/api/v1/statements/$JG_STATEMENT" -H "Authorization: Bearer $FINANCE" \
    | python3 -c 'import json,sys;print(len(json.load(sys.stdin)["lines"]))')
fi
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
fi
run "GET /api/v1/statements (24k, buyer, page 1)" -H "Authorization: Bearer $FINANCE" "$BASE/api/v1/statements?per=50"
run "GET /api/v1/statements page 100 (buyer)" -H "Authorization: Bearer $FINANCE" "$BASE/api/v1/statements?page=100&per=50"
run "GET /api/v1/statements?status=locked&period= (buyer)" -H "Authorization: Bearer $FINANCE" "$BASE/api/v1/statements?status=locked&period=$(TZ=Asia/Shanghai date -d "$(TZ=Asia/Shanghai date +%Y-%m-15) -2 month" +%Y-%m)"
run "GET /api/v1/statements (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/statements"
run "GET /api/v1/statements/changes?after=20000 (ERP feed)" -H "Authorization: Bearer $FINANCE" "$BASE/api/v1/statements/changes?after=20000"
[ -n "${JG_STATEMENT:-}" ] && run "GET /api/v1/statements/{id} (SUP-JG, $JG_LINES lines)" -H "Authorization: Bearer $FINANCE" "$BASE/api/v1/statements/$JG_STATEMENT"
run "GET /statements page (session, Swift)" -H "Cookie: subcon_session=$SESSION" "$BASE/statements"
# Supplier scorecards: one supplier's for last month and for the year with its 12-month trend
# (SUP-JG, a tenth of all orders, and a supplier of ordinary size), and the ranking of all.
LAST_MONTH=$(TZ=Asia/Shanghai date -d '-1 month' +%Y-%m)
TYPICAL=$(curl -sf "$BASE/api/v1/organizations?kind=supplier&per=1&page=500" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys;print(json.load(sys.stdin)["items"][0]["id"])' 2>/dev/null || echo "$SUPPLIER_ORG")
run "GET /api/v1/organizations/{id}/scorecard (ordinary supplier, month)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/organizations/$TYPICAL/scorecard?period=$LAST_MONTH"
run "GET /api/v1/organizations/{id}/scorecard (ordinary supplier, year + trend)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/organizations/$TYPICAL/scorecard?period=$(TZ=Asia/Shanghai date +%Y)"
run "GET /api/v1/organizations/{id}/scorecard (SUP-JG, own, month)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/organizations/$SUPPLIER_ORG/scorecard?period=$LAST_MONTH"
run "GET /api/v1/scorecards (ranking of all suppliers, month)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/scorecards?period=$LAST_MONTH"
# Every role's day: the to-do home and the dashboard as one person sees them (one connection),
# then the same and the reports under load.
one() { local saved=$CONNECTIONS; CONNECTIONS=1 THREADS=1 run "$@"; CONNECTIONS=$saved; }
one "one person: GET /healthz (ceiling)" "$BASE/healthz"
one "one person: GET / to-do (admin, every kind)" -H "Cookie: subcon_session=$SESSION" "$BASE/"
one "one person: GET / to-do (supplier)" -H "Cookie: subcon_session=$SSESSION" "$BASE/"
one "one person: GET /dashboard (admin)" -H "Cookie: subcon_session=$SESSION" "$BASE/dashboard"
one "one person: GET /dashboard (supplier)" -H "Cookie: subcon_session=$SSESSION" "$BASE/dashboard"
one "one person: GET /api/v1/todo (admin)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/todo"
one "one person: GET /api/v1/todo (supplier)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/todo"
# The targets for a scorecard of the year and for the quality figures are for one request: timed alone.
one "one person: GET /api/v1/organizations/{id}/scorecard (SUP-JG, year + trend)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/organizations/$SUPPLIER_ORG/scorecard?period=$(TZ=Asia/Shanghai date +%Y)"
one "one person: GET /api/v1/organizations/{id}/scorecard (ordinary supplier, year + trend)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/organizations/$TYPICAL/scorecard?period=$(TZ=Asia/Shanghai date +%Y)"
# The write-off is a heavy read (two at a time, the rest queue or get 503): one person.
# At 64 connections the API's write-off was mostly 503s, and its rate measured the refusals.
one "one person: GET /write-off page (SUP-JG, 50 rows of the month)" -H "Cookie: subcon_session=$SSESSION" "$BASE/write-off"
one "one person: GET /write-off page (buyer, 50 rows of every supplier's month)" -H "Cookie: subcon_session=$SESSION" "$BASE/write-off"
one "one person: GET /api/v1/write-off (SUP-JG, scoped)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/write-off"
one "one person: GET /api/v1/write-off (month, all suppliers, every row)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/write-off"
one "one person: GET /api/v1/quality/stats (month, all suppliers)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/quality/stats"
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
run "GET /api/v1/orders?status=in_production (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/orders?status=in_production&per=50"
run "GET /api/v1/exceptions?status=open page 20 (buyer)" -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/exceptions?status=open&per=50&page=20"
run "GET /api/v1/notifications (supplier)" -H "Authorization: Bearer $SUPPLIER" "$BASE/api/v1/notifications?per=20"
# Progress reports, spread over the open lines of supplier1's orders in production that still
# have a unit to report, a ten-thousandth of a part each, so that runs on a database seeded once
# do not use the lines up (a report beyond the ordered quantity is refused with a 422, which
# would be counted, and is cheaper than a report taken).
LUA=$(mktemp -p "$SCRATCH" --suffix=.lua)
python3 - "$BASE" "$SUPPLIER" >"$LUA" <<'PY'
import json, sys, urllib.request
from decimal import Decimal
base, tok = sys.argv[1], sys.argv[2]
def get(path):
    return json.load(urllib.request.urlopen(urllib.request.Request(base + path, headers={"Authorization": "Bearer " + tok})))
pairs = []
for page in range(1, 11):
    for o in get(f"/api/v1/orders?status=in_production&per=50&page={page}")["items"]:
        for l in get(f"/api/v1/orders/{o['id']}/progress")["lines"]:
            if Decimal(l["quantity"]) - Decimal(l["good"]) >= 1:
                pairs.append((o["id"], l["line"]))
print("paths = {" + ",".join(json.dumps(f"/api/v1/orders/{i}/progress") for i, _ in pairs) + "}")
print("bodies = {" + ",".join(json.dumps(json.dumps({"line": n, "good": "0.0001"})) for _, n in pairs) + "}")
print("n = 0")
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "application/json"')
print('wrk.headers["Authorization"] = "Bearer ' + tok + '"')
print('request = function() n = n + 1; local i = (n % #paths) + 1; return wrk.format(nil, paths[i], nil, bodies[i]) end')
PY
run "POST /api/v1/orders/{id}/progress (supplier)" -s "$LUA" "$BASE"

# Peak memory of the server over everything above.
RSS=$(awk '/VmHWM/{print $2}' "/proc/$SERVER/status")
echo "| server peak RSS (VmHWM, with the mapped database file) | $((RSS / 1024)) MB | | | | | |" | tee -a "$OUT"
echo "| server peak anonymous memory (RssAnon, sampled twice a second) | $(( $(cat "$ANON" 2>/dev/null || echo 0) / 1024 )) MB | | | | | |" | tee -a "$OUT"

[ -z "${ONLY:-}" ] && ceiling "$BASE" ", again at the end"

# The workflow: one client, sequential, each order the whole way from creation to inspection.
if [ -z "${ONLY:-}" ] || grep -Eq "$ONLY" <<<"workflow"; then
  python3 bench/workflow.py "$BASE" "${WORKFLOW_ORDERS:-300}" | tee -a "$OUT"
fi

# Scale-out: a second instance on the same PostgreSQL, and nginx (round robin) in front of one
# and of both, so the two can be compared in the same run.
if [ "${INSTANCES:-1}" = 2 ] && [ -n "${DATABASE_URL:-}" ]; then
  command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; }
  "$BIN" serve --port $((PORT + 1)) >/tmp/subcon-bench-server2.log 2>&1 &
  PIDS="$PIDS $!"
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$((PORT + 1))/healthz" >/dev/null && break; sleep 0.2; done
  NGX=$(mktemp -d -p "$SCRATCH")
  cat >"$NGX/nginx.conf" <<CONF
worker_processes 1;
pid $NGX/nginx.pid;
error_log $NGX/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream one { server 127.0.0.1:$PORT; keepalive 64; }
  upstream two { server 127.0.0.1:$PORT; server 127.0.0.1:$((PORT + 1)); keepalive 64; }
  server { listen $((PORT + 10)); location / { proxy_pass http://one; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen $((PORT + 11)); location / { proxy_pass http://two; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
CONF
  nginx -c "$NGX/nginx.conf"
  trap 'kill $PIDS 2>/dev/null || true; nginx -c "$NGX/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
  for n in one two; do
    port=$((PORT + 10)); [ $n = two ] && port=$((PORT + 11))
    run "nginx → $n instance(s): GET /api/v1/orders/{id} (detail)" -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$port/api/v1/orders/$ORDER"
    run "nginx → $n instance(s): GET /api/v1/orders (supplier, scoped)" -H "Authorization: Bearer $SUPPLIER" "http://127.0.0.1:$port/api/v1/orders?per=50"
  done
fi
echo "results in $OUT (wrk: ${THREADS:-2} threads, $CONNECTIONS connections, $DURATION each, on the same machine as the server: $(nproc) cores)"
