#!/usr/bin/env python3
"""The web API end to end, against real `tasker run --web` and `tasker web` processes:
every endpoint of design section 7, the errors, the token, read-only, the live tail,
the metrics, 200 concurrent requests and a slow client that must not block others.
Usage: python3 tests/test_web_api.py BUILD_DIR"""
import base64
import http.client
import json
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from webtest import Failures, Store, request, wait_for  # noqa: E402

F = Failures()
METRICS = ["tasker_executions_total", "tasker_execution_duration_seconds",
           "tasker_pending_executions", "tasker_running_executions",
           "tasker_schedule_lateness_seconds", "tasker_nodes", "tasker_oldest_pending_age_seconds"]


def get(addr, path, **kw):
    return request(addr, "GET", path, **kw)


def post(addr, path, body=None, **kw):
    return request(addr, "POST", path, body={} if body is None else body, **kw)


def is_error(r, status):
    try:
        return r.status == status and isinstance(r.json().get("error"), str) and \
            r.headers.get("content-type") == "application/json"
    except ValueError:
        return False


def wait_finished(addr, exec_id, timeout_s=30):
    def done():
        r = get(addr, "/api/v1/execs/" + exec_id)
        return r.status == 200 and r.json()["status"] not in ("pending", "running") and r.json()
    return wait_for(done, timeout_s)


def read_sse(addr, path, timeout_s=30):
    """The SSE messages of a live tail until the server ends it: [(event, data)]."""
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    c.request("GET", path, headers={"Accept": "text/event-stream"})
    r = c.getresponse()
    ctype = r.getheader("Content-Type")
    text = r.read().decode()
    c.close()
    out = []
    for block in text.split("\n\n"):
        ev, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                ev = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if ev:
            out.append((ev, data))
    return r.status, ctype, out


def test_reads(addr, store):
    r = get(addr, "/healthz")
    F.check(r.status == 200 and r.body == "ok\n", "/healthz is 200 ok")
    r = get(addr, "/")
    F.check(r.status == 200 and r.headers["content-type"].startswith("text/html") and
            "/app.js" in r.body, "/ serves the dashboard page")
    F.check(r.headers.get("x-content-type-options") == "nosniff", "/ has nosniff")
    F.check("script-src 'self'" in r.headers.get("content-security-policy", ""), "/ has a CSP")
    for path, ctype in [("/app.js", "text/javascript"), ("/app.css", "text/css"),
                        ("/favicon.svg", "image/svg+xml")]:
        r = get(addr, path)
        F.check(r.status == 200 and r.headers["content-type"].startswith(ctype), path + " is " + ctype)
    r = get(addr, "/api/v1/tasks")
    tasks = {t["task_id"]: t for t in r.json()}
    F.check(r.status == 200 and set(tasks) >= {"hello", "slow", "fails"}, "GET tasks lists the tasks")
    F.check(tasks["hello"]["paused"] is False and tasks["hello"]["handler"] == "shell" and
            tasks["hello"]["param"]["cmd"].startswith("echo"), "a task has handler, param (JSON), paused")
    r = get(addr, "/api/v1/tasks/hello")
    F.check(r.status == 200 and r.json()["task_id"] == "hello" and len(r.json()["schedules"]) == 1,
            "GET tasks/{id} has the task and its schedules")
    r = get(addr, "/api/v1/tasks/a%2Fb")
    F.check(r.status == 200 and r.json()["task_id"] == "a/b", "a task id with a slash is found")
    r = get(addr, "/api/v1/schedules")
    s = r.json()
    F.check(r.status == 200 and len(s) == 1 and s[0]["task_id"] == "hello" and
            s[0]["next_fire_us"] > 0 and "last_fire_us" in s[0] and s[0]["paused"] is False,
            "GET schedules has next and last fire")
    r = get(addr, "/api/v1/nodes")
    n = r.json()
    F.check(r.status == 200 and len(n) >= 1 and n[0]["state"] == "live" and
            "shell" in n[0]["handlers"], "GET nodes lists this node, live, with its handlers")
    r = get(addr, "/api/v1/overview")
    o = r.json()
    F.check(r.status == 200 and len(o["hour_buckets"]) == 12 and len(o["day_buckets"]) == 24 and
            "success" in o["last_hour"], "GET overview has the hour and day buckets")
    F.check(o["tasks"][0]["task_id"] == "fails", "overview: the failing task comes first")


