#!/usr/bin/env bash
# Installs Debian's valgrind when it is missing. `hot-paths`
# (crates/strata-bench/src/bin/hot_paths.rs) counts instructions per cache
# operation under callgrind, and its test runs it under a real valgrind.
set -euo pipefail
exec "$(dirname "$0")/apt-install.sh" valgrind valgrind
