#!/bin/sh
# Runs one libFuzzer target for a bounded time and records its executions.
# usage: run_fuzz.sh <binary> <seconds> <work-corpus> <seed-corpus> <summary>
# The fuzzer's own output goes to <work-corpus>.log; one line
# "<target> <executions> executions in <s> s (<n>/s)" is appended to
# <summary>. The exit status is the fuzzer's (non-zero on any finding).
set -u
bin=$1 secs=$2 work=$3 seeds=$4 summary=$5
name=$(basename "$bin")
mkdir -p "$work"
"$bin" -max_total_time="$secs" -rss_limit_mb=512 -malloc_limit_mb=64 \
  -max_len=4096 -print_final_stats=1 "$work" "$seeds" >"$work.log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work.log")
line="$name ${runs:-?} executions in $secs s (${rate:-?}/s), exit $rc"
echo "$line" | tee -a "$summary"
[ "$rc" -eq 0 ] || tail -n 60 "$work.log"
exit "$rc"
