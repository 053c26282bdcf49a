/*
 * mem* inside the core. The core is compiled with -ffreestanding (it assumes
 * nothing of libc beyond the mem and str functions), and that also stops GCC and Clang from
 * treating memcpy and friends as builtins: every fixed-size memcpy, such as
 * the checksum's 8-byte loads or a 4-byte header field, became a call into
 * libc (measured: about 15% of microtcp-tap's CPU in wire_csum_partial's
 * loads, plus the call stubs). Routing them to the builtins lets the compiler
 * inline small constant sizes; other sizes still call the library function,
 * which a freestanding build must provide anyway.
 * Include after <string.h>.
 */
#ifndef MICROTCP_MEM_H
#define MICROTCP_MEM_H

#include <string.h>

#define memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define memmove(d, s, n) __builtin_memmove((d), (s), (n))
#define memset(d, c, n) __builtin_memset((d), (c), (n))
#define memcmp(a, b, n) __builtin_memcmp((a), (b), (n))

#endif
