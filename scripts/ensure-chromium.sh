#!/usr/bin/env bash
# Installs Debian's chromium when it is missing. The dashboard's end-to-end
# test (crates/strata-server/tests/dashboard.rs) starts its own headless
# Chromium from /usr/bin/chromium, with a fresh profile, and drives it over
# the DevTools protocol; nothing else of the browser is used.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: chromium not found and apt-get is unavailable: install Chromium so that chromium is on PATH (the dashboard test runs /usr/bin/chromium)" >&2
  exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "error: chromium not found; installing it needs root or sudo: apt-get install chromium" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "==> installing chromium (Debian package)"
"${sudo[@]}" apt-get update
# Recommends pull in fonts and desktop integration; the screenshot needs
# only a sans-serif font, which chromium depends on directly.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

if ! command -v chromium >/dev/null 2>&1; then
  echo "error: installed the chromium package, but chromium is still not on PATH" >&2
  exit 1
fi
