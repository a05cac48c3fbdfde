#!/usr/bin/env bash
# Installs redis-server when it is missing. The Redis tier's tests start their
# own servers from this binary, each on a free port with its own directory, so
# the system service the package ships is never used: it is stopped and
# disabled when the package installs it.
set -euo pipefail
here="$(dirname "$0")"

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
"$here/apt-install.sh" redis-server redis-server

# The tests need only the binary. Where the package started its service (a
# machine with systemd), stop it so no idle server holds port 6379.
sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  "${sudo[@]}" systemctl disable --now redis-server
fi
