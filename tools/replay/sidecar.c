/* Sidecar files (INI via libinih): see sidecar.h and pcap-corpus/README.md. */
#include "sidecar.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sidecar_defaults(struct sidecar *s) {
  memset(s, 0, sizeof *s);
  s->mode = MODE_CHECK;
  s->prefix = -1;
  s->seed = 1;
  snprintf(s->app, sizeof s->app, "none");
  s->offset_us = 1000000;
  s->established = -1;
  s->bytes_to_app = -1;
}

int sidecar_parse_ipv4(const char *s, uint32_t *ip) {
  unsigned a, b, c, d;
  char tail;
  if (sscanf(s, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 ||
      d > 255)
    return -1;
  *ip = a << 24 | b << 16 | c << 8 | d;
  return 0;
}

int sidecar_parse_endpoint(const char *s, uint32_t *ip, uint16_t *port) {
  char addr[32];
  const char *colon = strchr(s, ':');
  *port = 0;
  if (!colon) return sidecar_parse_ipv4(s, ip);
  if ((size_t)(colon - s) >= sizeof addr) return -1;
  memcpy(addr, s, (size_t)(colon - s));
  addr[colon - s] = 0;
  char *end;
  unsigned long p = strtoul(colon + 1, &end, 10);
  if (end == colon + 1 || *end || p == 0 || p > 65535) return -1;
  *port = (uint16_t)p;
  return sidecar_parse_ipv4(addr, ip);
}

static int parse_u64(const char *v, uint64_t *out) {
  char *end;
  errno = 0;
  while (*v == ' ')
    v++;
  unsigned long long n = strtoull(v, &end, 0);
  while (*end == ' ')
    end++;
  if (end == v || *end || errno || *v == '-') return -1;
  *out = n;
  return 0;
}

static int parse_bool(const char *v, bool *out) {
  if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
    *out = true;
  else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
    *out = false;
  else
    return -1;
  return 0;
}

/* The microtcp_config fields a sidecar may set, by their C names. */
#define F(name, kind)                                                                              \
  { #name, offsetof(microtcp_config, name), kind }
static const struct {
  const char *name;
  size_t offset;
  uint8_t size; /* 0 = bool */
} CFG_FIELDS[] = {
    F(mtu, 2),
    F(max_tcp, 2),
    F(max_listeners, 2),
    F(max_udp, 2),
    F(tcp_sndbuf, 4),
    F(tcp_rcvbuf, 4),
    F(udp_rcvq, 4),
    F(frames, 2),
    F(arp_entries, 2),
    F(arp_pending, 2),
    F(reasm_slots, 2),
    F(reasm_bytes, 4),
    F(ping_queue, 2),
    F(arp_ttl_us, 4),
    F(arp_retry_us, 4),
    F(arp_retries, 1),
    F(arp_gratuitous, 0),
    F(ttl, 1),
    F(reasm_timeout_us, 4),
    F(icmp_echo, 0),
    F(icmp_rate_per_s, 4),
    F(icmp_burst, 4),
    F(tcp_mss, 2),
    F(tcp_wscale, 1),
    F(tcp_sack, 0),
    F(tcp_timestamps, 0),
    F(tcp_nodelay, 0),
    F(tcp_cc, 1),
    F(tcp_initial_cwnd, 1),
    F(tcp_rto_initial_us, 4),
    F(tcp_rto_min_us, 4),
    F(tcp_rto_max_us, 4),
    F(tcp_delack_us, 4),
    F(tcp_msl_us, 4),
    F(tcp_syn_retries, 1),
    F(tcp_max_retries, 1),
    F(tcp_user_timeout_us, 4),
    F(tcp_keepidle_us, 8),
    F(tcp_keepintvl_us, 4),
    F(tcp_keepcnt, 1),
    F(tcp_challenge_ack_per_s, 2),
    F(tcp_ooo_ranges, 2),
};
#undef F

void sidecar_apply_config(const struct sidecar *s, microtcp_config *cfg) {
  uint8_t *base = (uint8_t *)cfg;
  for (size_t i = 0; i < s->ncfg; i++) {
    const struct cfg_override *o = &s->cfg[i];
    switch (o->size) {
    case 0: {
      bool b = o->value != 0;
      memcpy(base + o->offset, &b, sizeof b);
      break;
    }
    case 1: {
      uint8_t v = (uint8_t)o->value;
      memcpy(base + o->offset, &v, 1);
      break;
    }
    case 2: {
      uint16_t v = (uint16_t)o->value;
      memcpy(base + o->offset, &v, 2);
      break;
    }
    case 8: {
      uint64_t v = (uint64_t)o->value;
      memcpy(base + o->offset, &v, 8);
      break;
    }
    default: {
      uint32_t v = (uint32_t)o->value;
      memcpy(base + o->offset, &v, 4);
      break;
    }
    }
  }
}

bool sidecar_ignores(const struct sidecar *s, const char *field) {
  size_t n = strlen(field);
  const char *p = s->ignore;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *e = p;
    while (*e && *e != ',' && *e != ' ')
      e++;
    if ((size_t)(e - p) == n && !strncmp(p, field, n)) return true;
    p = e;
  }
  return false;
}

struct load_ctx {
  struct sidecar *s;
  char *err;
  size_t errlen;
};

static int parse_counters(struct sidecar *s, const char *v) {
  /* "name >= 3, other = 0, third <= 2" */
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s", v);
  for (char *item = strtok(tmp, ","); item; item = strtok(NULL, ",")) {
    if (s->ncounters == SIDECAR_MAX_COUNTERS) return -1;
    struct counter_expect *c = &s->counters[s->ncounters];
    char name[40], op[3];
    unsigned long long val;
    if (sscanf(item, " %39[a-z_0-9] %2[=<>] %llu", name, op, &val) != 3) return -1;
    if (!strcmp(op, "=") || !strcmp(op, "=="))
      c->op = '=';
    else if (!strcmp(op, ">="))
      c->op = '>';
    else if (!strcmp(op, "<="))
      c->op = '<';
    else
      return -1;
    size_t k = 0;
    while (microtcp_counter_name(k) && strcmp(microtcp_counter_name(k), name))
      k++;
    if (!microtcp_counter_name(k)) return -1;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->value = val;
    s->ncounters++;
  }
  return 0;
}

static int on_key(void *user, const char *section, const char *key, const char *v) {
  struct load_ctx *c = user;
  struct sidecar *s = c->s;
  uint64_t n = 0;
  bool b;
/* Keep the first error: ini_parse_file reports the first failing line. */
#define BAD(what)                                                                                  \
  do {                                                                                             \
    if (!c->err[0]) snprintf(c->err, c->errlen, "[%s] %s = %s: %s", section, key, v, what);        \
    return 0;                                                                                      \
  } while (0)
  if (!strcmp(section, "replay")) {
    if (!strcmp(key, "mode")) {
      if (!strcmp(v, "check"))
        s->mode = MODE_CHECK;
      else if (!strcmp(v, "outcome"))
        s->mode = MODE_OUTCOME;
      else if (!strcmp(v, "feed"))
        s->mode = MODE_FEED;
      else
        BAD("expected check, outcome or feed");
    } else if (!strcmp(key, "as")) {
      if (sidecar_parse_endpoint(v, &s->as_ip, &s->as_port) < 0) BAD("expected A.B.C.D[:PORT]");
      s->has_as = true;
    } else if (!strcmp(key, "netmask")) {
      if (parse_u64(v, &n) < 0 || n > 32) BAD("expected a prefix length 0..32");
      s->prefix = (int)n;
    } else if (!strcmp(key, "seed")) {
      if (parse_u64(v, &s->seed) < 0) BAD("expected an unsigned integer");
    } else if (!strcmp(key, "app")) {
      if (strcmp(v, "echo") && strcmp(v, "sink") && strcmp(v, "http") && strcmp(v, "udp-echo") && strcmp(v, "replay") &&
          strcmp(v, "source") && strcmp(v, "none"))
        BAD("expected replay, echo, sink, http, udp-echo, source or none");
      snprintf(s->app, sizeof s->app, "%s", v);
    } else if (!strcmp(key, "port")) {
      if (parse_u64(v, &n) < 0 || n > 65535) BAD("expected 0..65535");
      s->port = (uint16_t)n;
    } else if (!strcmp(key, "connect")) {
      char ip[32];
      unsigned p;
      if (sscanf(v, "%31[0-9.]:%u", ip, &p) != 2 || sidecar_parse_ipv4(ip, &s->connect_ip) < 0 ||
          p == 0 || p > 65535)
        BAD("expected A.B.C.D:PORT");
      s->connect_port = (uint16_t)p;
    } else if (!strcmp(key, "bytes")) {
      if (parse_u64(v, &s->bytes) < 0) BAD("expected an unsigned integer");
    } else if (!strcmp(key, "ignore")) {
      snprintf(s->ignore, sizeof s->ignore, "%s", v);
    } else if (!strcmp(key, "ts_tolerance")) {
      if (parse_u64(v, &n) < 0 || n > 1000000) BAD("expected an unsigned integer");
      s->ts_tolerance = (uint32_t)n;
    } else if (!strcmp(key, "static_arp")) {
      if (!strcmp(v, "auto"))
        s->static_arp = TRI_AUTO;
      else if (parse_bool(v, &b) == 0)
        s->static_arp = b ? TRI_YES : TRI_NO;
      else
        BAD("expected auto, yes or no");
    } else if (!strcmp(key, "offset_us")) {
      if (parse_u64(v, &s->offset_us) < 0) BAD("expected microseconds");
      s->offset_set = true;
    } else if (!strcmp(key, "end_us")) {
      if (parse_u64(v, &s->end_us) < 0) BAD("expected microseconds");
    } else if (!strcmp(key, "clock")) {
      if (!strcmp(v, "tap"))
        s->tap_clock = true;
      else if (!strcmp(v, "exact"))
        s->tap_clock = false;
      else
        BAD("expected tap or exact");
    } else if (!strcmp(key, "batch_us")) {
      if (parse_u64(v, &s->batch_us) < 0) BAD("expected microseconds");
    } else if (!strcmp(key, "keepalive_us")) {
      if (parse_u64(v, &s->keepalive_us) < 0) BAD("expected microseconds");
    } else if (!strcmp(key, "accept_macs")) {
      if (parse_bool(v, &s->accept_macs) < 0) BAD("expected yes or no");
    } else if (!strcmp(key, "segment_gso")) {
      if (parse_bool(v, &s->segment_gso) < 0) BAD("expected yes or no");
    } else if (!strcmp(key, "fix_checksums")) {
      if (parse_bool(v, &s->fix_checksums) < 0) BAD("expected yes or no");
    } else if (!strcmp(key, "app_close_at_us")) {
      if (parse_u64(v, &s->app_close_at_us) < 0) BAD("expected microseconds");
    } else {
      BAD("unknown key");
    }
  } else if (!strcmp(section, "config")) {
    size_t i = 0, nf = sizeof CFG_FIELDS / sizeof CFG_FIELDS[0];
    while (i < nf && strcmp(CFG_FIELDS[i].name, key))
      i++;
    if (i == nf) BAD("not a microtcp_config field this tool sets");
    if (s->ncfg == SIDECAR_MAX_CFG) BAD("too many overrides");
    if (CFG_FIELDS[i].size == 0) {
      if (parse_bool(v, &b) < 0) BAD("expected yes or no");
      n = b;
    } else if (parse_u64(v, &n) < 0) {
      BAD("expected an unsigned integer");
    }
    s->cfg[s->ncfg++] = (struct cfg_override){CFG_FIELDS[i].offset, CFG_FIELDS[i].size, n};
  } else if (!strcmp(section, "expect")) {
    if (!strcmp(key, "established")) {
      if (parse_u64(v, &n) < 0 || n > 1000000) BAD("expected a count");
      s->established = (int)n;
    } else if (!strcmp(key, "bytes_to_app")) {
      if (parse_u64(v, &n) < 0) BAD("expected a byte count");
      s->bytes_to_app = (int64_t)n;
    } else if (!strcmp(key, "close")) {
      if (!strcmp(v, "clean"))
        s->close = CLOSE_CLEAN;
      else if (!strcmp(v, "reset"))
        s->close = CLOSE_RESET;
      else if (!strcmp(v, "open"))
        s->close = CLOSE_OPEN;
      else if (!strcmp(v, "any"))
        s->close = CLOSE_ANY;
      else
        BAD("expected clean, reset, open or any");
    } else if (!strcmp(key, "counters")) {
      if (parse_counters(s, v) < 0)
        BAD("expected name = N, name >= N, name <= N (counter names of microtcp_counter_name)");
    } else if (!strcmp(key, "description")) {
      snprintf(s->description, sizeof s->description, "%s", v);
    } else {
      BAD("unknown key");
    }
  } else {
    BAD("unknown section");
  }
#undef BAD
  return 1;
}

int sidecar_load(struct sidecar *s, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open", path);
    return -1;
  }
  err[0] = 0;
  struct load_ctx c = {s, err, errlen};
  int rc = ini_parse_file(f, on_key, &c);
  fclose(f);
  if (rc != 0) {
    char inner[400];
    snprintf(inner, sizeof inner, "%s", err[0] ? err : "syntax error");
    if (rc > 0)
      snprintf(err, errlen, "%s:%d: %s", path, rc, inner);
    else
      snprintf(err, errlen, "%s: %s", path, inner);
    return -1;
  }
  s->present = true;
  return 0;
}
