/*
 * HTTP/1.0 file server on the blocking API: serves the regular files of one
 * directory (GET only, no subdirectories, no ".."), with Content-Length; 404
 * for anything else. One thread per connection.
 *     http_server DIR [TAP_IP STACK_IP PORT]      then    curl http://10.0.0.2/file
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "microtcp/blocking.h"

static const char *root;

static int send_all(microtcp_sock_t *c, const void *p, size_t n) {
  return microtcp_send(c, p, n) == (ssize_t)n ? 0 : -1;
}

static void reply_status(microtcp_sock_t *c, const char *status) {
  char msg[256];
  int n = snprintf(msg, sizeof msg, "HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s\n",
                   status, strlen(status) + 1, status);
  send_all(c, msg, (size_t)n);
}

static void serve(microtcp_sock_t *c) {
  char req[2048];
  size_t len = 0;
  req[0] = 0;
  while (!strstr(req, "\r\n\r\n") && !strstr(req, "\n\n")) { /* the request head */
    if (len == sizeof req - 1) {
      reply_status(c, "400 Bad Request");
      return;
    }
    ssize_t n = microtcp_recv(c, req + len, sizeof req - 1 - len);
    if (n <= 0) return;
    len += (size_t)n;
    req[len] = 0;
  }
  char name[256];
  if (sscanf(req, "GET /%255[^ \r\n] HTTP/", name) != 1) {
    if (strncmp(req, "GET / ", 6) != 0) {
      reply_status(c, strncmp(req, "GET ", 4) ? "501 Not Implemented" : "404 Not Found");
      return;
    }
    snprintf(name, sizeof name, "index.html");
  }
  char path[1024];
  struct stat sb;
  snprintf(path, sizeof path, "%s/%s", root, name);
  FILE *f = strchr(name, '/') || strstr(name, "..") || stat(path, &sb) || !S_ISREG(sb.st_mode) ? NULL : fopen(path, "rb");
  if (!f) {
    reply_status(c, "404 Not Found");
    return;
  }
  char hdr[256];
  int n = snprintf(hdr, sizeof hdr, "HTTP/1.0 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\n\r\n",
                   strstr(name, ".htm") ? "text/html" : "application/octet-stream", (long long)sb.st_size);
  int ok = send_all(c, hdr, (size_t)n) == 0;
  char buf[16384];
  size_t k;
  while (ok && (k = fread(buf, 1, sizeof buf, f)) > 0) ok = send_all(c, buf, k) == 0;
  fclose(f);
}

static void *connection(void *arg) {
  microtcp_sock_t *c = arg;
  serve(c);
  microtcp_close(c); /* HTTP/1.0: the server closes after the response */
  return NULL;
}

static const char usage[] =
    "usage: http_server DIR [TAP_IP STACK_IP PORT]   (default 10.0.0.1 10.0.0.2 80; needs root)\n"
    "       http_server --help | --version\n"
    "Creates a TAP device with TAP_IP on the Linux side and serves the regular\n"
    "files of DIR over HTTP/1.0 at STACK_IP:PORT until killed.\n"
    "exit codes: 0 ok, 1 failure (device, listen, accept), 2 usage or input error\n";

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
  int o;
  opterr = 0;
  while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (o == 'h') return fputs(usage, stdout), 0;
    if (o == 'V') return printf("http_server (microtcp examples) %s\n", MICROTCP_VERSION_STRING), 0;
    fprintf(stderr, "http_server: unknown option: %s (see http_server --help)\n", argv[optind - 1]);
    return 2;
  }
  argv += optind - 1; /* argv[1] is DIR from here on */
  argc -= optind - 1;
  if (argc < 2 || argc > 5) {
    fprintf(stderr, "http_server: %s (see http_server --help)\n", argc < 2 ? "missing DIR" : "too many arguments");
    return 2;
  }
  root = argv[1];
  struct stat rs;
  if (stat(root, &rs) != 0 || !S_ISDIR(rs.st_mode)) {
    fprintf(stderr, "http_server: %s: %s\n", root, stat(root, &rs) ? strerror(errno) : "not a directory");
    return 2;
  }
  const char *tap_ip = argc > 2 ? argv[2] : "10.0.0.1";
  const char *stack_ip = argc > 3 ? argv[3] : "10.0.0.2";
  char *end = NULL;
  long port = argc > 4 ? strtol(argv[4], &end, 10) : 80;
  if (port < 1 || port > 65535 || (end && *end)) {
    fprintf(stderr, "http_server: bad port %s (1..65535)\n", argv[4]);
    return 2;
  }
  microtcp_t *stack = microtcp_create(tap_ip, stack_ip, NULL, "02:00:00:00:00:02");
  if (!stack) {
    fprintf(stderr, "http_server: cannot create the TAP device: %s\n", strerror(errno));
    return 1;
  }
  microtcp_sock_t *listener = microtcp_open(stack, (uint16_t)port);
  if (!listener) {
    fprintf(stderr, "http_server: listen: %s\n", microtcp_strerror(microtcp_last_error()));
    return 1;
  }
  fprintf(stderr, "http_server: serving %s on %s:%ld (%s)\n", root, stack_ip, port, microtcp_ifname(stack));
  for (;;) {
    microtcp_sock_t *c = microtcp_accept(listener);
    if (!c) { /* the listener failed: nothing more will arrive */
      fprintf(stderr, "http_server: accept: %s\n", microtcp_strerror(microtcp_last_error()));
      return 1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, connection, c) == 0) pthread_detach(t);
    else microtcp_close(c);
  }
}
