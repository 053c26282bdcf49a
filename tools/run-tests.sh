#!/usr/bin/env bash
# THE test command (README): install dependencies, build, run every test.
#   default preset: C unit tests, TCP scripts, pytest suites (ctest)
#   asan preset:    the same C tests under AddressSanitizer + UBSan
#   fuzz smoke:     tools/fuzz-ci.sh, when present
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lib-deps.sh
microtcp_install_deps

jobs=$(nproc 2>/dev/null || echo 2)
run_preset() {
  local preset=$1
  echo "== build + test: $preset" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs" --output-on-failure
}

run_preset default
run_preset asan
if [ -x tools/fuzz-ci.sh ]; then
  echo "== fuzz smoke" >&2
  tools/fuzz-ci.sh
fi
echo "all tests passed" >&2
