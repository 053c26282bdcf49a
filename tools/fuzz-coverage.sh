#!/usr/bin/env bash
# Source coverage of core/ reached by the fuzz corpora.
#
# Builds the plain replay drivers with clang source coverage
# (-fprofile-instr-generate -fcoverage-mapping) in build/fuzz-coverage, runs
# every target's committed corpus and regressions (plus any extra corpus
# directories given as TARGET=DIR, e.g. a long run's output), and prints
# llvm-cov's line/branch/function report per core file, overall and for the
# stateful target alone (the design aims at >= 85 % lines of tcp_input.c).
#
#   tools/fuzz-coverage.sh [TARGET=DIR ...]
# Environment: FUZZ_COV_DIR (build dir), FUZZ_TARGETS (subset),
#   FUZZ_COV_HTML=1 also writes an HTML report to $FUZZ_COV_DIR/html.
set -euo pipefail
cd "$(dirname "$0")/.."
bd=${FUZZ_COV_DIR:-build/fuzz-coverage}
targets=${FUZZ_TARGETS:-"frame arp ipv4_reasm icmp udp tcp_segment tcp_stateful sim_link"}
profdata=llvm-profdata
cov=llvm-cov
command -v $profdata >/dev/null || profdata=llvm-profdata-14
command -v $cov >/dev/null || cov=llvm-cov-14

cmake -S . -B "$bd" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
  -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
fuzz_bins=(); for t in $targets; do fuzz_bins+=("fuzz_${t}_replay"); done
cmake --build "$bd" -j 2 --target "${fuzz_bins[@]}" >/dev/null

rm -rf "$bd/prof" && mkdir -p "$bd/prof"
objs=()
for t in $targets; do
  dirs=(fuzz/corpus/"$t" fuzz/regressions/"$t")
  for arg in "$@"; do
    case "$arg" in "$t="*) dirs+=("${arg#*=}") ;; esac
  done
  LLVM_PROFILE_FILE="$bd/prof/$t.profraw" "$bd/fuzz/fuzz_${t}_replay" "${dirs[@]}" | sed "s/^/$t: /"
  $profdata merge -sparse "$bd/prof/$t.profraw" -o "$bd/prof/$t.profdata"
  objs+=("$bd/fuzz/fuzz_${t}_replay")
done
$profdata merge -sparse "$bd"/prof/*.profraw -o "$bd/prof/all.profdata"

core_files=("$PWD"/core/src/*.c)
report() { # profdata, objects...
  local pd=$1; shift
  local first=$1; shift
  local more=()
  for o in "$@"; do more+=(-object "$o"); done
  $cov report "$first" "${more[@]}" -instr-profile="$pd" -show-branch-summary "${core_files[@]}" 2>/dev/null |
    sed "s#$PWD/##"
}
echo
echo "== all targets: coverage of core/src"
report "$bd/prof/all.profdata" "${objs[@]}"
if [[ " $targets " == *" tcp_stateful "* ]]; then
  echo
  echo "== tcp_stateful alone: TCP files"
  report "$bd/prof/tcp_stateful.profdata" "$bd/fuzz/fuzz_tcp_stateful_replay" | grep -E 'Filename|^-|tcp_'
fi
if [ "${FUZZ_COV_HTML:-0}" = 1 ]; then
  more=()
  for o in "${objs[@]:1}"; do more+=(-object "$o"); done
  $cov show "${objs[0]}" "${more[@]}" -instr-profile="$bd/prof/all.profdata" -format=html \
    -output-dir="$bd/html" "${core_files[@]}"
  echo "HTML report: $bd/html/index.html"
fi
