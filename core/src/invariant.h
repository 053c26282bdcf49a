/*
 * MICROTCP_ASSERT(cond): a checked invariant of the core (sequence order, pool
 * bounds, list membership, window edges).
 *
 * Compiled in when MICROTCP_ASSERTS is defined (CMake option MICROTCP_ASSERTS,
 * on in the asan and fuzz presets, so the sanitizer test run, every fuzz
 * target and the simulator swarm under ASan check them); off by default, where
 * the condition is not evaluated (it must have no side effects).
 *
 * A failed assertion executes a trap instruction (__builtin_trap: the core
 * links no libc, so there is no abort or printf). libFuzzer, gdb and ASan
 * (ASAN_OPTIONS=handle_sigill=1) print the stack of the failing line.
 */
#ifndef MICROTCP_INVARIANT_H
#define MICROTCP_INVARIANT_H

#ifdef MICROTCP_ASSERTS
#define MICROTCP_ASSERT(cond) ((cond) ? (void)0 : __builtin_trap())
#else
#define MICROTCP_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif
