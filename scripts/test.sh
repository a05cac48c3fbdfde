#!/usr/bin/env bash
# Every check CI runs, fastest-failing first. Installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found: install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi
if ! cargo fmt --version >/dev/null 2>&1; then rustup component add rustfmt; fi
if ! cargo clippy --version >/dev/null 2>&1; then rustup component add clippy; fi

step() {
  echo "==> $*"
  "$@"
}

step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
# The library without optional features must build on its own too.
step cargo check -p strata --lib --locked
# The Redis tier's tests start their own redis-server processes.
step ./scripts/ensure-redis.sh
# The dashboard's browser test drives a headless Chromium.
step ./scripts/ensure-chromium.sh
# `hot-paths` counts instructions under callgrind, and its test runs it so.
step ./scripts/ensure-valgrind.sh
step cargo test --workspace --all-features --locked
step env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked
echo "==> all checks passed"
