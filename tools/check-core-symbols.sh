#!/usr/bin/env bash
# Enforces the core contract on a built library or object file:
#  1. it references no external symbol outside the freestanding set
#     (mem*/str* and compiler/sanitizer runtime), so no I/O, clock, malloc,
#     printf or rand can hide in it;
#  2. it defines no writable global or static data (.data/.bss), so any number
#     of stack instances coexist;
#  3. every global symbol it defines is public API (microtcp_*, wire_*) or
#     carries the internal prefix mtcp_, so it cannot clash with another stack
#     linked into the same firmware (lwIP's tcp_input, udp_init, ...; see also
#     tools/check-lwip-clash.sh). Read-only tables of pointers land in
#     .data.rel.ro under PIE; those are read-only after relocation and allowed.
# Usage: tools/check-core-symbols.sh path/to/libmicrotcp_core.a|file.o
set -euo pipefail
lib=${1:?usage: check-core-symbols.sh LIBRARY_OR_OBJECT}
[ -f "$lib" ] || { echo "check-core-symbols: no such file: $lib" >&2; exit 2; }
allowed='^(mem(cpy|move|set|cmp|chr)|str(len|cmp|ncmp|chr)|__stack_chk_fail|__stack_chk_guard|__asan_.*|__ubsan_.*|__sanitizer_.*|__msan_.*|__tsan_.*|__gcov_.*|__llvm_.*|__afl_.*|__sancov_.*|_GLOBAL_OFFSET_TABLE_|__aeabi_.*)$'
# Undefined in some member and defined in none = really external.
defined=$(nm --defined-only "$lib" | awk 'NF >= 3 {print $NF}' | sort -u)
undefined=$(nm -u "$lib" | awk 'NF && $NF !~ /:$/ {print $NF}' | sort -u)
bad_undef=$(comm -23 <(echo "$undefined") <(echo "$defined") | grep -Ev "$allowed" | grep -v '^$' || true)
# Writable data: section names from objdump (nm's letters cannot tell
# .data.rel.ro from .data). Sanitizer/coverage instrumentation symbols are
# skipped. Works on host and arm-none-eabi objects alike.
bad_data=$(objdump -t "$lib" 2>/dev/null | awk '$0 ~ /^[0-9a-f]+ / {
    sec=""; for (i = 1; i <= NF; i++) if ($i ~ /^\./ || $i == "*COM*") { sec=$i; break }
    if ($NF == sec) next  # the section symbol itself (some assemblers emit one per section)
    if ((sec ~ /^\.(data|bss)/ && sec !~ /^\.data\.rel\.ro/) || sec == "*COM*") print sec, $NF }' |
  grep -Ev '__(asan|odr_asan|ubsan|sancov|llvm|gcov|profc|profd)|\.L|asan\.module' | sort -u || true)
# Defined globals (text, data, rodata, bss, common) outside the three prefixes.
bad_names=$(nm -g --defined-only "$lib" | awk 'NF >= 3 && $2 ~ /^[TDRBCVW]$/ {print $NF}' |
  grep -Ev '^(microtcp_|wire_|mtcp_)' | grep -Ev '^(__.*|_GLOBAL_OFFSET_TABLE_)$' | sort -u || true)
status=0
if [ -n "$bad_names" ]; then
  echo "core exports symbols outside microtcp_*/wire_* without the internal prefix mtcp_:" >&2
  while read -r sym; do echo "  $sym"; done <<<"$bad_names" >&2
  status=1
fi
if [ -n "$bad_undef" ]; then
  echo "core references symbols outside the freestanding set:" >&2
  while read -r sym; do echo "  $sym"; done <<<"$bad_undef" >&2
  status=1
fi
if [ -n "$bad_data" ]; then
  echo "core defines writable global/static data:" >&2
  while read -r line; do echo "  $line"; done <<<"$bad_data" >&2
  status=1
fi
[ $status = 0 ] && echo "core contract ok: $lib"
exit $status
