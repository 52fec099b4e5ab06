#!/usr/bin/env bash
# Benchmark for `kestrel risk` on the test image and Pod (root): the share of vulnerability
# findings that are not in use (the noise a runtime-blind scanner reports), and the end-to-end
# time of `kestrel risk` with and without an observation window.
#
#   bench/risk/run.sh            # release build; prints a Markdown table row set
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -q -p kestrel -p kestrel-testenv
K=./target/release/kestrel
T=./target/release/kestrel-testenv
tmp=$(mktemp -d)
trap 'kill "$podpid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
d=crates/kestrel-vulndb/testdata
$K db import --db "$tmp/db" $d/osv/PyPI/all.zip $d/osv/PyPI-ghsa/all.zip $d/osv/npm/all.zip \
  $d/kev/known_exploited_vulnerabilities.json >/dev/null 2>&1
$T build >/dev/null

# 1. Observed from the Pod's start (sensor attached first), 20 s window.
start=$(date +%s.%N)
$K risk --observe 20s --min-observation 5s --format json --db "$tmp/db" > "$tmp/observed.json" 2>/dev/null &
rpid=$!
sleep 4
mkfifo "$tmp/hold"
$T pod < "$tmp/hold" > "$tmp/pod.json" &
podpid=$!
exec 3>"$tmp/hold"
wait $rpid
end=$(date +%s.%N)

# 2. Snapshot only, the Pod already running.
s2=$(date +%s.%N)
$K risk --format json --db "$tmp/db" > "$tmp/snapshot.json" 2>/dev/null
e2=$(date +%s.%N)
exec 3>&-
wait $podpid || true

python3 - "$tmp/observed.json" "$tmp/snapshot.json" "$start" "$end" "$s2" "$e2" <<'PY'
import json, sys
obs, snap = (json.load(open(p)) for p in sys.argv[1:3])
t1 = float(sys.argv[4]) - float(sys.argv[3])
t2 = float(sys.argv[6]) - float(sys.argv[5])
def share(doc):
    f = doc["findings"]
    n = len(f)
    c = {k: sum(1 for x in f if x["in_use"] == k) for k in ("true", "false", "unknown")}
    return n, c
for name, doc, t in (("observed 20 s from Pod start", obs, t1), ("/proc snapshot only", snap, t2)):
    n, c = share(doc)
    pct = 100.0 * c["false"] / n if n else 0.0
    print(f"| {name} | {n} | {c['true']} | {c['false']} | {c['unknown']} | {pct:.0f}% | {t:.1f} s |")
PY
