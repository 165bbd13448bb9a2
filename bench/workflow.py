#!/usr/bin/env python3
"""Workflow benchmark: one client, sequential, over the API. Each order goes the whole way —
created and released (purchaser) → accepted and started (supplier) → material issued
(warehouse) and confirmed (supplier) → progress reported → delivery note → receipt
(warehouse) → inspection (quality). Prints orders per second and each step's latency.

    bench/workflow.py http://127.0.0.1:8123 [orders=200] [supplier code=SUP-JG]

Needs the demo's people; creates its own two items (WF-FG made of WF-RM ×2 + 1.5 %) if missing.
"""
import datetime, http.client, json, statistics, sys, time, urllib.parse, uuid

BASE = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
SUPPLIER = sys.argv[3] if len(sys.argv) > 3 else "SUP-JG"
u = urllib.parse.urlparse(BASE)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def call(method, path, token=None, body=None, expect=(200, 201), key=None):
    headers = {"Content-Type": "application/json"}
    if token: headers["Authorization"] = "Bearer " + token
    if key: headers["Idempotency-Key"] = key
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    if r.status not in expect:
        sys.exit("%s %s -> %d %s" % (method, path, r.status, data[:400].decode(errors="replace")))
    return json.loads(data or b"null")


def token(login): return call("POST", "/api/v1/auth/token", body={"login": login, "password": "demo"})["token"]


purchaser, supplier, warehouse, quality, planner = (token(x) for x in ("purchaser", "supplier1", "warehouse", "quality", "planner"))
if not any(i["code"] == "WF-FG" for i in call("GET", "/api/v1/items?q=WF-FG", planner)["items"]):
    fg = call("POST", "/api/v1/items", planner, {"code": "WF-FG", "name": "流程压测成品", "uom": "PCS", "kind": "finished"})
    call("POST", "/api/v1/items", planner, {"code": "WF-RM", "name": "流程压测原料", "uom": "kg", "kind": "raw_material"})
    call("POST", "/api/v1/items/%s/boms" % fg["id"], planner,
         {"validFrom": "2026-01-01", "lines": [{"component": "WF-RM", "quantityPer": "2", "scrapPercent": "1.5"}]})
orgs = call("GET", "/api/v1/organizations?q=" + SUPPLIER, purchaser)["items"]
supplier_id = next(o["id"] for o in orgs if o["code"] == SUPPLIER)
due = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
steps = {}


def step(name, fn):
    t = time.perf_counter()
    out = fn()
    steps.setdefault(name, []).append((time.perf_counter() - t) * 1000)
    return out


def one(i):
    order = step("create", lambda: call("POST", "/api/v1/orders", purchaser, {
        "supplierId": supplier_id, "lines": [{"itemCode": "WF-FG", "quantity": "10", "dueDate": due, "unitPrice": "12.5"}]}))
    oid = order["id"]
    step("release", lambda: call("POST", "/api/v1/orders/%s/release" % oid, purchaser, {"version": order["version"]}))
    answered = step("accept", lambda: call("POST", "/api/v1/orders/%s/answers" % oid, supplier,
                                           {"revision": 1, "lines": [{"line": 1, "answer": "accept"}]}))
    step("start", lambda: call("POST", "/api/v1/orders/%s/start" % oid, supplier, {"version": answered["version"]}))
    lot = "WF-%d" % i
    issue = step("issue", lambda: call("POST", "/api/v1/material/issues", warehouse, {
        "orderId": oid, "lines": [{"line": 1, "componentCode": "WF-RM", "lot": lot, "quantity": "20.3"}]}))
    step("confirm", lambda: call("POST", "/api/v1/material/documents/%s/confirm" % issue["id"], supplier,
                                 {"version": issue["version"], "lines": [{"no": 1, "quantity": "20.3"}]}))
    step("progress", lambda: call("POST", "/api/v1/orders/%s/progress" % oid, supplier, {"line": 1, "good": "10"}, key=str(uuid.uuid4())))
    note = step("deliver", lambda: call("POST", "/api/v1/deliveries", supplier, {
        "orderId": oid, "shipDate": datetime.date.today().isoformat(), "lines": [{"line": 1, "quantity": "10", "lot": "P" + lot}]}))
    receipt = step("receive", lambda: call("POST", "/api/v1/receipts", warehouse,
                                           {"deliveryNoteId": note["id"], "lines": [{"deliveryLine": 1, "quantity": "10"}]}))
    step("inspect", lambda: call("POST", "/api/v1/receipts/%s/lines/1/inspection" % receipt["id"], quality,
                                 {"version": 1, "accepted": "10", "rejected": "0"}))


one(0)  # warm up; not counted
steps.clear()
start = time.perf_counter()
for i in range(1, N + 1): one(i)
elapsed = time.perf_counter() - start
requests = sum(len(v) for v in steps.values())
print("| workflow: %d orders, one client, sequential (%d requests) | %.1f orders/s | %.1f req/s |" % (N, requests, N / elapsed, requests / elapsed))
print("| step | p50 | p90 | p99 |")
print("| --- | ---: | ---: | ---: |")
for name, ms in steps.items():
    ms.sort()
    q = lambda p: ms[min(len(ms) - 1, int(p * len(ms)))]
    print("| %s | %.1f ms | %.1f ms | %.1f ms |" % (name, q(.5), q(.9), q(.99)))
