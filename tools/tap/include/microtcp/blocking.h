/*
 * Blocking socket API for ordinary programs, in the shape of the original
 * microtcp project. The pure core runs on its own thread on CLOCK_MONOTONIC,
 * behind a TAP device (microtcp_create) or behind your own frame I/O
 * (microtcp_create_using_callbacks). Calls block until they can complete,
 * unless the socket was made non-blocking.
 *
 * Names: everything here is microtcp_* like the core, but none of these
 * symbols exists in core/include/microtcp/microtcp.h (the core's calls are
 * microtcp_tcp_*, microtcp_udp_*, microtcp_init/input/output/...). The
 * original project's calls map one to one:
 *     microtcp_create, microtcp_create_using_callbacks, microtcp_destroy,
 *     microtcp_open (socket+bind+listen), microtcp_accept, microtcp_connect,
 *     microtcp_send, microtcp_recv, microtcp_close.
 * Readiness bits are the core's MICROTCP_READABLE / WRITABLE / ERROR /
 * HANGUP / PEER_FIN.
 *
 * Threads: any number of threads may call in; one mutex serialises them with
 * the stack thread. Blocking calls sleep on a condition variable that the
 * core's event callback (microtcp_config.event) signals when a socket's
 * readiness may have changed.
 *
 * Errors: calls returning a pointer return NULL and set the calling thread's
 * microtcp_last_error(); calls on a socket return -1 and set both the socket's
 * error (microtcp_sock_error, kept until the next failing call) and
 * microtcp_last_error(). Codes are the core's MICROTCP_E* values:
 *   EAGAIN        non-blocking socket would block (or mux_wait timed out)
 *   EINVAL        bad argument (address, port, NULL, sockets of two stacks)
 *   ENOMEM        a pool of the stack is full (connections, listeners)
 *   EADDRINUSE    port already listened on
 *   ECONNREFUSED  connect answered by RST;  ETIMEDOUT  no answer
 *   ECONNRESET    connection reset;  EPIPE  send after shutdown
 *   EHOSTUNREACH / ENETUNREACH  ARP failed / no route
 *   ECONNABORTED  the stack is being destroyed
 * microtcp_create additionally leaves the OS reason in errno (ENOENT: no
 * /dev/net/tun, EPERM/EACCES: not root, EBUSY: device name in use).
 */
#ifndef MICROTCP_BLOCKING_H
#define MICROTCP_BLOCKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef MICROTCP_COMPAT_H /* before the core's header, whose microtcp_strerror compat.h renames */
#error "include microtcp/blocking.h or microtcp/compat.h, not both (same names, other meanings)"
#endif
#include "microtcp/microtcp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct microtcp microtcp_t;           /* one stack + its thread */
typedef struct microtcp_sock microtcp_sock_t; /* one TCP socket (listener or connection) */

/* Frame I/O supplied by the program (microtcp_create_using_callbacks). The
 * callbacks run on the stack thread and on API threads, always under the
 * stack's mutex: they must not call back into this API. */
typedef struct microtcp_callbacks {
  void *ctx;
  /* Send one Ethernet frame (no FCS). Return 0, or -1 to drop it. */
  int (*send_frame)(void *ctx, const void *frame, size_t len);
  /* Receive one frame without blocking: its length, or 0 if none is waiting. */
  ssize_t (*recv_frame)(void *ctx, void *buf, size_t cap);
  /* Optional: a file descriptor that polls readable while frames wait (e.g.
   * an eventfd you write to, a socket); -1 to have the stack poll recv_frame
   * every millisecond instead. */
  int wait_fd;
} microtcp_callbacks_t;

/* Create a TAP device (microtcp0, microtcp1, ...), give the Linux side tap_ip
 * ("10.0.0.1" or "10.0.0.1/24"; /24 if absent; tap_mac or NULL for the
 * kernel's), and start a stack at stack_ip with stack_mac (NULL:
 * 02:00:00:00:00:02). Needs root or CAP_NET_ADMIN. NULL on failure (see the
 * header comment). */
microtcp_t *microtcp_create(const char *tap_ip, const char *stack_ip, const char *tap_mac,
                            const char *stack_mac);
