#!/usr/bin/env bash
# deploy/systemd: the units verify with systemd-analyze against the built
# binaries, and strata-wait-healthy waits for a running scheduler's /healthz
# (on the embedded broker) and gives up, naming the address, on one that is
# not there.
# Usage: test_deploy_systemd.sh SOURCE_DIR BIN_DIR
set -euo pipefail
src=$1
bin=$2
for tool in systemd-analyze curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (apt-get install ${tool/systemd-analyze/systemd})"
    exit 77
  fi
done
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The units, with the install paths pointed at this build.
for f in "$src"/deploy/systemd/*.service; do
  sed -e "s|/usr/local/bin/strata-wait-healthy|$src/deploy/systemd/strata-wait-healthy|" \
      -e "s|/usr/local/bin/|$bin/|g" "$f" > "$work/$(basename "$f")"
done
out=$(systemd-analyze verify "$work"/*.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
echo "ok: systemd-analyze verify of $(cd "$work" && ls *.service | tr '\n' ' ')"

# strata-wait-healthy against a scheduler on the embedded broker.
"$bin/strata" --log-level error dev-broker > "$work/broker.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done # poll for the address
boot=$(head -1 "$work/broker.out")
[ -n "$boot" ] || fail "dev-broker printed no address"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/strata-scheduler" --set bootstrap.servers="$boot" --set admin.listen="127.0.0.1:$port" \
  --log-level warn > "$work/scheduler.log" 2>&1 &
pids+=($!)
"$src/deploy/systemd/strata-wait-healthy" "127.0.0.1:$port" 60 || fail "the scheduler never got healthy"
body=$(curl -fsS "http://127.0.0.1:$port/healthz")
case "$body" in *'"status": "ok"'* | *'"status":"ok"'*) ;; *) fail "/healthz said $body" ;; esac
echo "ok: strata-wait-healthy saw $body"

# Nothing listening: it gives up after its time, naming the address.
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if msg=$("$src/deploy/systemd/strata-wait-healthy" "127.0.0.1:$dead" 2 2>&1); then
  fail "strata-wait-healthy succeeded with nothing listening: $msg"
fi
case "$msg" in *"127.0.0.1:$dead not healthy after 2 s"*) ;; *) fail "unexpected message: $msg" ;; esac
echo "ok: $msg"
