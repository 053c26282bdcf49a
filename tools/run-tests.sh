#!/usr/bin/env bash
# THE test command (README; CI runs it through .ci/run, which sets CI=true).
# Exits non-zero on any failure.
#   1. installs missing Debian packages (as root; both lists in tools/lib-deps.sh:
#      the quickstart's build list and the test list)
#   2. default preset (gcc, -Werror): build, then ctest: C unit tests, TCP
#      scripts, contract checks (symbols, arm size), example, fuzz corpus
#      replay, and the pytest suites (one ctest entry, `pytest`)
#   3. asan preset (ASan + UBSan, no recovery): build, then the same ctest
#   4. fuzz smoke (tools/fuzz-ci.sh, when present)
#   5. every skipped test (ctest and pytest) with its reason, last on the
#      console (tools/test-summary.py). With CI=true a skip for a missing
#      package or capability is a failure (tests/conftest.py for pytest,
#      test-summary.py for ctest's SKIP_RETURN_CODE and disabled tests).
set -euo pipefail
case "${1:-}" in
-h | --help)
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  echo "usage: tools/run-tests.sh   (as root to install packages; no arguments)"
  echo "exit codes: 0 ok, 1 failure found (a test failed, or skipped under CI=true), 2 usage error"
  exit 0 ;;
--version) echo "run-tests (microtcp) 0.1.0"; exit 0 ;;
"") ;;
*) echo "run-tests.sh: unexpected argument: $1 (see --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
. tools/lib-deps.sh
# shellcheck disable=SC2086 # one word per package
microtcp_install_deps $MICROTCP_DEBS_BUILD $MICROTCP_DEBS_TEST

build_jobs=$(nproc 2>/dev/null || echo 2)
test_jobs=2 # live tests and the sim swarm are CPU-heavy; two at a time is enough
failed=""
junit=()

run_preset() {
  local preset=$1 bd=build/$1
  echo "== $preset: configure + build" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$build_jobs"
  echo "== $preset: ctest" >&2
  rm -f "$bd/ctest-junit.xml" "$bd/pytest-junit.xml"
  junit+=("$preset=$bd/ctest-junit.xml" "$preset=$bd/pytest-junit.xml")
  # ctest's --output-junit path is relative to the build directory
  ctest --preset "$preset" -j "$test_jobs" --output-on-failure --output-junit ctest-junit.xml ||
    failed="$failed $preset"
}

# ---- fuzz smoke hook -------------------------------------------------------
# Owned by the fuzzing work: tools/fuzz-ci.sh builds the fuzz preset and runs
# each target briefly. Kept as a separate step so this script stays the one
# place that lists what CI runs.
run_fuzz_smoke() {
  if [ -x tools/fuzz-ci.sh ]; then
    echo "== fuzz smoke: tools/fuzz-ci.sh" >&2
    tools/fuzz-ci.sh || failed="$failed fuzz-smoke"
  else
    echo "== fuzz smoke: tools/fuzz-ci.sh not present" >&2
    failed="$failed fuzz-smoke(missing)"
  fi
}

run_preset default
run_preset asan
run_fuzz_smoke
/usr/bin/python3 tools/test-summary.py "${junit[@]}" || failed="$failed skips"
if [ -n "$failed" ]; then
  echo "FAILED:$failed" >&2
  exit 1
fi
echo "all tests passed" >&2
