#!/usr/bin/env bash
# Installs Debian's chromium when it is missing. The dashboard's end-to-end
# test (crates/strata-server/tests/dashboard.rs) starts its own headless
# Chromium from /usr/bin/chromium, with a fresh profile, and drives it over
# the DevTools protocol; nothing else of the browser is used. No recommends:
# they pull in fonts and desktop integration, and the screenshot needs only
# the sans-serif font chromium depends on directly.
set -euo pipefail
exec "$(dirname "$0")/apt-install.sh" chromium chromium
