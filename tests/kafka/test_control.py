"""Operator control and heartbeat timeouts on a real broker, through the public
interfaces only (strata tier/drain/submit/read, strata-scheduler's admin
endpoint, strata-worker).

  test_paused_tier_holds_its_tasks_across_a_restart_until_resumed
  test_drain_lets_running_tasks_finish_then_reports_drained
  test_heartbeat_timeout_retries_the_task_of_a_wedged_worker
  test_heartbeat_timeout_without_attempts_left_dead_letters
  test_preemption_yields_a_low_task_and_resumes_it_from_its_checkpoint
  test_cancel_pending_blocked_and_delayed_tasks_never_run
  test_cancelling_a_running_task_frees_its_pool
  test_start_to_close_timeout_stops_the_command_and_retries
  test_a_restarted_scheduler_counts_running_tasks_in_their_pools

Usage: test_control.py BINDIR   (STRATA_TEST_BOOTSTRAP must be set)
"""
import collections
import os
import tempfile
import signal
import sys
import urllib.request

from harness import Harness, check, run

BIN = sys.argv[1]


def values(h, topic):
    return [r["value"] for r in h.read(topic) if "value" in r]


def events(h, task_id=None, kind=None):
    return [e for e in values(h, "events")
            if (task_id is None or e["task_id"] == task_id)
            and (kind is None or e["kind"] == kind)]


def submit(h, *args):
    return h.strata("submit", *args).split()[0]


