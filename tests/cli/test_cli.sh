#!/usr/bin/env bash
# Command-line contract of every program: --help and --version answer and exit
# 0; a bad option, key or value exits 2 with a message naming it.
# Usage: test_cli.sh BINDIR
set -u
bin=$1
pass=0
fail=0

check() { # check NAME EXPECTED_RC REGEX CMD...
  local name=$1 want=$2 re=$3 out rc
  shift 3
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -eq "$want" ] && printf '%s' "$out" | grep -Eq -- "$re"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    printf 'FAIL %s: exit %s (want %s), output:\n%s\n' "$name" "$rc" "$want" "$out"
  fi
}

for p in strata strata-scheduler strata-worker; do
  check "$p --version" 0 "^$p [0-9]+\.[0-9]+\.[0-9]+" "$bin/$p" --version
  check "$p --help" 0 "Configuration keys" "$bin/$p" --help
  check "$p bad key" 2 "no\.such\.key: unknown configuration key" \
    "$bin/$p" --set no.such.key=1
  check "$p bad value" 2 'topic\.partitions: "zero" is not an integer' \
    "$bin/$p" --set topic.partitions=zero
  check "$p missing value" 2 "option --set needs a value" "$bin/$p" --set
done
for p in strata-sim strata-bench; do
  check "$p --version" 0 "^$p [0-9]+\.[0-9]+\.[0-9]+" "$bin/$p" --version
  check "$p --help" 0 "[Uu]sage: $p" "$bin/$p" --help
done
check "strata-sim bad option" 2 'unknown argument "--bogus"' "$bin/strata-sim" --bogus
check "strata-bench bad command" 2 'unknown command "bogus"' "$bin/strata-bench" bogus
check "strata-bench txn needs a broker" 2 "--bootstrap is required" \
  "$bin/strata-bench" txn --cycles 10
check "strata-bench txn bad count" 2 '--cycles: "0" is not allowed' \
  "$bin/strata-bench" txn --bootstrap 127.0.0.1:1 --cycles 0
check "strata-bench priority --help" 0 "usage: strata-bench priority" \
  "$bin/strata-bench" priority --help
check "strata-bench priority needs a broker" 2 "--bootstrap is required" \
  "$bin/strata-bench" priority --backlog 10
check "strata-bench priority bad backlog" 2 '--backlog: "-1" is not allowed' \
  "$bin/strata-bench" priority --bootstrap 127.0.0.1:1 --backlog -1
check "strata-bench priority bad rate" 2 '--rate: "0" is not allowed' \
  "$bin/strata-bench" priority --bootstrap 127.0.0.1:1 --rate 0
check "strata-bench priority bad handler time" 2 '--handler-ms: "1.5" is not allowed' \
  "$bin/strata-bench" priority --bootstrap 127.0.0.1:1 --handler-ms 1.5
check "strata-bench priority bad concurrency" 2 '--concurrency: "0" is not allowed' \
  "$bin/strata-bench" priority --bootstrap 127.0.0.1:1 --concurrency 0
check "strata-bench priority too many critical tasks" 2 "--rate x --seconds is 60000000" \
  "$bin/strata-bench" priority --bootstrap 127.0.0.1:1 --rate 100000 --seconds 600
check "strata-bench priority unknown option" 2 'unknown option "--bogus"' \
  "$bin/strata-bench" priority --bootstrap 127.0.0.1:1 --bogus 1
check "strata-bench priority missing value" 2 "--seconds needs a value" \
  "$bin/strata-bench" priority --bootstrap 127.0.0.1:1 --seconds
check "strata unknown command" 2 'unknown command "frobnicate"' \
  "$bin/strata" frobnicate
check "strata no command" 2 "missing COMMAND" "$bin/strata"
check "strata bad delay steps" 2 'delay\.steps: "1s" is not longer' \
  "$bin/strata" --set delay.steps=5s,1s config check
check "strata config check" 0 "configuration ok" "$bin/strata" config check
check "config file error names file and line" 2 "/nonexistent.properties: cannot open" \
  "$bin/strata" --config /nonexistent.properties config check
check "strata tier without arguments" 2 "usage: strata tier pause\|resume" \
  "$bin/strata" tier
check "strata tier names an unknown tier" 2 'tier "nope" is not a configured tier' \
  "$bin/strata" tier pause nope
check "strata drain bad wait" 2 '--wait: "soon" is not a duration' \
  "$bin/strata" drain --wait soon
# --check refuses what a start refuses, before any connection: the broker
# address is unreachable, so a connection attempt would fail differently
# (exit 1, after a timeout).
nobroker=(--set bootstrap.servers=127.0.0.1:1)
check "strata-scheduler --check bad pool" 2 'pool\.gpu: "bogus" is not a pool' \
  timeout 10 "$bin/strata-scheduler" "${nobroker[@]}" --check --set pool.gpu=bogus
check "strata-scheduler --check bad tier weights" 2 \
  'tier\.weights: has 2 items but `tiers` has 5' \
  timeout 10 "$bin/strata-scheduler" "${nobroker[@]}" --check --set tier.weights=1,2
check "strata-scheduler start with a bad pool" 2 'pool\.gpu: "rate:10" is not a pool' \
  timeout 10 "$bin/strata-scheduler" "${nobroker[@]}" --set pool.gpu=rate:10
check "strata-worker --check empty exec command" 2 \
  'exec\.report: the command is empty' \
  timeout 10 "$bin/strata-worker" "${nobroker[@]}" --check --set exec.report=
check "strata-worker --check without exec" 2 \
  'no exec\.<type>=<command> is configured' \
  timeout 10 "$bin/strata-worker" "${nobroker[@]}" --check

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
