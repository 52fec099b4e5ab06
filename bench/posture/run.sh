#!/usr/bin/env bash
# Kestrel versus Checkov on the same Kubernetes manifests.
#
#   bench/posture/run.sh [N_SMALL] [N_LARGE]
#
# Generates N_SMALL objects (default 200) scanned by both tools, and N_LARGE (default 10000)
# scanned by Kestrel alone, and prints wall-clock seconds (best of 3 for Kestrel, one Checkov
# run: it takes tens of seconds). Uses the release binary (`cargo build --release -p kestrel`)
# if present, else the library-only example with the same load/scan/JSON path
# (`cargo build --release -p kestrel-posture --example scan`). Needs Checkov
# (crates/kestrel-posture/tests/checkov/install.sh) for the comparison.
#
# With CALLGRIND=1 it also counts the instructions of the 10,000-object scan under
# valgrind --tool=callgrind (stable on a shared machine, unlike wall time): in total, on the
# main thread, and in the YAML parser threads.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -n "${KESTREL:-}" ]; then
    scan=("$KESTREL" scan k8s)
elif [ -x "$root/target/release/kestrel" ]; then
    scan=("$root/target/release/kestrel" scan k8s)
else
    scan=("$root/target/release/examples/scan")
fi
checkov=${KESTREL_CHECKOV:-/opt/kestrel-checkov/bin/checkov}
small=${1:-200}
large=${2:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$here/generate.py" "$small" "$work/small.yaml"
python3 "$here/generate.py" "$large" "$work/large.yaml"

secs() { # run "$@", print elapsed seconds
    local s e
    s=$(date +%s.%N)
    "$@" > /dev/null 2>&1 || true
    e=$(date +%s.%N)
    echo "$e - $s" | bc -l
}
best3() {
    local a b c
    a=$(secs "$@"); b=$(secs "$@"); c=$(secs "$@")
    printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -g | head -1
}

fmt=()
# The binary needs --format json; the example always writes JSON.
[ "${#scan[@]}" -gt 1 ] && fmt=(--format json)
k_small=$(best3 "${scan[@]}" "$work/small.yaml" "${fmt[@]}")
k_large=$(best3 "${scan[@]}" "$work/large.yaml" "${fmt[@]}")
findings=$("${scan[@]}" "$work/large.yaml" "${fmt[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["findings"])')
echo "kestrel (${scan[0]##*/}) ${small} objects: ${k_small} s"
echo "kestrel  ${large} objects: ${k_large} s (${findings} findings)"
if [ "${CALLGRIND:-0}" = 1 ]; then
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
        "${scan[@]}" "$work/large.yaml" "${fmt[@]}" > /dev/null 2> "$work/cg.err"
    total=$(sed -n 's/.*Collected : //p' "$work/cg.err")
    threads=$(callgrind_annotate --inclusive=yes "$work/cg.out" 2> /dev/null |
        awk '/pthread_create.c:start_thread/ && !n {gsub(",", "", $1); n = $1} END {print n + 0}')
    echo "callgrind ${large} objects: ${total} instructions (${threads} in parser threads, $((total - threads)) on the main thread)"
fi
if [ -x "$checkov" ]; then
    c_small=$(secs "$checkov" -f "$work/small.yaml" --framework kubernetes -o json --quiet --compact --skip-download)
    echo "checkov  ${small} objects: ${c_small} s"
    echo "speed-up on ${small} objects: $(echo "$c_small / $k_small" | bc -l | xargs printf '%.0f')x"
else
    echo "checkov not installed at $checkov: comparison skipped"
fi
