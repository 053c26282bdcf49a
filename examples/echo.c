/*
 * Echo server on the blocking API: creates a TAP device (Linux side
 * 10.0.0.1/24, the stack at 10.0.0.2) and echoes each connection on port 7,
 * one at a time. Try it inside a network namespace (see tools/tap/README.md):
 *     ip netns exec demo ./echo &      ip netns exec demo nc 10.0.0.2 7
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "microtcp/blocking.h"

int main(int argc, char **argv) {
  const char *tap_ip = argc > 1 ? argv[1] : "10.0.0.1";
  const char *stack_ip = argc > 2 ? argv[2] : "10.0.0.2";
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
