#!/usr/bin/env python3
"""Delay-ladder lateness under load, on a real broker.

Starts strata-scheduler and strata-worker on a fresh topic prefix, keeps a
background load of undelayed tasks flowing (--load tasks/s), and submits
delayed tasks with delays of 1 s, 10 s and 90 s (--per-delay of each, spread
over the first 30 s). Lateness of a task = its DISPATCHED event time (the
scheduler's decision) minus its not-before time; a negative value would be an
early dispatch and is reported separately. Prints a table and, last, JSON:
  {"bench":"lateness","load_per_sec":L,"delays":{"1s":{"n":..,"p50_ms":..,
   "p99_ms":..,"max_ms":..,"early":..},...}}
Stops everything it started.

Usage: lateness.py --bootstrap B [--bin DIR] [--load N] [--per-delay N]
"""
import argparse
import json
import os
import random
import subprocess
import threading
import time

from pipeline import Pipeline, pct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin"))
    ap.add_argument("--load", type=int, default=500, help="background tasks per second")
    ap.add_argument("--per-delay", type=int, default=60)
    a = ap.parse_args()
    pl = Pipeline(a.bootstrap, a.bin, "late", [
        "admin.listen=127.0.0.1:0", "exec.default=true", "worker.concurrency=8"])
    strata = pl.strata
    stop = threading.Event()

    def load():
        # Background load in one-second batches, paced by absolute deadlines.
        t = time.monotonic()
        while not stop.is_set():
            lines = "".join('{"tier":"normal"}\n' for _ in range(a.load))
            subprocess.run(strata + ["submit", "--jsonl", "-"], input=lines.encode(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t += 1.0
            time.sleep(max(0.0, t - time.monotonic()))

    with pl:
        try:
            time.sleep(5)  # let the group form before the measured submissions
            loader = threading.Thread(target=load)
            loader.start()
            delays = {"1s": 1000, "10s": 10000, "90s": 90000}
            plan = sorted((random.uniform(0, 30), name) for name in delays for _ in range(a.per_delay))
            t0 = time.monotonic()
            ids = {}
            for at, name in plan:
                time.sleep(max(0.0, t0 + at - time.monotonic()))
                tid = "%s-%d" % (name, len(ids))
                subprocess.run(strata + ["submit", "--tier", "high", "--id", tid, "--delay", name],
                               check=True, stdout=subprocess.DEVNULL)
                ids[tid] = name
            # Wait (bounded) for the last 90 s delays to come due and be dispatched.
            deadline = time.monotonic() + 150
            disp = {}
            while time.monotonic() < deadline:
                out = subprocess.run(strata + ["read", "events"], capture_output=True, text=True).stdout
                disp = {}
                for line in out.splitlines():
                    v = json.loads(line).get("value")
                    if v and v["kind"] == "DISPATCHED" and v["task_id"] in ids:
                        disp[v["task_id"]] = v["time_ms"]
                if len(disp) == len(ids):
                    break
                time.sleep(5)
            nb = {}
            for t in ("delay:1s", "delay:5s", "delay:30s", "tier:high"):
                out = subprocess.run(strata + ["read", t], capture_output=True, text=True).stdout
                for line in out.splitlines():
                    v = json.loads(line).get("value")
                    if v and v["id"] in ids and v.get("not_before_ms"):
                        nb.setdefault(v["id"], v["not_before_ms"])
            result = {}
            print("delay  n    p50 ms  p99 ms  max ms  early  missing")
            for name in delays:
                lat = [disp[t] - nb[t] for t, d in ids.items() if d == name and t in disp and t in nb]
                early = sum(1 for x in lat if x < 0)
                missing = sum(1 for t, d in ids.items() if d == name and t not in disp)
                result[name] = {"n": len(lat), "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99),
                                "max_ms": max(lat) if lat else None, "early": early,
                                "missing": missing}
                print("%-5s %3d %8s %7s %7s %6d %8d" % (name, len(lat), result[name]["p50_ms"],
                                                        result[name]["p99_ms"],
                                                        result[name]["max_ms"], early, missing))
            print(json.dumps({"bench": "lateness", "load_per_sec": a.load, "delays": result}))
        finally:
            stop.set()


if __name__ == "__main__":
    main()
