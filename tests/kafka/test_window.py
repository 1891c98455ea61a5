"""The dispatch window on a real broker: priority holds past the dispatch
topic, read back from the dispatch and events topics.

  test_window_keeps_the_backlog_in_the_core_so_critical_tasks_start_first
  test_without_the_window_the_backlog_waits_in_the_dispatch_topic
  test_window_is_rebuilt_after_sigkills_of_the_scheduler_and_a_worker

Usage: test_window.py BINDIR   (STRATA_TEST_BOOTSTRAP must be set)
"""
import collections
import sys
import time

from harness import Harness, check, run

BIN = sys.argv[1]
WMIN, WMAX = 8, 64
LOW, CRIT = 400, 20
SLOTS = 2
# The count is rebuilt from the events' times, the scheduler's from what it
# has read: a turn reads the clock, then the events, so a start the worker
# made after that instant (or in its millisecond) may already have freed
# room for the turn's dispatches, which carry the earlier time. Each slot
# starts at most one 50 ms task in that gap: one start per slot of slack.
SLACK = SLOTS
# tier.weights (default 40,...,10,...): while both tiers are backlogged the
# low tier is owed 10 of every 50 units dispatched, so among the critical
# burst's dispatches up to CRIT * 10 / 40 low ones, within one task.
LOW_SHARE = CRIT * 10 // 40 + 1
# Low tasks succeeded before the critical burst is submitted: the fleet is
# running at its pace and the window has sized itself.
WARM = 20
# Events after which an attempt is no longer unstarted for the scheduler
# (docs/ARCHITECTURE.md, "The dispatch window": progress or an outcome).
PROGRESS = {"STARTED", "HEARTBEAT", "CHECKPOINT", "SUCCEEDED", "FAILED",
            "CANCELLED", "TIMED_OUT"}


def values(h, topic):
    return [r["value"] for r in h.read(topic) if "value" in r]


def succeeded(h):
    return collections.Counter(e["task_id"] for e in values(h, "events")
                               if e["kind"] == "SUCCEEDED")


def attempt_times(events):
    """(dispatched_ms, first progress ms or None) per (task id, attempt)."""
    disp, prog = {}, {}
    for e in events:
        k = (e["task_id"], e["attempt"])
        if e["kind"] == "DISPATCHED":
            disp.setdefault(k, e["time_ms"])
        elif e["kind"] in PROGRESS:
            prog[k] = min(prog.get(k, e["time_ms"]), e["time_ms"])
    return {k: (t, prog.get(k)) for k, t in disp.items()}


def unstarted_at(times, ids, t):
    """Attempts of ids dispatched at or before t and not started by t."""
    return sum(1 for (tid, _), (d, p) in times.items()
               if tid in ids and d <= t and (p is None or p > t))


def max_unstarted(times):
    """The most attempts dispatched and not started at any one time, from the
    events' own times. At equal times a dispatch counts before a start, so
    the count is never understated."""
    steps = []
    for d, p in times.values():
        steps.append((d, 0, 1))
        if p is not None:
            steps.append((p, 1, -1))
    now = peak = 0
    at = None
    for t, _, step in sorted(steps):
        now += step
        if now > peak:
            peak, at = now, t
    return peak, at


def run_scenario(name, window):
    """Low backlog, one worker of 2 slots, then a critical burst. Returns the
    events, the dispatch records, the critical ids and the wall-clock time
    just before the burst was submitted."""
    h = Harness(BIN, name, ["--set", "exec.default=sleep 0.05",
                            "--set", "worker.concurrency=%d" % SLOTS])
    try:
        h.ensure_topics()
        h.start("scheduler", "strata-scheduler", "--set", "scheduler.instance.id=" + name,
                "--set", "admin.listen=",
                "--set", "scheduler.dispatch.window=" + window,
                "--set", "scheduler.dispatch.window.min=%d" % WMIN,
                "--set", "scheduler.dispatch.window.max=%d" % WMAX)
        h.start("worker", "strata-worker")
        low = h.submit_jsonl([{"tier": "low", "id": "low-%d" % i} for i in range(LOW)])
        check(len(low) == LOW, "submitted %d of %d low tasks" % (len(low), LOW))
        h.wait_for("%d low tasks to succeed" % WARM,
                   lambda: sum(succeeded(h).values()) >= WARM, 60)
        t_sub = int(time.time() * 1000)
        crit = h.submit_jsonl([{"tier": "critical", "id": "crit-%d" % i}
                               for i in range(CRIT)])
        check(len(crit) == CRIT, "submitted %d of %d critical tasks" % (len(crit), CRIT))
        want = set(low) | set(crit)
        ok = h.wait_for("all %d tasks to succeed" % len(want),
                        lambda: (lambda s: s if want <= set(s) else None)(succeeded(h)), 90)
        twice = {k: v for k, v in ok.items() if v != 1}
        check(not twice and set(ok) == want,
              "every task succeeds exactly once; more than once: %s, unknown: %s" %
              (sorted(twice.items())[:10], sorted(set(ok) - want)[:10]))
        events = values(h, "events")
        dispatch = [r for r in h.read("dispatch") if "value" in r]
        created = {t["id"]: t["created_ms"] for t in values(h, "tier:critical")}
        return events, dispatch, set(low), set(crit), created, t_sub
    finally:
        h.stop_all()


