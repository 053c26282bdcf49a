/*
 * The TCP script runner's model of a script (packetdrill syntax subset, see
 * tests/tcp/README.md): one struct per line, produced by script_parse.c,
 * executed by runner.c, packets encoded/decoded/printed by script_packet.c.
 *
 * Ownership: script_parse() fills a caller-provided struct script whose lines
 * array it allocates with malloc; script_free() releases it.
 */
#ifndef MICROTCP_TESTS_SCRIPT_H
#define MICROTCP_TESTS_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TCP flag bits as on the wire. */
enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10,
       TH_URG = 0x20, TH_ECE = 0x40, TH_CWR = 0x80 };

enum pkt_opt_kind { PO_EOL, PO_NOP, PO_MSS, PO_WSCALE, PO_SACKOK, PO_SACK, PO_TS, PO_OTHER };

#define PKT_MAX_OPTS 20
#define PKT_MAX_SACK 4

struct pkt_opt {
  enum pkt_opt_kind kind;
  uint32_t a, b;                        /* mss/wscale value; TS val (a) and ecr (b); PO_OTHER: kind (a) and length (b) */
  int nblocks;                          /* PO_SACK */
  uint32_t blocks[PKT_MAX_SACK][2];     /* PO_SACK: [start, end) */
};

/* A packet line, or a decoded outbound segment (relative numbers). */
struct pkt {
  char dir;                /* '<' inbound, '>' outbound */
  uint16_t remote_port;    /* packetdrill's "SRC>DST" ports: the remote one; 0 = not written */
  uint8_t flags;
  uint32_t seq, len;
  bool has_ack;
  uint32_t ack;
  bool has_win;
  uint32_t win;
  bool has_opts;           /* false: "<...>" (outbound: not checked); true with nopts 0: none */
  int nopts;
  struct pkt_opt opts[PKT_MAX_OPTS];
};

#define CALL_MAX_ARGS 6
#define CALL_ARG_LEN 96

struct call {
  char name[24];
  int nargs;
  char args[CALL_MAX_ARGS][CALL_ARG_LEN];
  bool ret_any;            /* "= ..." (not checked) */
  long long ret;
  char err[24];            /* errno name after "= -1", "" if none */
};

#define ASSERT_MAX 12

struct assertion {
  char field[48];          /* tcpi_state, counter.NAME, pool.NAME */
  char op[3];              /* == != < <= > >= */
  char value[32];          /* integer or a TCP_* state name */
};

enum line_kind { L_PACKET, L_CALL, L_ASSERT, L_REMOTE_PORT };

/* Time of a line: absolute or relative (to the previous line), a range, or "*". */
struct line_time {
  bool any;                /* "*" */
  bool rel_lo, rel_hi;
  int64_t lo_us, hi_us;    /* hi == lo unless a range was written */
  bool range;
  bool blocking;           /* packetdrill's "START...END": a call that blocks until END */
  int64_t end_us;          /* END, on the same base as lo (relative if lo is) */
};

struct line {
  int lineno;              /* 1-based, of the line's first text line */
  char text[256];          /* the source text (for messages) */
  enum line_kind kind;
  struct line_time t;
  struct pkt pkt;          /* L_PACKET */
  struct call call;        /* L_CALL */
  int nasserts;            /* L_ASSERT */
  struct assertion asserts[ASSERT_MAX];
  uint16_t remote_port;    /* L_REMOTE_PORT */
};

struct script {
  const char *path;
  struct line *lines;
  int nlines;
  char config[1024];       /* accumulated "// config:" key=value words */
  long tolerance_us;       /* from "// tolerance_usecs=N", -1 if absent */
};

/* Parse a whole file. Returns 0, or -1 after printing "FILE:LINE: message"
 * to stderr (I/O error or syntax error). */
int script_parse(const char *path, struct script *out);
void script_free(struct script *s);

/* ---- script_packet.c: wire encoding, decoding and printing ---- */

/* Where the relative numbers of one flow are anchored. */
struct flow_base {
  uint32_t remote_isn;     /* inbound seq / outbound ack / outbound SACK base */
  uint32_t stack_isn;      /* outbound seq / inbound ack / inbound SACK base */
  bool stack_isn_known;
  uint32_t last_tsval;     /* the stack's most recent TS val on this flow */
};

struct endpoints {
  uint32_t src_ip, dst_ip;     /* host order */
  uint16_t src_port, dst_port;
};

/* Build an inbound IPv4+TCP packet (no Ethernet) for line p into buf.
 * Inbound "TS ecr N" with N != 0 is sent as fb->last_tsval. Returns the
 * length, or -1 if cap is too small. Checksums are correct. */
int pkt_encode(const struct pkt *p, const struct flow_base *fb, const struct endpoints *ep,
               uint8_t *buf, size_t cap);

/* Decode an outbound IPv4 packet holding TCP into absolute numbers. Returns 0,
 * or -1 with a reason in why (malformed, bad checksum, not TCP). */
int pkt_decode(const uint8_t *ip, size_t len, struct pkt *abs_out, struct endpoints *ep,
               char *why, size_t whylen);

/* Convert a decoded (absolute) outbound packet to script-relative numbers. */
void pkt_make_relative(const struct pkt *abs_pkt, const struct flow_base *fb, struct pkt *rel);

/* Print a packet in the script's syntax ("> P. 1:1001(1000) ack 1 win 502 <...>"). */
void pkt_format(const struct pkt *p, char *buf, size_t cap);

/* Compare an outbound packet (relative) with its expectation; returns true if
 * it matches, else false with the differences listed in why. */
bool pkt_matches(const struct pkt *want, const struct pkt *got, char *why, size_t whylen);

/* RFC 1071 checksum of len bytes, folded and complemented, starting from sum. */
uint16_t pkt_checksum(const uint8_t *p, size_t len, uint32_t sum);

#endif
