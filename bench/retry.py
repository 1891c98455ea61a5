#!/usr/bin/env python3
"""Retry timing on a real broker: how long after its backoff a retried attempt
is dispatched, and whether any is dispatched early.

Starts strata-scheduler and strata-worker on a fresh topic prefix. Each task's
command fails until attempt --attempts (`test $STRATA_ATTEMPT -ge N`). Three
groups of --per-policy tasks, one per backoff policy:
  fixed     base 1 s                 (every retry waits on the 1 s step)
  exp       base 500 ms, cap 8 s     (0.5 s, 1 s, 2 s, ...: ladder hops)
  jitter    base 2 s, cap 8 s, full jitter (uniform in [0, 2^(a-1)·2 s])
The worker writes each retry with not_before = failure time + backoff; the
dispatch record of attempt a+1 carries that not_before. Retry lateness = the
DISPATCHED event time of attempt a+1 minus its not_before (a negative value
is an early dispatch, counted separately); the whole gap from the FAILED
event to the next STARTED, and from DISPATCHED to STARTED (the worker's
pick-up), are reported too. Prints a table and, last, JSON:
  {"bench":"retry","policies":{"fixed":{"retries":..,"p50_ms":..,"p99_ms":..,
   "max_ms":..,"early":..,"gap_p50_ms":..},...},"attempts_ok":true}
Stops everything it started. RETRY_BENCH_DEBUG=1 also prints the latest
retry of each policy with its events.

Usage: retry.py --bootstrap B [--bin DIR] [--per-policy N] [--attempts N]
"""
import argparse
import collections
import json
import os
import subprocess
import time

from pipeline import Pipeline, pct

POLICIES = {
    "fixed": {"backoff": "FIXED", "base_ms": 1000, "cap_ms": 1000},
    "exp": {"backoff": "EXPONENTIAL", "base_ms": 500, "cap_ms": 8000},
    "jitter": {"backoff": "EXPONENTIAL_FULL_JITTER", "base_ms": 2000, "cap_ms": 8000},
}


def read(strata, topic):
    out = subprocess.run(strata + ["read", topic], capture_output=True, text=True,
                         check=True).stdout
    return [json.loads(l)["value"] for l in out.splitlines()
            if l.strip() and "value" in json.loads(l)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin"))
    ap.add_argument("--per-policy", type=int, default=50)
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--set", action="append", default=[],
                    help="extra KEY=VALUE for every program (repeatable)")
    a = ap.parse_args()
    with Pipeline(a.bootstrap, a.bin, "retry", [
            "admin.listen=",
            'exec.default=test "$STRATA_ATTEMPT" -ge %d' % a.attempts,
            "worker.concurrency=8"] + a.set) as pl:
        strata = pl.strata
        lines = []
        for name, policy in POLICIES.items():
            for i in range(a.per_policy):
                lines.append(json.dumps({"id": "%s-%d" % (name, i), "tier": "normal",
                                         "retry": dict(policy, max_attempts=a.attempts)}))
        subprocess.run(strata + ["submit", "--jsonl", "-"], input="\n".join(lines) + "\n",
                       text=True, check=True, stdout=subprocess.DEVNULL)
        want = a.per_policy * len(POLICIES)
        deadline = time.monotonic() + a.timeout
        while True:
            evs = read(strata, "events")
            done = {e["task_id"] for e in evs if e["kind"] == "SUCCEEDED"}
            if len(done) >= want:
                break
            if time.monotonic() > deadline:
                raise SystemExit("retry bench: only %d of %d tasks finished in %d s"
                                 % (len(done), want, a.timeout))
            time.sleep(1)
        dispatch = read(strata, "dispatch")
    not_before = {(t["id"], t["attempt"]): t.get("not_before_ms") for t in dispatch}
    at = collections.defaultdict(dict)
    for e in evs:
        at[(e["task_id"], e["attempt"])].setdefault(e["kind"], e["time_ms"])
    attempts_ok = all(
        sorted(k[1] for k in at if k[0] == tid and "STARTED" in at[k]) ==
        list(range(1, a.attempts + 1)) for tid in done)
    result = {}
    print("%-7s %8s %8s %8s %8s %6s %12s %13s" % ("policy", "retries", "p50_ms", "p99_ms",
                                                  "max_ms", "early", "gap_p50_ms",
                                                  "start_p50_ms"))
    for name in POLICIES:
        late, gaps, starts, early = [], [], [], 0
        for (tid, att), kinds in at.items():
            if not tid.startswith(name + "-") or att < 2 or "DISPATCHED" not in kinds:
                continue
            nb = not_before.get((tid, att))
            if nb is None:
                continue
            d = kinds["DISPATCHED"] - nb
            if d < 0:
                early += 1
            late.append(d)
            if "STARTED" in kinds:
                starts.append(kinds["STARTED"] - kinds["DISPATCHED"])
            prev = at.get((tid, att - 1), {})
            if "FAILED" in prev and "STARTED" in kinds:
                gaps.append(kinds["STARTED"] - prev["FAILED"])
        if late and os.environ.get("RETRY_BENCH_DEBUG"):
            worst = max(((kinds["DISPATCHED"] - not_before[(tid, att)], tid, att, kinds,
                          at.get((tid, att - 1), {}))
                         for (tid, att), kinds in at.items()
                         if tid.startswith(name + "-") and att >= 2 and "DISPATCHED" in kinds
                         and not_before.get((tid, att)) is not None), key=lambda x: x[0])
            print("worst %s: %s" % (name, worst))
        r = {"retries": len(late), "p50_ms": pct(late, 0.5), "p99_ms": pct(late, 0.99),
             "max_ms": max(late) if late else None, "early": early,
             "gap_p50_ms": pct(gaps, 0.5), "start_p50_ms": pct(starts, 0.5)}
        result[name] = r
        print("%-7s %8d %8s %8s %8s %6d %12s %13s" % (
            name, r["retries"], r["p50_ms"], r["p99_ms"], r["max_ms"], early,
            r["gap_p50_ms"], r["start_p50_ms"]))
    print(json.dumps({"bench": "retry", "policies": result, "attempts_ok": attempts_ok}))


if __name__ == "__main__":
    main()
