/*
 * microtcp — public API of the pure core.
 *
 * The core is a deterministic function of its inputs: the config (including a
 * secret), the sequence of calls with their `now` timestamps (microseconds),
 * and the frames handed to it. It performs no I/O, reads no clock, never calls
 * malloc, keeps no global state. All memory lives in one caller-provided arena
 * whose size is microtcp_footprint(cfg).
 *
 * Driving loop (caller side):
 *
 *   microtcp_config cfg; microtcp_config_default(&cfg); ...fill ip/mac...
 *   void *arena = my_alloc(microtcp_footprint(&cfg));
 *   microtcp_stack *st = microtcp_init(arena, microtcp_footprint(&cfg), &cfg, now, &err);
 *   for (;;) {
 *     while (frame arrived)  microtcp_input(st, now, frame, len);
 *     microtcp_advance(st, now);                       // fire due timers
 *     while ((n = microtcp_output(st, now, buf, sizeof buf)) > 0) send(buf, n);
 *     // or without the copy: microtcp_output_frame(st, now, &p) ... release
 *     sleep until microtcp_deadline(st) or the next frame
 *   }
 *
 * Addresses (ip, netmask, gateway) and ports are in HOST byte order in every
 * API call. Frames are raw Ethernet II frames without FCS.
 *
 * Socket handles are non-negative ints; every function returning int returns a
 * negative MICROTCP_E* code on error. Handles are generation-checked: a handle
 * used after close returns MICROTCP_EBADF, never touches another socket.
 *
 * Callbacks. The event callback (cfg.event) is called only at the end of a
 * public call (microtcp_input, _advance, _output and every socket call), after
 * the stack finished its work and every connection is consistent. It may call
 * back into the same stack instance (recv, send, accept, close, connect, even
 * microtcp_input): such a call never delivers events itself; the events it
 * causes are delivered after the current callback returns, in the order they
 * arose. See microtcp_event_fn. The trace callback (cfg.trace) is called in the
 * middle of processing and must not call back into the stack.
 */
#ifndef MICROTCP_MICROTCP_H
#define MICROTCP_MICROTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct microtcp_stack microtcp_stack;

/* ---- Errors ------------------------------------------------------------ */
/* Every error code once: X(name, value, text, posix). MICROTCP_<name> is the
 * code, text what microtcp_strerror returns, posix the <errno.h> name closest
 * in meaning (a bare token: expand it only where <errno.h> is included, or
 * stringify it). Values are ABI: never renumbered. */
#define MICROTCP_ERRORS(X)                                                                  \
  X(OK, 0, "success", 0)                                                                    \
  X(EINVAL, -1, "invalid argument", EINVAL)           /* bad argument or config */          \
  X(ENOMEM, -2, "pool exhausted", ENOMEM)             /* a pool is exhausted (or arena too small) */ \
  X(EAGAIN, -3, "operation would block", EAGAIN)      /* would block: try again after progress */ \
  X(EBADF, -4, "bad handle", EBADF)                   /* not a valid (open) handle of that kind */ \
  X(EADDRINUSE, -5, "address in use", EADDRINUSE)     /* port already bound */              \
  X(ENOTCONN, -6, "not connected", ENOTCONN)          /* socket not connected */            \
  X(EISCONN, -7, "already connected", EISCONN)        /* already connected / connecting */  \
  X(ECONNREFUSED, -8, "connection refused", ECONNREFUSED) /* RST in answer to our SYN */    \
  X(ECONNRESET, -9, "connection reset by peer", ECONNRESET) /* RST on a synchronized connection */ \
  X(ETIMEDOUT, -10, "connection timed out", ETIMEDOUT) /* retransmission / user / keepalive timeout */ \
  X(EHOSTUNREACH, -11, "host unreachable", EHOSTUNREACH) /* ARP failed or ICMP host/net unreachable */ \
  X(ENETUNREACH, -12, "network unreachable", ENETUNREACH) /* no route (off-link and no gateway) */ \
  X(EMSGSIZE, -13, "message too long", EMSGSIZE)      /* datagram too large */              \
  X(EPIPE, -14, "send after shutdown", EPIPE)         /* send after shutdown(write) or close */ \
  X(ECONNABORTED, -15, "connection aborted", ECONNABORTED) /* aborted locally (abort, eviction) */ \
  X(EPORTUNREACH, -16, "port unreachable", ECONNREFUSED) /* ICMP port unreachable (UDP) */  \
  X(ENOPROTOOPT, -17, "unknown option", ENOPROTOOPT)  /* unknown socket option */           \
  X(EMALFORMED, -18, "malformed input", EBADMSG)      /* wire: malformed input */           \
  X(ETRUNCATED, -19, "truncated input", EBADMSG)      /* wire: fewer bytes than the header needs */ \
  X(ENOSPC, -20, "buffer too small", ENOSPC)          /* wire: output buffer too small */

