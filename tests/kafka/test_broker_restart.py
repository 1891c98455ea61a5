"""The broker killed under load and restarted with its data.

  test_broker_sigkill_and_restart_loses_and_duplicates_nothing

The test runs a broker of its own through deploy/kafka-local/kafka-local, on
its own ports and state dir, so the suite's shared broker
($STRATA_TEST_BOOTSTRAP) is never touched. One strata-scheduler and one
strata-worker run for the whole test while tasks are submitted at a steady
rate. Once some have succeeded the broker's JVM is SIGKILLed; after a fixed
outage it is started again on the same data (KAFKA_LOCAL_KEEP_DATA=1). Then:

- the scheduler and the worker are the processes started at the beginning,
  still running;
- every task whose submission Kafka acknowledged has exactly one committed
  SUCCEEDED event written by the worker (submissions during the outage may
  fail; only acknowledged ones count);
- no (task id, attempt) appears twice on the dispatch topic;
- the time from "broker ready again" to the first DISPATCHED event stamped
  after it is printed. It is reported, not asserted: targets belong to the
  benchmarks.

Usage: test_broker_restart.py BINDIR
Environment: STRATA_RESTART_TEST_PORT (default 49092; the controller uses the
next port).
"""
import collections
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from harness import Failure, Harness, check, run

BIN = sys.argv[1]
KAFKA_LOCAL = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..", "deploy", "kafka-local", "kafka-local")
PORT = int(os.environ.get("STRATA_RESTART_TEST_PORT", "49092"))
TIERS = ["critical", "high", "normal", "low", "background"]

RATE_PER_S = 20          # submitted tasks per second, in one batch a second
OUTAGE_S = 5             # how long the broker stays dead: the scenario itself
LOAD_AFTER_READY_S = 20  # load kept up after the broker is back
BEFORE_KILL = 100        # tasks that succeed before the kill
TARGET_S = 10            # reported next to the measured figure, never asserted


class Broker:
    """A kafka-local broker on a state dir of its own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="strata-restart-kafka.")
        self.env = dict(os.environ, KAFKA_LOCAL_PORT=str(PORT),
                        KAFKA_LOCAL_CONTROLLER_PORT=str(PORT + 1),
                        KAFKA_LOCAL_DIR=self.dir)
        self.addr = None
        self.start_note = ""

    def _run(self, cmd, keep_data, timeout):
        env = dict(self.env, KAFKA_LOCAL_KEEP_DATA="1" if keep_data else "0")
        return subprocess.run([KAFKA_LOCAL, cmd], env=env, capture_output=True,
                              text=True, timeout=timeout)

    def start(self, keep_data):
        r = self._run("start", keep_data, 180)
        check(r.returncode == 0 and r.stdout.strip(),
              "kafka-local start (KAFKA_LOCAL_KEEP_DATA=%d) should print the broker's "
              "address and exit 0; it exited %d: %s" %
              (keep_data, r.returncode, (r.stderr or r.stdout)[-3000:]))
        self.addr = r.stdout.strip().splitlines()[-1]
        # kafka-local's own account of the start ("... ready on ... (pid N, M s)").
        ready = [l for l in r.stderr.splitlines() if " ready on " in l]
        self.start_note = ready[-1].replace("kafka-local: ", "") if ready else ""
        return self.addr

    def pid(self):
        with open(os.path.join(self.dir, "kafka.pid")) as f:
            pid = int(f.read().strip())
        # The PID file's process must still be this broker (no PID reuse).
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        props = os.path.join(self.dir, "server.properties")
        check("kafka.Kafka " + props in cmd,
              "pid %d of %s/kafka.pid should be our broker (kafka.Kafka %s); its "
              "command line is %r" % (pid, self.dir, props, cmd[:300]))
        return pid

    def cluster_id(self):
        with open(os.path.join(self.dir, "data", "meta.properties")) as f:
            for line in f:
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
        raise Failure("no cluster.id in %s/data/meta.properties" % self.dir)

    def kill(self):
        """SIGKILLs the broker's JVM and returns once the process is gone."""
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)

        def gone():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except FileNotFoundError:
                return True
        wait_until("the broker JVM (pid %d) to die after SIGKILL" % pid, gone, 30)
        return pid

    def log_tail(self, n=15):
        return tail(os.path.join(self.dir, "server.log"), n)

    def destroy(self):
        try:
            self._run("stop", False, 120)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Submitter:
    """Submits RATE_PER_S tasks a second, one `strata submit` process per
    batch, so a batch stuck on a dead broker never holds up the next one.
    A task counts as submitted only when `strata submit` printed its id,
    which it does once Kafka acknowledged the record."""

    def __init__(self, h):
        self.h = h
        self.acked = set()
        self.unacked = set()
        self.errors = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=48)
        self.futures = []
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _batch(self, n):
        ids = ["b%d-%d" % (n, i) for i in range(RATE_PER_S)]
        lines = "".join(json.dumps({"tier": TIERS[(n + i) % 5], "id": tid}) + "\n"
                        for i, tid in enumerate(ids))
        try:
            r = subprocess.run([os.path.join(self.h.bindir, "strata")] + self.h.common +
                               ["submit", "--jsonl", "-"], input=lines,
                               capture_output=True, text=True, timeout=90)
            out, err, rc = r.stdout, r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out, err, rc = (e.stdout or b"").decode(), "timed out after 90 s", -1
        printed = set(out.split())
        with self.lock:
            self.acked |= printed & set(ids)
            self.unacked |= set(ids) - printed
            if rc != 0 and len(self.errors) < 5:
                self.errors.append("batch %d: exit %d: %s" % (n, rc, err.strip()[-300:]))

    def _loop(self):
        t0 = time.monotonic()
        n = 0
        # A fixed rate: batch n starts at t0 + n seconds.
        while not self.stop_ev.wait(max(0.0, t0 + n - time.monotonic())):
            self.futures.append(self.pool.submit(self._batch, n))
            n += 1

    def start(self):
        self.thread.start()

    def stop(self):
        """Stops submitting and waits for the batches still in flight (each
        is bounded by its own timeout)."""
        self.stop_ev.set()
        if self.thread.is_alive():
            self.thread.join(10)
        concurrent.futures.wait(self.futures, timeout=120)
        self.pool.shutdown(wait=False)

    def snapshot(self):
        with self.lock:
            return set(self.acked), set(self.unacked), list(self.errors)


