#!/usr/bin/env bash
# Host tools the test environment and browser tests call directly: Python 3 with pip and venv
# (pip download for the test image, the Checkov venv) and Node with npm (npm ci for the test
# image's app and for playwright-core). CI machines ship their own Python and Node; a bare
# Debian/Ubuntu host gets Debian's.
set -euo pipefail
missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[setup] installing host tools: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
