#!/usr/bin/env bash
# Runs bench.js (the shapes of `strata-bench priority` on BullMQ) against a
# private Redis: Debian's redis-server on 127.0.0.1:$BULLMQ_REDIS_PORT
# (default 56379), no persistence, its own directory, stopped by its PID when
# this script exits. Every argument goes to bench.js; see README.md.
#   bench/peers/bullmq/run.sh --backlog 5000 --rate 100 --seconds 3
#   bench/peers/bullmq/run.sh --mode throughput --jobs 100000
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
port=${BULLMQ_REDIS_PORT:-56379}
dir=$(mktemp -d /tmp/strata-bullmq-redis.XXXXXX)
redis_pid=

cleanup() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -rf -- "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for arg in "$@"; do
  case "$arg" in --help | -h) exec node "$here/bench.js" --help ;; esac
done

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: installing ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
if [ ! -d "$here/node_modules/bullmq" ]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi

# Another Redis on the port would be measured (and obliterated into) instead.
if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
  echo "run.sh: something already answers on 127.0.0.1:$port; set BULLMQ_REDIS_PORT" >&2
  exit 1
fi
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
  --dir "$dir" --logfile "$dir/redis.log" --daemonize no &
redis_pid=$!
deadline=$((SECONDS + 20))
until redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; do
  if ! kill -0 "$redis_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "run.sh: redis-server did not come up on 127.0.0.1:$port:" >&2
    cat "$dir/redis.log" >&2 || true
    exit 1
  fi
  sleep 0.05
done

node "$here/bench.js" --redis "127.0.0.1:$port" "$@"
