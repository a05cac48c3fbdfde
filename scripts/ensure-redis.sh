#!/usr/bin/env bash
# Installs redis-server when it is missing. The Redis tier's tests start their
# own servers from this binary, each on a free port with its own directory, so
# the system service the package ships is never used: it is stopped and
# disabled when the package installs it.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: redis-server not found and apt-get is unavailable: install Redis (7 or later) so that redis-server is on PATH" >&2
  exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "error: redis-server not found; installing it needs root or sudo: apt-get install redis-server" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "==> installing redis-server (Debian package)"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server

# The tests need only the binary. Where the package started its service (a
# machine with systemd), stop it so no idle server holds port 6379.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  "${sudo[@]}" systemctl disable --now redis-server
fi

if ! command -v redis-server >/dev/null 2>&1; then
  echo "error: installed the redis-server package, but redis-server is still not on PATH" >&2
  exit 1
fi
