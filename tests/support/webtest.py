"""Shared by the web tests (tests/test_web_*.py): a store with tasks, a `tasker run --web`
or `tasker web` process on a free port, HTTP helpers and waiting on conditions.
Standard library only."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time


class Failures:
    def __init__(self):
        self.count = 0

    def check(self, cond, what):
        if cond:
            print("ok:", what, flush=True)
        else:
            self.count += 1
            print("FAIL:", what, flush=True)
        return cond


def wait_for(pred, timeout_s=20.0, interval_s=0.05):
    """Polls pred until it returns a true value; returns it, or None on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            return None
        time.sleep(interval_s)


class Store:
    """A temporary SQLite store driven through the tasker command."""

    def __init__(self, build):
        self.tasker = os.path.join(os.path.abspath(build), "tasker")
        self.dir = tempfile.mkdtemp(prefix="tasker-web-")
        self.dsn = "sqlite:" + os.path.join(self.dir, "t.db")
        self.procs = []

    def cli(self, *args, check=True):
        r = subprocess.run([self.tasker, "--db", self.dsn, *args], capture_output=True, text=True,
                           timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError("tasker %s: %s" % (" ".join(args), r.stderr))
        return r

    def add_shell_task(self, task_id, cmd, desc=None):
        args = ["task", "add", task_id, "--handler", "shell", "--param", json.dumps({"cmd": cmd})]
        if desc:
            args += ["--desc", desc]
        self.cli(*args)

    def start(self, *args, env=None):
        """Starts `tasker ARGS` (run --web ... or web ...) and returns (proc, base_url)."""
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.Popen([self.tasker, "--db", self.dsn, *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, env=e)
        self.procs.append(p)
        found = {}
        lines = []

        def reader():
            for line in p.stderr:
                lines.append(line)
                m = re.search(r"web on http://([^/\s]+)/", line)
                if m and "addr" not in found:
                    found["addr"] = m.group(1)

        threading.Thread(target=reader, daemon=True).start()
        if not wait_for(lambda: "addr" in found or p.poll() is not None, 30):
            raise RuntimeError("no address printed: %s" % "".join(lines))
        if "addr" not in found:
            raise RuntimeError("exited %s: %s" % (p.poll(), "".join(lines)))
        p.lines = lines
        return p, found["addr"]

    def stop(self, p, timeout_s=30):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            return None

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def request(addr, method, path, body=None, headers=None, timeout_s=30):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout_s)
    try:
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data.decode("utf-8", "replace"))
    finally:
        c.close()