enum microtcp_error {
#define MICROTCP_X_ENUM(name, value, text, posix) MICROTCP_##name = value,
  MICROTCP_ERRORS(MICROTCP_X_ENUM)
#undef MICROTCP_X_ENUM
};

/* Human-readable name for any MICROTCP_E* value (static string, never NULL). */
const char *microtcp_strerror(int err);

/* ---- Trace and events ------------------------------------------------------ */
/* Trace events: the core never prints; it reports through this callback. */
enum microtcp_trace_kind {
  MICROTCP_TRACE_DROP = 1,        /* a frame was dropped; a = drop reason (counter index) */
  MICROTCP_TRACE_ARP_CONFLICT,    /* someone else claims our IP; a = their IP */
  MICROTCP_TRACE_TCP_STATE,       /* a = handle, b = (old << 8) | new state */
  MICROTCP_TRACE_TCP_RETRANSMIT,  /* a = handle, b = seq */
  MICROTCP_TRACE_INFO,            /* free-form */
};
typedef void (*microtcp_trace_fn)(void *ctx, uint64_t now, int kind, const char *msg,
                                  uint32_t a, uint32_t b);

/* Readiness bits (microtcp_poll and the event callback). */
enum microtcp_ready {
  MICROTCP_READABLE = 1u << 0,  /* recv would not block (data, EOF or error); listener: accept ready */
  MICROTCP_WRITABLE = 1u << 1,  /* send would accept at least one byte */
  MICROTCP_CONNECTED = 1u << 2, /* handshake completed (stays set) */
  MICROTCP_HANGUP = 1u << 3,    /* connection over: CLOSED or TIME_WAIT (no more data either way) */
  MICROTCP_ERROR = 1u << 4,     /* a pending error: microtcp_socket_error() */
  MICROTCP_PEER_FIN = 1u << 5,  /* peer sent FIN: recv returns 0 after queued data */
};
/* Called when a socket's readiness may have changed. While processing, the
 * stack only records which sockets changed; at the end of the public call it
 * reports each of them once, oldest change first, with ready = its readiness
 * at that moment (microtcp_poll), so several changes in one call (data, then
 * FIN) arrive as one event. A socket the application closed before its turn
 * (for instance from an earlier callback of the same delivery) is skipped;
 * a connection the application has not accepted yet is not reported (its
 * listener is, READABLE). The callback may call any function of this API on
 * the same stack; events those calls cause come after it, never nested. */
typedef void (*microtcp_event_fn)(void *ctx, int handle, unsigned ready);

/* ---- Configuration --------------------------------------------------------- */
#define MICROTCP_WSCALE_OFF 0xfe /* tcp_wscale: do not offer or accept window scaling */

