/* Reading pcap/pcapng captures as Ethernet frames: see capture.h. */
#include "capture.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "microtcp/wire.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#define LINKTYPE_RAW_ALT 101 /* LINKTYPE_RAW as some writers store it */

void capture_synth_mac(uint32_t ip, uint8_t mac[6]) {
  mac[0] = 0x02;
  mac[1] = 0x00;
  wire_put32(mac + 2, ip);
}

const char *capture_linktype_name(int lt) {
  switch (lt) {
  case DLT_EN10MB: return "Ethernet";
  case DLT_RAW: return "raw IP";
  case LINKTYPE_RAW_ALT: return "raw IP";
  case DLT_IPV4: return "raw IPv4";
  case DLT_LINUX_SLL: return "Linux cooked (SLL)";
  case DLT_LINUX_SLL2: return "Linux cooked v2 (SLL2)";
  case DLT_NULL: return "BSD loopback (NULL)";
  case DLT_LOOP: return "OpenBSD loopback (LOOP)";
  default: return "unsupported";
  }
}

static int supported(int lt) {
  return lt == DLT_EN10MB || lt == DLT_RAW || lt == LINKTYPE_RAW_ALT || lt == DLT_IPV4 ||
         lt == DLT_LINUX_SLL || lt == DLT_LINUX_SLL2 || lt == DLT_NULL || lt == DLT_LOOP;
}

int capture_open(struct capture_reader *r, const char *path, char *err, size_t errlen) {
  char perr[PCAP_ERRBUF_SIZE];
  r->pcap = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, perr);
  if (!r->pcap) {
    /* libpcap names the file itself in some errors ("PATH: No such file or
     * directory"): prefix the path only when it is not already there. */
    if (strncmp(perr, path, strlen(path)) == 0) snprintf(err, errlen, "%s", perr);
    else snprintf(err, errlen, "%s: %s", path, perr);
    return -1;
  }
  r->linktype = pcap_datalink(r->pcap);
  r->have_first = 0;
  r->first_us = 0;
  r->frames = r->skipped = r->truncated = r->vlan_tags = 0;
  r->buf = NULL;
  r->buf_cap = 0;
  r->wire_len = 0;
  if (!supported(r->linktype)) {
    snprintf(err, errlen, "%s: link type %d (%s) is not supported (Ethernet, raw IPv4, SLL, SLL2)",
             path, r->linktype,
             pcap_datalink_val_to_name(r->linktype) ? pcap_datalink_val_to_name(r->linktype) : "?");
    pcap_close(r->pcap);
    r->pcap = NULL;
    return -1;
  }
  return 0;
}

void capture_close(struct capture_reader *r) {
  if (r->pcap) pcap_close(r->pcap);
  r->pcap = NULL;
  free(r->buf);
  r->buf = NULL;
  r->buf_cap = 0;
}

/* Room for n bytes in the reader's buffer (grown, never cut). */
static uint8_t *room(struct capture_reader *r, size_t n) {
  if (n > r->buf_cap) {
    size_t cap = r->buf_cap ? r->buf_cap : 2048;
    while (cap < n)
      cap *= 2;
    uint8_t *g = realloc(r->buf, cap);
    if (!g) abort();
    r->buf = g;
    r->buf_cap = cap;
  }
  return r->buf;
}

/* Build an Ethernet header in front of an IP/ARP payload of the given
 * ethertype. MACs come from the IPv4 addresses (broadcast for 255.255.255.255
 * and for ARP requests), so every frame of one host carries the same MAC. */
static size_t synth_eth(struct capture_reader *r, uint16_t ethertype, const uint8_t *payload,
                        size_t len) {
  uint8_t *out = room(r, len + 14);
  uint8_t *dst = out, *src = out + 6;
  memset(out, 0, 12);
  if (ethertype == WIRE_ETHERTYPE_IPV4 && len >= 20) {
    uint32_t s = wire_get32(payload + 12), d = wire_get32(payload + 16);
    capture_synth_mac(s, src);
    if (d == 0xffffffffu || (d >> 28) == 0xe)
      memset(dst, 0xff, 6);
    else
      capture_synth_mac(d, dst);
  } else if (ethertype == WIRE_ETHERTYPE_ARP && len >= 28) {
    capture_synth_mac(wire_get32(payload + 14), src);
    if (wire_get16(payload + 6) == WIRE_ARP_REQUEST)
      memset(dst, 0xff, 6);
    else
      capture_synth_mac(wire_get32(payload + 24), dst);
  } else {
    memset(dst, 0xff, 6);
  }
  wire_put16(out + 12, ethertype);
  if (len) memcpy(out + 14, payload, len); /* payload may be NULL when len is 0 */
  return len + 14;
}

static bool is_vlan_tpid(uint16_t t) { return t == 0x8100 || t == 0x88a8 || t == 0x9100; }