def test_trigger_and_tail(addr, store):
    r = post(addr, "/api/v1/tasks/slow/trigger")
    F.check(r.status == 201 and r.json()["status"] == "pending", "POST trigger is 201 with the exec id")
    exec_id = r.json()["exec_id"]
    status, ctype, msgs = read_sse(addr, "/api/v1/execs/%s/events" % exec_id)
    events = [d["message"] for e, d in msgs if e == "event"]
    F.check(status == 200 and ctype.startswith("text/event-stream"), "the live tail is text/event-stream")
    F.check("tick 1" in events and "tick 3" in events, "the live tail sends the run's output: %s" % events)
    F.check(msgs and msgs[-1][0] == "end" and msgs[-1][1]["status"] == "success",
            "the live tail ends with the finished record")
    ids = [d["event_id"] for e, d in msgs if e == "event"]
    F.check(ids == sorted(ids) and len(ids) == len(set(ids)), "events come once each, in order")
    _, _, again = read_sse(addr, "/api/v1/execs/%s/events?after=%d" % (exec_id, ids[1]))
    F.check([d["event_id"] for e, d in again if e == "event"] == ids[2:],
            "a tail with after= resumes after that event")
    r = get(addr, "/api/v1/execs/%s/events?after=%d" % (exec_id, ids[0]))
    F.check(r.status == 200 and [e["event_id"] for e in r.json()["events"]] == ids[1:],
            "events without event-stream: JSON after the id")
    r = get(addr, "/api/v1/execs/" + exec_id)
    e = r.json()
    F.check(r.status == 200 and e["status"] == "success" and e["success"] is True and
            isinstance(e["queued_us"], int) and e["end_us"] >= e["start_us"] > 0 and
            [x["message"] for x in e["events"]][-1] == "tick 3", "GET execs/{id} has the record and events")
    return exec_id