typedef struct microtcp_config {
  /* Identity */
  uint8_t mac[6];
  uint32_t ip, netmask, gateway; /* host order; gateway 0 = none */
  uint16_t mtu;                  /* IP MTU (bytes of IP datagram), default 1500 */
  uint16_t ip_min_pmtu;          /* path MTU floor (0 = 552, Linux's min_pmtu): a frag-needed
                                    below it sets this much and clears DF on that connection */
  uint8_t secret[16];            /* key of the PRF for ISNs, ports, IP IDs */

  /* Pools (sizes fix the arena footprint) */
  uint16_t max_tcp;          /* TCP connection blocks (incl. half-open, TIME_WAIT) */
  uint16_t max_listeners;    /* TCP listening sockets */
  uint16_t max_udp;          /* UDP sockets */
  uint32_t tcp_sndbuf;       /* bytes of send buffer per TCP connection */
  uint32_t tcp_rcvbuf;       /* bytes of receive buffer per TCP connection */
  uint32_t tcp_buf_chunks;   /* chunks in the pool all TCP send and receive buffers share
                              * (0 = enough for every connection to fill both buffers:
                              * max_tcp x (ceil(sndbuf/chunk)+1 + ceil(rcvbuf/chunk)+1),
                              * the behaviour of dedicated buffers). Sizing: see below */
  uint32_t tcp_buf_chunk_size; /* bytes per pool chunk, a power of two 64..65536 (0 = 2048,
                               * halved down to 64 while 8 chunks exceed the smaller buffer) */
  uint32_t udp_rcvq;         /* bytes of receive queue per UDP socket */
  uint16_t frames;           /* frame buffers (tx queue + ARP waiting) */
  uint16_t arp_entries;      /* ARP cache size */
  uint16_t arp_pending;      /* max frames waiting for ARP resolution (all hosts); when
                              * full, the oldest waiting frame is dropped for a new one */
  uint16_t arp_incomplete;   /* ARP entries waiting for an answer at once; beyond it a new
                              * resolution evicts the oldest of them (0 = arp_entries / 2) */
  uint16_t reasm_slots;      /* datagrams being reassembled at once */
  uint32_t reasm_bytes;      /* reassembly memory shared by all datagrams, in 256-byte
                              * chunks (one datagram may take it all, up to 65515) */
  uint16_t ping_queue;       /* ICMP echo replies kept for microtcp_ping_recv */

  /* ARP (µs) */
  uint32_t arp_ttl_us;           /* cache entry lifetime; entries used since their last
                                  * confirmation are re-confirmed before expiry */
  uint32_t arp_retry_us;         /* first request retry; doubles each time */
  uint8_t arp_retries;           /* requests per resolution or refresh (0 means 1) */
  bool arp_gratuitous;           /* send gratuitous ARP at init */

  /* IPv4 */
  uint8_t ttl;                   /* default TTL of outgoing datagrams */
  uint32_t reasm_timeout_us;     /* reassembly timeout (RFC 791 suggests 15 s; we default 30 s) */

  /* ICMP */
  bool icmp_echo;                /* answer echo requests */
  uint32_t icmp_rate_per_s;      /* ICMP replies/errors per second (token bucket), 0 = unlimited */
  uint32_t icmp_burst;           /* bucket depth */

  /* TCP defaults (per-socket options can override some) */
  uint16_t tcp_mss;              /* our MSS; 0 = derived from MTU */
  uint8_t tcp_wscale;            /* our window scale shift, 0..14; 0xff = derive from rcvbuf;
                                    MICROTCP_WSCALE_OFF = no window scaling (RFC 7323 off) */
  bool tcp_sack;                 /* offer/accept SACK */
  bool tcp_dsack;                /* with SACK: report duplicate segments (RFC 2883 D-SACK) */
  bool tcp_prr;                  /* SACK recovery paced by Proportional Rate Reduction (RFC 6937) */
  bool tcp_hystart;              /* HyStart++ (RFC 9406) in the initial slow start (per socket:
                                  * MICROTCP_OPT_HYSTART) */
  bool tcp_dsack_undo;           /* undo a recovery's window reduction when D-SACKs show every
                                  * retransmission was spurious (RFC 3708 / RFC 2883 4;
                                  * MICROTCP_OPT_DSACK_UNDO) */
  bool tcp_rack;                 /* RACK-TLP loss detection with SACK (RFC 8985;
                                  * MICROTCP_OPT_RACK) */
  bool tcp_timestamps;           /* offer/accept timestamps */
  bool tcp_nodelay;              /* default: Nagle on (false) */
  uint8_t tcp_cc;                /* MICROTCP_CC_NEWRENO or MICROTCP_CC_CUBIC */
  uint8_t tcp_initial_cwnd;      /* segments (RFC 6928: 10) */
  uint32_t tcp_rto_initial_us;   /* RFC 6298: 1 s */
  uint32_t tcp_rto_min_us;       /* RFC 6298: 1 s (Linux 200 ms) */
  uint32_t tcp_rto_max_us;       /* >= 60 s */
  bool tcp_rto_min_plus_srtt;    /* the RTO floor is SRTT + tcp_rto_min_us, as Linux's RTO =
                                  * SRTT + max(4*RTTVAR, rto_min), instead of tcp_rto_min_us
                                  * (RFC 6298 2.4; default off). With a floor below a peer's
                                  * 200 ms delayed-ACK limit, a lone segment (a tail loss
                                  * probe) can be timed out before its delayed ACK is back;
                                  * core/TCP.md "Against Linux" */
  uint32_t tcp_delack_us;        /* delayed ACK timeout, <= 200 ms (RFC 1122: < 500) */
  uint32_t tcp_msl_us;           /* TIME_WAIT lasts 2*msl */
  uint8_t tcp_syn_retries;       /* SYN retransmissions before ETIMEDOUT */
  uint8_t tcp_max_retries;       /* data retransmissions before ETIMEDOUT (R2) */
  uint32_t tcp_user_timeout_us;  /* RFC 5482 user timeout, 0 = off */
  uint64_t tcp_keepidle_us;      /* keepalive idle time (RFC 1122: >= 2 h default; 64 bits:
                                    2 h of µs does not fit in 32) */
  uint32_t tcp_keepintvl_us;     /* interval between probes */
  uint8_t tcp_keepcnt;           /* unanswered probes before ETIMEDOUT */
  uint16_t tcp_challenge_ack_per_s; /* RFC 5961 7 global challenge ACK limit: mean per
                                     * second; each second's budget is drawn by the
                                     * PRF from [n/2, 3n/2) (0 = no global limit) */
  uint32_t tcp_challenge_ack_interval_us; /* per connection: at most one challenge ACK per
                                           * interval (Linux: 500 ms; 0 = off) */
  uint16_t tcp_ooo_ranges;       /* out-of-order ranges kept per connection */
  uint8_t tcp_abc_limit;         /* slow start: cwnd grows by at most this many SMSS per ACK
                                    (RFC 5681 3.1: 1, the default; RFC 3465 allows 2); 0 = 1 */
  bool tcp_syncookies;           /* RFC 4987 3.6: answer SYNs statelessly when the half-open
                                  * queue or the connection pool is full (default on) */
  uint16_t tcp_max_per_peer;     /* connections one remote address may open to us (passive;
                                  * 0 = max_tcp / 2) */
  uint32_t tcp_evict_stalled_us; /* pool full: a new connection may evict one that made no
                                  * progress (no data acked or received) for this long
                                  * (0 = never) */

  /* Callbacks (optional) */
  microtcp_trace_fn trace;
  void *trace_ctx;
  microtcp_event_fn event;
  void *event_ctx;
} microtcp_config;

