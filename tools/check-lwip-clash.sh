#!/usr/bin/env bash
# Proves the core can be linked into one program with lwIP (the other stack a
# microcontroller firmware is likely to carry) without a symbol clash:
#  1. no global symbol the core defines is also defined by Debian's liblwip;
#  2. a real link: an object defining every global symbol of liblwip (generated
#     from its dynamic symbol table) linked with the whole core archive
#     (--whole-archive, so every member is pulled in) must link: a clash is a
#     "multiple definition" error.
# Usage: tools/check-lwip-clash.sh path/to/libmicrotcp_core.a [path/to/liblwip.so]
set -euo pipefail
lib=${1:?usage: check-lwip-clash.sh CORE_LIBRARY [LIBLWIP]}
lwip=${2:-$(pkg-config --variable=libdir lwip 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/liblwip.so}
[ -f "$lib" ] || { echo "check-lwip-clash: no such file: $lib" >&2; exit 2; }
[ -f "$lwip" ] || { echo "check-lwip-clash: $lwip not found (apt-get install liblwip-dev)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lwip" | awk 'NF == 3 && $2 ~ /[TDRB]/ {print $3}' | sort -u >"$tmp/lwip"
nm -g --defined-only "$lib" | awk 'NF == 3 {print $3}' | sort -u >"$tmp/core"
n=$(wc -l <"$tmp/lwip")
[ "$n" -gt 100 ] || { echo "check-lwip-clash: only $n symbols read from $lwip" >&2; exit 1; }
both=$(comm -12 "$tmp/lwip" "$tmp/core")
if [ -n "$both" ]; then
  echo "core defines symbols that lwIP also defines:" >&2
  while read -r sym; do echo "  $sym" >&2; done <<<"$both"
  exit 1
fi
# The link: every lwIP symbol as a function, plus a main that calls the core.
{
  while read -r sym; do echo "void $sym(void); void $sym(void) {}"; done <"$tmp/lwip"
  echo "#include <stddef.h>"
  echo "size_t microtcp_footprint(const void *cfg);"
  echo "int main(void) { return microtcp_footprint(NULL) == 0; }"
} >"$tmp/lwip_names.c"
cc -w -c "$tmp/lwip_names.c" -o "$tmp/lwip_names.o"
if ! cc -o "$tmp/both" "$tmp/lwip_names.o" -Wl,--whole-archive "$lib" -Wl,--no-whole-archive 2>"$tmp/ld.err"; then
  echo "linking the core with lwIP's $n symbol names failed:" >&2
  cat "$tmp/ld.err" >&2
  exit 1
fi
echo "no clash with lwIP: $(wc -l <"$tmp/core") core symbols, $n lwIP symbols, linked together"