int capture_next(struct capture_reader *r, const uint8_t **frame, size_t *len, uint64_t *t_us,
                 char *err, size_t errlen) {
  for (;;) {
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(r->pcap, &h, &data);
    if (rc == PCAP_ERROR_BREAK) return 0;
    if (rc != 1) {
      snprintf(err, errlen, "read error after %llu frames: %s", (unsigned long long)r->frames,
               pcap_geterr(r->pcap));
      return -1;
    }
    uint64_t abs_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
    if (!r->have_first) {
      r->first_us = abs_us;
      r->have_first = 1;
    }
    /* A capture whose clock steps back gets time 0 for that frame's offset
     * (the stack's clock never goes backwards anyway). */
    *t_us = abs_us >= r->first_us ? abs_us - r->first_us : 0;
    size_t n = h->caplen;
    /* Bytes of link header removed (negative: added), to turn the record's
     * original length into the rebuilt frame's wire length. */
    long adjust = 0;
    switch (r->linktype) {
    case DLT_EN10MB: {
      size_t tags = 0;
      while (n >= 14 + 4 * (tags + 1) && is_vlan_tpid(wire_get16(data + 12 + 4 * tags)))
        tags++;
      if (tags) {
        /* Strip every VLAN tag (QinQ included): the stack has no VLANs. */
        size_t rest = n - 12 - 4 * tags;
        uint8_t *b = room(r, 12 + rest);
        memcpy(b, data, 12);
        memcpy(b + 12, data + 12 + 4 * tags, rest);
        r->vlan_tags += tags;
        adjust = (long)(4 * tags);
        *frame = b;
        *len = 12 + rest;
      } else {
        *frame = data;
        *len = n;
      }
      break;
    }
    case DLT_RAW:
    case LINKTYPE_RAW_ALT:
    case DLT_IPV4: {
      uint16_t et = (n > 0 && (data[0] >> 4) == 6) ? 0x86dd : WIRE_ETHERTYPE_IPV4;
      *len = synth_eth(r, et, data, n);
      *frame = r->buf;
      adjust = -14;
      break;
    }
    case DLT_NULL:
    case DLT_LOOP: {
      /* A 4-byte address family (host byte order of the capturing machine for
       * NULL, network order for LOOP): 2 is IPv4 everywhere. */
      if (n < 4) {
        r->skipped++;
        continue;
      }
      uint32_t af = r->linktype == DLT_LOOP ? wire_get32(data)
                                             : (uint32_t)(data[0] | data[1] << 8 | data[2] << 16 |
                                                          (uint32_t)data[3] << 24);
      if (af != 2 && af != 0x02000000u) af = 0; /* not IPv4: an ethertype the stack ignores */
      *len = synth_eth(r, af ? WIRE_ETHERTYPE_IPV4 : 0x86dd, data + 4, n - 4);
      *frame = r->buf;
      adjust = -10;
      break;
    }
    case DLT_LINUX_SLL:
      /* type(2) hatype(2) addrlen(2) addr(8) protocol(2) */
      if (n < 16) {
        r->skipped++;
        continue;
      }
      *len = synth_eth(r, wire_get16(data + 14), data + 16, n - 16);
      *frame = r->buf;
      adjust = 2;
      break;
    case DLT_LINUX_SLL2:
      /* protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) addrlen(1) addr(8) */
      if (n < 20) {
        r->skipped++;
        continue;
      }
      *len = synth_eth(r, wire_get16(data), data + 20, n - 20);
      *frame = r->buf;
      adjust = 6;
      break;
    default: snprintf(err, errlen, "link type %d is not supported", r->linktype); return -1;
    }
    long wl = (long)h->len - adjust;
    r->wire_len = wl > (long)*len ? (size_t)wl : *len;
    if (r->wire_len > *len) r->truncated++;
    r->frames++;
    return 1;
  }
}

int capture_load(struct capture_mem *m, const char *path, char *err, size_t errlen) {
  memset(m, 0, sizeof *m);
  struct capture_reader *r = malloc(sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (capture_open(r, path, err, errlen) < 0) {
    free(r);
    return -1;
  }
  m->linktype = r->linktype;
  const uint8_t *f;
  size_t len;
  uint64_t t;
  int rc;
  while ((rc = capture_next(r, &f, &len, &t, err, errlen)) == 1) {
    if (m->n == m->cap) {
      m->cap = m->cap ? m->cap * 2 : 256;
      struct frame_rec *g = realloc(m->frames, m->cap * sizeof *g);
      if (!g) abort();
      m->frames = g;
    }
    while (m->data_len + len > m->data_cap) {
      m->data_cap = m->data_cap ? m->data_cap * 2 : 65536;
      uint8_t *g = realloc(m->data, m->data_cap);
      if (!g) abort();
      m->data = g;
    }
    if (len) memcpy(m->data + m->data_len, f, len); /* m->data is NULL until a byte arrives */
    m->frames[m->n].t_us = t;
    m->frames[m->n].off = m->data_len;
    m->frames[m->n].len = (uint32_t)len;
    m->frames[m->n].wire_len = (uint32_t)r->wire_len;
    m->n++;
    m->data_len += len;
  }
  m->first_abs_us = r->first_us;
  m->skipped = r->skipped;
  m->truncated = r->truncated;
  m->vlan_tags = r->vlan_tags;
  capture_close(r);
  free(r);
  if (rc < 0) {
    char why[400];
    snprintf(why, sizeof why, "%s", err);
    snprintf(err, errlen, "%s: %s", path, why);
    capture_free(m);
    return -1;
  }
  return 0;
}

void capture_free(struct capture_mem *m) {
  free(m->frames);
  free(m->data);
  memset(m, 0, sizeof *m);
}
