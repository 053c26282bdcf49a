/*
 * An echo server written the way the seed project's examples/echo.c is, on
 * the seed's API (microtcp/compat.h) and nothing else of ours: a TAP device
 * with 10.0.0.5 on the Linux side, the stack at 10.0.0.4, port 8081; each
 * connection gets "echo: " and the first chunk it sent, then is closed.
 *
 * One addition for the tests: a line on stderr once it listens. With
 * --callbacks it builds the stack the seed's other way:
 * microtcp_callbacks_create_for_tap + microtcp_create_using_callbacks.
 * (tests/live/test_compat_live.py runs it.)
 */
#include <stdio.h>
#include <string.h>

#include <microtcp.h> /* the seed's include line: tools/tap/include/seed/microtcp.h */

static microtcp_t *make_stack(int use_callbacks) {
  if (!use_callbacks) return microtcp_create("10.0.0.5", "10.0.0.4", NULL, NULL);
  microtcp_callbacks_t io;
  if (!microtcp_callbacks_create_for_tap("10.0.0.5", NULL, &io)) return NULL;
  microtcp_t *m = microtcp_create_using_callbacks("10.0.0.4", NULL, io);
  if (!m) io.free(io.data);
  return m;
}

int main(int argc, char **argv) {
  microtcp_t *mtcp = make_stack(argc > 1 && !strcmp(argv[1], "--callbacks"));
  if (!mtcp) {
    fprintf(stderr, "compat echo: could not create the stack\n");
    return 1;
  }
  microtcp_socket_t *server = microtcp_open(mtcp, 8081);
  if (!server) {
    fprintf(stderr, "compat echo: open: %s\n", microtcp_strerror(microtcp_get_error(mtcp)));
    microtcp_destroy(mtcp);
    return 1;
  }
  fprintf(stderr, "compat echo: listening on 10.0.0.4:8081\n");
  for (;;) {
    microtcp_socket_t *client = microtcp_accept(server);
    if (!client) {
      fprintf(stderr, "compat echo: accept: %s\n",
              microtcp_strerror(microtcp_get_socket_error(server)));
      break;
    }
    char chunk[1024];
    int got = microtcp_recv(client, chunk, sizeof chunk);
    if (got > 0) {
      microtcp_send(client, "echo: ", 6);
      microtcp_send(client, chunk, (size_t)got);
    }
    microtcp_close(client);
  }
  microtcp_close(server);
  microtcp_destroy(mtcp);
  return 1;
}
