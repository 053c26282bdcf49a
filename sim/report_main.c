/*
 * microtcp-report: the HTML report of a capture (a microtcp-tap --pcap file,
 * a microtcp-replay --write file, any Ethernet/raw IPv4 pcap or pcapng), drawn
 * as microtcp-sim --report draws a simulated run. Exit 0, 2 on a usage error
 * or an unreadable capture (one line on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

static const char usage[] =
    "usage: microtcp-report CAPTURE --out DIR [--title TEXT] [--stats FILE]\n"
    "Writes DIR/index.html: a time-sequence graph, bytes in flight and RTT samples per TCP\n"
    "connection and throughput per sending address, from CAPTURE (pcap or pcapng,\n"
    "Ethernet or raw IPv4). --stats FILE adds the tool's printed output (e.g. what\n"
    "microtcp-tap --counters printed on stderr) to the page.\n"
    "exit codes: 0 ok, 2 usage or input error\n";

static int fail(const char *msg, const char *arg) {
  fprintf(stderr, "microtcp-report: %s%s%s (see --help)\n", msg, arg ? ": " : "", arg ? arg : "");
  return 2;
}

int main(int argc, char **argv) {
  const char *capture = NULL, *out = NULL, *title = NULL, *stats = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!strcmp(a, "--out") || !strcmp(a, "--title") || !strcmp(a, "--stats")) {
      if (i + 1 >= argc) return fail("option needs a value", a);
      const char *v = argv[++i];
      if (!strcmp(a, "--out")) out = v;
      else if (!strcmp(a, "--title")) title = v;
      else stats = v;
    } else if (a[0] == '-' && a[1]) {
      return fail("unknown option", a);
    } else if (capture) {
      return fail("more than one capture given", a);
    } else {
      capture = a;
    }
  }
  if (!capture) return fail("no capture given", NULL);
  if (!out) return fail("--out DIR is required", NULL);
  struct report *r = report_new();
  char err[600], buf[700];
  snprintf(buf, sizeof buf, "capture %s", capture);
  report_set_title(r, title ? title : buf);
  report_add_info(r, "capture", capture);
  report_add_info(r, "source", "a capture: no simulated faults and no stack state; bytes in flight and "
                               "RTT samples come from the frames");
  if (stats) {
    FILE *f = fopen(stats, "r");
    if (!f) {
      report_free(r);
      return fail("cannot read --stats file", stats);
    }
    char line[2048];
    while (fgets(line, sizeof line, f)) {
      line[strcspn(line, "\n")] = 0;
      if (line[0]) report_add_info(r, "stats", line);
    }
    fclose(f);
  }
  if (report_load_pcap(r, capture, err, sizeof err) < 0) {
    fprintf(stderr, "microtcp-report: %s\n", err);
    report_free(r);
    return 2;
  }
  if (report_write(r, out) < 0) {
    fprintf(stderr, "microtcp-report: cannot write %s/index.html: %s\n", out, strerror(errno));
    report_free(r);
    return 2;
  }
  printf("report: %s/index.html (%zu TCP connections)\n", out, report_connections(r));
  report_free(r);
  return 0;
}
