"""Queues on a real broker: each worker receives only its queue's tasks, and
one queue's full window never holds back another's.

  test_each_worker_runs_only_its_own_queue
  test_a_backlogged_queue_does_not_hold_back_another_queue

Usage: test_queues.py BINDIR   (STRATA_TEST_BOOTSTRAP must be set)
"""
import collections
import sys
import time

from harness import Harness, check, run

BIN = sys.argv[1]
QUEUES = "default,gpu,py.cpu"


def values(h, topic):
    return [r["value"] for r in h.read(topic) if "value" in r]


def succeeded_by_worker(h):
    """task id -> worker ids of its SUCCEEDED events."""
    out = collections.defaultdict(list)
    for e in values(h, "events"):
        if e["kind"] == "SUCCEEDED":
            out[e["task_id"]].append(e["worker_id"])
    return out


def test_each_worker_runs_only_its_own_queue():
    h = Harness(BIN, "queues", ["--set", "queues=" + QUEUES,
                                "--set", "exec.default=true"])
    try:
        h.ensure_topics()
        h.start("scheduler", "strata-scheduler", "--set", "admin.listen=")
        # The gpu worker has a handler for everything, so only routing keeps
        # the other queues' tasks away from it.
        for q in ("gpu", "default"):
            h.start("worker-" + q, "strata-worker", "--set", "worker.queue=" + q,
                    "--set", "worker.instance.id=" + q)
        tasks = {q: h.submit_jsonl([dict({"tier": "normal", "id": "%s-%d" % (q, i)},
                                         **({"queue": q} if q != "none" else {}))
                                    for i in range(30)])
                 for q in ("gpu", "default", "none")}
        want = {t for ids in tasks.values() for t in ids}
        ok = h.wait_for("all %d tasks to succeed" % len(want),
                        lambda: (lambda s: s if want <= set(s) else None)(
                            succeeded_by_worker(h)), 90)
        # A worker's id is host:pid.
        pid = {q: ":%d" % h.procs["worker-" + q].pid for q in ("gpu", "default")}
        for q, ids in tasks.items():
            runs_on = "gpu" if q == "gpu" else "default"
            wrong = {t: ok[t] for t in ids
                     if len(ok[t]) != 1 or not ok[t][0].endswith(pid[runs_on])}
            check(not wrong, "every %s task succeeds once, on the %s worker; not: %s" %
                  (q, runs_on, sorted(wrong.items())[:5]))
        # Read back from the topics: each dispatch topic holds only its queue.
        gpu_topic = [r["value"]["id"] for r in h.read("queue:gpu") if "value" in r]
        dflt_topic = [r["value"]["id"] for r in h.read("dispatch") if "value" in r]
        check(set(gpu_topic) == set(tasks["gpu"]),
              "the gpu dispatch topic holds exactly the gpu tasks")
        check(set(dflt_topic) == set(tasks["default"]) | set(tasks["none"]),
              "the default dispatch topic holds the tasks of the default queue, named "
              "or not")
        check(not [r for r in h.read("queue:py.cpu") if "value" in r],
              "nothing reaches the py.cpu queue, which no task named")
        # The scheduler's DISPATCHED events name the queue (null: default).
        disp = {e["task_id"]: e["queue"] for e in values(h, "events")
                if e["kind"] == "DISPATCHED"}
        check(all(disp[t] == "gpu" for t in tasks["gpu"]) and
              all(disp[t] is None for t in tasks["default"] + tasks["none"]),
              "DISPATCHED events carry the task's queue")
        # A queue nobody configured is refused at the producer, naming it.
        try:
            h.submit_jsonl([{"tier": "normal", "queue": "nope"}])
            check(False, "a task naming an unconfigured queue is refused")
        except Exception as e:  # noqa: BLE001 - the harness raises Failure
            check("Task.queue: \"nope\" is not a configured queue" in str(e),
                  "the refusal names the queue: %s" % e)
        print("  queues: %d gpu, %d default and %d unnamed tasks each ran once on "
              "their queue's worker" % tuple(len(tasks[q]) for q in
                                              ("gpu", "default", "none")), flush=True)
    finally:
        h.stop_all()


def test_a_backlogged_queue_does_not_hold_back_another_queue():
    # The gpu queue has a slow worker and a deep backlog in the low tier, so
    # its window is full; low tasks of the default queue submitted after the
    # backlog still go at once, past it, in the same tier.
    wmax = 8
    h = Harness(BIN, "qhol", ["--set", "queues=" + QUEUES])
    try:
        h.ensure_topics()
        h.start("scheduler", "strata-scheduler", "--set", "admin.listen=",
                "--set", "scheduler.dispatch.window.min=4",
                "--set", "scheduler.dispatch.window.max=%d" % wmax)
        h.start("worker-gpu", "strata-worker", "--set", "worker.queue=gpu",
                "--set", "worker.concurrency=1", "--set", "exec.default=sleep 0.2")
        h.start("worker-default", "strata-worker", "--set", "worker.concurrency=4",
                "--set", "exec.default=true")
        gpu = h.submit_jsonl([{"tier": "low", "queue": "gpu", "id": "gpu-%d" % i}
                              for i in range(300)])
        h.wait_for("the gpu worker to start", lambda: any(
            e["kind"] == "STARTED" for e in values(h, "events")), 60)
        t_sub = int(time.time() * 1000)
        dflt = h.submit_jsonl([{"tier": "low", "id": "dflt-%d" % i} for i in range(40)])
        done = h.wait_for("the 40 default-queue tasks to succeed", lambda: (
            lambda s: s if set(dflt) <= set(s) else None)(succeeded_by_worker(h)), 60)
        events = values(h, "events")
        ended = max(e["time_ms"] for e in events
                    if e["kind"] == "SUCCEEDED" and e["task_id"] in dflt)
        gpu_done = sum(1 for t in gpu if t in done)
        check(gpu_done < len(gpu) // 2,
              "the gpu backlog was still mostly waiting when the default queue's "
              "tasks were done (%d of %d gpu tasks had succeeded)" % (gpu_done, len(gpu)))
        # The gpu window stayed bounded meanwhile: dispatched-unstarted gpu
        # attempts never exceeded window.max (+ one per slot of slack).
        disp, prog = {}, {}
        for e in events:
            if e["task_id"] not in gpu:
                continue
            if e["kind"] == "DISPATCHED":
                disp.setdefault(e["task_id"], e["time_ms"])
            elif e["kind"] in ("STARTED", "SUCCEEDED", "FAILED"):
                prog.setdefault(e["task_id"], e["time_ms"])
        steps = sorted([(t, 0, 1) for t in disp.values()] +
                       [(t, 1, -1) for t in prog.values()])
        now = peak = 0
        for _, _, s in steps:
            now += s
            peak = max(peak, now)
        check(peak <= wmax + 1, "gpu attempts dispatched and not started never exceed "
              "window.max=%d (+1), saw %d" % (wmax, peak))
        print("  queues: 40 default-queue low tasks done %d ms after submission behind "
              "a 300-task gpu backlog (%d gpu done; gpu window peak %d of %d)" %
              (ended - t_sub, gpu_done, peak, wmax), flush=True)
    finally:
        h.stop_all()


if __name__ == "__main__":
    run([test_each_worker_runs_only_its_own_queue,
         test_a_backlogged_queue_does_not_hold_back_another_queue])
