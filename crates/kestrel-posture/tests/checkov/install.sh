#!/usr/bin/env bash
# Installs the Checkov used by tests/checkov.rs into a venv at a fixed path.
set -euo pipefail
VENV=${KESTREL_CHECKOV_VENV:-/opt/kestrel-checkov}
if [ ! -x "$VENV/bin/checkov" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'checkov==3.3.30'
fi
"$VENV/bin/checkov" --version
