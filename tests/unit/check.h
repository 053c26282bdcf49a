/* Minimal assertion helpers for the C unit tests: each failed check prints
 * file:line and the expression, and the test exits non-zero at the end. */
#ifndef MICROTCP_TEST_CHECK_H
#define MICROTCP_TEST_CHECK_H
#include <stdio.h>
#include <stdlib.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                        \
  do {                                                                     \
    check_count++;                                                         \
    if (!(cond)) {                                                         \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

#define CHECK_EQ(a, b)                                                     \
  do {                                                                     \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);        \
    check_count++;                                                         \
    if (check_a_ != check_b_) {                                            \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", \
              __FILE__, __LINE__, #a, #b, check_a_, check_b_);             \
    }                                                                      \
  } while (0)

/* Run a test function by name and report. */
#define RUN(fn)                                                            \
  do {                                                                     \
    int before_ = check_failures;                                          \
    fn();                                                                  \
    fprintf(stderr, "%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #fn); \
  } while (0)

static inline int check_report(void) {
  fprintf(stderr, "%d checks, %d failures\n", check_count, check_failures);
  return check_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
#endif
