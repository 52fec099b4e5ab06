#!/usr/bin/env bash
# Memory of a long observation: folding sensor events into `kestrel_assess::Observation`
# (per container, one entry per distinct file) against keeping every file event, which is what
# `kestrel risk --observe` did before. The stream imitates 20 containers re-reading a working
# set of package files, with one never-seen file per 200 events in one of them (see the
# example's doc: crates/kestrel-assess/examples/observation_bench.rs).
#
#   bench/risk/observation.sh      # release build; prints one JSON line per run
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -q -p kestrel-assess --example observation_bench
B=./target/release/examples/observation_bench
for n in 1000000 10000000 50000000; do
  $B fold $n
done
# Keeping every event grows with the stream: stop at 10 million (several GiB beyond).
for n in 1000000 10000000; do
  $B keep $n
done