def test_execs_pages(addr, store):
    ids = [post(addr, "/api/v1/tasks/hello/trigger").json()["exec_id"] for _ in range(7)]
    for i in ids:
        wait_finished(addr, i)
    seen, cursor, pages = [], None, 0
    while True:
        q = "/api/v1/execs?task=hello&limit=3" + ("&cursor=" + cursor if cursor else "")
        page = get(addr, q).json()
        seen += [e["exec_id"] for e in page["execs"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor or pages > 10:
            break
    F.check(set(ids) <= set(seen) and len(seen) == len(set(seen)),
            "paging by cursor returns every run once (%d runs, %d pages)" % (len(seen), pages))
    queued = [get(addr, "/api/v1/execs/" + i).json()["queued_us"] for i in seen]
    F.check(queued == sorted(queued, reverse=True), "runs come newest first")
    page = get(addr, "/api/v1/execs?status=failed").json()
    F.check(page["execs"] and all(e["status"] == "failed" and e["task_id"] == "fails"
                                  for e in page["execs"]), "status= filters")
    page = get(addr, "/api/v1/execs?status=success,failed&limit=500").json()
    F.check({e["status"] for e in page["execs"]} == {"success", "failed"}, "status= takes a list")
    future = int(time.time() * 1e6) + 3600 * 10**6
    F.check(get(addr, "/api/v1/execs?since=%d" % future).json()["execs"] == [], "since= filters by time")
    F.check(get(addr, "/api/v1/execs?task=nosuch").json() == {"execs": [], "next_cursor": None},
            "an unknown task has no runs")
    for q in ["limit=0", "limit=501", "limit=x", "status=bogus", "since=-1", "cursor=!!",
              "cursor=" + base64.urlsafe_b64encode(b"no-colon").decode().rstrip("=")]:
        F.check(is_error(get(addr, "/api/v1/execs?" + q), 400), "execs?%s is 400" % q)


def test_errors(addr, store, exec_id):
    F.check(is_error(get(addr, "/api/v1/tasks/nosuch"), 404), "an unknown task is 404")
    F.check(is_error(get(addr, "/api/v1/execs/nosuch"), 404), "an unknown exec is 404")
    F.check(is_error(get(addr, "/api/v1/execs/nosuch/events"), 404), "events of an unknown exec: 404")
    F.check(is_error(post(addr, "/api/v1/tasks/nosuch/trigger"), 404), "triggering an unknown task: 404")
    F.check(is_error(get(addr, "/nope"), 404), "an unknown path is 404")
    F.check(is_error(get(addr, "/../../etc/passwd"), 404), "a path with .. is 404")
    F.check(is_error(get(addr, "/api/v1/tasks/%2e%2e%2f%2e%2e%2fetc%2fpasswd"), 404), "an encoded traversal is 404")
    r = get(addr, "/api/v1/tasks/hello/trigger")
    F.check(is_error(r, 405) and r.headers.get("allow") == "POST", "GET on a POST route is 405 with Allow")
    F.check(is_error(request(addr, "DELETE", "/api/v1/tasks"), 405), "DELETE is 405")
    F.check(is_error(request(addr, "POST", "/api/v1/tasks/hello/trigger", body="{}"), 415),
            "a POST without a JSON content type is 415")
    F.check(is_error(request(addr, "POST", "/api/v1/tasks/hello/trigger", body="a=b",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}), 415),
            "a form post is 415")
    F.check(is_error(request(addr, "POST", "/api/v1/tasks/hello/trigger", body="{bad",
                             headers={"Content-Type": "application/json"}), 400), "bad JSON is 400")
    F.check(is_error(post(addr, "/api/v1/tasks/hello/trigger", [1]), 400), "a body that is no object: 400")
    F.check(is_error(post(addr, "/api/v1/tasks/hello/trigger", {"bogus": 1}), 400), "an unknown field: 400")
    F.check(is_error(post(addr, "/api/v1/tasks/hello/trigger", {"delay_ms": "x"}), 400), "a bad delay_ms: 400")
    big = json.dumps({"param": "x" * 70000})
    F.check(is_error(request(addr, "POST", "/api/v1/tasks/hello/trigger", body=big,
                             headers={"Content-Type": "application/json"}), 413), "a 70 KB body is 413")
    F.check(is_error(post(addr, "/api/v1/tasks/hello/trigger", {"unique_key": ""}), 400), "an empty unique_key: 400")
    F.check(is_error(post(addr, "/api/v1/tasks/hello/trigger", {"timeout_ms": -1}), 400), "a negative timeout_ms: 400")
    F.check(is_error(post(addr, "/api/v1/tasks/hello/trigger", {"priority": "high"}), 400), "a bad priority: 400")
    for path in ["/api/v1/execs/nope/cancel", "/api/v1/execs/nope/retry", "/api/v1/tasks/nope/pause",
                 "/api/v1/tasks/nope/resume", "/api/v1/schedules/nope/pause", "/api/v1/schedules/nope/resume"]:
        F.check(is_error(post(addr, path), 404), "POST %s of nothing is 404" % path.split("/", 4)[-1])
    F.check(is_error(post(addr, "/api/v1/execs/%s/cancel" % exec_id), 409), "cancelling a finished run is 409")
    F.check(is_error(get(addr, "/api/v1/tasks", headers={"Host": "evil.example:80"}), 403),
            "without a token, a foreign Host (DNS rebinding) is 403")
    F.check(get(addr, "/api/v1/tasks", headers={"Host": "localhost:1"}).status == 200,
            "Host localhost is served")
    F.check(is_error(get(addr, "/api/v1/execs/x/events?after=abc"), 400), "a bad after= is 400")
    # Raw garbage must get an answer or a close, never a crash.
    host, port = addr.rsplit(":", 1)
    for junk in [b"\x00\x01\x02\r\n\r\n", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
                 b"POST /api/v1/tasks/hello/trigger HTTP/1.1\r\nContent-Length: -5\r\n\r\n"]:
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(junk)
        try:
            s.recv(100)
        except OSError:
            pass
        s.close()
    F.check(get(addr, "/healthz").status == 200, "the server survives malformed requests")


def test_lifecycle(addr, store):
    """Design section 6 over HTTP: run options, unique keys, cancel, retry, pause."""
    r = post(addr, "/api/v1/tasks/echoer/trigger", {"param": {"cmd": "echo per-run-param"}, "priority": 3})
    F.check(r.status == 201, "trigger with param and priority is 201 (%s)" % r.body[:200])
    if r.status == 201:
        e = wait_finished(addr, r.json()["exec_id"]) or {}
        F.check(e.get("status") == "success" and e.get("param") == {"cmd": "echo per-run-param"} and
                e.get("priority") == 3 and any("per-run-param" in ev["message"] for ev in e.get("events", [])),
                "the run used its own params and keeps them in its record")
        F.check(e.get("attempt") == 1 and e.get("retry_of") is None and "run_at_us" in e and
                "unique_key" in e, "execution JSON has attempt, retry_of, run_at_us, unique_key")
        r2 = post(addr, "/api/v1/execs/%s/retry" % e.get("exec_id"))
        F.check(r2.status == 201 and r2.json().get("exec_id") != e.get("exec_id"), "retry of a finished run is 201 with a new id")
        if r2.status == 201:
            F.check((wait_finished(addr, r2.json()["exec_id"]) or {}).get("status") == "success", "the retried run runs")
    before = int(time.time() * 1e6)
    r = post(addr, "/api/v1/tasks/echoer/trigger", {"delay_ms": 3600000, "unique_key": "nightly",
                                                     "timeout_ms": 90000})
    F.check(r.status == 201, "a delayed trigger with a unique key is 201")
    held = r.json().get("exec_id") if r.status == 201 else None
    if held:
        e = get(addr, "/api/v1/execs/" + held).json()
        F.check(e["status"] == "pending" and e["run_at_us"] >= before + 3600 * 10**6 and e["unique_key"] == "nightly"
                and e.get("timeout_ms") == 90000,
                "the delayed run is pending with its run_at, key and own timeout")
        r = post(addr, "/api/v1/tasks/echoer/trigger", {"unique_key": "nightly"})
        F.check(r.status == 409 and r.json().get("exec_id") == held and isinstance(r.json().get("error"), str),
                "a trigger with a held key is 409 naming the holder")
        F.check(post(addr, "/api/v1/execs/%s/cancel" % held).status == 200 and
                get(addr, "/api/v1/execs/" + held).json()["status"] == "cancelled", "cancel of a pending run")
        r = get(addr, "/api/v1/execs?status=cancelled&task=echoer")
        F.check(r.status == 200 and [x["exec_id"] for x in r.json()["execs"]] == [held],
                "/api/v1/execs?status=cancelled lists it")
    r = post(addr, "/api/v1/tasks/echoer/pause")
    F.check(r.status == 200 and get(addr, "/api/v1/tasks/echoer").json()["paused"] is True, "pause a task")
    r = post(addr, "/api/v1/tasks/echoer/trigger")
    parked = r.json().get("exec_id") if r.status == 201 else None
    F.check(parked and get(addr, "/api/v1/execs/" + parked).json()["status"] == "pending",
            "a paused task's trigger queues up")
    F.check(post(addr, "/api/v1/tasks/echoer/resume").status == 200 and
            get(addr, "/api/v1/tasks/echoer").json()["paused"] is False, "resume a task")
    if parked:
        F.check((wait_finished(addr, parked) or {}).get("status") == "success", "after resume the queued run runs")
    sid = get(addr, "/api/v1/tasks/hello").json()["schedules"][0]["scheme_id"]
    F.check(post(addr, "/api/v1/schedules/%s/pause" % sid).status == 200 and
            get(addr, "/api/v1/schedules").json()[0]["paused"] is True, "pause a schedule")
    F.check(post(addr, "/api/v1/schedules/%s/resume" % sid).status == 200 and
            get(addr, "/api/v1/schedules").json()[0]["paused"] is False, "resume a schedule")
    r = post(addr, "/api/v1/tasks/sleeper/trigger")
    if r.status == 201:
        sleeper = r.json()["exec_id"]
        wait_for(lambda: get(addr, "/api/v1/execs/" + sleeper).json()["status"] == "running", 20)
        F.check(post(addr, "/api/v1/execs/%s/cancel" % sleeper).status == 200, "cancel of a running run is 200")
        F.check((wait_finished(addr, sleeper) or {}).get("status") == "cancelled", "the running run ends cancelled")


def test_metrics(addr, store, observed):
    r = get(addr, "/metrics")
    F.check(r.status == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4"),
            "/metrics is the Prometheus text format")
    for name in METRICS:
        F.check("# HELP %s " % name in r.body and "# TYPE %s " % name in r.body, "/metrics has %s" % name)
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\\n]|\\.)*",?)*\})? -?[0-9.e+]+$')
    bad = [ln for ln in r.body.splitlines() if ln and not ln.startswith("# ") and not sample.match(ln)]
    F.check(not bad, "every sample line parses as name{labels} value: %s" % bad[:3])
    want_ok = observed["hello"]
    F.check(('tasker_executions_total{task="hello",status="success"} %d' % want_ok) in r.body,
            "executions_total counts the %d successful runs of hello" % want_ok)
    F.check('tasker_executions_total{task="fails",status="failed"}' in r.body, "failed runs are counted")
    F.check('tasker_execution_duration_seconds_bucket{task="slow",le="+Inf"} 1' in r.body,
            "the duration histogram has the slow run")
    F.check('tasker_nodes{state="live"} 1' in r.body, "tasker_nodes counts the live node")
    F.check('tasker_pending_executions{task="hello"} 0' in r.body, "pending per task is there")


