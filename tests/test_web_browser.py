#!/usr/bin/env python3
"""The dashboard in a real browser: headless Chromium driven by Selenium opens the page
served by `tasker run --web`, triggers a task with the button, sees the run's output
appear live and its status turn to success, and checks that the browser logged no
JavaScript error on any page. Also: data from the store is shown as text, never run as
markup. With --screenshot PATH it also fills a store with a day of history and saves a
screenshot of the overview (docs/dashboard.png).
Usage: python3 tests/test_web_browser.py BUILD_DIR [--screenshot PATH]"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from webtest import Failures, Store, request, wait_for  # noqa: E402

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    print("SKIP: python3-selenium is not installed (apt-get install python3-selenium chromium chromium-driver)")
    sys.exit(0)

F = Failures()
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
XSS = '<img src=x id=pwned onerror="document.title=1">'


def find_binary(*names):
    for n in names:
        p = shutil.which(n) or (n if os.path.exists(n) else None)
        if p:
            return p
    return None


def browser(profile, width=1400, height=1000):
    chromium = find_binary("chromium", "chromium-browser", "/usr/bin/chromium")
    driver = find_binary("chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
    if not chromium or not driver:
        print("SKIP: chromium or chromedriver not installed (apt-get install chromium chromium-driver)")
        sys.exit(0)
    o = webdriver.ChromeOptions()
    o.binary_location = chromium
    for flag in CHROMIUM_FLAGS + ["--user-data-dir=" + profile, "--window-size=%d,%d" % (width, height)]:
        o.add_argument(flag)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=o)


def severe(d):
    return [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]


def text_of(d, css):
    try:
        return d.find_element(By.CSS_SELECTOR, css).text
    except Exception:  # noqa: BLE001 -- not there (yet)
        return ""


def test_trigger_live(d, base):
    d.get(base + "/#/task/live-demo")
    F.check(wait_for(lambda: d.find_elements(By.ID, "trigger"), 60), "the task page has a Trigger button")
    F.check(d.find_element(By.ID, "task-pause").is_enabled(), "the task page has an enabled Pause button")
    d.find_element(By.ID, "trigger").click()
    F.check(wait_for(lambda: "#/run/" in d.current_url, 60), "the button opens the new run's page")
    first = wait_for(lambda: "first line" in text_of(d, "#events") and text_of(d, "#run-status"), 60)
    F.check(first and "running" in first, "the run's first output appears live while it runs (%s)" % first)
    F.check(d.find_element(By.ID, "run-cancel").is_enabled() and not d.find_element(By.ID, "run-retry").is_enabled(),
            "while it runs, Cancel is enabled and Retry is not")
    F.check("second line" not in text_of(d, "#events"), "... before the run has written the rest")
    F.check(wait_for(lambda: "second line" in text_of(d, "#events"), 60), "later output arrives live")
    F.check(wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#run-status [data-status=success]"), 60),
            "the status turns to success")
    F.check(text_of(d, "#tail-state") == "finished", "the tail ends when the run finishes")


def test_pause_resume(d, base):
    """Pause and Resume on a task page: the button flips and the task says so."""
    d.get(base + "/#/task/cleanup-tmp")
    F.check(wait_for(lambda: d.find_elements(By.ID, "task-pause"), 60), "the task page has Pause")
    d.find_element(By.ID, "task-pause").click()
    F.check(wait_for(lambda: d.find_elements(By.ID, "task-resume") and
                     text_of(d, "#task-paused").startswith("yes"), 60),
            "Pause pauses the task: the page says so and offers Resume")
    d.find_element(By.ID, "task-resume").click()
    F.check(wait_for(lambda: d.find_elements(By.ID, "task-pause") and text_of(d, "#task-paused") == "no", 60),
            "Resume resumes it")


def test_pages(d, base):
    d.get(base + "/#/")
    F.check(wait_for(lambda: "Tasks, failing first" in d.find_element(By.TAG_NAME, "main").text, 60),
            "the overview opens")
    main = d.find_element(By.TAG_NAME, "main").text
    F.check("Schedules" in main and "Nodes" in main and "Last 24 hours" in main,
            "the overview has schedules, nodes and the day's runs")
    rows = d.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    F.check(rows and "xss-demo" in main, "the tasks are listed")
    F.check(not d.find_elements(By.ID, "pwned") and d.title == "tasker",
            "a task's text from the store is shown as text, not markup")
    F.check(XSS in d.find_element(By.TAG_NAME, "main").text, "... and shown literally")
    d.get(base + "/#/runs?status=failed")
    F.check(wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "main tbody tr [data-status]"), 60),
            "the runs page lists runs")
    statuses = {e.get_attribute("data-status") for e in d.find_elements(By.CSS_SELECTOR, "main tbody [data-status]")}
    F.check(statuses == {"failed"}, "the status filter of the runs page applies (%s)" % statuses)
    d.get(base + "/#/nodes")
    F.check(wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "main [data-status=live]"), 60),
            "the nodes page shows this node live")


def fill_history(store, addr, runs):
    """Triggers runs ([(task, count)]) and waits for them to finish."""
    ids = []
    for task, n in runs:
        for _ in range(n):
            ids.append(request(addr, "POST", "/api/v1/tasks/%s/trigger" % task, body={}).json()["exec_id"])
    for i in ids:
        wait_for(lambda: request(addr, "GET", "/api/v1/execs/" + i).json()["status"] not in ("pending", "running"), 30)


def setup(store):
    store.add_shell_task("live-demo", "echo first line; sleep 4; echo second line", "prints two lines, 4 s apart")
    store.add_shell_task("xss-demo", "echo '%s'" % XSS, XSS)
    store.add_shell_task("backup-db", "echo dumping 3 tables; echo wrote 18.2 MB", "nightly database dump")
    store.add_shell_task("send-reports", "echo rendering; echo 'smtp: connection refused' >&2; exit 1",
                         "mails the daily reports")
    store.add_shell_task("sync-inventory", "echo fetched 1204 items; echo updated 37", "pulls stock levels")
    store.add_shell_task("cleanup-tmp", "echo removed 12 files", "prunes /tmp/app")
    store.cli("schedule", "add", "backup-db", "0 3 * * *")
    store.cli("schedule", "add", "send-reports", "30 7 * * 1-5")
    store.cli("schedule", "add", "sync-inventory", "*/15 * * * *")
    store.cli("schedule", "add", "cleanup-tmp", "@every 10m")


def screenshot(build, profile, path):
    """The README's picture: a store of everyday tasks, one of them failing, one running."""
    store = Store(build)
    d = None
    try:
        store.add_shell_task("backup-db", "echo dumping 3 tables; echo wrote 18.2 MB", "nightly database dump")
        store.add_shell_task("send-reports", "echo rendering; echo 'smtp: connection refused' >&2; exit 1",
                             "mails the daily reports")
        store.add_shell_task("sync-inventory", "echo fetched 1204 items; echo updated 37", "pulls stock levels")
        store.add_shell_task("cleanup-tmp", "echo removed 12 files", "prunes /tmp/app")
        store.add_shell_task("rebuild-search-index", "echo indexing; sleep 120", "full reindex of the catalogue")
        store.cli("schedule", "add", "backup-db", "0 3 * * *")
        store.cli("schedule", "add", "send-reports", "30 7 * * 1-5")
        store.cli("schedule", "add", "sync-inventory", "*/2 * * * * *")
        store.cli("schedule", "add", "cleanup-tmp", "@every 10m")
        p, addr = store.start("run", "--quiet", "--web", "127.0.0.1:0")
        fill_history(store, addr, [("backup-db", 3), ("send-reports", 5), ("cleanup-tmp", 4)])
        request(addr, "POST", "/api/v1/tasks/rebuild-search-index/trigger", body={})
        time.sleep(3)  # a few scheduled runs of sync-inventory; only a picture depends on it
        d = browser(profile, 1440, 1180)
        d.get("http://" + addr + "/#/")
        wait_for(lambda: "Tasks, failing first" in d.find_element(By.TAG_NAME, "main").text, 60)
        time.sleep(0.5)
        d.save_screenshot(path)
        print("screenshot:", path)
        store.stop(p, 5)
    finally:
        if d:
            d.quit()
        store.close()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build-asan"
    shot = sys.argv[sys.argv.index("--screenshot") + 1] if "--screenshot" in sys.argv else None
    store = Store(build)
    profile = tempfile.mkdtemp(prefix="tasker-chromium-")
    d = None
    try:
        setup(store)
        p, addr = store.start("run", "--quiet", "--web", "127.0.0.1:0")
        base = "http://" + addr
        fill_history(store, addr, [("backup-db", 2), ("send-reports", 2), ("xss-demo", 1)])
        if shot:
            screenshot(build, tempfile.mkdtemp(prefix="tasker-chromium-", dir=profile), shot)
        d = browser(profile)
        test_trigger_live(d, base)
        test_pause_resume(d, base)
        test_pages(d, base)
        errors = severe(d)
        F.check(not errors, "no JavaScript errors in the browser log: %s" % errors)
        F.check(store.stop(p) == 0, "the daemon stops cleanly")
    finally:
        if d:
            d.quit()
        store.close()
        shutil.rmtree(profile, ignore_errors=True)
    print("%d failure(s)" % F.count)
    sys.exit(1 if F.count else 0)


if __name__ == "__main__":
    main()
