/*
 * Blocking socket API for ordinary programs, in the shape of the original
 * microtcp: the pure core runs on its own thread with the real clock, behind a
 * TAP device (microtcp_create) or your own frame I/O
 * (microtcp_create_using_callbacks). Calls block until they can complete,
 * unless the socket was made non-blocking.
 *
 * Errors: functions returning int/ssize_t return -1 and set *err of the socket
 * (read it with microtcp_sock_error, name it with microtcp_strerror from
 * microtcp.h); constructors return NULL.
 */
#ifndef MICROTCP_BLOCKING_H
#define MICROTCP_BLOCKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "microtcp/microtcp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct microtcp microtcp_t;
typedef struct microtcp_sock microtcp_sock_t;

/* Frame I/O supplied by the program (microtcp_create_using_callbacks). */
typedef struct microtcp_callbacks {
  void *ctx;
  /* send one Ethernet frame; return 0 or -1 */
  int (*send_frame)(void *ctx, const void *frame, size_t len);
  /* receive one frame without blocking: its length, 0 if none */
  ssize_t (*recv_frame)(void *ctx, void *buf, size_t cap);
} microtcp_callbacks_t;

/* Create a TAP device (named microtcp0, microtcp1, ...), give the Linux side
 * tap_ip/24 and start a stack at stack_ip with stack_mac ("02:00:00:00:00:02").
 * tap_mac may be NULL (kernel's choice). Needs root or CAP_NET_ADMIN. */
microtcp_t *microtcp_create(const char *tap_ip, const char *stack_ip, const char *tap_mac,
                            const char *stack_mac);
/* A stack on your own frame I/O (ip like "10.0.0.2/24"). */
microtcp_t *microtcp_create_using_callbacks(const char *ip, const char *mac,
                                            microtcp_callbacks_t callbacks);
/* Stop the stack thread, free everything (open sockets are aborted). */
void microtcp_destroy(microtcp_t *m);

/* socket + bind + listen on port. */
microtcp_sock_t *microtcp_open(microtcp_t *m, uint16_t port);
/* Wait for a connection on a listening socket. */
microtcp_sock_t *microtcp_accept(microtcp_sock_t *listener);
/* Connect to ip:port (client side); waits for the handshake unless non-blocking. */
microtcp_sock_t *microtcp_connect(microtcp_t *m, const char *ip, uint16_t port);
/* Send all len bytes (blocking) or as many as fit (non-blocking). */
ssize_t microtcp_send(microtcp_sock_t *s, const void *buf, size_t len);
/* Receive up to len bytes: >0, 0 at end of stream, -1 on error/EAGAIN. */
ssize_t microtcp_recv(microtcp_sock_t *s, void *buf, size_t len);
/* Close gracefully and free the socket. */
int microtcp_close(microtcp_sock_t *s);
void microtcp_set_nonblocking(microtcp_sock_t *s, bool on);
/* Last error of the socket (MICROTCP_E*), 0 if none. */
int microtcp_sock_error(const microtcp_sock_t *s);

/* Wait until one of socks is readable (data, EOF, error, or a connection to
 * accept); returns its index, or -1 after timeout_ms (< 0: forever). */
int microtcp_mux_wait(microtcp_sock_t *const *socks, size_t n, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
