#!/usr/bin/env bash
# playwright-core (no browser download: tests drive Debian's /usr/bin/chromium) for the
# dashboard tests in kestrel-server tests/browser.rs.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=crates/kestrel-server/tests/browser
if [ ! -d "$dir/node_modules/playwright-core" ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$dir" --no-audit --no-fund >/dev/null
fi
