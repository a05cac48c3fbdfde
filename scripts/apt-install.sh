#!/usr/bin/env bash
# Usage: apt-install.sh PACKAGE COMMAND
# Installs Debian's PACKAGE (without recommends) when COMMAND is not on PATH,
# with sudo when not root, and checks that COMMAND is there afterwards. The
# one place the ensure-*.sh scripts install from.
set -euo pipefail
package=$1
command=$2

if command -v "$command" >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: $command not found and apt-get is unavailable: install $package so that $command is on PATH" >&2
  exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "error: $command not found; installing it needs root or sudo: apt-get install $package" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "==> installing $package (Debian package)"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$package"

if ! command -v "$command" >/dev/null 2>&1; then
  echo "error: installed the $package package, but $command is still not on PATH" >&2
  exit 1
fi
