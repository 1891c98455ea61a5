#!/usr/bin/env bash
# kafka label smoke test: the broker at $STRATA_TEST_BOOTSTRAP speaks the Kafka
# protocol and advertises the APIs of a real Apache Kafka broker (CreateTopics,
# DeleteTopics, the transaction requests, DescribeCluster), which librdkafka's
# mock cluster does not all implement. Uses only bash's /dev/tcp: an
# ApiVersions v0 request, the response's API key list checked.
set -euo pipefail

bootstrap=${STRATA_TEST_BOOTSTRAP:-}
if [[ -z "$bootstrap" ]]; then
  echo "FAIL: STRATA_TEST_BOOTSTRAP is not set; start a broker with" >&2
  echo "  export STRATA_TEST_BOOTSTRAP=\$(deploy/kafka-local/kafka-local start | tail -n1)" >&2
  exit 1
fi
first=${bootstrap%%,*}
first=${first#*://}
host=${first%:*}
port=${first##*:}
[[ -n "$host" && "$port" =~ ^[0-9]+$ ]] || {
  echo "FAIL: cannot parse host:port from '$bootstrap'" >&2
  exit 1
}

# Reads exactly N bytes from fd 3 as a hex string (dd bs=1 never over-reads).
read_hex() {
  timeout 10 dd bs=1 count="$1" <&3 2>/dev/null | od -An -v -tx1 | tr -d ' \n'
}

if ! exec 3<>"/dev/tcp/$host/$port"; then
  echo "FAIL: cannot connect to $host:$port" >&2
  exit 1
fi
# size=22 | api_key=18 (ApiVersions) version=0 correlation_id=7 client_id="strata-smoke"
printf '\x00\x00\x00\x16\x00\x12\x00\x00\x00\x00\x00\x07\x00\x0cstrata-smoke' >&3
size_hex=$(read_hex 4)
[[ ${#size_hex} -eq 8 ]] || {
  echo "FAIL: no ApiVersions response from $host:$port" >&2
  exit 1
}
size=$((16#$size_hex))
((size >= 10 && size < 65536)) || {
  echo "FAIL: implausible response size $size" >&2
  exit 1
}
body=$(read_hex "$size")
exec 3>&-
[[ ${#body} -eq $((size * 2)) ]] || {
  echo "FAIL: short ApiVersions response" >&2
  exit 1
}
corr=$((16#${body:0:8}))
err=$((16#${body:8:4}))
count=$((16#${body:12:8}))
[[ $corr -eq 7 && $err -eq 0 ]] || {
  echo "FAIL: ApiVersions correlation id $corr, error code $err" >&2
  exit 1
}

declare -A max=()
for ((i = 0; i < count; i++)); do
  off=$((20 + i * 12))
  key=$((16#${body:off:4}))
  max[$key]=$((16#${body:off+8:4}))
done

# key:name of APIs a real broker has; 19/20/60 are missing from the mock.
status=0
for want in 0:Produce 1:Fetch 3:Metadata 19:CreateTopics 20:DeleteTopics \
  22:InitProducerId 24:AddPartitionsToTxn 26:EndTxn 28:TxnOffsetCommit \
  60:DescribeCluster; do
  key=${want%%:*}
  if [[ -z "${max[$key]:-}" ]]; then
    echo "FAIL: broker $host:$port does not advertise ${want#*:} (API key $key)" >&2
    status=1
  fi
done
((status == 0)) || exit 1
echo "ok: $host:$port is a Kafka broker advertising $count APIs (Produce up to v${max[0]}, CreateTopics up to v${max[19]})"
