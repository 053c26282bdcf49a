#!/usr/bin/env bash
# CI fuzz step: builds the libFuzzer targets (clang, ASan + UBSan) and runs each
# for FUZZ_SECONDS (default 20) on a scratch copy of its corpus. Fails on any
# crash, leak, timeout or sanitizer report; prints each target's exec/s,
# coverage and corpus size. New crashes are kept as build/fuzz/crash-* files.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
cmake --preset fuzz >/dev/null
targets="fuzz-frame fuzz-wire-roundtrip fuzz-ipv4-reasm fuzz-tcp-stateful"
cmake --build --preset fuzz -j "$(nproc 2>/dev/null || echo 2)" --target $targets >/dev/null
status=0
run_one() {
  local t=$1 src=${1//-/_}
  local work=build/fuzz/work/$src
  rm -rf "$work" && mkdir -p "$work"
  cp fuzz/corpus/"$src"/* "$work"/ 2>/dev/null || true
  local log=build/fuzz/$src.log
  if ! build/fuzz/fuzz/"$t" "$work" fuzz/regressions/"$src" -max_total_time="$secs" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build/fuzz/crash-"$src"- \
      -dict=fuzz/tcp.dict >"$log" 2>&1; then
    echo "FAIL $t (see $log)"; tail -30 "$log"; return 1
  fi
  local execs cov
  execs=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  printf '%-22s ok  %8s exec/s  cov %6s  corpus %5s files\n' "$t" "${execs:-?}" "${cov:-?}" "$(ls "$work" | wc -l)"
}
# two at a time (2 cores)
set -- $targets
while [ $# -gt 0 ]; do
  run_one "$1" & p1=$!
  p2=
  if [ $# -gt 1 ]; then run_one "$2" & p2=$!; fi
  wait $p1 || status=1
  if [ -n "$p2" ]; then wait $p2 || status=1; fi
  shift; [ $# -gt 0 ] && shift
done
exit $status
