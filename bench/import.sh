#!/usr/bin/env bash
# Import benchmark: generates an item CSV (50,000 rows by default, GB18030-encoded like Chinese
# Excel saves it) and a BOM CSV (20,000 lines), uploads each to a release server over HTTP,
# commits it, and times both steps.
#   bench/import.sh            ROWS=100000 bench/import.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-50000}
BOM_LINES=${BOM_LINES:-20000}
PORT=${PORT:-8124}
swift build -c release --product subcon >/dev/null
BIN="$(swift build -c release --show-bin-path)/subcon"
export DATA_DIR=${DATA_DIR:-$(mktemp -d /tmp/subcon-import.XXXXXX)} LOG_LEVEL=warning DEMO_SCENARIO=0
"$BIN" seed-demo >/dev/null
"$BIN" serve --port "$PORT" >/tmp/subcon-import-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
CSV=$(mktemp /tmp/items.XXXXXX.csv)
python3 - "$ROWS" "$CSV" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
kinds = ["原材料", "半成品", "成品", "服务/工序"]
with open(path, "w", encoding="gb18030", newline="") as f:
    f.write("物料编码,物料名称,规格型号,单位,类型,默认仓库\r\n")
    for i in range(rows):
        f.write(f"BM-{i:06d},压测物料 {i} 号,规格 {i % 97}×{i % 13},件,{kinds[i % 4]},{'WH-P1' if i % 2 else 'WH-P2'}\r\n")
PY
TOKEN=$(curl -sf -XPOST "http://127.0.0.1:$PORT/api/v1/auth/token" -H 'Content-Type: application/json' \
  -d '{"login":"planner","password":"demo"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
run_import() { # kind file
  local t0 t1 t2 id
  t0=$(date +%s.%N)
  id=$(curl -sf -XPOST "http://127.0.0.1:$PORT/api/v1/imports/$1" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: text/csv' --data-binary @"$2" | python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["id"]);sys.stderr.write("%s preview: %d rows, %d problems\n" % (d["kind"], d["rows"], len(d["problems"])))')
  t1=$(date +%s.%N)
  curl -sf -XPOST "http://127.0.0.1:$PORT/api/v1/imports/$id/commit" -H "Authorization: Bearer $TOKEN" >/dev/null
  t2=$(date +%s.%N)
  echo "$1: upload+check=$(echo "$t1 - $t0" | bc) s commit=$(echo "$t2 - $t1" | bc) s total=$(echo "$t2 - $t0" | bc) s"
}
BOMS=$(mktemp /tmp/boms.XXXXXX.csv)
python3 - "$BOM_LINES" "$BOMS" "$ROWS" <<'PY'
import sys
lines, path, rows = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
# Parents from the first fifth of the items, components from the rest: no cycles by construction.
parents, per = lines // 5, 5
with open(path, "w", encoding="gb18030", newline="") as f:
    f.write("父件编码,生效日期,失效日期,子件编码,单位用量,损耗率,供料方\r\n")
    for p in range(parents):
        for k in range(per):
            c = rows // 5 + (p * per + k) % (rows - rows // 5)
            f.write(f"BM-{p:06d},2026-01-01,,BM-{c:06d},{(k + 1) * 0.125:.4f},{k * 0.5}%,{'我方发料' if k % 2 else '供应商自购'}\r\n")
PY
T0=$(date +%s.%N)
run_import items "$CSV"
run_import boms "$BOMS"
echo "rows=$ROWS bom_lines=$BOM_LINES all=$(echo "$(date +%s.%N) - $T0" | bc) s"
"$BIN" audit verify