def test_window_keeps_the_backlog_in_the_core_so_critical_tasks_start_first():
    events, dispatch, low, crit, created, t_sub = run_scenario("win", "auto")
    times = attempt_times(events)
    check(all(p is not None for _, p in times.values()),
          "every attempt reported a start: %s" %
          [k for k, (_, p) in times.items() if p is None][:10])
    started = {tid: p for (tid, _), (_, p) in times.items()}
    dispatched = {tid: d for (tid, _), (d, _) in times.items()}

    # (d) When the burst was submitted the window held the backlog in the
    # core: at most window.max low attempts were past the dispatch topic
    # unstarted while hundreds had not been dispatched at all.
    held = unstarted_at(times, low, t_sub)
    waiting = sum(1 for tid in low if dispatched[tid] > t_sub)
    check(held <= WMAX + SLACK,
          "at the critical submission at most window.max=%d (+%d) low tasks dispatched "
          "and not started, saw %d" % (WMAX, SLACK, held))
    check(waiting >= LOW // 2,
          "at the critical submission at least %d low tasks not yet dispatched (the "
          "window holds them in the core), saw %d" % (LOW // 2, waiting))

    # (c) The bound itself, at every moment, from the events' times.
    peak, peak_at = max_unstarted(times)
    check(peak <= WMAX + SLACK,
          "attempts dispatched and not started never exceed window.max=%d (+%d); saw "
          "%d at time_ms %d" % (WMAX, SLACK, peak, peak_at))

    # (b) No low task behind a critical one on its dispatch partition starts
    # before it: a worker takes records in offset order per partition and
    # stamps the start as it dequeues them, under one lock. Strict: a low task
    # started in the same millisecond is not ahead.
    pos = {r["value"]["id"]: (r["partition"], r["offset"]) for r in dispatch}
    behind = [(c, tid) for c in crit for tid in low
              if pos[tid][0] == pos[c][0] and pos[tid][1] > pos[c][1]
              and started[tid] < started[c]]
    check(not behind,
          "no low task behind a critical one on its dispatch partition starts first; "
          "%d did: %s" % (len(behind), behind[:5]))

    # Across partitions: low tasks dispatched from the burst's first dispatch
    # turn on that start before a critical task are only the low tier's share
    # of the burst (the worker's queue follows arrival, not turn order, so
    # this bound covers a reordering across partitions too). Those dispatched
    # between the submission and that turn were ahead in the dispatch topic
    # before the scheduler had read the burst.
    first = min(dispatched[c] for c in crit)
    interleaved = {c: sum(1 for tid in low
                          if dispatched[tid] >= first and started[tid] < started[c])
                   for c in crit}
    worst = max(interleaved, key=interleaved.get)
    check(interleaved[worst] <= LOW_SHARE,
          "at most the low tier's share (%d) of the burst's dispatches start before a "
          "critical task once the burst is dispatched; %d started before %s" %
          (LOW_SHARE, interleaved[worst], worst))
    lat = sorted(started[c] - created[c] for c in crit)
    print("  window: critical start after submission p50 %d ms, max %d ms; max "
          "unstarted %d (window.max %d); at the submission %d low unstarted past the "
          "dispatch topic, %d of %d not yet dispatched; low dispatched in the burst "
          "and started before a critical task: max %d" %
          (lat[len(lat) // 2], lat[-1], peak, WMAX, held, waiting, LOW,
           interleaved[worst]), flush=True)


def test_without_the_window_the_backlog_waits_in_the_dispatch_topic():
    # The same scenario with the window off: the scheduler dispatches all it
    # has, so the critical burst queues behind the backlog in the dispatch
    # topic. This is what the window test's check (d) tells apart.
    events, _, low, crit, created, t_sub = run_scenario("nowin", "off")
    times = attempt_times(events)
    started = {tid: p for (tid, _), (_, p) in times.items()}
    held = unstarted_at(times, low, t_sub)
    check(held > WMAX + SLACK,
          "with the window off more than window.max=%d (+%d) low tasks dispatched and "
          "not started at the critical submission, saw %d" % (WMAX, SLACK, held))
    lat = sorted(started[c] - created[c] for c in crit)
    print("  window off: critical start after submission p50 %d ms, max %d ms; at the "
          "submission %d low unstarted past the dispatch topic" %
          (lat[len(lat) // 2], lat[-1], held), flush=True)


def test_window_is_rebuilt_after_sigkills_of_the_scheduler_and_a_worker():
    # A low backlog, two workers of 2 slots, the window bound at 16. The
    # scheduler is SIGKILLed twice and a worker once while the backlog runs.
    # A restarted scheduler rebuilds the count of dispatched-unstarted
    # attempts from the events topic (it adopts what its predecessor
    # dispatched), so it does not dispatch a second window's worth; nothing
    # is lost or dispatched twice, and the dead worker's tasks run elsewhere.
    wmax, n = 16, 600
    h = Harness(BIN, "winkill", ["--set", "exec.default=sleep 0.02",
                                 "--set", "worker.concurrency=2",
                                 "--set", "kafka.session.timeout.ms=6000"])
    sched = ["--set", "scheduler.instance.id=winkill", "--set", "admin.listen=",
             "--set", "scheduler.dispatch.window.min=4",
             "--set", "scheduler.dispatch.window.max=%d" % wmax]
    try:
        h.ensure_topics()
        h.start("scheduler", "strata-scheduler", *sched)
        for i in range(2):
            h.start("worker%d" % i, "strata-worker", "--set", "worker.instance.id=wk%d" % i)
        low = h.submit_jsonl([{"tier": "low", "id": "low-%d" % i} for i in range(n)])
        check(len(low) == n, "submitted %d of %d low tasks" % (len(low), n))
        for kill_at, who in ((60, "scheduler"), (200, "worker0"), (300, "scheduler")):
            h.wait_for("%d low tasks to succeed" % kill_at,
                       lambda: sum(succeeded(h).values()) >= kill_at, 120)
            h.kill(who)  # SIGKILL mid-backlog
            if who == "scheduler":
                h.start("scheduler", "strata-scheduler", *sched)
        want = set(low)
        ok = h.wait_for("all %d tasks to succeed" % n,
                        lambda: (lambda s: s if want <= set(s) else None)(succeeded(h)), 180)
        check(set(ok) == want, "unknown tasks succeeded: %s" % sorted(set(ok) - want)[:5])
        dispatched = collections.Counter(r["value"]["id"] for r in h.read("dispatch")
                                         if "value" in r)
        twice = [t for t, c in dispatched.items() if c > 1]
        check(not twice and set(dispatched) == want,
              "each task dispatched exactly once; twice: %s, missing: %s" %
              (twice[:5], sorted(want - set(dispatched))[:5]))
        # The bound held across the restarts. The dead worker's attempts
        # that had started count as started (they are not in the dispatch
        # topic); those it had taken and not started stay counted until
        # their redelivery starts, so they add nothing beyond the bound.
        peak, at = max_unstarted(attempt_times(values(h, "events")))
        check(peak <= wmax + 2 * SLOTS,
              "attempts dispatched and not started never exceed window.max=%d (+%d) "
              "across two scheduler restarts; saw %d at time_ms %d" %
              (wmax, 2 * SLOTS, peak, at))
        starts = collections.Counter(e["task_id"] for e in values(h, "events")
                                     if e["kind"] == "STARTED")
        reran = sum(1 for c in starts.values() if c > 1)
        print("  window after kills: %d tasks each dispatched once, %d re-run after the "
              "worker kill (started twice), max unstarted %d (window.max %d)" % (n, reran, peak, wmax),
              flush=True)
    finally:
        h.stop_all()


if __name__ == "__main__":
    run([test_window_keeps_the_backlog_in_the_core_so_critical_tasks_start_first,
         test_without_the_window_the_backlog_waits_in_the_dispatch_topic,
         test_window_is_rebuilt_after_sigkills_of_the_scheduler_and_a_worker])
