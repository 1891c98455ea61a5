"""Cooperative preemption on the worker side, on a real broker.

  test_preempt_makes_an_exec_command_yield_and_requeues_it_committed

A dispatch record (with a checkpoint to resume from) and then a PREEMPT
control record are written with put_record, as the scheduler and an operator
would; strata-worker runs an exec command that, on SIGUSR1, writes its state
and exits 75. Read back read_committed: one requeue record on the tier topic
(attempt 2, max_attempts + 1, the new state, the strata.yield.1 header, the
dispatch record's partition and key) and one terminal CHECKPOINT event
("yielded: <reason>"). A second worker started afterwards does not run
attempt 1 again: the dispatch offset was committed with them.

Usage: test_worker_yield.py BINDIR PUT_RECORD   (STRATA_TEST_BOOTSTRAP set)
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

from harness import Failure, Harness, check, run

BIN = sys.argv[1]
PUT = sys.argv[2]


def put(h, topic, partition, key, kind, record):
    r = subprocess.run([PUT, h.bootstrap, h.prefix + topic, str(partition), key, kind],
                       input=json.dumps(record), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Failure("put_record %s: %s" % (topic, r.stderr))


def values(h, topic, **where):
    return [r for r in h.read(topic) if "value" in r and
            all(r["value"].get(k) == v for k, v in where.items())]


def b64(s):
    return base64.b64encode(s.encode()).decode()


def test_preempt_makes_an_exec_command_yield_and_requeues_it_committed():
    d = tempfile.mkdtemp(prefix="strata-yield-")
    cmd = ('d=%s; cat "$STRATA_CHECKPOINT_FILE" > "$d/$STRATA_TASK_ID.resume"; '
           'trap \'printf "after-%%s" "$(cat "$d/$STRATA_TASK_ID.resume")" '
           '> "$STRATA_CHECKPOINT_OUT"; exit 75\' USR1; '
           'touch "$d/$STRATA_TASK_ID.ready"; while :; do sleep 0.1; done' % d)
    h = Harness(BIN, "yield", ["--set", "exec.default=" + cmd, "--set", "exec.quick=true"])
    try:
        h.ensure_topics()
        h.start("worker", "strata-worker")
        now = int(time.time() * 1000)
        put(h, "dispatch", 1, "yk-1", "task", {
            "id": "y1", "tier": "normal", "created_ms": now, "enqueued_ms": now,
            "retry": {"max_attempts": 2, "backoff": "FIXED", "base_ms": 1000,
                      "cap_ms": 1000},
            "checkpoint": b64("resume-1")})
        h.wait_for("the command to start",
                   lambda: os.path.exists(os.path.join(d, "y1.ready")), 90)
        put(h, "control", 0, "y1", "control", {
            "kind": "PREEMPT", "task_id": "y1", "reason": "kafka test",
            "issued_ms": int(time.time() * 1000)})

        def yielded():
            return [r for r in values(h, "events", task_id="y1", kind="CHECKPOINT")
                    if r["value"]["error"]]
        ends = h.wait_for("the terminal CHECKPOINT event", yielded, 60)
        check(len(ends) == 1, "one terminal CHECKPOINT: %s" % ends)
        ev, evp = ends[0]["value"], ends[0]["partition"]
        check(ev["error"] == "yielded: kafka test" and ev["retryable"] is True and
              ev["attempt"] == 1 and ev["worker_id"], "CHECKPOINT event: %s" % ev)
        check(ev["checkpoint"] == b64("after-resume-1"), "event state: %s" % ev["checkpoint"])
        check(evp == 1 and ends[0]["key"] == "yk-1", "event at %s key %s" % (evp, ends[0]["key"]))

        rq = values(h, "tier:normal", id="y1")
        check(len(rq) == 1, "one requeue record: %s" % rq)
        t = rq[0]["value"]
        check(rq[0]["partition"] == 1 and rq[0]["key"] == "yk-1",
              "requeue at %s key %s" % (rq[0]["partition"], rq[0]["key"]))
        check(t["attempt"] == 2 and t["retry"]["max_attempts"] == 3,
              "attempt %s max_attempts %s" % (t["attempt"], t["retry"]["max_attempts"]))
        check(t["checkpoint"] == b64("after-resume-1"), "requeue state: %s" % t["checkpoint"])
        check(t["not_before_ms"] is None and t["enqueued_ms"] >= now, "times: %s" % t)
        hist = json.loads(t["headers"]["strata.yield.1"])
        check(hist["reason"] == "kafka test" and hist["started_ms"] <= hist["ended_ms"],
              "strata.yield.1: %s" % hist)
        check(open(os.path.join(d, "y1.resume")).read() == "resume-1", "resume file")
        check(not values(h, "events", task_id="y1", kind="FAILED"), "no FAILED")

        # The dispatch offset went out with them: a new worker of the group
        # runs the next record of the partition, not attempt 1 again (it
        # would have started first, in partition order).
        h.kill("worker", sig=15)
        h.start("worker2", "strata-worker")
        put(h, "dispatch", 1, "yk-2", "task", {
            "id": "y2", "type": "quick", "tier": "normal", "created_ms": now,
            "enqueued_ms": now})
        h.wait_for("the next record to succeed",
                   lambda: values(h, "events", task_id="y2", kind="SUCCEEDED"), 90)
        starts = values(h, "events", task_id="y1", kind="STARTED")
        check(len(starts) == 1, "attempt 1 started %d times" % len(starts))
        print("  requeued as attempt 2 with %d bytes of state; offset committed"
              % len(base64.b64decode(t["checkpoint"])))
    finally:
        h.stop_all()


if __name__ == "__main__":
    run([test_preempt_makes_an_exec_command_yield_and_requeues_it_committed])