def metric(port, name, **labels):
    """The value of one sample of the scheduler's /metrics, 0 when absent."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, val = line.rpartition(" ")
        base, _, rest = key.partition("{")
        got = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if kv)
        if base == name and {k: v.strip('"') for k, v in got.items()} == labels:
            return float(val)
    return 0.0


def start_scheduler(h, name="scheduler", *extra):
    # Logs at info: the admin port is read from the log. One instance id per
    # test, so a restart fences its predecessor's transaction at once.
    h.start(name, "strata-scheduler", "--log-level", "info",
            "--set", "scheduler.instance.id=" + h.prefix + "sched", *extra)
    return h.admin_port(name)


def health(h, port):
    return h.http_json(port, "/healthz")


def test_paused_tier_holds_its_tasks_across_a_restart_until_resumed():
    h = Harness(BIN, "pause", ["--set", "exec.default=true"])
    try:
        h.ensure_topics()
        check(h.strata("tier", "pause", "low", "--reason", "test").split() == ["low"],
              "strata tier pause prints the tier once Kafka has it")
        port = start_scheduler(h)
        h.start("worker", "strata-worker")
        h.wait_for("the scheduler to report low paused",
                   lambda: health(h, port)["paused_tiers"] == ["low"], 60)
        check(metric(port, "strata_tier_paused", tier="low") == 1, "paused gauge")
        low = [submit(h, "--id", "low-%d" % i, "--tier", "low") for i in range(3)]
        normal = [submit(h, "--id", "normal-%d" % i, "--tier", "normal") for i in range(3)]

        def low_held():
            ids = {t["id"] for t in h.http_json(port, "/tasks?tier=low&state=ready")["tasks"]}
            return set(low) <= ids
        h.wait_for("the low tasks to be held ready", low_held, 60)
        h.wait_for("the normal tasks to succeed",
                   lambda: set(normal) <= {e["task_id"] for e in events(h, kind="SUCCEEDED")}, 60)
        dispatched = {e["task_id"] for e in events(h, kind="DISPATCHED")}
        check(not dispatched & set(low), "paused tasks dispatched: %s" % (dispatched & set(low)))

        # The pause lives in the control topic: a restarted scheduler keeps it.
        h.kill("scheduler")
        port = start_scheduler(h, "scheduler2")
        h.wait_for("the restarted scheduler to hold the low tasks", low_held, 90)
        check(health(h, port)["paused_tiers"] == ["low"], "paused after the restart")
        dispatched = {e["task_id"] for e in events(h, kind="DISPATCHED")}
        check(not dispatched & set(low), "dispatched after the restart: %s"
              % (dispatched & set(low)))

        h.strata("tier", "resume", "low")
        h.wait_for("the low tasks to succeed after the resume",
                   lambda: set(low) <= {e["task_id"] for e in events(h, kind="SUCCEEDED")}, 60)
        check(health(h, port)["paused_tiers"] == [], "nothing paused after the resume")
        check(metric(port, "strata_tier_paused", tier="low") == 0, "paused gauge cleared")
        counts = collections.Counter(e["task_id"] for e in events(h, kind="DISPATCHED"))
        check(all(counts[t] == 1 for t in low + normal), "dispatches per task: %s" % counts)
    finally:
        h.stop_all()


def test_drain_lets_running_tasks_finish_then_reports_drained():
    h = Harness(BIN, "drain", ["--set", "exec.default=sleep 2",
                               "--set", "worker.concurrency=4"])
    try:
        h.ensure_topics()
        port = start_scheduler(h)
        h.start("worker", "strata-worker")
        h.wait_for("the scheduler to be ready",
                   lambda: health(h, port)["status"] == "ok"
                   and health(h, port)["recovering_partitions"] == 0, 60)
        first = [submit(h, "--id", "before-%d" % i, "--tier", "high") for i in range(2)]
        h.wait_for("both tasks to start",
                   lambda: set(first) <= {e["task_id"] for e in events(h, kind="STARTED")}, 60)
        # `--wait` polls /healthz until the attempts that were running finish.
        out = h.strata("--set", "admin.listen=127.0.0.1:%d" % port,
                       "drain", "--reason", "maintenance", "--wait", "60s")
        check(out.split()[-1] == "drained", "drain --wait output: %r" % out)
        ok = {e["task_id"] for e in events(h, kind="SUCCEEDED")}
        check(set(first) <= ok, "drained before the running tasks finished: %s" % ok)
        hz = health(h, port)
        check(hz["status"] == "drained" and hz["running"] == 0, "healthz: %s" % hz)
        check(metric(port, "strata_draining") == 1, "draining gauge")

        later = submit(h, "--id", "after-drain", "--tier", "critical")
        h.wait_for("the new task to be held",
                   lambda: any(t["id"] == later for t in
                               h.http_json(port, "/tasks?tier=critical")["tasks"]), 60)
        check(not events(h, later, "DISPATCHED"), "dispatched while drained")
        h.strata("tier", "resume", "--all")
        h.wait_for("the held task to run after resume --all",
                   lambda: events(h, later, "SUCCEEDED"), 60)
        check(health(h, port)["status"] == "ok", "status after the resume")
    finally:
        h.stop_all()


def test_heartbeat_timeout_retries_the_task_of_a_wedged_worker():
    # Worker A runs attempt 1 and is then stopped (SIGSTOP): no more
    # heartbeats. The scheduler presumes the attempt lost after the 2 s
    # heartbeat timeout and writes attempt 2. Worker B takes A's partitions
    # once A's group session expires and runs attempt 2 (and the uncommitted
    # attempt 1 again: its results are late, recorded, not applied).
    wargs = ["--set", "exec.default=sleep 3",
             "--set", "worker.heartbeat.interval=300ms",
             "--set", "kafka.session.timeout.ms=6000"]
    h = Harness(BIN, "hbeat")
    stopped = None
    try:
        h.ensure_topics()
        port = start_scheduler(h)
        h.start("worker-a", "strata-worker", *wargs)
        # A task that keeps heartbeating is never timed out.
        steady = submit(h, "--id", "steady", "--tier", "high", "--heartbeat", "1s")
        h.wait_for("the heartbeating task to succeed",
                   lambda: events(h, steady, "SUCCEEDED"), 60)
        check(not events(h, steady, "TIMED_OUT"), "a heartbeating task timed out")

        tid = submit(h, "--id", "wedged", "--tier", "high", "--heartbeat", "2s",
                     "--retry", "max=3,backoff=fixed,base=200ms")
        h.wait_for("attempt 1 to start", lambda: events(h, tid, "STARTED"), 60)
        stopped = h.procs["worker-a"].pid
        os.kill(stopped, signal.SIGSTOP)
        to = h.wait_for("the scheduler's heartbeat timeout",
                        lambda: events(h, tid, "TIMED_OUT"), 30)[0]
        check(to["attempt"] == 1 and not to.get("worker_id") and to["retryable"] is True
              and "heartbeat" in (to.get("error") or ""), "TIMED_OUT event: %s" % to)
        h.start("worker-b", "strata-worker", *wargs)
        h.wait_for("attempt 2 to succeed",
                   lambda: [e for e in events(h, tid, "SUCCEEDED") if e["attempt"] == 2], 90)
        check(metric(port, "strata_heartbeat_timeouts_total", tier="high") == 1,
              "heartbeat timeouts counted once")
        # Let the wedged worker go on; whatever it reports now is late.
        os.kill(stopped, signal.SIGCONT)
        stopped = None
        late = h.wait_for(
            "the late result of attempt 1",
            lambda: metric(port, "strata_late_results_total", tier="high", kind="succeeded"),
            60)
        ok = events(h, tid, "SUCCEEDED")
        check([e["attempt"] for e in ok if e["attempt"] >= 2] == [2],
              "attempt 2 succeeded once: %s" % ok)
        check(metric(port, "strata_task_outcomes_total", tier="high", kind="succeeded") == 2,
              "outcomes applied: steady and attempt 2 only")
        dispatched = sorted(e["attempt"] for e in events(h, tid, "DISPATCHED"))
        check(dispatched == [1, 2], "dispatches: %s" % dispatched)
        print("  late results recorded: %d" % late)
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        h.stop_all()


def test_heartbeat_timeout_without_attempts_left_dead_letters():
    h = Harness(BIN, "hbdlq", ["--set", "exec.default=sleep 30",
                               "--set", "worker.heartbeat.interval=300ms"])
    stopped = None
    try:
        h.ensure_topics()
        port = start_scheduler(h)
        h.start("worker", "strata-worker")
        tid = submit(h, "--id", "last-try", "--tier", "normal", "--heartbeat", "2s",
                     "--retry", "max=1")
        h.wait_for("the attempt to start", lambda: events(h, tid, "STARTED"), 60)
        stopped = h.procs["worker"].pid
        os.kill(stopped, signal.SIGSTOP)
        dl = h.wait_for("the dead letter",
                        lambda: [d for d in values(h, "dlq") if d["task_id"] == tid], 30)
        check(len(dl) == 1 and dl[0]["reason"] == "EXHAUSTED"
              and "heartbeat" in dl[0]["detail"], "dead letter: %s" % dl)
        hist = dl[0]["attempts"]
        check(len(hist) == 1 and hist[0]["attempt"] == 1 and hist[0]["outcome"] == "TIMED_OUT"
              and "heartbeat" in hist[0]["error"] and "heartbeat" in dl[0]["last_error"],
              "attempt history: %s" % hist)
        # The stopped worker may hold a transaction open on the events
        # partition: read_committed readers see the scheduler's events once
        # the broker aborts it (the worker's 10 s transaction timeout).
        kinds = h.wait_for(
            "the TIMED_OUT and DEAD_LETTERED events",
            lambda: (lambda k: k if k["TIMED_OUT"] and k["DEAD_LETTERED"] else None)(
                collections.Counter(e["kind"] for e in events(h, tid))), 30)
        check(kinds["TIMED_OUT"] == 1 and kinds["DEAD_LETTERED"] == 1, "events: %s" % kinds)
        check(metric(port, "strata_heartbeat_timeouts_total", tier="normal") == 1,
              "heartbeat timeouts counted")
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        h.stop_all()


def test_preemption_yields_a_low_task_and_resumes_it_from_its_checkpoint():
    # One unit of pool gpu. A background task holds it and counts to 40; a
    # critical task then wants it. The scheduler asks the background task to
    # yield (PREEMPT); its command saves its count on SIGUSR1 and exits 75;
    # the critical task runs; the background task comes back as attempt 2
    # and goes on counting from the saved count.
    d = tempfile.mkdtemp(prefix="strata-preempt-")
    count = ('d=%s; n=0; '
             'if [ -n "${STRATA_CHECKPOINT_FILE:-}" ]; then n=$(cat "$STRATA_CHECKPOINT_FILE"); fi; '
             'echo $n > "$d/$STRATA_TASK_ID.$STRATA_ATTEMPT.start"; '
             'trap \'echo $n > "$STRATA_CHECKPOINT_OUT"; exit 75\' USR1; '
             'while [ $n -lt 40 ]; do n=$((n+1)); echo $n > "$d/$STRATA_TASK_ID.progress"; '
             'sleep 0.1; done' % d)
    h = Harness(BIN, "preempt", ["--set", "exec.count=" + count,
                                 "--set", "exec.default=true",
                                 "--set", "worker.concurrency=4"])
    try:
        h.ensure_topics()
        port = start_scheduler(h, "scheduler", "--set", "pool.gpu=concurrency:1")
        h.start("worker", "strata-worker")
        low = submit(h, "--id", "bg", "--tier", "background", "--type", "count",
                     "--demand", "gpu=1")
        progress = os.path.join(d, "bg.progress")

        def counted(n):
            try:
                return int(open(progress).read() or 0) >= n
            except (OSError, ValueError):
                return False
        h.wait_for("the background task to count to 5", lambda: counted(5), 60)
        high = submit(h, "--id", "urgent", "--tier", "critical", "--demand", "gpu=1")

        pre = h.wait_for("the PREEMPT request",
                         lambda: [c for c in values(h, "control")
                                  if c["kind"] == "PREEMPT" and c["task_id"] == low], 60)
        check(len(pre) == 1 and "critical" in pre[0]["reason"] and "gpu" in pre[0]["reason"],
              "PREEMPT records: %s" % pre)
        h.wait_for("the critical task to succeed", lambda: events(h, high, "SUCCEEDED"), 60)
        h.wait_for("the background task to finish", lambda: events(h, low, "SUCCEEDED"), 90)

        evs = events(h, low)
        ends = [e for e in evs if e["kind"] == "CHECKPOINT" and e.get("error")]
        check(len(ends) == 1 and ends[0]["attempt"] == 1
              and ends[0]["error"].startswith("yielded:"), "yield events: %s" % ends)
        saved = int(__import__("base64").b64decode(ends[0]["checkpoint"]).decode())
        ok = [e for e in evs if e["kind"] == "SUCCEEDED"]
        check([e["attempt"] for e in ok] == [2], "background SUCCEEDED: %s" % ok)
        resumed = int(open(os.path.join(d, "bg.2.start")).read())
        check(0 < saved == resumed, "saved %d, attempt 2 resumed from %d" % (saved, resumed))
        check(int(open(os.path.join(d, "bg.1.start")).read()) == 0, "attempt 1 began at 0")
        # The critical task ran while the background task was off the pool.
        t_yield = ends[0]["time_ms"]
        t_high = events(h, high, "STARTED")[0]["time_ms"]
        t_back = [e for e in evs if e["kind"] == "STARTED" and e["attempt"] == 2][0]["time_ms"]
        check(t_yield <= t_high <= t_back, "yield %d, critical start %d, resume %d"
              % (t_yield, t_high, t_back))
        check(metric(port, "strata_preemptions_total", tier="background") == 1,
              "preemptions counted once")
        print("  yielded at count %d; critical started %d ms after the yield"
              % (saved, t_high - t_yield))
    finally:
        h.stop_all()


def test_cancel_pending_blocked_and_delayed_tasks_never_run():
    # Cancellation in the states the scheduler holds or has not seen yet:
    # pending (ready, its tier paused), blocked (waiting on a dependency),
    # waiting on the delay ladder. Each gets exactly one CANCELLED event from
    # the scheduler and never runs; a task depending on a cancelled one
    # fails with a dead letter naming the cancelled dependency.
    h = Harness(BIN, "cstates", ["--set", "exec.default=true"])
    try:
        h.ensure_topics()
        h.strata("tier", "pause", "low")
        port = start_scheduler(h)
        h.start("worker", "strata-worker")
        h.wait_for("low paused", lambda: health(h, port)["paused_tiers"] == ["low"], 60)
        pending = submit(h, "--id", "c-pending", "--tier", "low")
        blocked = submit(h, "--id", "c-blocked", "--tier", "normal", "--after", "never-submitted")
        child = submit(h, "--id", "c-child", "--tier", "normal", "--after", blocked)
        delayed = submit(h, "--id", "c-delayed", "--tier", "high", "--delay", "6s")

        def held(tid, state):
            return any(t["id"] == tid for t in
                       h.http_json(port, "/tasks?state=%s" % state)["tasks"])
        h.strata("cancel", delayed, "--reason", "test")  # on the ladder now
        h.wait_for("the pending and blocked tasks to be held",
                   lambda: held(pending, "ready") and held(blocked, "blocked")
                   and held(child, "blocked"), 60)
        h.strata("cancel", pending, "--reason", "test")
        h.strata("cancel", blocked, "--reason", "test")

        def cancelled():
            got = collections.Counter(e["task_id"] for e in events(h, kind="CANCELLED"))
            return got if all(got[t] for t in (pending, blocked, delayed)) else None
        got = h.wait_for("CANCELLED for the three tasks", cancelled, 60)
        dl = h.wait_for("the dependent's dead letter",
                        lambda: [d for d in values(h, "dlq") if d["task_id"] == child], 60)
        check(dl[0]["reason"] == "DEPENDENCY_FAILED" and blocked in dl[0]["detail"]
              and "cancel" in dl[0]["detail"], "dead letter: %s" % dl[0])

        # Resume low and run a sentinel through each tier: once they ran, the
        # cancelled tasks had every chance to.
        h.strata("tier", "resume", "low")
        sentinels = [submit(h, "--id", "s-%s" % t, "--tier", t) for t in ("low", "high")]
        sentinels.append(submit(h, "--id", "s-delayed", "--tier", "high", "--delay", "6s"))
        h.wait_for("the sentinels to succeed",
                   lambda: set(sentinels) <= {e["task_id"] for e in events(h, kind="SUCCEEDED")},
                   90)
        ran = {e["task_id"] for e in events(h) if e["kind"] in ("DISPATCHED", "STARTED")}
        check(not ran & {pending, blocked, child, delayed},
              "cancelled tasks ran: %s" % (ran & {pending, blocked, child, delayed}))
        got = cancelled()
        check(all(got[t] == 1 for t in (pending, blocked, delayed)),
              "CANCELLED events per task: %s" % got)
        check(not any(e.get("worker_id") for e in events(h, kind="CANCELLED")),
              "every CANCELLED came from the scheduler")
    finally:
        h.stop_all()


def test_cancelling_a_running_task_frees_its_pool():
    # One unit of pool gpu: a long task holds it, a second task of the same
    # tier (no preemption between equals) waits for it. Cancelling the
    # running task must give the unit back, so the second one runs.
    h = Harness(BIN, "cpool", ["--set", "exec.long=sleep 120",
                               "--set", "exec.default=true",
                               "--set", "worker.concurrency=4",
                               "--set", "worker.kill.grace=1s"])
    try:
        h.ensure_topics()
        port = start_scheduler(h, "scheduler", "--set", "pool.gpu=concurrency:1")
        h.start("worker", "strata-worker")
        first = submit(h, "--id", "holder", "--tier", "normal", "--type", "long",
                       "--demand", "gpu=1")
        h.wait_for("the holder to start", lambda: events(h, first, "STARTED"), 60)
        second = submit(h, "--id", "waiter", "--tier", "normal", "--demand", "gpu=1")
        h.wait_for("the waiter to be held ready",
                   lambda: any(t["id"] == second for t in
                               h.http_json(port, "/tasks?state=ready")["tasks"]), 60)
        check(not events(h, second, "DISPATCHED"), "dispatched while the pool was full")
        h.strata("cancel", first, "--reason", "test")
        h.wait_for("the waiter to succeed once the holder is cancelled",
                   lambda: events(h, second, "SUCCEEDED"), 60)
        check([e["worker_id"] for e in events(h, first, "CANCELLED")] != [],
              "the holder was cancelled by its worker")
    finally:
        h.stop_all()


def test_start_to_close_timeout_stops_the_command_and_retries():
    # Attempt 1 sleeps past its 1 s start-to-close limit: the worker stops
    # the command and reports TIMED_OUT (retryable, with the retry written);
    # attempt 2 finishes at once.
    d = tempfile.mkdtemp(prefix="strata-s2c-")
    cmd = ('if [ "$STRATA_ATTEMPT" -lt 2 ]; then echo $$ > %s/$STRATA_TASK_ID.pid; '
           'sleep 60; touch %s/$STRATA_TASK_ID.done; fi' % (d, d))
    h = Harness(BIN, "s2close", ["--set", "exec.default=" + cmd,
                                 "--set", "worker.kill.grace=1s"])
    try:
        h.ensure_topics()
        start_scheduler(h)
        h.start("worker", "strata-worker")
        tid = submit(h, "--id", "slow", "--tier", "high", "--start-to-close", "1s",
                     "--retry", "max=2,backoff=fixed,base=100ms")
        h.wait_for("attempt 2 to succeed",
                   lambda: [e for e in events(h, tid, "SUCCEEDED") if e["attempt"] == 2], 60)
        evs = events(h, tid)
        to = [e for e in evs if e["kind"] == "TIMED_OUT"]
        check(len(to) == 1 and to[0]["attempt"] == 1 and to[0]["worker_id"]
              and to[0]["retryable"] is True, "TIMED_OUT events: %s" % to)
        started = [e for e in evs if e["kind"] == "STARTED" and e["attempt"] == 1][0]
        check(to[0]["time_ms"] - started["time_ms"] >= 1000,
              "timed out %d ms after the start, before the 1 s limit"
              % (to[0]["time_ms"] - started["time_ms"]))
        pid = int(open(os.path.join(d, "slow.pid")).read())
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        check(not alive, "the timed-out command %d still runs" % pid)
        check(not os.path.exists(os.path.join(d, "slow.done")), "the command ran to its end")
    finally:
        h.stop_all()


def test_a_restarted_scheduler_counts_running_tasks_in_their_pools():
    # One unit of pool gpu, held by a task that runs until the test releases
    # it. The scheduler is SIGKILLed and restarted while it runs: the new one
    # must learn from the events that the unit is in use, so a second task
    # of the same tier (no preemption between equals) waits for the first to
    # finish instead of running beside it.
    d = tempfile.mkdtemp(prefix="strata-adopt-")
    hold = ("for i in $(seq 1200); do [ -e %s/release ] && exit 0; sleep 0.1; done; "
            "exit 1" % d)
    h = Harness(BIN, "adopt", ["--set", "exec.long=" + hold,
                               "--set", "exec.default=true",
                               "--set", "worker.concurrency=4"])
    try:
        h.ensure_topics()
        start_scheduler(h, "scheduler", "--set", "pool.gpu=concurrency:1")
        h.start("worker", "strata-worker")
        first = submit(h, "--id", "holder", "--tier", "normal", "--type", "long",
                       "--demand", "gpu=1")
        h.wait_for("the holder to start", lambda: events(h, first, "STARTED"), 60)
        usage = [e["usage"] for e in events(h, first, "DISPATCHED")]
        check(usage == [{"gpu": 1}], "DISPATCHED names the units it holds: %s" % usage)

        h.kill("scheduler")
        port = start_scheduler(h, "scheduler2", "--set", "pool.gpu=concurrency:1")
        h.wait_for("the restarted scheduler to count the running holder",
                   lambda: metric(port, "strata_pool_in_use", pool="gpu") == 1
                   and metric(port, "strata_running_attempts") == 1, 60)
        second = submit(h, "--id", "waiter", "--tier", "normal", "--demand", "gpu=1")
        h.wait_for("the waiter to be held ready",
                   lambda: any(t["id"] == second for t in
                               h.http_json(port, "/tasks?state=ready")["tasks"]), 60)
        check(not events(h, second, "DISPATCHED"), "dispatched while the pool was full")

        open(os.path.join(d, "release"), "w").close()
        h.wait_for("the waiter to succeed once the holder is done",
                   lambda: events(h, second, "SUCCEEDED"), 60)
        done = events(h, first, "SUCCEEDED")
        sent = events(h, second, "DISPATCHED")
        check(len(done) == 1 and len(sent) == 1 and sent[0]["time_ms"] >= done[0]["time_ms"],
              "the waiter was dispatched at %s, the holder finished at %s"
              % ([e["time_ms"] for e in sent], [e["time_ms"] for e in done]))
        h.wait_for("the unit to be free again",
                   lambda: metric(port, "strata_pool_in_use", pool="gpu") == 0
                   and metric(port, "strata_running_attempts") == 0, 30)
    finally:
        h.stop_all()


if __name__ == "__main__":
    run([test_paused_tier_holds_its_tasks_across_a_restart_until_resumed,
         test_drain_lets_running_tasks_finish_then_reports_drained,
         test_heartbeat_timeout_retries_the_task_of_a_wedged_worker,
         test_heartbeat_timeout_without_attempts_left_dead_letters,
         test_preemption_yields_a_low_task_and_resumes_it_from_its_checkpoint,
         test_cancel_pending_blocked_and_delayed_tasks_never_run,
         test_cancelling_a_running_task_frees_its_pool,
         test_start_to_close_timeout_stops_the_command_and_retries,
         test_a_restarted_scheduler_counts_running_tasks_in_their_pools])