enum { MICROTCP_CC_NEWRENO = 0, MICROTCP_CC_CUBIC = 1 };

/* Sizing the TCP buffer pool. tcp_sndbuf / tcp_rcvbuf stay per-connection
 * limits; the bytes behind them come from one pool of tcp_buf_chunks chunks
 * of tcp_buf_chunk_size bytes, taken when data is queued or arrives and
 * given back when it is acknowledged or read. The arena holds the pool
 * (chunks x chunk size) plus 4 bytes per chunk slot of every connection
 * block (ceil(buf/chunk)+1 slots per buffer), so microtcp_footprint grows
 * with the pool, not with max_tcp x buffers. Size it for the expected load:
 * about (connections moving data at once) x (send window in flight + receive
 * window advertised) / chunk size, plus one chunk per buffer for alignment.
 * The receive side reserves chunks for every window it advertises, so an
 * idle connection holds its advertised window's worth of claims (not
 * memory: untouched chunks of a lazily zeroed arena cost no RAM). When the
 * pool runs dry nothing acknowledged is lost: microtcp_tcp_send returns
 * MICROTCP_EAGAIN (counted in tcp_bufpool_send_blocked; the socket becomes
 * WRITABLE again when chunks come back) and the receive window offered for
 * new data shrinks towards zero (tcp_bufpool_window_limited; the right edge
 * already advertised never moves left). A pool below the default size is
 * shared out: one window claims at most chunks / connections in use, and
 * windows leave an eighth of the pool to sends. Default 0 keeps
 * dedicated-buffer behaviour exactly. */

