#!/usr/bin/env bash
# CI fuzz step: build the libFuzzer targets (clang, ASan + UBSan) and run each
# for FUZZ_SECONDS (default 20) on a scratch copy of its corpus plus its
# regressions, FUZZ_JOBS (default 2) at a time. Fails on any crash, leak,
# timeout, out-of-memory or sanitizer report; prints each target's exec/s,
# coverage (libFuzzer's cov: edges and ft: features) and corpus size.
# Default total: 8 targets × 20 s / 2 = 80 s of fuzzing plus the build.
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_JOBS      targets run in parallel (default 2)
#   FUZZ_TARGETS   space-separated subset (default: all)
#   FUZZ_BUILD_DIR build directory (default build/fuzz via `cmake --preset fuzz`)
#   FUZZ_KEEP_CORPUS=1  merge what the run found back into fuzz/corpus/<target>
# Crash inputs are kept as $FUZZ_BUILD_DIR/artifacts/<target>-crash-*; see
# fuzz/README.md for minimising them into fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-2}
targets=${FUZZ_TARGETS:-"frame arp ipv4_reasm icmp udp tcp_segment tcp_stateful sim_link"}
bd=${FUZZ_BUILD_DIR:-build/fuzz}

if [ -z "${FUZZ_BUILD_DIR:-}" ] && [ -f CMakePresets.json ] && grep -q '"fuzz"' CMakePresets.json; then
  cmake --preset fuzz >/dev/null
else
  cmake -S . -B "$bd" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DMICROTCP_FUZZ=ON -DMICROTCP_ASSERTS=ON >/dev/null
fi
fuzz_bins=(); for t in $targets; do fuzz_bins+=("fuzz_$t"); done
cmake --build "$bd" -j "$jobs" --target "${fuzz_bins[@]}" >/dev/null

dict_for() {
  case $1 in
    tcp_stateful|sim_link) echo fuzz/dict/records.dict ;;
    ipv4_reasm) echo "" ;;
    *) echo fuzz/dict/packets.dict ;;
  esac
}

mkdir -p "$bd/artifacts" "$bd/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

run_one() {
  local t=$1
  local work=$bd/work/$t log=$bd/logs/$t.log dict
  dict=$(dict_for "$t")
  rm -rf "$work" && mkdir -p "$work" fuzz/regressions/"$t"
  cp fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  local rc=0
  "$bd/fuzz/fuzz_$t" "$work" fuzz/regressions/"$t" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 -artifact_prefix="$bd/artifacts/$t-" \
    ${dict:+-dict=$dict} >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|fuzz invariant violated' "$log"; then
    echo "FAIL $t (exit $rc, log $log)"
    grep -E 'ERROR|runtime error|invariant|^    #[0-9]|Test unit written' "$log" | head -25
    return 1
  fi
  local execs cov ft
  execs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  printf '%-14s ok  %7s exec/s  cov %5s  ft %6s  corpus %5s\n' "$t" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "$(find "$work" -mindepth 1 -maxdepth 1 | wc -l)"
  if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
    "$bd/fuzz/fuzz_$t" -merge=1 fuzz/corpus/"$t" "$work" >/dev/null 2>&1 || true
  fi
}

status=0
pids=()
for t in $targets; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ $status -eq 0 ] && echo "fuzz: all targets clean for ${secs}s each" || echo "fuzz: FAILED"
exit $status
