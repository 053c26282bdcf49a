#!/usr/bin/env bash
# THE test command (README; CI runs it through .ci/run). Exits non-zero on any
# failure.
#   1. installs missing Debian packages (as root; list in tools/lib-deps.sh)
#   2. default preset (gcc, -Werror): build, then ctest: C unit tests, TCP
#      scripts, contract checks (symbols, arm size), example, fuzz corpus
#      replay, and the pytest suites (one ctest entry, `pytest`)
#   3. asan preset (ASan + UBSan, no recovery): build, then the same ctest
#   4. fuzz smoke (tools/fuzz-ci.sh, when present)
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lib-deps.sh
microtcp_install_deps

build_jobs=$(nproc 2>/dev/null || echo 2)
test_jobs=2 # live tests and the sim swarm are CPU-heavy; two at a time is enough

run_preset() {
  local preset=$1
  echo "== $preset: configure + build" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$build_jobs"
  echo "== $preset: ctest" >&2
  ctest --preset "$preset" -j "$test_jobs" --output-on-failure
}

# ---- fuzz smoke hook -------------------------------------------------------
# Owned by the fuzzing work: tools/fuzz-ci.sh builds the fuzz preset and runs
# each target briefly. Kept as a separate step so this script stays the one
# place that lists what CI runs.
run_fuzz_smoke() {
  if [ -x tools/fuzz-ci.sh ]; then
    echo "== fuzz smoke: tools/fuzz-ci.sh" >&2
    tools/fuzz-ci.sh
  else
    echo "== fuzz smoke: tools/fuzz-ci.sh not present, skipped" >&2
  fi
}

run_preset default
run_preset asan
run_fuzz_smoke
echo "all tests passed" >&2
