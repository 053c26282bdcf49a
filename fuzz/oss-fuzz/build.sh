#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build: compiles the core twice (with
# MICROTCP_FUZZING, which skips checksum verification, and without, for the
# sim_link target that corrupts frames on purpose) using the engine's
# $CC/$CFLAGS, links every fuzz/targets/fuzz_*.c with $LIB_FUZZING_ENGINE, and
# ships each target's seed corpus and dictionary next to it in $OUT.
# Runs from the repository root ($SRC/microtcp in the Docker image).
cd "${MICROTCP_SRC:-$SRC/microtcp}"
work=$(mktemp -d)
for flavour in fuzzing strict; do
  mkdir -p "$work/$flavour"
  def=""
  [ "$flavour" = fuzzing ] && def="-DMICROTCP_FUZZING"
  for f in core/src/*.c; do
    $CC $CFLAGS -std=c11 $def -Icore/include -Icore/src -c "$f" -o "$work/$flavour/$(basename "$f" .c).o"
  done
  ar rcs "$work/libcore_$flavour.a" "$work/$flavour"/*.o
done
for src in fuzz/targets/fuzz_*.c; do
  name=$(basename "$src" .c)
  t=${name#fuzz_}
  core=fuzzing
  [ "$t" = sim_link ] && core=strict
  $CC $CFLAGS -std=c11 -Ifuzz -Icore/include -c "$src" -o "$work/$name.o"
  $CC $CFLAGS "$work/$name.o" "$work/libcore_$core.a" $LIB_FUZZING_ENGINE -o "$OUT/$name"
  (cd "fuzz/corpus/$t" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
  if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t" | grep -v '^\.keep$' || true)" ]; then
    (cd "fuzz/regressions/$t" && zip -q -r "$OUT/${name}_seed_corpus.zip" . -x .keep)
  fi
  case $t in
    tcp_stateful|sim_link) cp fuzz/dict/records.dict "$OUT/$name.dict" ;;
    ipv4_reasm) ;;
    *) cp fuzz/dict/packets.dict "$OUT/$name.dict" ;;
  esac
done
rm -rf "$work"
