#!/usr/bin/env bash
# Checkov in a venv at a fixed path, for the side-by-side posture test (kestrel-posture
# tests/checkov.rs) and bench/posture.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash crates/kestrel-posture/tests/checkov/install.sh >/dev/null