def wait_until(what, fn, timeout, poll=0.25, seen=None):
    """Polls fn() until it returns a truthy value or the deadline passes;
    seen() (optional) says in the timeout message what was seen last."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(poll)
    raise Failure("timed out after %ds waiting for %s%s" %
                  (timeout, what, "; seen: " + seen() if seen else ""))


def tail(path, n, without=None):
    try:
        with open(path, errors="replace") as f:
            return "".join(collections.deque((l for l in f if not without or without not in l),
                                             n))
    except OSError as e:
        return "(cannot read %s: %s)\n" % (path, e)


def port_in_use(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Reader:
    """Reads topics back through `strata read` (read_committed). A read may
    fail while the broker is coming back; polls treat that as "not yet" and
    remember the error for the timeout message."""

    def __init__(self, h):
        self.h = h
        self.last_error = None
        self.last_count = {}

    def _read(self, topic):
        try:
            values = [r["value"] for r in self.h.read(topic) if "value" in r]
        except Failure as e:
            self.last_error = str(e)[-500:]
            return None
        self.last_count[topic] = len(values)
        return values

    def events(self):
        return self._read("events")

    def dispatches(self):
        return self._read("dispatch")

    def seen(self):
        return "records read last: %s; last read error: %s" % (
            self.last_count or "none", self.last_error or "none")


def test_broker_sigkill_and_restart_loses_and_duplicates_nothing():
    for p in (PORT, PORT + 1):
        check(not port_in_use(p),
              "port %d on 127.0.0.1 should be free for this test's own broker; something "
              "listens there (set STRATA_RESTART_TEST_PORT to use other ports)" % p)
    broker = Broker()
    h = sub = None
    try:
        addr = broker.start(keep_data=False)
        print("  own broker: %s, state dir %s" % (broker.start_note, broker.dir), flush=True)
        # The harness reads the bootstrap address from the environment: point
        # it at this test's broker, never at the suite's shared one.
        os.environ["STRATA_TEST_BOOTSTRAP"] = addr
        h = Harness(BIN, "restart", ["--set", "exec.default=true"])
        sub = Submitter(h)
        try:
            run_scenario(h, broker, Reader(h), sub)
        except Exception:
            for name in ("scheduler", "worker"):
                path = os.path.join(h.logdir, "%s%s.log" % (h.prefix, name))
                print("----- tail of the %s's log (%s), without librdkafka's "
                      "\"Connection refused\" lines -----\n%s" %
                      (name, path, tail(path, 40, "Connection refused")), flush=True)
            print("----- tail of the broker's server.log -----\n%s" % broker.log_tail(),
                  flush=True)
            raise
    finally:
        if sub:
            sub.stop()
        if h:
            h.stop_all()
        broker.destroy()


def still_running(h, pids, when):
    for name, pid in pids.items():
        p = h.procs.get(name)
        check(p is not None and p.pid == pid,
              "the %s should still be pid %d %s; the harness holds %s" %
              (name, pid, when, p.pid if p else "no process"))
        rc = p.poll()
        check(rc is None, "the %s (pid %d) should still be running %s; it exited with "
              "code %s" % (name, pid, when, rc))


def run_scenario(h, broker, rd, sub):
    h.ensure_topics()
    h.start("scheduler", "strata-scheduler", "--set", "scheduler.instance.id=restart",
            "--log-level", "info")
    h.start("worker", "strata-worker", "--log-level", "info")
    pids = {name: h.procs[name].pid for name in ("scheduler", "worker")}
    port = h.admin_port("scheduler")
    h.wait_for("the scheduler to own and recover its partitions",
               lambda: (lambda z: z["assigned_partitions"] > 0
                        and z["recovering_partitions"] == 0)(h.http_json(port, "/healthz")),
               60)
    sub.start()

    def succeeded_before_kill():
        ev = rd.events()
        n = ev and sum(1 for e in ev if e["kind"] == "SUCCEEDED")
        return ev if n and n >= BEFORE_KILL else None
    before = wait_until("%d tasks to succeed before the kill" % BEFORE_KILL,
                        succeeded_before_kill, 120, 0.5, rd.seen)
    still_running(h, pids, "before the broker is killed")
    cluster = broker.cluster_id()

    old_pid = broker.kill()
    t_kill = time.monotonic()
    print("  broker (pid %d) SIGKILLed with %d events committed; %d tasks acknowledged "
          "so far" % (old_pid, len(before), len(sub.snapshot()[0])), flush=True)
    time.sleep(OUTAGE_S)  # the outage is the scenario, not a wait for a condition

    broker.start(keep_data=True)
    ready_mono = time.monotonic()
    ready_ms = int(time.time() * 1000)
    offset_at_ready = time.time() - time.monotonic()
    new_pid = broker.pid()
    print("  broker back on its data after a %d s outage: %s; ready %.1f s after the kill"
          % (OUTAGE_S, broker.start_note, ready_mono - t_kill), flush=True)
    check(new_pid != old_pid, "the restarted broker should be a new process; the PID "
          "file still names pid %d" % old_pid)
    check(broker.cluster_id() == cluster,
          "the restarted broker should keep cluster id %s (its data); meta.properties "
          "now says %s" % (cluster, broker.cluster_id()))

    # The data survived: every event committed before the kill reads back.
    keys = {(e["task_id"], e["attempt"], e["kind"]) for e in before}

    def old_events_back():
        ev = rd.events()
        return ev is not None and keys <= {(e["task_id"], e["attempt"], e["kind"])
                                           for e in ev}
    wait_until("the %d events committed before the kill to read back after the restart"
               % len(keys), old_events_back, 90, 0.5, rd.seen)

    # The first dispatch after the broker is ready, from the DISPATCHED
    # events' own timestamps (the scheduler stamps them when it decides).
    def first_dispatch_after_ready():
        if not h.alive("scheduler"):
            raise Failure("the scheduler (pid %d) exited with code %s while the broker "
                          "was back; it should have stayed up" %
                          (pids["scheduler"], h.procs["scheduler"].poll()))
        ev = rd.events()
        late = [e["time_ms"] for e in ev or () if e["kind"] == "DISPATCHED"
                and e["time_ms"] >= ready_ms]
        return min(late) if late else None
    first_ms = wait_until("a DISPATCHED event stamped after the broker was ready again",
                          first_dispatch_after_ready, 120, 0.5, rd.seen)
    drift = (time.time() - time.monotonic()) - offset_at_ready
    note = "" if abs(drift) < 0.5 else (
        "; the wall clock moved %+.1f s against the monotonic clock during the run, so "
        "this figure is not reliable" % drift)
    print("broker restart: first dispatch %.1f s after the broker was ready "
          "(target <= %d s)%s" % ((first_ms - ready_ms) / 1000.0, TARGET_S, note),
          flush=True)

    # Keep the load up for a while after the restart, then stop submitting.
    load_end = ready_mono + LOAD_AFTER_READY_S
    while time.monotonic() < load_end:
        still_running(h, pids, "while the load goes on after the restart")
        time.sleep(0.5)  # liveness poll interval over a fixed load period
    sub.stop()
    acked, unacked, errors = sub.snapshot()
    print("  %d tasks acknowledged, %d submissions not acknowledged%s" %
          (len(acked), len(unacked),
           "" if not errors else " (first errors: %s)" % " | ".join(errors[:2])),
          flush=True)
    check(len(acked) >= BEFORE_KILL,
          "at least %d acknowledged tasks, saw %d" % (BEFORE_KILL, len(acked)))
    still_running(h, pids, "after the broker restart")

    # Every acknowledged task succeeds; fail early if a process died.
    def all_succeeded():
        still_running(h, pids, "while the acknowledged tasks complete")
        ev = rd.events()
        if ev is None:
            return None
        ok = {e["task_id"] for e in ev if e["kind"] == "SUCCEEDED"}
        return ev if acked <= ok else None
    try:
        events = wait_until("every acknowledged task to succeed", all_succeeded, 180, 0.5,
                            rd.seen)
    except Failure as e:
        ev = rd.events() or []
        ok = {x["task_id"] for x in ev if x["kind"] == "SUCCEEDED"}
        dispatched = {x["task_id"] for x in ev if x["kind"] == "DISPATCHED"}
        missing = sorted(acked - ok)
        raise Failure("%s: %d of %d acknowledged tasks have no SUCCEEDED event (%d of "
                      "those were dispatched), e.g. %s" %
                      (e, len(missing), len(acked), len(set(missing) & dispatched),
                       missing[:8]))

    succeeded = collections.Counter(e["task_id"] for e in events
                                    if e["kind"] == "SUCCEEDED")
    twice = sorted(t for t in acked if succeeded[t] != 1)
    check(not twice, "each acknowledged task should have exactly one SUCCEEDED event; "
          "%d do not, e.g. %s" % (len(twice), [(t, succeeded[t]) for t in twice[:8]]))
    not_worker = [e["task_id"] for e in events
                  if e["kind"] == "SUCCEEDED" and not e.get("worker_id")]
    check(not not_worker, "every SUCCEEDED event should name the worker that ran it; "
          "%d do not, e.g. %s" % (len(not_worker), not_worker[:8]))

    disp = rd.dispatches()
    check(disp is not None, "reading the dispatch topic: %s" % rd.last_error)
    per_attempt = collections.Counter((d["id"], d["attempt"]) for d in disp)
    dups = [(k, v) for k, v in per_attempt.items() if v > 1]
    check(not dups, "no (task id, attempt) should be dispatched twice; %d were, e.g. %s" %
          (len(dups), dups[:8]))
    missing = sorted(t for t in acked if (t, 1) not in per_attempt)
    check(not missing, "every acknowledged task should be on the dispatch topic; %d are "
          "not, e.g. %s" % (len(missing), missing[:8]))
    still_running(h, pids, "at the end")
    ran_unacked = len(unacked & set(succeeded))
    print("  %d acknowledged tasks each succeeded once, %d dispatch records, no "
          "duplicate (task, attempt); %d unacknowledged submissions ran anyway" %
          (len(acked), len(disp), ran_unacked), flush=True)


if __name__ == "__main__":
    run([test_broker_sigkill_and_restart_loses_and_duplicates_nothing])