/* Fill cfg with defaults: 192.168.1.2/24 with no gateway, MAC 02:00:00:00:00:01,
 * MTU 1500, small pools suitable for a microcontroller (see microtcp.c). */
void microtcp_config_default(microtcp_config *cfg);

/* Bytes of arena needed for cfg (0 if cfg is invalid). Alignment: the arena
 * must be aligned to 16 bytes. */
size_t microtcp_footprint(const microtcp_config *cfg);

/* Build a stack inside arena (which the caller owns and must keep alive until it
 * stops using the stack; there is no destroy: just drop the arena). Returns NULL
 * and sets *err (if err != NULL) to MICROTCP_EINVAL (bad config / misaligned) or
 * MICROTCP_ENOMEM (arena_len < footprint). Sends a gratuitous ARP if configured. */
microtcp_stack *microtcp_init(void *arena, size_t arena_len, const microtcp_config *cfg,
                              uint64_t now, int *err);

/* The config the stack runs with (after defaults were derived). */
const microtcp_config *microtcp_get_config(const microtcp_stack *st);

/* ---- Driving the stack ------------------------------------------------------ */
/* Hand a received Ethernet frame (bytes are copied as needed; the caller keeps
 * ownership). Malformed frames are counted and dropped. */
void microtcp_input(microtcp_stack *st, uint64_t now, const void *frame, size_t len);

/* Write the next frame to send into buf; returns its length, 0 if nothing is
 * pending, or MICROTCP_ENOSPC if cap is smaller than the frame (frame kept).
 * cap >= mtu + 14 always suffices. */
int microtcp_output(microtcp_stack *st, uint64_t now, void *buf, size_t cap);

/* Zero-copy output: lend the next frame to send in place. Sets *frame to its
 * first byte (inside the arena) and returns its length, or returns 0 (nothing
 * pending; *frame = NULL) or MICROTCP_EINVAL (frame is NULL). The bytes stay
 * valid and unchanged, whatever else is called on the stack, until
 * microtcp_output_release; until then the same frame is lent again by every
 * call (one frame is lent at a time), and it keeps its place in the frame
 * pool. The stack built it there: payload bytes are written into a frame
 * once and never copied inside the stack. Usage:
 *   while ((n = microtcp_output_frame(st, now, &p)) > 0) {
 *     send(p, n);
 *     microtcp_output_release(st);
 *   }
 * microtcp_output is this plus one copy into buf. */
int microtcp_output_frame(microtcp_stack *st, uint64_t now, const uint8_t **frame);
/* The lent frame was sent (or dropped): return it to the pool and count it in
 * frames_out / bytes_out. No-op when no frame is lent. */
void microtcp_output_release(microtcp_stack *st);

/* Earliest time (µs) at which microtcp_advance must be called; UINT64_MAX if
 * no timer is armed. If output is pending, microtcp_output should be called
 * regardless of the deadline. */
uint64_t microtcp_deadline(const microtcp_stack *st);

/* Fire all timers due at or before now. Time must not go backwards (a smaller
 * now than a previous call is treated as the previous value). */
void microtcp_advance(microtcp_stack *st, uint64_t now);

