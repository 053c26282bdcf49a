#!/usr/bin/env bash
# Line/branch coverage of core/ from the fuzz corpora: builds the replay
# drivers with clang source coverage, replays fuzz/corpus (plus any extra
# directories given, e.g. a longer fuzzing run's corpus), prints llvm-cov's
# per-file report for core/src.
#   tools/fuzz-coverage.sh [TARGET=extra_corpus_dir ...]   (TARGET as in fuzz/corpus/)
set -euo pipefail
cd "$(dirname "$0")/.."
bd=build/coverage
cmake -S . -B "$bd" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" >/dev/null
targets="frame arp ipv4_reasm icmp udp tcp_segment tcp_stateful sim_link"
cmake --build "$bd" -j "$(nproc 2>/dev/null || echo 2)" --target $(for t in $targets; do echo fuzz_${t}_replay; done) >/dev/null
rm -f "$bd"/*.profraw
bins=()
for t in $targets; do
  extra=()
  for arg in "$@"; do
    case "$arg" in "$t="*) extra+=("${arg#*=}") ;; esac
  done
  LLVM_PROFILE_FILE="$bd/$t.profraw" "$bd/fuzz/fuzz_${t}_replay" fuzz/corpus/$t fuzz/regressions/$t "${extra[@]}" >/dev/null
  bins+=("$bd/fuzz/fuzz_${t}_replay")
done
llvm-profdata merge -sparse "$bd"/*.profraw -o "$bd/fuzz.profdata"
others=()
for b in "${bins[@]:1}"; do others+=(-object "$b"); done
llvm-cov report "${bins[0]}" "${others[@]}" -instr-profile="$bd/fuzz.profdata" \
  $(ls core/src/*.c) | sed "s#$(pwd)/##"
