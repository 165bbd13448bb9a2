#!/usr/bin/env python3
"""Live-update latency: a buyer's SSE stream on instance B, the supplier's progress reports
posted to instance A; prints the time from sending each POST to the event on B.

    bench/live.py http://127.0.0.1:8131 http://127.0.0.1:8131   # one instance
    bench/live.py http://127.0.0.1:8132 http://127.0.0.1:8133   # two instances, one database
"""
import http.client, json, statistics, sys, threading, time, urllib.parse, urllib.request, uuid

A, B = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 10

def call(base, method, path, token=None, body=None, headers=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token: req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items(): req.add_header(k, v)
    with urllib.request.urlopen(req) as r: return json.loads(r.read() or b"null")

def token(base, login): return call(base, "POST", "/api/v1/auth/token", body={"login": login, "password": "demo"})["token"]

supplier, buyer = token(A, "supplier1"), token(B, "purchaser")
orders = call(A, "GET", "/api/v1/orders?per=50", supplier)["items"]
order = next(o for o in orders if o["status"] in ("acknowledged", "in_production", "partially_delivered"))
line = call(A, "GET", "/api/v1/orders/%s/progress" % order["id"], supplier)["lines"][0]["line"]

arrived, connected = [], threading.Event()
def listen():
    u = urllib.parse.urlparse(B)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request("GET", "/api/v1/orders/%s/events" % order["id"], headers={"Authorization": "Bearer " + buyer})
    r = c.getresponse()
    while True:
        raw = r.fp.readline()
        if not raw: return
        text = raw.decode().strip()
        if text.startswith(": connected"): connected.set()
        if text.startswith("event: progress"): arrived.append(time.monotonic())
threading.Thread(target=listen, daemon=True).start()
if not connected.wait(10): sys.exit("no SSE connection to " + B)

latencies = []
for i in range(ROUNDS):
    before = len(arrived)
    sent = time.monotonic()
    call(A, "POST", "/api/v1/orders/%s/progress" % order["id"], supplier, {"line": line, "good": "0.0001", "note": "live %d" % i},
         {"Idempotency-Key": str(uuid.uuid4())})
    deadline = time.monotonic() + 5
    while len(arrived) == before and time.monotonic() < deadline: time.sleep(0.001)
    if len(arrived) == before: sys.exit("round %d: no event within 5 s" % i)
    latencies.append((arrived[before] - sent) * 1000)
    time.sleep(0.2)
print("order %s, %d reports posted to %s, heard on %s: median %.1f ms, max %.1f ms from sending the POST (the event leaves at commit, before the POST is answered)"
      % (order["code"], ROUNDS, A, B, statistics.median(latencies), max(latencies)))
