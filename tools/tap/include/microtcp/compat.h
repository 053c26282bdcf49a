/*
 * The seed project's API (cozis/microtcp, include/microtcp.h): every function
 * and type of it, under its names, so a program written for the seed compiles
 * against this header unchanged and runs on this stack. It is a thin layer
 * over the blocking API (microtcp/blocking.h); tools/tap/README.md lists what
 * each call maps to and where the behaviour differs.
 *
 * Link with the microtcp_compat library (CMake target microtcp_compat).
 *
 * Names: the seed's names are macros for microtcp_compat_* symbols, because
 * the blocking API already uses some of the same names with other types
 * (microtcp_t, microtcp_open, microtcp_send, ...). So a file includes either
 * this header or blocking.h, not both; the two can live in one program.
 *
 * Errors follow the seed: calls on a stack record a code readable with
 * microtcp_get_error(), calls on a socket one readable with
 * microtcp_get_socket_error(). A recorded code is sticky: until it is
 * cleared (microtcp_clear_error / microtcp_clear_socket_error), microtcp_open
 * and microtcp_step / microtcp_process_packet (stack), microtcp_accept and
 * microtcp_recv (socket) fail at once with MICROTCP_ERRCODE_NOCLEAR.
 * microtcp_send does not look at it (as in the seed).
 *
 * Threads: every call may be made from any thread. Close a socket from the
 * thread that waits on the muxes it is registered with (or when no one waits).
 */
#ifndef MICROTCP_COMPAT_H
#define MICROTCP_COMPAT_H

#if defined(MICROTCP_BLOCKING_H) && !defined(MICROTCP_COMPAT_IMPLEMENTATION)
#error "include microtcp/compat.h or microtcp/blocking.h, not both (same names, other meanings)"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the seed's names, mapped onto this layer's symbols ---- */
#define microtcp_t                        microtcp_compat_stack
#define microtcp_callbacks_t              microtcp_compat_callbacks_t
#define microtcp_create                   microtcp_compat_create
#define microtcp_create_using_callbacks   microtcp_compat_create_using_callbacks
#define microtcp_callbacks_create_for_tap microtcp_compat_callbacks_create_for_tap
#define microtcp_destroy                  microtcp_compat_destroy
#define microtcp_get_error                microtcp_compat_get_error
#define microtcp_clear_error              microtcp_compat_clear_error
#define microtcp_get_socket_error         microtcp_compat_get_socket_error
#define microtcp_clear_socket_error       microtcp_compat_clear_socket_error
#define microtcp_strerror                 microtcp_compat_strerror
#define microtcp_open                     microtcp_compat_open
#define microtcp_accept                   microtcp_compat_accept
#define microtcp_close                    microtcp_compat_close
#define microtcp_recv                     microtcp_compat_recv
#define microtcp_send                     microtcp_compat_send
#define microtcp_set_blocking             microtcp_compat_set_blocking
#define microtcp_step                     microtcp_compat_step
#define microtcp_process_packet           microtcp_compat_process_packet
#define microtcp_mux_create               microtcp_compat_mux_create
#define microtcp_mux_destroy              microtcp_compat_mux_destroy
#define microtcp_mux_register             microtcp_compat_mux_register
#define microtcp_mux_unregister           microtcp_compat_mux_unregister
#define microtcp_mux_wait                 microtcp_compat_mux_wait

/* The seed's sizing constants. Kept for programs that use them; this layer
 * has no such fixed tables (its limits are the stack's pools: 256
 * connections and 16 listeners per stack, see README.md). */
#define MICROTCP_MAX_BUFFERS     8
#define MICROTCP_MAX_SOCKETS     32
#define MICROTCP_MAX_MUX_ENTRIES 32

typedef struct microtcp_t microtcp_t;               /* one stack (its own thread) */
typedef struct microtcp_socket_t microtcp_socket_t; /* a listener or a connection */
typedef struct microtcp_mux_t microtcp_mux_t;       /* waits on many sockets */

typedef enum {
  MICROTCP_ERRCODE_NONE = 0,
  MICROTCP_ERRCODE_NOCLEAR,       /* an earlier error was not cleared */
  MICROTCP_ERRCODE_SOCKETLIMIT,   /* no room for one more socket */
  MICROTCP_ERRCODE_TCPERROR,      /* the stack refused (port in use, bad argument, ...) */
  MICROTCP_ERRCODE_BADCONDVAR,    /* (seed: condition variable failure; not produced here) */
  MICROTCP_ERRCODE_NOTLISTENER,   /* accept on a connection */
  MICROTCP_ERRCODE_CANTBLOCK,     /* (seed: reserved; not produced here) */
  MICROTCP_ERRCODE_NOTCONNECTION, /* recv/send on a listener */
  MICROTCP_ERRCODE_WOULDBLOCK,    /* non-blocking socket: try again after an event */
} microtcp_errcode_t;

/* Frame I/O of microtcp_create_using_callbacks. recv may block until a frame
 * arrives (a thread of the stack calls it in a loop); both return a length,
 * or < 0 for an error. free(data) runs at microtcp_destroy (may be NULL). */