/* ---- Counters and pools ----------------------------------------------------- */
/* Every drop has a reason. Field order is ABI; names are used in reports. */
#define MICROTCP_COUNTERS(X)                                   \
  X(frames_in) X(frames_out) X(bytes_in) X(bytes_out)          \
  X(drop_eth_malformed) X(drop_eth_not_for_us) X(drop_eth_type) \
  X(drop_arp_malformed) X(drop_arp_not_for_us)                 \
  X(drop_ip_malformed) X(drop_ip_checksum) X(drop_ip_martian)  \
  X(drop_ip_not_for_us) X(drop_ip_proto)                       \
  X(drop_reasm_overlap) X(drop_reasm_nomem) X(drop_reasm_timeout) X(drop_reasm_toolong) \
  X(drop_icmp_malformed) X(drop_icmp_checksum) X(drop_icmp_ratelimit) \
  X(drop_udp_malformed) X(drop_udp_checksum) X(drop_udp_no_port) X(drop_udp_queue_full) \
  X(drop_tcp_malformed) X(drop_tcp_checksum) X(drop_tcp_no_socket) X(drop_tcp_ooo_full) \
  X(drop_tcp_out_of_window) X(drop_tcp_paws) X(drop_tcp_backlog) X(drop_tcp_bad_ack) \
  X(drop_tx_queue_full) X(drop_arp_unresolved) X(drop_arp_pending_full) X(drop_no_route) \
  X(arp_requests_out) X(arp_replies_out) X(arp_conflicts)      \
  X(ip_fragments_in) X(ip_reassembled) X(ip_fragments_out)     \
  X(icmp_echo_replies_out) X(icmp_errors_out) X(icmp_errors_in) \
  X(udp_datagrams_in) X(udp_datagrams_out)                     \
  X(tcp_segments_in) X(tcp_segments_out) X(tcp_retransmits) X(tcp_rst_out) \
  X(tcp_challenge_acks) X(tcp_challenge_acks_limited) X(tcp_half_open_evicted) \
  X(tcp_conns_opened) X(tcp_conns_accepted) X(tcp_timeouts)  \
  X(tcp_icmp_hard_as_soft) X(arp_incomplete_evicted) X(tcp_overlap_conflicts) \
  X(ip_reasm_conflicts) X(drop_tcp_peer_limit) X(tcp_stalled_evicted) \
  X(tcp_syncookies_sent) X(tcp_syncookies_ok) X(tcp_syncookies_failed) \
  X(tcp_bufpool_send_blocked) X(tcp_bufpool_window_limited) \
  X(tcp_hystart_css) X(tcp_hystart_exits) X(tcp_dsack_undos) X(tcp_rack_marked_lost) \
  X(tcp_tlp_probes) X(tcp_resets_in) X(tcp_oow_acks_limited)

typedef struct microtcp_counters {
#define MICROTCP_X_FIELD(name) uint64_t name;
  MICROTCP_COUNTERS(MICROTCP_X_FIELD)
#undef MICROTCP_X_FIELD
} microtcp_counters;

const microtcp_counters *microtcp_get_counters(const microtcp_stack *st);
/* Name of counter number i (in declaration order), NULL past the end. */
const char *microtcp_counter_name(size_t i);

/* In-use counts of every pool (for leak checks: all zero after every socket is
 * closed and all timers ran out, except arp_entries which is a cache). */
typedef struct microtcp_pool_usage {
  uint32_t tcp, listeners, udp, frames, arp_entries, arp_pending, reasm_slots, reasm_bytes;
  uint32_t tcp_buf_chunks;  /* chunks of the TCP buffer pool holding data */
  uint32_t tcp_buf_claimed; /* chunks in use or reserved for advertised windows */
} microtcp_pool_usage;
void microtcp_get_pool_usage(const microtcp_stack *st, microtcp_pool_usage *out);
/* Is the connection pool full: no free block and no TIME-WAIT one, so a new
 * connection gets a SYN cookie and waits for a block to be given up? The cue
 * for an application to shed load (O(max_tcp) when full). */
bool microtcp_tcp_pool_full(const microtcp_stack *st);

/* ---- ARP --------------------------------------------------------------------- */
/* Add a static (never aged, never overwritten) entry. EINVAL for our own IP,
 * ENOMEM if the cache is full of static entries. */
int microtcp_arp_add_static(microtcp_stack *st, uint32_t ip, const uint8_t mac[6]);
/* Look up a resolved entry; 0 and mac filled, or MICROTCP_EAGAIN if unknown. */
int microtcp_arp_lookup(const microtcp_stack *st, uint32_t ip, uint8_t mac[6]);

/* ---- ICMP echo (ping) ------------------------------------------------------- */
/* Send an echo request of len payload bytes (fragmented if larger than the MTU). */
int microtcp_ping(microtcp_stack *st, uint64_t now, uint32_t dst, uint16_t id, uint16_t seq,
                  const void *payload, size_t len);
/* Pop the next echo reply received: returns its payload length (copied up to
 * cap) or MICROTCP_EAGAIN. Replies beyond cfg.ping_queue are dropped. */
