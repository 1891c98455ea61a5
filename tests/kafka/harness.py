"""Process harness for the pipeline tests on a real broker.

Starts Strata's programs with a per-test topic prefix, stops every process it
started by PID (also on failure), and reads topics back through `strata read`.
Standard library only.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time


class Failure(Exception):
    pass


class Skip(Exception):
    """A tool the test needs is missing; the message names it."""


# ctest's SKIP_RETURN_CODE of these tests.
SKIPPED = 77


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class Harness:
    def __init__(self, bindir, name, extra=()):
        self.bindir = bindir
        self.bootstrap = os.environ.get("STRATA_TEST_BOOTSTRAP")
        if not self.bootstrap:
            raise Failure("STRATA_TEST_BOOTSTRAP is not set: start a broker with "
                          "deploy/kafka-local/kafka-local start and export its address")
        self.prefix = "t%s%d." % (name, random.randrange(1 << 30))
        # Own topics and consumer groups per test, so tests never share state.
        self.common = ["--log-level", "warn", "--set", "bootstrap.servers=" + self.bootstrap,
                       "--set", "topic.prefix=" + self.prefix,
                       "--set", "scheduler.group.id=%ssched" % self.prefix,
                       "--set", "worker.group.id=%sworker" % self.prefix,
                       # An ephemeral admin port: tests never collide on it.
                       "--set", "admin.listen=127.0.0.1:0"] + list(extra)
        self.procs = {}
        self.logdir = os.environ.get("STRATA_TEST_LOGDIR", "/tmp")

    # -- processes ---------------------------------------------------------
    def start(self, name, program, *args):
        log = open(os.path.join(self.logdir, "%s%s.log" % (self.prefix, name)), "ab")
        p = subprocess.Popen([os.path.join(self.bindir, program)] + self.common + list(args),
                             stdout=log, stderr=log, start_new_session=True)
        self.procs[name] = p
        return p

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            os.kill(p.pid, sig)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()

    def stop_all(self):
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)

    def admin_port(self, name, timeout=60):
        """The admin port a scheduler started with admin.listen=127.0.0.1:0
        logged ("admin endpoint on port N")."""
        path = os.path.join(self.logdir, "%s%s.log" % (self.prefix, name))

        def find():
            with open(path, errors="replace") as f:
                for line in f:
                    if "admin endpoint on port" in line:
                        return int(line.split("on port ")[1].split()[0])
            return None
        return self.wait_for("the admin port of " + name, find, timeout)

    def http_json(self, port, path):
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return json.loads(r.read().decode())

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    # -- CLI ---------------------------------------------------------------
    def strata(self, *args, stdin=None, timeout=120):
        r = subprocess.run([os.path.join(self.bindir, "strata")] + self.common + list(args),
                           input=stdin, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise Failure("strata %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr[-2000:]))
        return r.stdout

    def ensure_topics(self):
        self.strata("topics", "ensure")

    def submit_jsonl(self, tasks):
        lines = "".join(json.dumps(t) + "\n" for t in tasks)
        out = self.strata("submit", "--jsonl", "-", stdin=lines)
        return out.split()

    def read(self, topic):
        out = self.strata("read", topic)
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def wait_for(self, what, fn, timeout):
        """Polls fn() until it returns a truthy value or the deadline passes."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.5)
        raise Failure("timed out after %ds waiting for %s" % (timeout, what))


def run(tests):
    """Runs test functions; prints the closing 'N passed, N failed, N skipped'
    line. Exits 1 if any failed, else SKIPPED if any was skipped (a missing
    tool), else 0."""
    passed = failed = skipped = 0
    for t in tests:
        t0 = time.monotonic()
        try:
            t()
            passed += 1
            print("PASS %s (%.1fs)" % (t.__name__, time.monotonic() - t0), flush=True)
        except Skip as e:
            skipped += 1
            print("SKIP %s: skipped: %s" % (t.__name__, e), flush=True)
        except Exception as e:  # noqa: BLE001 - report any failure
            failed += 1
            print("FAIL %s: %s" % (t.__name__, e), flush=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed else SKIPPED if skipped else 0)
