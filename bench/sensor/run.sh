#!/usr/bin/env bash
# Sensor benchmarks (issue 3). Run as root from the repository root:
#
#   cargo build --release -p kestrel
#   cargo build --release -p kestrel-sensor --example decode_bench --example sensor_run
#   bench/sensor/run.sh [all|overhead|cost|bpfstats|decode|rss]
#
# Needs: redis-server + redis-tools (redis-benchmark), stress-ng, bpftool, linux-perf (cost), python3.
#
# overhead: application throughput without and with the sensor, interleaved in PAIRS pairs on
#   the same machine (pair i: without then with for odd i, with then without for even i, so
#   that a load trend during the run affects both sides alike). Each pair gives a ratio
#   with/without; the median ratio over the pairs is the figure, and the spread of the pair
#   ratios says how much to trust it. Workloads: redis-benchmark PING_INLINE, SET, GET on
#   127.0.0.1; stress-ng --open and --exec (exec as nobody: stress-ng refuses to exec as root).
#   About 12 s per side per pair plus 2-3 s of sensor start: PAIRS=5 takes about 2.5 minutes.
# bpfstats: per-program kernel cost (bpf_stats run_time_ns / run_cnt) under a stress-ng mix.
# decode: records a stream under an exec/open/socket mix, then measures user-space decode and
#   enrichment throughput on one thread (decode_bench).
# rss: sensor resident memory with 1,000 extra live processes.
#
# The sensor runs as `kestrel watch --no-rules` (override with WATCH_ARGS): the full pipeline
# (ring buffer, decode, process table, container identity), output discarded, no rule
# evaluation. SENSOR_CMD=target/release/examples/sensor_run measures the sensor library alone
# instead (overhead, bpfstats, rss; decode always records with kestrel watch). Raw outputs land
# in $OUT (default /tmp/kestrel-sensor-bench).
set -euo pipefail

KESTREL=${KESTREL:-target/release/kestrel}
DECODE=${DECODE:-target/release/examples/decode_bench}
OUT=${OUT:-/tmp/kestrel-sensor-bench}
PAIRS=${PAIRS:-5}
N=${N:-100000}               # redis-benchmark requests per test
STRESS_SECS=${STRESS_SECS:-4}   # 0: redis only
# Seconds to wait after attaching or detaching before measuring: loading and unloading ~100
# programs leaves the kernel busy for a moment (RCU grace periods, freeing), which is not the
# sensor's steady-state cost.
SETTLE=${SETTLE:-3}
# redis-server and redis-benchmark are pinned to one CPU each: left to the scheduler, whether
# they share a CPU or not changed throughput by more than the sensor does.
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-$(( $(nproc) > 1 ? 1 : 0 ))}
read -r -a WATCH <<<"${WATCH_ARGS:---no-rules}"
mkdir -p "$OUT"
what=${1:-all}

