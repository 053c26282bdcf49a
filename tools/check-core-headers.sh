#!/usr/bin/env bash
# Every header of the core (core/src/*.h, core/include/microtcp/*.h) compiles
# on its own: a translation unit that includes only that header builds with
# -Wall -Wextra -Werror, so no header relies on what its includer happened to
# include before it.
# Usage: tools/check-core-headers.sh [C_COMPILER]   (default: cc)
set -euo pipefail
cd "$(dirname "$0")/.."
cc=${1:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
for h in core/src/*.h core/include/microtcp/*.h; do
  n=$((n + 1))
  case $h in
  core/include/*) inc="microtcp/$(basename "$h")" ;;
  *) inc=$(basename "$h") ;;
  esac
  printf '#include "%s"\ntypedef int one_header_only;\n' "$inc" > "$tmp/one.c"
  if ! "$cc" -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only -Icore/src -Icore/include \
      "$tmp/one.c" 2> "$tmp/err"; then
    echo "check-core-headers: $h does not compile on its own:" >&2
    head -5 "$tmp/err" >&2
    fail=1
  fi
done
[ "$fail" = 0 ] && echo "check-core-headers: $n headers compile on their own"
exit "$fail"