typedef struct microtcp_ping_reply {
  uint32_t src;
  uint16_t id, seq;
  uint32_t len;          /* payload length */
  uint32_t payload_sum;  /* sum of payload bytes mod 2^32, to verify content */
  uint64_t at;           /* time received */
} microtcp_ping_reply;
int microtcp_ping_recv(microtcp_stack *st, microtcp_ping_reply *out);

/* ---- Sockets: common ----------------------------------------------------------- */
/* Readiness bits (MICROTCP_READABLE, ..., MICROTCP_HANGUP) of any handle; 0 for a bad handle. */
unsigned microtcp_poll(const microtcp_stack *st, int handle);
/* Pending error of a socket (0 if none) and clear it, like SO_ERROR. */
int microtcp_socket_error(microtcp_stack *st, int handle);

typedef struct microtcp_endpoint {
  uint32_t ip;
  uint16_t port;
} microtcp_endpoint;

/* ---- UDP ------------------------------------------------------------------------ */
/* Bind a UDP socket to port (0 = ephemeral, RFC 6056: 49152-65535, keyed
 * hash). Returns a handle, MICROTCP_EADDRINUSE (port taken, or no ephemeral
 * port left) or MICROTCP_ENOMEM (all cfg.max_udp sockets in use). */
int microtcp_udp_bind(microtcp_stack *st, uint64_t now, uint16_t port);
/* Send one datagram (fragmented if larger than the MTU; max 65507 bytes).
 * The data is copied. Returns len, MICROTCP_EMSGSIZE, MICROTCP_ENOMEM (not
 * enough frame buffers or ARP queue room: nothing sent), MICROTCP_ENETUNREACH
 * (no route), MICROTCP_EINVAL (ip or port 0, data NULL) or MICROTCP_EBADF. */
int microtcp_udp_sendto(microtcp_stack *st, uint64_t now, int h, uint32_t ip, uint16_t port,
                        const void *data, size_t len);
/* Pop one datagram: returns its full length (copies min(len, cap); the rest is
 * discarded), MICROTCP_EAGAIN if none, MICROTCP_EBADF, or MICROTCP_EINVAL
 * (buf NULL with cap > 0). from may be NULL. */
int microtcp_udp_recvfrom(microtcp_stack *st, uint64_t now, int h, void *buf, size_t cap,
                          microtcp_endpoint *from);
int microtcp_udp_close(microtcp_stack *st, int h);
/* Local port of a UDP or TCP socket, or negative error. */
int microtcp_local_port(const microtcp_stack *st, int h);

/* ---- TCP ------------------------------------------------------------------------- */
/* Connection states (RFC 9293 names). */
enum microtcp_tcp_state {
  MICROTCP_CLOSED = 0, MICROTCP_LISTEN, MICROTCP_SYN_SENT, MICROTCP_SYN_RECEIVED,
  MICROTCP_ESTABLISHED, MICROTCP_FIN_WAIT_1, MICROTCP_FIN_WAIT_2, MICROTCP_CLOSE_WAIT,
  MICROTCP_CLOSING, MICROTCP_LAST_ACK, MICROTCP_TIME_WAIT
};
const char *microtcp_state_name(int state);

/* Listen on port with an accept backlog (1..1024; also caps half-open
 * connections for this listener). Returns a listener handle. */
int microtcp_tcp_listen(microtcp_stack *st, uint64_t now, uint16_t port, int backlog);
/* Take one established connection; returns its handle or MICROTCP_EAGAIN. */
int microtcp_tcp_accept(microtcp_stack *st, uint64_t now, int listener, microtcp_endpoint *peer);
/* Start an active open from local_port (0 = ephemeral). Returns a handle at once;
 * completion shows as MICROTCP_CONNECTED (or ERROR with ECONNREFUSED/ETIMEDOUT). */
int microtcp_tcp_connect(microtcp_stack *st, uint64_t now, uint32_t ip, uint16_t port,
                         uint16_t local_port);
/* Queue up to len bytes; returns bytes queued (>0), MICROTCP_EAGAIN if the send
 * buffer is full or the shared buffer pool has no chunk left (counted in
 * tcp_bufpool_send_blocked; WRITABLE is reported again once chunks return), or an error (ENOTCONN before the handshake completes is not an
 * error: data is queued and sent once established). */