/* A stack on your own frame I/O; ip like "10.0.0.2/24". */
microtcp_t *microtcp_create_using_callbacks(const char *ip, const char *mac,
                                            microtcp_callbacks_t callbacks);
/* Name of the TAP device (microtcp_create), "" for callbacks. */
const char *microtcp_ifname(const microtcp_t *m);
/* The core stack, for calls this API does not wrap (counters, stats, UDP,
 * ping). Call them only between microtcp_lock and microtcp_unlock. */
microtcp_stack *microtcp_lock(microtcp_t *m);
void microtcp_unlock(microtcp_t *m);
/* Stop the stack thread and free the stack and every socket still open on
 * it (their pointers become invalid, like fds after close). Blocked calls in
 * other threads wake up and fail with ECONNABORTED before it returns; those
 * threads must not start new calls on this stack afterwards. */
void microtcp_destroy(microtcp_t *m);

/* socket + bind + listen on port (backlog 128). */
microtcp_sock_t *microtcp_open(microtcp_t *m, uint16_t port);
/* Wait for a connection on a listener; non-blocking: NULL + EAGAIN if none. */
microtcp_sock_t *microtcp_accept(microtcp_sock_t *listener);
/* Connect to ip:port ("A.B.C.D"). Blocking: returns once established (NULL +
 * ECONNREFUSED/ETIMEDOUT/EHOSTUNREACH on failure). With nonblocking true it
 * returns at once; wait for MICROTCP_WRITABLE with microtcp_mux_wait, then
 * microtcp_sock_error tells whether it failed. */
microtcp_sock_t *microtcp_connect(microtcp_t *m, const char *ip, uint16_t port);
microtcp_sock_t *microtcp_connect_nb(microtcp_t *m, const char *ip, uint16_t port,
                                     bool nonblocking);
/* Blocking: send all len bytes (returns len, or the bytes sent before an
 * error, or -1). Non-blocking: as many as fit now, -1 + EAGAIN if none. */
ssize_t microtcp_send(microtcp_sock_t *s, const void *buf, size_t len);
/* Receive up to len bytes: >0, 0 at end of stream, -1 on error (EAGAIN when
 * non-blocking and nothing is there). */
ssize_t microtcp_recv(microtcp_sock_t *s, void *buf, size_t len);
/* Send FIN after the queued data; recv keeps working. */
int microtcp_shutdown(microtcp_sock_t *s);
/* Close (graceful FIN; RST if unread data is pending, as in RFC 9293 3.10.4)
 * and free s. Listeners: stop listening. Returns 0 or -1; s is freed either way. */
int microtcp_close(microtcp_sock_t *s);
void microtcp_set_nonblocking(microtcp_sock_t *s, bool on);

/* Last error of the socket (MICROTCP_E*), 0 if none, and its name. */
int microtcp_sock_error(microtcp_sock_t *s);
const char *microtcp_sock_strerror(microtcp_sock_t *s);
/* Last error of a failed call on this thread (also for calls returning NULL). */
int microtcp_last_error(void);
/* Current readiness bits of the socket (MICROTCP_READABLE, ...). */
unsigned microtcp_sock_ready(microtcp_sock_t *s);

/* Wait until one of socks (all of one stack) has one of `events`
 * (MICROTCP_READABLE and/or MICROTCP_WRITABLE; MICROTCP_ERROR and
 * MICROTCP_HANGUP are always reported). Returns the index of a ready socket
 * (scanning starts after the one returned last time, so a busy socket cannot
 * starve the others), or -1 with EAGAIN after timeout_ms (< 0: wait forever)
 * or EINVAL. */
int microtcp_mux_wait(microtcp_sock_t *const socks[], size_t n, unsigned events, int timeout_ms);
/* The same with one mask per socket: events[i] for socks[i]. A socket whose
 * mask is 0 is not waited on at all (not even for ERROR or HANGUP); any other
 * mask also reports MICROTCP_ERROR and MICROTCP_HANGUP. (compat.h's mux is
 * built on this.) */
int microtcp_mux_wait_each(microtcp_sock_t *const socks[], const unsigned events[], size_t n,
                           int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
