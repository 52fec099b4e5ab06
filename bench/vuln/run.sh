#!/usr/bin/env bash
# Vulnerability benchmarks: full import of the shared OSV data, matching throughput, and an end
# to end `kestrel scan image` on the test image. Figures go in README.md in this directory.
#
#   cargo build --release -p kestrel && cargo build --release -p kestrel-vuln --example match_throughput
#   bash bench/vuln/run.sh [SHARED_DATA_DIR] [OCI_LAYOUT_TARGET]   (PROFILE=debug to use debug builds)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${1:-$root/../shared/data}
target=${2:-}
profile=${PROFILE:-release}
k=$root/target/$profile/kestrel
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export KESTREL_LOG__LEVEL=warn

osv=("$data"/osv/PyPI/all.zip "$data"/osv/Go/all.zip "$data"/osv/crates.io/all.zip \
     "$data"/osv/npm/all.zip "$data"/osv/PyPI-ghsa/all.zip)

echo "== decompression alone (every entry of every zip, to /dev/null), 3 runs"
for i in 1 2 3; do
  /usr/bin/time -f "%e s" sh -c "for z in ${osv[*]}; do unzip -p \"\$z\" > /dev/null; done"
done

echo "== full import: OSV (PyPI, Go, crates.io, npm, PyPI-ghsa) + Kubernetes CVE dir + KEV, 3 runs"
for i in 1 2 3; do
  rm -f "$work"/a.db*
  /usr/bin/time -f "%e s, max RSS %M KiB" "$k" db import --db "$work/a.db" "${osv[@]}" \
      "$data"/k8s-cves "$data"/kev/known_exploited_vulnerabilities.json > /dev/null
done
ls -l "$work"/a.db* | awk '{print $5, $9}'
"$k" db status --db "$work/a.db"

echo "== matching throughput"
"$root"/target/$profile/examples/match_throughput "$work/a.db"

if [ -n "$target" ]; then
  echo "== kestrel scan image $target (database: the full import above), 3 runs"
  for i in 1 2 3; do
    /usr/bin/time -f "%e s, max RSS %M KiB" "$k" scan image --db "$work/a.db" -f json -o "$work/scan.json" "$target"
  done
  KESTREL_LOG__LEVEL=info "$k" scan image --db "$work/a.db" -f json -o "$work/scan.json" "$target" 2>&1 | grep -E "inventory complete|scan finished" || true
fi
