/*
 * Sidecar files: what a capture shows and how to replay it (INI, read with
 * libinih). The format is documented in pcap-corpus/README.md; in short:
 *
 *   [replay]   mode, as, netmask, seed, app, port, connect, bytes, ignore,
 *              ts_tolerance, static_arp, offset_us, end_us, batch_us, clock,
 *              keepalive_us, app_close_at_us, accept_macs, fix_checksums,
 *              segment_gso
 *   [config]   any microtcp_config field by name (tcp_mss = 536, ...)
 *   [expect]   established, bytes_to_app, close, counters, description
 *
 * Every key is optional; sidecar_defaults() gives the values used without a
 * sidecar. Unknown sections/keys are errors (a typo must not silently turn
 * a check off).
 */
#ifndef REPLAY_SIDECAR_H
#define REPLAY_SIDECAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "microtcp/microtcp.h"

enum replay_mode { MODE_CHECK = 0, MODE_OUTCOME, MODE_FEED };
enum tri { TRI_AUTO = 0, TRI_YES, TRI_NO };
enum close_expect { CLOSE_ANY = 0, CLOSE_CLEAN, CLOSE_RESET, CLOSE_OPEN };

#define SIDECAR_MAX_CFG      48
#define SIDECAR_MAX_COUNTERS 16

struct cfg_override {
  size_t offset; /* offsetof(microtcp_config, field) */
  uint8_t size;  /* 1, 2, 4 (integers) or 0 for bool */
  uint64_t value;
};

struct counter_expect {
  char name[40];
  char op; /* '=', '>' (means >=), '<' (means <=) */
  uint64_t value;
};

struct sidecar {
  bool present;
  enum replay_mode mode;
  bool has_as;
  uint32_t as_ip;
  uint16_t as_port; /* `as = A.B.C.D:PORT` (rewrite.h: rewrite_split), 0 = by address only */
  int prefix; /* -1 = auto */
  uint64_t seed;
  char app[16];  /* echo | sink | http | udp-echo | source | none */
  uint16_t port; /* 0 = the port of the first SYN to the host */
  uint32_t connect_ip;
  uint16_t connect_port;
  uint64_t bytes;
  char ignore[512]; /* comma-separated field names */
  uint32_t ts_tolerance;
  enum tri static_arp;
  uint64_t offset_us, end_us, batch_us;
  bool tap_clock;  /* clock = tap: timers fire at capture timestamps (replay.c) */
  bool offset_set; /* offset_us given (else 1 s, or with clock = tap the first frame's time) */
  uint64_t keepalive_us;    /* > 0: accepted connections use keepalive with this idle time */
  uint64_t app_close_at_us; /* > 0: the app closes every connection at this capture time */
  bool accept_macs, fix_checksums, segment_gso; /* rewriting options (rewrite.h) */
  struct cfg_override cfg[SIDECAR_MAX_CFG];
  size_t ncfg;
  /* [expect] */
  int established;      /* -1 = not checked */
  int64_t bytes_to_app; /* -1 = not checked */
  enum close_expect close;
  struct counter_expect counters[SIDECAR_MAX_COUNTERS];
  size_t ncounters;
  char description[256];
};

void sidecar_defaults(struct sidecar *s);
/* Read path into s (on top of the defaults). 0, or -1 with a one-line reason. */
int sidecar_load(struct sidecar *s, const char *path, char *err, size_t errlen);
/* Apply the [config] overrides to cfg. */
void sidecar_apply_config(const struct sidecar *s, microtcp_config *cfg);
/* Was field (e.g. "tcp.win") listed in ignore? */
bool sidecar_ignores(const struct sidecar *s, const char *field);
int sidecar_parse_ipv4(const char *s, uint32_t *ip);
/* "A.B.C.D" or "A.B.C.D:PORT" (port 0 when absent). */
int sidecar_parse_endpoint(const char *s, uint32_t *ip, uint16_t *port);

#endif