typedef struct {
  void *data;
  void (*free)(void *data);
  int (*send)(void *data, const void *src, size_t len);
  int (*recv)(void *data, void *dst, size_t len);
} microtcp_callbacks_t;

/* A TAP device (microtcp0, microtcp1, ...) with tap_ip on the Linux side (and
 * tap_mac, NULL: the kernel's), a stack at stack_ip with stack_mac (NULL: a
 * random locally administered MAC). Needs root or CAP_NET_ADMIN. NULL on
 * failure (errno says why: ENOENT no /dev/net/tun, EPERM not root, ...). */
microtcp_t *microtcp_create(const char *tap_ip, const char *stack_ip, const char *tap_mac,
                            const char *stack_mac);
/* A stack on your frame I/O, at ip ("A.B.C.D", /24 unless "/N" follows) and
 * mac (NULL: random). NULL on a bad address or when out of memory; then the
 * callbacks' free is not called. */
microtcp_t *microtcp_create_using_callbacks(const char *ip, const char *mac,
                                            microtcp_callbacks_t callbacks);
/* Fills *callbacks with I/O on a new TAP device whose Linux side has ip (/24)
 * and mac (NULL: the kernel's): for microtcp_create_using_callbacks. */
bool microtcp_callbacks_create_for_tap(const char *ip, const char *mac,
                                       microtcp_callbacks_t *callbacks);
/* Stops the stack and frees it with every socket and mux still open on it. */
void microtcp_destroy(microtcp_t *mtcp);

microtcp_errcode_t microtcp_get_error(microtcp_t *mtcp);
void microtcp_clear_error(microtcp_t *mtcp);
microtcp_errcode_t microtcp_get_socket_error(microtcp_socket_t *sock);
void microtcp_clear_socket_error(microtcp_socket_t *sock);
const char *microtcp_strerror(microtcp_errcode_t errcode);

/* A listener on port: NULL + stack error SOCKETLIMIT or TCPERROR. */
microtcp_socket_t *microtcp_open(microtcp_t *mtcp, uint16_t port);
/* The next connection of a listener. Blocking sockets wait for one;
 * non-blocking ones fail with WOULDBLOCK. NULL + socket error on failure. */
microtcp_socket_t *microtcp_accept(microtcp_socket_t *socket);
/* Closes (FIN; RST if received data was left unread) and frees the socket,
 * unregistering it from every mux first. */
void microtcp_close(microtcp_socket_t *socket);
/* Bytes received (> 0); 0 once the connection is over (peer closed it, or it
 * was reset or timed out); -1 + socket error otherwise (WOULDBLOCK when
 * non-blocking and nothing has arrived, NOTCONNECTION on a listener). */
int microtcp_recv(microtcp_socket_t *socket, void *dst, size_t len);
/* Bytes taken for sending: a blocking socket takes all len (waiting for room),
 * a non-blocking one what fits now (-1 + WOULDBLOCK if nothing fits); 0 once
 * the connection is over; -1 + NOTCONNECTION on a listener. */
int microtcp_send(microtcp_socket_t *socket, const void *src, size_t len);
/* Sockets start blocking. */
void microtcp_set_blocking(microtcp_socket_t *socket, bool block);

/* The stack runs on its own thread; these let the program push it along:
 * step fires due timers and sends what is queued, process_packet hands it
 * one Ethernet frame. false (with NOCLEAR) while a stack error is pending. */
bool microtcp_step(microtcp_t *mtcp);
bool microtcp_process_packet(microtcp_t *mtcp, const void *packet, size_t len);

/* ---- the multiplexer ---- */
typedef enum {
  MICROTCP_MUX_ACCEPT = 1, /* a listener has a connection to accept */
  MICROTCP_MUX_RECV = 2,   /* recv would not block (data, end of stream or error) */
  MICROTCP_MUX_SEND = 4,   /* after a send that would block (or took less than
                              asked): room to send again, or the connection is over */
} microtcp_muxeventid_t;

typedef struct {
  void *userp;
  int events; /* MICROTCP_MUX_* bits */
  microtcp_socket_t *socket;
} microtcp_muxevent_t;

microtcp_mux_t *microtcp_mux_create(microtcp_t *mtcp);
void microtcp_mux_destroy(microtcp_mux_t *mux);
/* Adds events to what mux reports for sock (userp is the one given first).
 * false if sock belongs to another stack or memory ran out; true for 0 events. */
bool microtcp_mux_register(microtcp_mux_t *mux, microtcp_socket_t *sock, int events, void *userp);
/* Removes events; with none left, sock leaves the mux. false if it was not in it. */
bool microtcp_mux_unregister(microtcp_mux_t *mux, microtcp_socket_t *sock, int events);
/* Waits until a registered socket has an event and describes it in *ev.
 * false when the stack is being destroyed. */
bool microtcp_mux_wait(microtcp_mux_t *mux, microtcp_muxevent_t *ev);

#ifdef __cplusplus
}
#endif
#endif
