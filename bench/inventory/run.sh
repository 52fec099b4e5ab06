#!/usr/bin/env bash
# Inventory speed and memory (issue 5):
#  1. time to inventory an image versus merely decompressing and listing its layers
#     (`gzip -dc layer | tar -t`), target at most 1.3x;
#  2. peak resident memory when inventorying a 1 GB (uncompressed) image, target at most 150 MB.
#
# Usage: bench/inventory/run.sh [OCI_LAYOUT_DIR TAG]
# Default image: the kestrel-testenv image (`cargo test -p kestrel-testenv` builds it).
# Needs jq and GNU time (/usr/bin/time). Prints a Markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

layout=${1:-}
tag=${2:-}
if [ -z "$layout" ]; then
  cache=${KESTREL_TESTENV_CACHE:-/var/cache/kestrel-testenv}
  m=$(ls -t "$cache"/*/manifest.json | head -1)
  layout=$(dirname "$m")/oci
  tag=$(jq -r .tag "$m")
fi
runs=${RUNS:-5}

# BIN: a prebuilt driver (e.g. while another build holds the target directory's lock).
bin=${BIN:-target/release/examples/inventory}
[ -n "${BIN:-}" ] || cargo build --release --quiet -p kestrel-inventory --example inventory

blob() { echo "$layout/blobs/${1/://}"; }
manifest_digest=$(jq -r --arg t "$tag" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$layout/index.json")
layers=$(jq -r '.layers[].digest' "$(blob "$manifest_digest")")

# Median of N runs of a command, in seconds (GNU time's elapsed), plus the max RSS seen (KB).
measure() {
  local times=() rss=0 out t m tf
  tf=$(mktemp)
  for _ in $(seq "$runs"); do
    /usr/bin/time -o "$tf" -f "%e %M" "$@" >/dev/null 2>&1
    out=$(tail -1 "$tf")
    t=${out% *}; m=${out#* }
    times+=("$t"); [ "$m" -gt "$rss" ] && rss=$m
  done
  rm -f "$tf"
  printf '%s %s\n' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")" "$rss"
}

list_layers() {
  for d in $layers; do gzip -dc "$(blob "$d")" | tar -t >/dev/null; done
}
export -f list_layers blob
export layout layers

# Warm the page cache so both sides read from memory.
for d in $layers; do cat "$(blob "$d")" >/dev/null; done

read -r base_t base_m < <(measure bash -c list_layers)
read -r inv_t inv_m < <(measure "$bin" "oci:$layout:$tag")
ratio=$(echo "scale=2; $inv_t / $base_t" | bc)
compressed=$(for d in $layers; do stat -c %s "$(blob "$d")"; done | paste -sd+ | bc)
uncompressed=$(for d in $layers; do gzip -dc "$(blob "$d")" | wc -c; done | paste -sd+ | bc)

# A 1 GB image: the same layers repeated until the uncompressed total passes 1 GiB.
big=$(mktemp -d)
trap 'rm -rf "$big"' EXIT
mkdir -p "$big/blobs/sha256"
reps=$(( (1073741824 + uncompressed - 1) / uncompressed ))
for d in $layers; do ln -s "$(blob "$d")" "$big/blobs/sha256/${d#sha256:}"; done
cfg=$(jq -r '.config.digest' "$(blob "$manifest_digest")")
jq --argjson n "$reps" '.rootfs.diff_ids = ([range($n)] | map($ARGS.named.ids) | add)' \
  --argjson ids "$(jq '.rootfs.diff_ids' "$(blob "$cfg")")" "$(blob "$cfg")" > "$big/config.json"
cfg_d=sha256:$(sha256sum "$big/config.json" | cut -d' ' -f1)
mv "$big/config.json" "$big/blobs/sha256/${cfg_d#sha256:}"
jq --argjson n "$reps" --arg cfg "$cfg_d" --argjson size "$(stat -c %s "$big/blobs/sha256/${cfg_d#sha256:}")" \
  '.config.digest = $cfg | .config.size = $size | .layers = ([range($n)] | map($ARGS.named.l) | add)' \
  --argjson l "$(jq '.layers' "$(blob "$manifest_digest")")" "$(blob "$manifest_digest")" > "$big/manifest.json"
man_d=sha256:$(sha256sum "$big/manifest.json" | cut -d' ' -f1)
man_size=$(stat -c %s "$big/manifest.json")
mv "$big/manifest.json" "$big/blobs/sha256/${man_d#sha256:}"
echo '{"imageLayoutVersion":"1.0.0"}' > "$big/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s}]}' "$man_d" "$man_size" > "$big/index.json"
read -r big_t big_m < <(RUNS=1 measure "$bin" "oci:$big")

echo "| Measure | Value |"
echo "|---|---|"
echo "| Image | $tag: $(echo "$layers" | wc -w) layer(s), $compressed bytes compressed, $uncompressed uncompressed |"
echo "| gzip -dc \\| tar -t (median of $runs) | ${base_t} s |"
echo "| kestrel inventory (median of $runs) | ${inv_t} s, peak RSS $((inv_m / 1024)) MB |"
echo "| Ratio (target <= 1.3) | ${ratio} |"
echo "| 1 GB image ($reps x the layers, $((reps * uncompressed / 1048576)) MiB uncompressed) | ${big_t} s, peak RSS $((big_m / 1024)) MB (target <= 150 MB) |"
