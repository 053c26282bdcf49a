#!/usr/bin/env bash
# Cross-builds core/ alone for a Cortex-M4 (arm-none-eabi-gcc -Os -ffreestanding)
# and prints its .text/.data/.bss sizes, in total and per object file. Fails if
# the build fails or if the core has any writable static data (.data + .bss).
# Usage: tools/arm-size.sh [BUILD_DIR]   (default build/arm; ctest passes a
# directory inside its own build tree so parallel checkouts do not collide)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/arm}
command -v arm-none-eabi-gcc >/dev/null || { echo "arm-size: arm-none-eabi-gcc not installed" >&2; exit 2; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Quiet on success, the compiler's output on failure.
if ! { cmake --preset arm -B "$build" && cmake --build "$build"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "arm-size: the Cortex-M4 build of the core failed" >&2
  exit 1
fi
lib=$build/libmicrotcp_core.a
echo "per object (arm-none-eabi, -Os, Cortex-M4):"
arm-none-eabi-size "$lib" | awk 'NR == 1 || $1 > 0 {printf "  %-8s %-8s %-8s %s\n", $1, $2, $3, $6}'
arm-none-eabi-size -t "$lib" | tail -1 | awk '{printf "core total: text %d  data %d  bss %d bytes\n", $1, $2, $3; if ($2 + $3 != 0) { print "core has writable static data" > "/dev/stderr"; exit 1 }}'