def test_concurrency(addr):
    results, lock = [], threading.Lock()
    paths = ["/api/v1/tasks", "/api/v1/execs?limit=5", "/metrics", "/api/v1/overview", "/healthz"]

    def one(i):
        try:
            s = get(addr, paths[i % len(paths)]).status
        except Exception as e:  # noqa: BLE001 -- a failure is counted, not raised
            s = repr(e)
        with lock:
            results.append(s)

    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    F.check(results.count(200) == 200, "200 concurrent requests all answered 200 (%.2fs; other: %s)"
            % (time.monotonic() - t0, [x for x in results if x != 200][:3]))


def test_slow_client(addr, store):
    host, port = addr.rsplit(":", 1)
    # A client that sends half a request and then nothing, and a live tail of a long run.
    slow = socket.create_connection((host, int(port)), timeout=30)
    slow.sendall(b"GET /api/v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    exec_id = post(addr, "/api/v1/tasks/slow/trigger").json()["exec_id"]
    tail = http.client.HTTPConnection(host, int(port), timeout=30)
    tail.request("GET", "/api/v1/execs/%s/events" % exec_id, headers={"Accept": "text/event-stream"})
    resp = tail.getresponse()
    t0 = time.monotonic()
    ok = all(get(addr, "/api/v1/tasks", timeout_s=5).status == 200 for _ in range(20))
    took = time.monotonic() - t0
    F.check(ok and took < 5, "a stalled client and a live tail do not block others (20 requests in %.2fs)" % took)
    slow.close()
    resp.read()
    tail.close()


def daemon_suite(build):
    store = Store(build)
    try:
        store.add_shell_task("hello", "echo hello from tasker")
        store.add_shell_task("slow", "echo tick 1; sleep 0.4; echo tick 2; sleep 0.4; echo tick 3")
        store.add_shell_task("fails", "echo about to fail; exit 3")
        store.add_shell_task("a/b", "true")
        store.add_shell_task("echoer", "echo default params")
        store.add_shell_task("sleeper", "sleep 30")
        store.cli("schedule", "add", "hello", "0 0 1 1 *")
        p, addr = store.start("run", "--quiet", "--web", "127.0.0.1:0")
        F.check(addr.startswith("127.0.0.1:"), "run --web listens on the address given (%s)" % addr)
        fail_id = post(addr, "/api/v1/tasks/fails/trigger").json()["exec_id"]
        wait_finished(addr, fail_id)
        test_reads(addr, store)
        exec_id = test_trigger_and_tail(addr, store)
        test_execs_pages(addr, store)
        test_errors(addr, store, exec_id)
        test_metrics(addr, store, {"hello": 7})
        test_concurrency(addr)
        test_slow_client(addr, store)
        test_lifecycle(addr, store)
        rc = store.stop(p)
        F.check(rc == 0, "the daemon with --web stops cleanly on SIGTERM (exit %s)" % rc)
    finally:
        store.close()


def token_suite(build):
    store = Store(build)
    try:
        store.add_shell_task("hello", "echo hi")
        tok = os.path.join(store.dir, "token")
        with open(tok, "w") as f:
            f.write("s3cret-token-value\n")
        r = store.cli("web", "--listen", "0.0.0.0:0", check=False)
        F.check(r.returncode == 2 and "token" in r.stderr, "a non-loopback address without a token is refused")
        r = store.cli("run", "--web", "0.0.0.0:0", check=False)
        F.check(r.returncode != 0 and "TASKER_WEB_TOKEN_FILE" in r.stderr,
                "run --web on a non-loopback address needs a token")
        r = store.cli("web", "--listen", "127.0.0.1:0", "--token-file", os.path.join(store.dir, "none"), check=False)
        F.check(r.returncode != 0 and "token file" in r.stderr, "a missing token file is an error")
        p, addr = store.start("web", "--listen", "0.0.0.0:0", "--token-file", tok)
        addr = "127.0.0.1:" + addr.rsplit(":", 1)[1]
        good = {"Authorization": "Bearer s3cret-token-value"}
        F.check(is_error(get(addr, "/api/v1/tasks"), 401), "with a token, /api without it is 401")
        F.check(get(addr, "/api/v1/tasks").headers.get("www-authenticate", "").startswith("Bearer"),
                "401 says WWW-Authenticate: Bearer")
        F.check(is_error(get(addr, "/api/v1/tasks", headers={"Authorization": "Bearer wrong"}), 401),
                "a wrong token is 401")
        F.check(is_error(get(addr, "/api/v1/tasks", headers={"Authorization": "Bearer s3cret-token-valu"}), 401),
                "a token's prefix is 401")
        F.check(is_error(get(addr, "/metrics"), 401), "/metrics needs the token too")
        F.check(get(addr, "/api/v1/tasks", headers=good).status == 200, "the right token is 200")
        F.check(get(addr, "/healthz").status == 200 and get(addr, "/").status == 200,
                "/healthz and the page itself need no token")
        F.check(is_error(post(addr, "/api/v1/tasks/hello/trigger"), 401), "a POST without the token is 401")
        r = post(addr, "/api/v1/tasks/hello/trigger", headers=good)
        F.check(r.status == 201, "a POST with the token triggers")
        e = get(addr, "/api/v1/execs/" + r.json()["exec_id"], headers=good).json()
        F.check(e["status"] == "pending", "tasker web runs nothing: the run waits for a daemon")
        F.check('tasker_pending_executions{task="hello"} 1' in get(addr, "/metrics", headers=good).body,
                "the pending gauge sees it")
        F.check(store.stop(p) == 0, "tasker web stops cleanly on SIGTERM")
        # The daemon then runs it, and a scanning `tasker web` counts it.
        d, daddr = store.start("run", "--quiet", "--web", "127.0.0.1:0", env={"TASKER_WEB_TOKEN_FILE": tok})
        F.check(is_error(get(daddr, "/api/v1/tasks"), 401) and get(daddr, "/api/v1/tasks", headers=good).status == 200,
                "run --web takes its token from $TASKER_WEB_TOKEN_FILE")
        p, addr = store.start("web", "--listen", "127.0.0.1:0", "--read-only")
        F.check(wait_for(lambda: 'tasker_executions_total{task="hello",status="success"} 1'
                         in get(addr, "/metrics").body, 20),
                "tasker web counts runs from the store (scan)")
        F.check(is_error(post(addr, "/api/v1/tasks/hello/trigger"), 403), "--read-only refuses POSTs with 403")
        F.check(get(addr, "/api/v1/tasks").status == 200, "--read-only still answers GETs")
        store.stop(p)
        store.stop(d)
    finally:
        store.close()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build-asan"
    daemon_suite(build)
    token_suite(build)
    print("%d failure(s)" % F.count)
    sys.exit(1 if F.count else 0)


if __name__ == "__main__":
    main()
