/*
 * Echo server on the blocking API: creates a TAP device (Linux side
 * 10.0.0.1/24, the stack at 10.0.0.2) and echoes each connection on port 7,
 * one at a time. Try it inside a network namespace (see tools/tap/README.md):
 *     ip netns exec demo ./echo &      ip netns exec demo nc 10.0.0.2 7
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "microtcp/blocking.h"

static const char usage[] =
    "usage: echo [TAP_IP [STACK_IP]]     (default 10.0.0.1 10.0.0.2; needs root)\n"
    "       echo --help | --version\n"
    "Creates a TAP device with TAP_IP on the Linux side and echoes each TCP\n"
    "connection to STACK_IP port 7, one at a time, until killed.\n"
    "exit codes: 0 ok, 1 failure (device, listen, accept), 2 usage error\n";

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h') return fputs(usage, stdout), 0;
    if (c == 'V') return printf("echo (microtcp examples) %s\n", MICROTCP_VERSION_STRING), 0;
    fprintf(stderr, "echo: unknown option: %s (see echo --help)\n", argv[optind - 1]);
    return 2;
  }
  if (argc - optind > 2) {
    fprintf(stderr, "echo: too many arguments (see echo --help)\n");
    return 2;
  }
  const char *tap_ip = argc > optind ? argv[optind] : "10.0.0.1";
  const char *stack_ip = argc > optind + 1 ? argv[optind + 1] : "10.0.0.2";
  microtcp_t *stack = microtcp_create(tap_ip, stack_ip, NULL, "02:00:00:00:00:02");
  if (!stack) {
    fprintf(stderr, "echo: cannot create the TAP device: %s\n", strerror(errno));
    return 1;
  }
  microtcp_sock_t *listener = microtcp_open(stack, 7);
  if (!listener) {
    fprintf(stderr, "echo: listen: %s\n", microtcp_strerror(microtcp_last_error()));
    return 1;
  }
  fprintf(stderr, "echo: listening on %s:7 (%s)\n", stack_ip, microtcp_ifname(stack));
  for (;;) {
    microtcp_sock_t *conn = microtcp_accept(listener);
    if (!conn) { /* the listener failed: nothing more will arrive */
      fprintf(stderr, "echo: accept: %s\n", microtcp_sock_strerror(listener));
      return 1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = microtcp_recv(conn, buf, sizeof buf)) > 0)
      if (microtcp_send(conn, buf, (size_t)n) != n) break;
    microtcp_close(conn);
  }
}