int microtcp_tcp_send(microtcp_stack *st, uint64_t now, int h, const void *data, size_t len);
/* Read up to cap bytes: >0 bytes, 0 at end of stream (peer FIN), MICROTCP_EAGAIN,
 * or the connection's error (ECONNRESET, ETIMEDOUT, ...). */
int microtcp_tcp_recv(microtcp_stack *st, uint64_t now, int h, void *buf, size_t cap);
/* Like microtcp_tcp_recv, but the bytes stay in the receive buffer (MSG_PEEK). */
int microtcp_tcp_peek(microtcp_stack *st, uint64_t now, int h, void *buf, size_t cap);
/* Half-close: send FIN after queued data. Further send → MICROTCP_EPIPE. */
int microtcp_tcp_shutdown(microtcp_stack *st, uint64_t now, int h);
/* Close: graceful (FIN after queued data); the handle is released at once and
 * the connection finishes in the background. If unread data is pending, an RST
 * is sent instead (RFC 2525 / RFC 9293 3.10.4). Listener handles: closes the
 * listener and resets connections not yet accepted. */
int microtcp_tcp_close(microtcp_stack *st, uint64_t now, int h);
/* Abort: send RST (if synchronized) and release at once. */
int microtcp_tcp_abort(microtcp_stack *st, uint64_t now, int h);
/* State of a connection handle (enum microtcp_tcp_state) or negative error. */
int microtcp_tcp_state(const microtcp_stack *st, int h);
int microtcp_tcp_peer(const microtcp_stack *st, int h, microtcp_endpoint *peer);

/* Socket options. */
enum microtcp_tcp_option {
  MICROTCP_OPT_NODELAY = 1,       /* bool: disable Nagle */
  MICROTCP_OPT_KEEPALIVE,         /* bool */
  MICROTCP_OPT_KEEPIDLE_US,
  MICROTCP_OPT_KEEPINTVL_US,
  MICROTCP_OPT_KEEPCNT,
  MICROTCP_OPT_SNDBUF,            /* bytes, 1..cfg.tcp_sndbuf (set before connect/accept ideally) */
  MICROTCP_OPT_RCVBUF,            /* bytes, 1..cfg.tcp_rcvbuf */
  MICROTCP_OPT_CC,                /* MICROTCP_CC_* */
  MICROTCP_OPT_USER_TIMEOUT_US,   /* 0 = off */
  MICROTCP_OPT_MAXSEG,            /* clamp our MSS */
  MICROTCP_OPT_LINGER_ZERO,       /* bool: close() sends RST (SO_LINGER with 0) */
  MICROTCP_OPT_HYSTART,           /* bool: HyStart++ slow start (RFC 9406); cfg.tcp_hystart */
  MICROTCP_OPT_DSACK_UNDO,        /* bool: D-SACK undo of spurious recoveries; cfg.tcp_dsack_undo */
  MICROTCP_OPT_RACK,              /* bool: RACK-TLP loss detection (RFC 8985); cfg.tcp_rack */
  MICROTCP_OPT_PRR,               /* bool: PRR in SACK recovery (RFC 6937); cfg.tcp_prr */
};
int microtcp_tcp_setopt(microtcp_stack *st, int h, int opt, int64_t value);
int microtcp_tcp_getopt(const microtcp_stack *st, int h, int opt, int64_t *value);

typedef struct microtcp_tcp_stats {
  int state;
  uint32_t srtt_us, rttvar_us, rto_us;
  uint32_t cwnd, ssthresh;        /* bytes */
  uint32_t snd_wnd, rcv_wnd;      /* bytes (scaled) */
  uint16_t mss;                   /* effective send MSS */
  uint64_t bytes_sent, bytes_acked, bytes_received; /* application bytes */
  uint32_t segs_out, segs_in, retransmits, fast_retransmits, rto_timeouts;
  uint32_t dup_acks, sack_recoveries;
  uint8_t snd_wscale, rcv_wscale;
  bool sack, timestamps;
  uint64_t recovery_us;           /* time spent in fast recovery (the current one included) */
} microtcp_tcp_stats;
int microtcp_tcp_get_stats(const microtcp_stack *st, int h, microtcp_tcp_stats *out);

#ifdef __cplusplus
}
#endif
#endif
