#!/usr/bin/env python3
"""The day of every role, driven through the real UI in headless Chromium.

Starts the app on a fresh demo database, then: the purchaser creates and releases an order;
the supplier, on a 375 px phone, accepts it, reports progress with a photo and ships; the
warehouse receives; quality inspects and rejects part; the supplier answers the exception.
After each step the people concerned look at their to-do page and dashboard, which must show
the change. Every page is screenshotted; a browser console error, an untranslated message key
or an English phrase on a Chinese page fails the run.

    python3 scripts/browser_test.py [--binary .build/debug/subcon] [--shots DIR]

Chromium and its driver come from Debian (chromium, chromium-driver); Selenium from PyPI. The
paths are given to Selenium so it never tries to download a browser.
"""
import argparse
import datetime
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")

# A message key (orders.status.x) or a code word (awaiting_inspection) in visible text.
CODE_WORD = re.compile(r"^(?:[a-z][a-zA-Z0-9]*(?:\.[a-zA-Z0-9_]+)+|[a-z]+(?:_[a-z]+)+)$")
ALLOWED = {"Excel", "CSV", "PPM", "AQL", "IATF", "ISO", "PDF", "API", "Ac", "Re", "OK", "MB", "Token", "Authorization", "Bearer", "CNY"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def png(path, size=24):
    """A small valid PNG: a photo stand-in the upload accepts."""
    rows = b"".join(b"\x00" + b"".join(bytes([(x * 9) % 256, (y * 9) % 256, 160]) for x in range(size)) for y in range(size))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
    body += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(body)


class Run:
    def __init__(self, base, shots):
        self.base, self.shots, self.problems, self.step = base, shots, [], 0

    def browser(self, width):
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},900", "--lang=zh-CN"]:
            o.add_argument(a)
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # Headless Chromium ignores --lang for Accept-Language; the preference is what it sends.
        o.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
        d = webdriver.Chrome(service=Service(DRIVER), options=o)
        d.implicitly_wait(2)
        d.width = width
        return d

    def login(self, d, user):
        d.get(self.base + "/login")
        d.find_element(By.NAME, "login").send_keys(user)
        d.find_element(By.NAME, "password").send_keys("demo")
        # Wait for the sign-in to land before choosing the language: a request sent while the
        # form is still on its way raced it on a busy machine and left the page in English.
        self.submit(d, "form button[type=submit]")
        d.get(self.base + "/lang/zh-Hans?next=/")
        self.check(d, f"{user} signed in")

    def submit(self, d, css):
        """Click what leaves the page and wait for the next one: reading the URL or the page
        right after a click raced the navigation on a fast machine and saw the old page."""
        d.execute_script("window.subconLeaving = true")
        d.find_element(By.CSS_SELECTOR, css).click()

        def arrived(x):
            try:
                return x.execute_script("return !window.subconLeaving && document.readyState === 'complete'")
            except WebDriverException:
                return False  # between two documents
        WebDriverWait(d, 60).until(arrived)

    def check(self, d, what):
        """Screenshot the page as it is, and look for what must never be there."""
        self.step += 1
        name = f"{self.step:02d}-{re.sub(r'[^a-z0-9]+', '-', what.lower()).strip('-')}-{d.width}.png"
        height = d.execute_script("return document.body.scrollHeight")
        d.set_window_size(d.width, min(max(height, 600), 5000))
        d.save_screenshot(os.path.join(self.shots, name))
        d.set_window_size(d.width, 900)
        for entry in d.get_log("browser"):
            if entry.get("level") == "SEVERE" and "favicon" not in entry.get("message", ""):
                self.problems.append(f"{what}: console error {entry['message']}")
        text = d.find_element(By.TAG_NAME, "body").text
        for line in text.splitlines():
            tokens = re.split(r"[\s，。、；：,;:()（）·「」“”\"!?！？【】\[\]{}|]+", line)
            for t in tokens:
                if CODE_WORD.match(t):
                    self.problems.append(f"{what}: untranslated {t!r} in {line[:80]!r}")
            run = 0
            for t in tokens:
                w = t.strip(".'")
                if len(w) >= 2 and w.isascii() and w.isalpha() and w not in ALLOWED:
                    run += 1
                    if run >= 2:
                        self.problems.append(f"{what}: English {line[:80]!r}")
                        break
                else:
                    run = 0
        if "500" in d.title or "服务器内部错误" in text:
            self.problems.append(f"{what}: server error page")
        print(f"  {self.step:02d} {what} ({d.width} px)")
        return text

    def expect(self, condition, message):
        if not condition:
            self.problems.append(message)
            print(f"  !! {message}")

    def todo(self, d, user, label):
        """The count of one kind of task on the person's to-do page (0 when absent)."""
        d.get(self.base + "/")
        self.check(d, f"{user} to-do")
        for g in d.find_elements(By.CSS_SELECTOR, ".todo-group"):
            if g.find_element(By.CSS_SELECTOR, ".todo-label").text.strip() == label:
                return int(g.find_element(By.CSS_SELECTOR, ".todo-count").text)
        return 0

    def dashboard(self, d, user, tile):
        d.get(self.base + "/dashboard")
        self.check(d, f"{user} dashboard")
        for k in d.find_elements(By.CSS_SELECTOR, ".kpi"):
            if tile in k.text:
                return int(k.find_element(By.TAG_NAME, "strong").text)
        self.problems.append(f"{user} dashboard: no tile {tile}")
        return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/debug/subcon")
    ap.add_argument("--shots", default=None)
    args = ap.parse_args()
    shots = args.shots or tempfile.mkdtemp(prefix="subcon-browser-")
    os.makedirs(shots, exist_ok=True)
    data = tempfile.mkdtemp(prefix="subcon-browser-data-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([args.binary, "serve", "--demo", "--port", str(port)], env={**os.environ, "DATA_DIR": data},
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except Exception:
                time.sleep(0.5)
        run = Run(base, shots)
        print(f"browser suite: {base}, screenshots in {shots}")
        photo = os.path.join(data, "photo.png")
        png(photo)
        due = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()

        buyer = run.browser(1280)
        supplier = run.browser(375)
        warehouse = run.browser(1280)
        quality = run.browser(1024)
        try:
            run.login(buyer, "purchaser")
            run.login(supplier, "supplier1")
            run.login(warehouse, "warehouse")
            run.login(quality, "quality")
            awaiting_before = run.dashboard(buyer, "purchaser", "等待供应商确认")
            answers_before = run.todo(supplier, "supplier1", "确认订单或变更")

            # The purchaser creates and releases an order.
            buyer.get(base + "/orders/new")
            Select(buyer.find_element(By.NAME, "supplierId")).select_by_visible_text(
                next(o.text for o in buyer.find_elements(By.CSS_SELECTOR, "select[name=supplierId] option") if "SUP-JG" in o.text))
            buyer.find_element(By.NAME, "lines").send_keys(f"FG-RD-002 100 {due}")
            run.check(buyer, "purchaser new order")
            run.submit(buyer, "form[action='/orders'] button[type=submit]")
            order_url = buyer.current_url.split("?")[0]
            order_id = order_url.rstrip("/").split("/")[-1]
            run.check(buyer, "purchaser draft")
            run.submit(buyer, f"form[action='/orders/{order_id}/release'] button")
            run.check(buyer, "purchaser released")
            run.expect(run.dashboard(buyer, "purchaser", "等待供应商确认") == awaiting_before + 1, "the buyer's dashboard counts the new order awaiting an answer")

            # The supplier, on its phone, finds it on the to-do page and accepts all.
            run.expect(run.todo(supplier, "supplier1", "确认订单或变更") == answers_before + 1, "the supplier's to-do shows the order to answer")
            supplier.get(base + f"/orders/{order_id}")
            run.check(supplier, "supplier order")
            run.submit(supplier, "form.accept-all button")
            text = run.check(supplier, "supplier accepted")
            run.expect("答复已提交" in text, "a success page after the answer says what happens next")
            run.expect(run.todo(supplier, "supplier1", "确认订单或变更") == answers_before, "the answered order leaves the supplier's to-do")

            # Progress with a photo, then shipping.
            supplier.get(base + f"/orders/{order_id}/report")
            supplier.find_element(By.NAME, "good").send_keys("100")
            supplier.find_element(By.NAME, "photo").send_keys(photo)
            run.check(supplier, "supplier report form")
            run.submit(supplier, "form[action$='/report'] button[type=submit]")
            text = run.check(supplier, "supplier reported")
            run.expect("报工已提交" in text, "a success page after the report")
            run.expect(len(supplier.find_elements(By.CSS_SELECTOR, ".small-photos img")) >= 1, "the photo shows as a thumbnail")
            run.expect(run.todo(supplier, "supplier1", "可发货") >= 1, "finished parts show as ready to ship")
            supplier.get(base + f"/deliveries/new?order={order_id}")
            supplier.find_element(By.NAME, "q_1").clear()
            supplier.find_element(By.NAME, "q_1").send_keys("100")
            supplier.find_element(By.NAME, "l_1").send_keys("BT-0001")
            run.check(supplier, "supplier delivery form")
            run.submit(supplier, "form[action='/deliveries'] button[type=submit]")
            text = run.check(supplier, "supplier shipped")
            run.expect("送货单已提交" in text, "a success page after shipping")
            delivery_id = supplier.current_url.split("?")[0].rstrip("/").split("/")[-1]

            # The warehouse receives what arrived.
            receive_before = run.todo(warehouse, "warehouse", "收货")
            run.expect(receive_before >= 1, "the warehouse's to-do lists the delivery to receive")
            warehouse.get(base + f"/deliveries/{delivery_id}")
            run.check(warehouse, "warehouse delivery")
            run.submit(warehouse, f"form[action='/deliveries/{delivery_id}/receive'] button[type=submit]")
            text = run.check(warehouse, "warehouse received")
            run.expect("已收货" in text, "a success page after receiving")
            run.expect(run.todo(warehouse, "warehouse", "收货") == receive_before - 1, "the received delivery leaves the warehouse's to-do")

            # Quality inspects and rejects part of it.
            inspect_before = run.todo(quality, "quality", "来料检验")
            run.expect(inspect_before >= 1, "quality's to-do lists the lot to inspect")
            quality.get(base + "/inspections")
            run.check(quality, "quality work list")
            rows = [a.get_attribute("href") for a in quality.find_elements(By.CSS_SELECTOR, "a.button.primary") if a.get_attribute("href").endswith("/inspect")]
            run.expect(len(rows) >= 1, "an inspection to do")
            # The list runs oldest first: ours is the newest receipt, the last row.
            quality.get(rows[-1])
            run.check(quality, "quality inspect form")
            quality.find_element(By.CSS_SELECTOR, "input[name=decision][value=partial]").click()
            quality.find_element(By.NAME, "accepted").send_keys("90")
            quality.find_element(By.NAME, "rejected").send_keys("10")
            quality.find_element(By.NAME, "note").send_keys("10 件毛刺")
            run.submit(quality, "form[action$='/inspect'] button[type=submit]")
            text = run.check(quality, "quality inspected")
            run.expect("检验结果已记录" in text, "a success page after the inspection")
            run.expect(run.todo(quality, "quality", "来料检验") == inspect_before - 1, "the inspected lot leaves quality's to-do")

            # The supplier answers the exception the rejection opened.
            exceptions_before = run.todo(supplier, "supplier1", "回复异常")
            run.expect(exceptions_before >= 1, "the supplier's to-do lists the exception to answer")
            link = next((a.get_attribute("href") for a in supplier.find_elements(By.CSS_SELECTOR, ".todo-items a") if "/exceptions/" in a.get_attribute("href")), None)
            run.expect(link is not None, "a link into the exception")
            if link:
                supplier.get(link)
                run.check(supplier, "supplier exception")
                supplier.find_element(By.NAME, "body").send_keys("已隔离在制品，今天给出原因分析。")
                run.submit(supplier, "form[action$='/comment'] button[type=submit]")
                run.check(supplier, "supplier answered exception")
                run.expect(run.todo(supplier, "supplier1", "回复异常") == exceptions_before - 1, "the answered exception leaves the supplier's to-do")

            # Dashboards after the day.
            run.dashboard(supplier, "supplier1", "待我确认的订单")
            run.dashboard(quality, "quality", "超时的异常")
            run.dashboard(buyer, "purchaser", "预计延期或逾期的订单行")
            for d, who in [(buyer, "purchaser"), (quality, "quality")]:
                d.get(base + "/late-lines")
                run.check(d, f"{who} late lines")

            # Scorecards: the buyer's ranking and a supplier's scorecard with its trends, the
            # records behind a figure; the supplier sees its own on its phone.
            buyer.get(base + "/scorecards")
            run.check(buyer, "purchaser scorecard ranking")
            run.expect(len(buyer.find_elements(By.CSS_SELECTOR, "svg.chart")) >= 1, "the ranking has its chart")
            ranked = [a.get_attribute("href") for a in buyer.find_elements(By.CSS_SELECTOR, "table a") if "/scorecards/" in a.get_attribute("href")]
            run.expect(len(ranked) >= 2, "the ranking lists the demo's suppliers")
            if ranked:
                buyer.get(ranked[-1])
                run.check(buyer, "purchaser supplier scorecard")
                run.expect(len(buyer.find_elements(By.CSS_SELECTOR, "svg.chart.line")) >= 6, "a trend for the score and each measure")
                run.submit(buyer, ".measure h2 a")
                run.check(buyer, "purchaser scorecard records")
            supplier.get(base + "/scorecards")
            run.check(supplier, "supplier own scorecard")
            run.expect("/scorecards/" in supplier.current_url and len(supplier.find_elements(By.CSS_SELECTOR, "svg.chart.line")) >= 6,
                       "the supplier lands on its own scorecard with its trends")
            buyer.get(base + "/lessons")
            run.check(buyer, "purchaser lessons with verified actions")
        finally:
            for d in [buyer, supplier, warehouse, quality]:
                d.quit()
        if run.problems:
            print(f"browser suite: {len(run.problems)} problems")
            for p in run.problems:
                print("  - " + p)
            return 1
        print(f"browser suite: {run.step} pages checked, 0 problems; screenshots in {shots}")
        return 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
