/*
 * Echo server on the blocking API: creates a TAP device (10.0.0.1 on the Linux
 * side, the stack at 10.0.0.2) and echoes every connection on port 7.
 * Try it (as root, or inside `ip netns exec NS`):
 *     ./echo &        then    nc 10.0.0.2 7
 */
#include <stdio.h>

#include "microtcp/blocking.h"

int main(int argc, char **argv) {
  const char *tap_ip = argc > 1 ? argv[1] : "10.0.0.1";
  const char *stack_ip = argc > 2 ? argv[2] : "10.0.0.2";
  microtcp_t *stack = microtcp_create(tap_ip, stack_ip, NULL, "02:00:00:00:00:02");
  if (!stack) {
    fprintf(stderr, "echo: cannot create the TAP device (root and /dev/net/tun needed)\n");
    return 1;
  }
  microtcp_sock_t *listener = microtcp_open(stack, 7);
  fprintf(stderr, "echo: listening on %s:7\n", stack_ip);
  for (;;) {
    microtcp_sock_t *conn = microtcp_accept(listener);
    if (!conn) continue;
    char buf[4096];
    ssize_t n;
    while ((n = microtcp_recv(conn, buf, sizeof buf)) > 0)
      if (microtcp_send(conn, buf, (size_t)n) != n) break;
    microtcp_close(conn);
  }
}
