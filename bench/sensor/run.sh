#!/usr/bin/env bash
# Sensor benchmarks (issue 3). Run as root from the repository root:
#
#   cargo build --release -p kestrel -p kestrel-sensor --example decode_bench
#   bench/sensor/run.sh [all|redis|stress|bpfstats|decode|rss]
#
# Needs: redis-server + redis-tools (redis-benchmark), stress-ng, bpftool.
# Every figure is "with the sensor attached" vs "without", on the same machine, back to back.
# The sensor runs as `kestrel watch --no-rules`: the full pipeline (ring buffer, decode,
# process table, container identity), output discarded, no rule evaluation.
set -euo pipefail

KESTREL=${KESTREL:-target/release/kestrel}
DECODE=${DECODE:-target/release/examples/decode_bench}
OUT=${OUT:-/tmp/kestrel-sensor-bench}
mkdir -p "$OUT"
what=${1:-all}

sensor_start() {
  "$KESTREL" watch --no-rules "$@" >/dev/null 2>"$OUT/sensor.log" &
  SENSOR=$!
  # Wait until every probe is attached.
  for _ in $(seq 1 120); do
    grep -q "eBPF sensor attached" "$OUT/sensor.log" 2>/dev/null && return 0
    sleep 0.5
  done
  echo "sensor did not start: $(cat "$OUT/sensor.log")" >&2
  exit 1
}

sensor_stop() {
  kill -INT "$SENSOR"
  wait "$SENSOR" || true
  grep -E "sensor stopped" "$OUT/sensor.log" || true
}

redis() {
  redis-server --port 6399 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$OUT/redis.pid" >/dev/null
  sleep 1
  rb() { redis-benchmark -h 127.0.0.1 -p 6399 --csv -n "${N:-200000}" -c 50 -t ping_inline,set,get; }
  echo "== redis-benchmark without the sensor"; rb | tee "$OUT/redis-without.txt"
  sensor_start
  echo "== redis-benchmark with the sensor"; rb | tee "$OUT/redis-with.txt"
  sensor_stop
  echo "== redis-benchmark without the sensor (again)"; rb | tee "$OUT/redis-without2.txt"
  kill "$(cat "$OUT/redis.pid")"
}

stress() {
  # bogo ops/s (real time). The exec stressor refuses root: run it as nobody.
  st() {
    local run=(stress-ng --"$1" 2 --timeout 10s --metrics-brief --temp-path /tmp)
    [ "$1" = exec ] && run=(setpriv --reuid 65534 --regid 65534 --clear-groups "${run[@]}")
    (cd /tmp && "${run[@]}" 2>&1) | awk -v s="$1" '$4 == s && $5 ~ /^[0-9]+$/ { print s, "bogo-ops/s", $9 }'
  }
  for s in open exec; do
    echo "== stress-ng --$s without the sensor"; st "$s" | tee "$OUT/stress-$s-without.txt"
    sensor_start
    echo "== stress-ng --$s with the sensor"; st "$s" | tee "$OUT/stress-$s-with.txt"
    sensor_stop
    echo "== stress-ng --$s without the sensor (again)"; st "$s" | tee "$OUT/stress-$s-without2.txt"
  done
}

bpfstats() {
  sysctl -qw kernel.bpf_stats_enabled=1
  sensor_start
  stress-ng --exec 1 --open 1 --sock 1 --timeout 10s >/dev/null 2>&1 || true
  echo "== average run time per program (bpf_stats: run_time_ns / run_cnt), busiest first"
  bpftool prog show -j | python3 -c '
import json, sys
progs = [p for p in json.load(sys.stdin) if p.get("run_cnt")]
mine = [p for p in progs if p.get("name","").startswith(("on_", "enter_", "exit_"))]
for p in sorted(mine, key=lambda p: -p["run_cnt"])[:25]:
    name, runs, ns = p["name"], p["run_cnt"], p["run_time_ns"]
    print(f"{name:<24} runs={runs:>10} avg={ns / runs:8.0f} ns")
' | tee "$OUT/bpfstats.txt"
  sensor_stop
  sysctl -qw kernel.bpf_stats_enabled=0
}

decode() {
  local rec="$OUT/recording.krec"
  sensor_start --record "$rec"
  stress-ng --exec 1 --open 1 --sock 1 --timeout 10s >/dev/null 2>&1 || true
  sensor_stop
  echo "== userspace decode + enrichment, one thread"
  "$DECODE" "$rec" 20 | tee "$OUT/decode.txt"
}

rss() {
  sensor_start
  local pids=()
  for _ in $(seq 1 1000); do sleep 120 & pids+=($!); done
  sleep 5
  echo "== sensor resident memory with ${#pids[@]} extra processes alive"
  grep -E "VmRSS|VmHWM" "/proc/$SENSOR/status" | tee "$OUT/rss.txt"
  kill "${pids[@]}" 2>/dev/null || true
  sensor_stop
}

case "$what" in
  all) redis; stress; bpfstats; decode; rss ;;
  *) "$what" ;;
esac
