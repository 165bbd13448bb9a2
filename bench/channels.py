#!/usr/bin/env python3
"""Measures the notification pipeline end to end on a running server: outbox message → fan-out
to channels → signed webhook POST to a receiver, and the delivery log's reads at that size.

Starts a local receiver (it answers 200 at once and counts event ids), adds a webhook channel for
SUP-JG through the API, writes N outbox messages for SUP-JG's people straight into the SQLite
file (as a burst of business events would), and waits until the log says all are sent.

Usage: python3 bench/channels.py BASE ADMIN_TOKEN path/to/subcon.sqlite [N]
"""
import json
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

seen: dict = {}
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep connections open, as a real receiver would

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        event = json.loads(body).get("id", "")
        with lock:
            seen[event] = seen.get(event, 0) + 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def api(base, token, method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")


def median_ms(base, token, path, n=7):
    times = []
    for _ in range(n):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", "-H", "Authorization: Bearer " + token, base + path],
                             capture_output=True, text=True).stdout
        times.append(float(out) * 1000)
    return statistics.median(times)


def main(base, token, path, n):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    db = sqlite3.connect(path, timeout=30)
    jg = db.execute("SELECT id FROM organizations WHERE code = 'SUP-JG'").fetchone()[0]
    people = [u for (u,) in db.execute("SELECT id FROM users WHERE organization_id = ? AND active = 1", (jg,))]
    channel = api(base, token, "POST", "/api/v1/channels",
                  {"kind": "webhook", "name": "bench", "url": f"http://127.0.0.1:{server.server_port}/hook", "secret": "bench", "organizationId": jg})
    now = time.time()
    payload = json.dumps({"recipients": people, "messageKey": "notice.orderReleased", "params": {"code": "WX-BENCH"}, "link": "/orders/1"})
    start = time.time()
    db.executemany("INSERT INTO outbox (id, event, payload, created_at, available_at, attempts) VALUES (?, 'order.released', ?, ?, ?, 0)",
                   [(str(uuid.uuid4()).upper(), payload, now, now) for _ in range(n)])
    db.commit()
    while True:
        sent = api(base, token, "GET", f"/api/v1/channel-deliveries?status=sent&per=1&channelId={channel['id']}")["total"]
        if sent >= n or time.time() - start > 600:
            break
        time.sleep(0.2)
    elapsed = time.time() - start
    with lock:
        received, repeated = len(seen), sum(v - 1 for v in seen.values())
    print(f"| {n} events for SUP-JG ({len(people)} people) → one signed webhook | {elapsed:.1f} s | {n / elapsed:.0f} events/s | "
          f"received {received}, repeated {repeated} |")
    total = db.execute("SELECT COUNT(*) FROM channel_deliveries").fetchone()[0]
    for p in ["/api/v1/channel-deliveries", "/api/v1/channel-deliveries?page=50", "/api/v1/channel-deliveries?status=failed",
              f"/api/v1/channel-deliveries?channelId={channel['id']}", "/api/v1/channels"]:
        print(f"| GET {p} ({total} deliveries) | {median_ms(base, token, p):.1f} ms (median of 7) |")
    server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 5000)
