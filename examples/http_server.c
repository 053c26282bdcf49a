/*
 * HTTP/1.0 file server on the blocking API: serves files from a directory
 * (GET only; 404 otherwise; no "..").
 *     ./http_server DIR [TAP_IP STACK_IP PORT]     then    curl http://10.0.0.2/file
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "microtcp/blocking.h"

static void reply(microtcp_sock_t *c, const char *status, const char *body) {
  char hdr[256];
  int n = snprintf(hdr, sizeof hdr, "HTTP/1.0 %s\r\nContent-Length: %zu\r\n\r\n", status, strlen(body));
  microtcp_send(c, hdr, (size_t)n);
  microtcp_send(c, body, strlen(body));
}

static void serve(microtcp_sock_t *c, const char *dir) {
  char req[1024];
  size_t len = 0;
  while (len < sizeof req - 1) { /* read the request head */
    ssize_t n = microtcp_recv(c, req + len, sizeof req - 1 - len);
    if (n <= 0) return;
    len += (size_t)n;
    req[len] = 0;
    if (strstr(req, "\r\n\r\n")) break;
  }
  char path[512];
  if (sscanf(req, "GET /%511s HTTP/", path) != 1 || strstr(path, "..")) {
    reply(c, "404 Not Found", "not found\n");
    return;
  }
  char full[1100];
  snprintf(full, sizeof full, "%s/%s", dir, path);
  FILE *f = fopen(full, "rb");
  if (!f) {
    reply(c, "404 Not Found", "not found\n");
    return;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char hdr[256];
  int n = snprintf(hdr, sizeof hdr, "HTTP/1.0 200 OK\r\nContent-Length: %ld\r\n\r\n", size);
  microtcp_send(c, hdr, (size_t)n);
  char buf[16384];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, f)) > 0)
    if (microtcp_send(c, buf, k) != (ssize_t)k) break;
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: http_server DIR [TAP_IP STACK_IP PORT]\n");
    return 2;
  }
  const char *tap_ip = argc > 2 ? argv[2] : "10.0.0.1";
  const char *stack_ip = argc > 3 ? argv[3] : "10.0.0.2";
  int port = argc > 4 ? atoi(argv[4]) : 80;
  microtcp_t *stack = microtcp_create(tap_ip, stack_ip, NULL, "02:00:00:00:00:02");
  if (!stack) {
    fprintf(stderr, "http_server: cannot create the TAP device (root and /dev/net/tun needed)\n");
    return 1;
  }
  microtcp_sock_t *listener = microtcp_open(stack, (uint16_t)port);
  fprintf(stderr, "http_server: serving %s on %s:%d\n", argv[1], stack_ip, port);
  for (;;) {
    microtcp_sock_t *c = microtcp_accept(listener);
    if (!c) continue;
    serve(c, argv[1]);
    microtcp_close(c);
  }
}