sensor_start() {
  if [ -n "${SENSOR_CMD:-}" ] && [ $# -eq 0 ]; then
    "$SENSOR_CMD" >/dev/null 2>"$OUT/sensor.log" &
  else
    "$KESTREL" watch "${WATCH[@]}" "$@" >/dev/null 2>"$OUT/sensor.log" &
  fi
  SENSOR=$!
  # Wait until every probe is attached and the process table is bootstrapped.
  for _ in $(seq 1 120); do
    grep -q "process table bootstrapped" "$OUT/sensor.log" 2>/dev/null && return 0
    kill -0 "$SENSOR" 2>/dev/null || break
    sleep 0.25
  done
  echo "sensor did not start: $(cat "$OUT/sensor.log")" >&2
  exit 1
}

sensor_stop() {
  # TERM, not INT: a background job of a script ignores SIGINT unless it installs a handler.
  kill -TERM "$SENSOR"
  wait "$SENSOR" || true
  grep -h "sensor stopped" "$OUT/sensor.log" >>"$OUT/sensor-stops.log" || true
}

# One measurement of every overhead workload, appended to $OUT/overhead.tsv as
# "pair<TAB>side<TAB>workload<TAB>value" (requests/s or bogo ops/s, higher is better).
measure() {
  local pair=$1 side=$2
  taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p 6399 --csv -n "$N" -c 50 \
    -t ping_inline,set,get 2>/dev/null |
    awk -F'"' -v p="$pair" -v s="$side" 'NR > 1 && $2 != "" { printf "%s\t%s\tredis %s (req/s)\t%s\n", p, s, $2, $4 }' |
    tee -a "$OUT/overhead.tsv"
  local st
  [ "$STRESS_SECS" = 0 ] && return 0
  for st in open exec; do
    local run=(stress-ng --"$st" 1 --timeout "${STRESS_SECS}s" --metrics-brief --temp-path /tmp)
    [ "$st" = exec ] && run=(setpriv --reuid 65534 --regid 65534 --clear-groups "${run[@]}")
    (cd /tmp && "${run[@]}" 2>&1) |
      awk -v p="$pair" -v s="$side" -v st="$st" \
        '$4 == st && $5 ~ /^[0-9]+$/ { printf "%s\t%s\tstress-ng --%s (bogo ops/s)\t%s\n", p, s, st, $9 }' |
      tee -a "$OUT/overhead.tsv"
  done
}

overhead() {
  taskset -c "$SERVER_CPU" redis-server --port 6399 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$OUT/redis.pid" >/dev/null
  sleep 1
  : >"$OUT/overhead.tsv"
  : >"$OUT/sensor-stops.log"
  local start=$SECONDS
  for pair in $(seq 1 "$PAIRS"); do
    if (( pair % 2 == 1 )); then
      echo "== pair $pair: without, then with the sensor"
      measure "$pair" without
      sensor_start; sleep "$SETTLE"; measure "$pair" with; sensor_stop
    else
      echo "== pair $pair: with, then without the sensor"
      sensor_start; sleep "$SETTLE"; measure "$pair" with; sensor_stop
      sleep "$SETTLE"; measure "$pair" without
    fi
  done
  kill "$(cat "$OUT/redis.pid")"
  echo "== $PAIRS pairs in $((SECONDS - start)) s; ratio = with / without per pair"
  python3 - "$OUT/overhead.tsv" <<'EOF' | tee "$OUT/overhead.txt"
import collections, statistics, sys
runs = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    pair, side, workload, value = line.rstrip("\n").split("\t")
    runs[workload].setdefault(pair, {})[side] = float(value)
print(f"{'workload':<34} {'median without':>14} {'median with':>12} {'median ratio':>12} {'loss':>7}  pair ratios")
for workload, pairs in runs.items():
    both = [p for p in pairs.values() if "with" in p and "without" in p and p["without"] > 0]
    if not both:
        continue
    ratios = [p["with"] / p["without"] for p in both]
    med = statistics.median(ratios)
    print(f"{workload:<34} {statistics.median(p['without'] for p in both):>14,.0f} "
          f"{statistics.median(p['with'] for p in both):>12,.0f} {med:>12.3f} {100 * (1 - med):>6.1f}%  "
          + " ".join(f"{r:.3f}" for r in ratios))
EOF
}

bpfstats() {
  sysctl -qw kernel.bpf_stats_enabled=1
  sensor_start
  (cd /tmp && stress-ng --exec 1 --open 1 --sock 1 --timeout 10s >/dev/null 2>&1) || true
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
  # An exec-heavy mix, like a build or a busy shell: short processes with arguments and
  # environment, opens of watched files, sockets.
  local load=()
  (cd /tmp && setpriv --reuid 65534 --regid 65534 --clear-groups \
    stress-ng --exec 1 --timeout 5s >/dev/null 2>&1) &
  load+=($!)
  (cd /tmp && stress-ng --open 1 --sock 1 --timeout 5s >/dev/null 2>&1) &
  load+=($!)
  for i in $(seq 1 300); do
    sh -c "cat /etc/hostname /etc/os-release >/dev/null; ls /usr/bin >/dev/null; echo $i >/dev/null"
  done
  wait "${load[@]}" || true
  sensor_stop
  echo "== userspace decode + enrichment, one thread"
  "$DECODE" "$rec" 20 | tee "$OUT/decode.txt"
}

# cost: where the CPU goes while redis-benchmark runs with the sensor attached. The machine-wide
# profile (perf record -a, 999 Hz per CPU) is split into the sensor's share (its own threads,
# its BPF programs, and the kernel paths that exist only because a program is attached: the
# syscall-tracepoint slow path and the cgroup skb dispatcher) and everything else that is not
# idle. Unlike throughput ratios, the share does not depend on how much the VM's neighbours
# steal between two runs. A profile of the same run without the sensor checks that those
# kernel paths are otherwise absent.
cost() {
  redis-server --port 6399 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$OUT/redis.pid" >/dev/null
  sleep 1
  local side
  for side in with without; do
    if [ "$side" = with ]; then sensor_start; sleep "$SETTLE"; fi
    perf record -a -F 999 -o "$OUT/cost-$side.data" -- \
      redis-benchmark -h 127.0.0.1 -p 6399 -n "$N" -c 50 -t ping_inline,set,get -q 2>/dev/null |
      tr '\r' '\n' | grep "per second" | sed "s/^/$side: /"
    if [ "$side" = with ]; then
      cat /proc/"$SENSOR"/task/*/comm | sort -u >"$OUT/sensor-comms.txt"
      sensor_stop
      sleep "$SETTLE"
    fi
    perf report -i "$OUT/cost-$side.data" --no-children --sort comm,sym --stdio \
      2>/dev/null >"$OUT/cost-$side.txt"
  done
  kill "$(cat "$OUT/redis.pid")"
  python3 - "$OUT" <<'EOF' | tee "$OUT/cost.txt"
import re, sys
out = sys.argv[1]
comms = {l.strip() for l in open(f"{out}/sensor-comms.txt") if l.strip()}
# Kernel functions that run only because the sensor attached something.
hooks = re.compile(r"^(bpf_prog_|__cgroup_bpf_run_filter_skb$|__bpf_prog_run_save_cb$|bpf_sk_fullsock$"
                   r"|syscall_trace_enter|syscall_exit_work$|perf_syscall_(enter|exit)$|trace_call_bpf$"
                   r"|perf_trace_buf_alloc$|rcu_read_(un)?lock_trace|__bpf_ringbuf|bpf_ringbuf_"
                   r"|bpf_skb_load_bytes|bpf_get_socket_cookie|bpf_probe_read|htab_|__htab_|trie_lookup)")
for side in ("with", "without"):
    total = idle = sensor_proc = hook = 0.0
    top = {}
    for line in open(f"{out}/cost-{side}.txt"):
        m = re.match(r"\s+([0-9.]+)%\s+(.+?)\s+\[[k.]\]\s+(\S+)", line)
        if not m:
            continue
        pct, comm, sym = float(m[1]), m[2].strip(), m[3]
        total += pct
        if comm == "swapper":
            idle += pct
        elif side == "with" and comm in comms:
            sensor_proc += pct
        elif hooks.match(sym):
            hook += pct
            top[sym] = top.get(sym, 0) + pct
    busy = total - idle
    share = 100 * (sensor_proc + hook) / busy if busy else 0
    print(f"{side:>7}: busy {busy:5.1f}% of samples; sensor threads {sensor_proc:5.2f}%, "
          f"hook paths in other tasks {hook:5.2f}% -> sensor share of busy CPU {share:4.1f}%")
    print("         " + ", ".join(f"{k} {v:.2f}%" for k, v in sorted(top.items(), key=lambda kv: -kv[1])[:8]))
EOF
}

rss() {
  local pids=() i
  sensor_start
  for i in $(seq 1 1000); do sleep 120 & pids+=($!); done
  sleep 5
  echo "== sensor memory with ${#pids[@]} extra live processes"
  grep -E "VmRSS|VmHWM|RssAnon|RssFile|RssShmem|Threads" "/proc/$SENSOR/status" | tee "$OUT/rss.txt"
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  sensor_stop
}

case "$what" in
  all) overhead; cost; bpfstats; decode; rss ;;
  overhead | cost | bpfstats | decode | rss) "$what" ;;
  *) echo "usage: $0 [all|overhead|cost|bpfstats|decode|rss]" >&2; exit 2 ;;
esac
