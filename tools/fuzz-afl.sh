#!/usr/bin/env bash
# AFL++ for the fuzz targets (the same sources as libFuzzer: afl-clang-fast
# understands -fsanitize=fuzzer and links AFL++'s libAFLDriver in place of
# libFuzzer, so every target's LLVMFuzzerTestOneInput runs unchanged).
#
#   tools/fuzz-afl.sh build              build every target into $AFL_BUILD_DIR
#   tools/fuzz-afl.sh run TARGET [SECS]  afl-fuzz one target (default 600 s)
#   tools/fuzz-afl.sh all [SECS]         each target in turn
#
# ASan + UBSan are on (AFL_USE_ASAN / AFL_USE_UBSAN), MICROTCP_FUZZING is
# defined as in the libFuzzer build. Findings land in
# $AFL_BUILD_DIR/out/TARGET/default/crashes; replay one with
# $AFL_BUILD_DIR/fuzz/fuzz_TARGET FILE, minimise with afl-tmin, and commit it
# to fuzz/regressions/TARGET/ (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bd=${AFL_BUILD_DIR:-build/fuzz-afl}
targets="frame arp ipv4_reasm icmp udp tcp_segment tcp_stateful sim_link"

build() {
  command -v afl-clang-fast >/dev/null || { echo "afl-clang-fast not found: apt-get install afl++" >&2; exit 2; }
  AFL_USE_ASAN=1 AFL_USE_UBSAN=1 cmake -S . -B "$bd" -G Ninja -DCMAKE_C_COMPILER=afl-clang-fast \
    -DCMAKE_BUILD_TYPE=Debug -DMICROTCP_FUZZ=ON -DMICROTCP_ASSERTS=ON >/dev/null
  fuzz_bins=(); for t in $targets; do fuzz_bins+=("fuzz_$t"); done
  AFL_USE_ASAN=1 AFL_USE_UBSAN=1 AFL_QUIET=1 cmake --build "$bd" -j 2 \
    --target "${fuzz_bins[@]}" >/dev/null
  echo "AFL++ targets in $bd/fuzz/"
}

run() {
  local t=$1 secs=${2:-600} dict=()
  [ -x "$bd/fuzz/fuzz_$t" ] || build
  case $t in
    tcp_stateful|sim_link) dict=(-x fuzz/dict/records.dict) ;;
    ipv4_reasm) ;;
    *) dict=(-x fuzz/dict/packets.dict) ;;
  esac
  mkdir -p "$bd/out"
  # No UI, no CPU-governor or core_pattern checks (CI containers cannot change them).
  AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_NO_AFFINITY=1 AFL_SKIP_CRASHES=1 \
    afl-fuzz -i fuzz/corpus/"$t" -o "$bd/out/$t" "${dict[@]}" -V "$secs" -t 10000 -m none \
    -- "$bd/fuzz/fuzz_$t"
  local crashes
  crashes=$(find "$bd/out/$t" -path '*crashes/id:*' 2>/dev/null | wc -l)
  echo "$t: $crashes crashing inputs (in $bd/out/$t/default/crashes)"
  [ "$crashes" -eq 0 ]
}

case ${1:-} in
  build) build ;;
  run) run "${2:?target}" "${3:-600}" ;;
  all) build; s=0; for t in $targets; do run "$t" "${2:-600}" || s=1; done; exit $s ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
