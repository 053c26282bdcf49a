/*
 * Capture-file target: the bytes are a capture file (pcap or pcapng) read by
 * libpcap and replayed by microtcp-replay's pipeline (tools/replay): check
 * mode with the payload-replay app and every rewriting option (capture
 * loading, host detection, flow reassembly, sequence translation, the
 * player, MAC/checksum rewriting, GSO segmentation), then feed mode with
 * --promisc (streaming read, re-addressing, listeners opened from SYNs, the
 * wind-down and the leak check).
 *
 * Invariants: no crash or sanitizer report (ASan + UBSan in the fuzz
 * preset); feed mode finds no leak (exit 1 would mean a pool not empty after
 * closing everything); every exit status is 0, 1 or 2. The stack runs with
 * small pools (8 connection blocks, 16 KiB buffers) so one input costs
 * little. Seeds: fuzz/corpus/capture (the capture classes of issue 14);
 * regressions: fuzz/regressions/capture.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay.h"
#include "sidecar.h"

static char cap_path[64], side_path[64];
static int devnull = -1, saved_stdout = -1;

static void cleanup(void) {
  unlink(cap_path);
  unlink(side_path);
}

/* The replay's report goes to stdout: not wanted millions of times (the
 * driver's own summary still is). */
static void quiet_stdout(bool on) {
  fflush(stdout);
  if (on) {
    saved_stdout = dup(1);
    dup2(devnull, 1);
  } else {
    dup2(saved_stdout, 1);
    close(saved_stdout);
  }
}

static void fz_fail(const char *what, int rc) {
  fprintf(stderr, "fuzz_capture: %s (exit status %d)\n", what, rc);
  abort();
}

static void init(void) {
  snprintf(cap_path, sizeof cap_path, "/tmp/fuzz_capture.%d.pcap", (int)getpid());
  snprintf(side_path, sizeof side_path, "/tmp/fuzz_capture.%d.ini", (int)getpid());
  FILE *s = fopen(side_path, "w");
  if (!s) fz_fail("cannot write the sidecar", -1);
  /* Every rewriting option on, so their code runs too (rewrite.h). */
  fputs("[replay]\napp = replay\naccept_macs = yes\nfix_checksums = yes\nsegment_gso = yes\n"
        "[config]\nmax_tcp = 8\ntcp_sndbuf = 16384\ntcp_rcvbuf = 16384\n",
        s);
  fclose(s);
  devnull = open("/dev/null", O_WRONLY);
  if (devnull < 0) fz_fail("cannot open /dev/null", -1);
  atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!cap_path[0]) init();
  FILE *f = fopen(cap_path, "wb");
  if (!f) fz_fail("cannot write the capture", -1);
  if (size && fwrite(data, 1, size, f) != size) fz_fail("short write", -1);
  fclose(f);

  struct replay_opts o;
  memset(&o, 0, sizeof o);
  o.capture = cap_path;
  o.quiet = true;
  char err[600];
  sidecar_defaults(&o.sc);
  if (sidecar_load(&o.sc, side_path, err, sizeof err) < 0) fz_fail(err, -1);
  o.accept_macs = o.sc.accept_macs;
  o.fix_checksums = o.sc.fix_checksums;
  o.segment_gso = o.sc.segment_gso;
  o.mode = MODE_CHECK;
  quiet_stdout(true);
  int rc = replay_run(&o);
  if (rc < 0 || rc > 2) fz_fail("check mode", rc);

  o.mode = MODE_FEED;
  o.promisc = true;
  snprintf(o.sc.app, sizeof o.sc.app, "sink");
  rc = feed_run(&o);
  quiet_stdout(false);
  if (rc == REPLAY_FAIL) fz_fail("feed mode: a pool is not empty after closing everything", rc);
  if (rc != REPLAY_PASS && rc != REPLAY_USAGE) fz_fail("feed mode", rc);
  return 0;
}
