/* TCP header and options (RFC 9293, 7323, 2018) parse/emit. */
#include "internal.h"

/* Option walk with an explicit remaining count; each step either ends (EOL),
 * advances (NOP: 1, others: their length) or drops the segment (malformed). */
int wire_tcp_parse_options(const uint8_t *opt, size_t len, wire_tcp_opts *out) {
  memset(out, 0, sizeof *out);
  size_t i = 0;
  while (i < len) {
    uint8_t kind = opt[i];
    if (kind == WIRE_TCPOPT_EOL) break;
    if (kind == WIRE_TCPOPT_NOP) {
      i++;
      continue;
    }
    size_t remaining = len - i;
    if (remaining < 2) return MICROTCP_EMALFORMED;
    uint8_t olen = opt[i + 1];
    if (olen < 2 || olen > remaining) return MICROTCP_EMALFORMED;
    const uint8_t *v = opt + i + 2;
    switch (kind) {
    case WIRE_TCPOPT_MSS:
      if (olen != 4) return MICROTCP_EMALFORMED;
      out->has_mss = true;
      out->mss = wire_get16(v);
      break;
    case WIRE_TCPOPT_WS:
      if (olen != 3) return MICROTCP_EMALFORMED;
      out->has_ws = true;
      out->ws = v[0];
      break;
    case WIRE_TCPOPT_SACK_PERM:
      if (olen != 2) return MICROTCP_EMALFORMED;
      out->sack_permitted = true;
      break;
    case WIRE_TCPOPT_TS:
      if (olen != 10) return MICROTCP_EMALFORMED;
      out->has_ts = true;
      out->ts_val = wire_get32(v);
      out->ts_ecr = wire_get32(v + 4);
      break;
    case WIRE_TCPOPT_SACK: {
      size_t n = (size_t)(olen - 2) / 8;
      if ((olen - 2) % 8 != 0 || n < 1 || n > WIRE_TCP_MAX_SACK) return MICROTCP_EMALFORMED;
      out->sack_count = (uint8_t)n;
      for (size_t b = 0; b < n; b++) {
        out->sack[b].left = wire_get32(v + 8 * b);
        out->sack[b].right = wire_get32(v + 8 * b + 4);
      }
      break;
    }
    default: break; /* unknown: skipped by its length */
    }
    i += olen;
  }
  return MICROTCP_OK;
}

int wire_tcp_parse(const uint8_t *buf, size_t len, wire_tcp *out) {
  if (buf == NULL || len < WIRE_TCP_HLEN) return MICROTCP_ETRUNCATED;
  size_t off = (size_t)(buf[WIRE_TCP_F_DATA_OFF] >> 4) * 4;
  if (off < WIRE_TCP_HLEN) return MICROTCP_EMALFORMED;
  if (off > len) return MICROTCP_ETRUNCATED;
  out->src_port = wire_get16(buf + WIRE_TCP_F_SRC_PORT);
  out->dst_port = wire_get16(buf + WIRE_TCP_F_DST_PORT);
  out->seq = wire_get32(buf + WIRE_TCP_F_SEQ);
  out->ack = wire_get32(buf + WIRE_TCP_F_ACK);
  out->data_off = (uint8_t)off;
  out->flags = buf[WIRE_TCP_F_FLAGS];
  out->window = wire_get16(buf + WIRE_TCP_F_WINDOW);
  out->checksum = wire_get16(buf + WIRE_TCP_F_CHECKSUM);
  out->urgent = wire_get16(buf + WIRE_TCP_F_URGENT);
  int e = wire_tcp_parse_options(buf + WIRE_TCP_F_OPTIONS, off - WIRE_TCP_HLEN, &out->opts);
  if (e < 0) return e;
  out->payload = buf + off;
  out->payload_len = len - off;
  return MICROTCP_OK;
}

bool wire_tcp_checksum_ok(uint32_t src, uint32_t dst, const uint8_t *buf, size_t len) {
  if (len < WIRE_TCP_HLEN || len > 65535u) return false;
  uint32_t s = wire_csum_pseudo(src, dst, WIRE_IP_PROTO_TCP, (uint16_t)len);
  return wire_csum_fold(wire_csum_partial(s, buf, len)) == 0;
}

/* MSS, window scale and SACK-permitted may only appear on SYNs (RFC 9293
 * 3.7.1, RFC 7323 2.2, RFC 2018 2), so their presence selects the SYN layout. */
static bool opts_is_syn(const wire_tcp_opts *o) {
  return o->has_mss || o->has_ws || o->sack_permitted;
}

/* SACK blocks that fit next to the other options in the 40 bytes a TCP header
 * can carry (RFC 2018 3: at most 4, or 3 with timestamps). */
static size_t sack_blocks_to_emit(const wire_tcp_opts *o) {
  size_t room = 40 - (o->has_ts ? 12u : 0u) - 4u; /* minus NOP NOP kind len */
  size_t n = o->sack_count;
  if (n > WIRE_TCP_MAX_SACK) n = WIRE_TCP_MAX_SACK;
  if (n > room / 8) n = room / 8;
  return n;
}

size_t wire_tcp_options_len(const wire_tcp_opts *o) {
  size_t n = 0;
  if (opts_is_syn(o)) {
    if (o->has_mss) n += 4;
    if (o->has_ts) {
      n += 12; /* sackOK TS, or nop nop TS */
    } else if (o->sack_permitted) {
      n += 4; /* nop nop sackOK */
    }
    if (o->has_ws) n += 4; /* nop wscale */
  } else {
    if (o->has_ts) n += 12;
    size_t blocks = sack_blocks_to_emit(o);
    if (blocks) n += 4 + 8 * blocks;
  }
  return (n + 3) & ~(size_t)3;
}

int wire_tcp_emit_options(const wire_tcp_opts *o, uint8_t *buf, size_t cap) {
  size_t need = wire_tcp_options_len(o);
  if (cap < need) return MICROTCP_ENOSPC;
  size_t i = 0;
  if (opts_is_syn(o)) {
    if (o->has_mss) {
      buf[i++] = WIRE_TCPOPT_MSS;
      buf[i++] = 4;
      wire_put16(buf + i, o->mss);
      i += 2;
    }
    if (o->has_ts) {
      if (o->sack_permitted) {
        buf[i++] = WIRE_TCPOPT_SACK_PERM;
        buf[i++] = 2;
      } else {
        buf[i++] = WIRE_TCPOPT_NOP;
        buf[i++] = WIRE_TCPOPT_NOP;
      }
      buf[i++] = WIRE_TCPOPT_TS;
      buf[i++] = 10;
      wire_put32(buf + i, o->ts_val);
      wire_put32(buf + i + 4, o->ts_ecr);
      i += 8;
    } else if (o->sack_permitted) {
      buf[i++] = WIRE_TCPOPT_NOP;
      buf[i++] = WIRE_TCPOPT_NOP;
      buf[i++] = WIRE_TCPOPT_SACK_PERM;
      buf[i++] = 2;
    }
    if (o->has_ws) {
      buf[i++] = WIRE_TCPOPT_NOP;
      buf[i++] = WIRE_TCPOPT_WS;
      buf[i++] = 3;
      buf[i++] = o->ws;
    }
  } else {
    if (o->has_ts) {
      buf[i++] = WIRE_TCPOPT_NOP;
      buf[i++] = WIRE_TCPOPT_NOP;
      buf[i++] = WIRE_TCPOPT_TS;
      buf[i++] = 10;
      wire_put32(buf + i, o->ts_val);
      wire_put32(buf + i + 4, o->ts_ecr);
      i += 8;
    }
    size_t n = sack_blocks_to_emit(o);
    if (n) {
      buf[i++] = WIRE_TCPOPT_NOP;
      buf[i++] = WIRE_TCPOPT_NOP;
      buf[i++] = WIRE_TCPOPT_SACK;
      buf[i++] = (uint8_t)(2 + 8 * n);
      for (size_t b = 0; b < n; b++) {
        wire_put32(buf + i, o->sack[b].left);
        wire_put32(buf + i + 4, o->sack[b].right);
        i += 8;
      }
    }
  }
  while (i < need) buf[i++] = WIRE_TCPOPT_EOL;
  return (int)need;
}

size_t wire_tcp_header_len(const wire_tcp *h) {
  return WIRE_TCP_HLEN + wire_tcp_options_len(&h->opts);
}

int wire_tcp_emit_header(uint32_t src, uint32_t dst, const wire_tcp *h, uint8_t *buf,
                         size_t cap) {
  size_t hlen = wire_tcp_header_len(h);
  size_t total = hlen + h->payload_len;
  if (hlen > WIRE_TCP_MAX_HLEN || total > 65535u || cap < hlen) return MICROTCP_ENOSPC;
  wire_put16(buf + WIRE_TCP_F_SRC_PORT, h->src_port);
  wire_put16(buf + WIRE_TCP_F_DST_PORT, h->dst_port);
  wire_put32(buf + WIRE_TCP_F_SEQ, h->seq);
  wire_put32(buf + WIRE_TCP_F_ACK, h->ack);
  buf[WIRE_TCP_F_DATA_OFF] = (uint8_t)((hlen / 4) << 4);
  buf[WIRE_TCP_F_FLAGS] = h->flags;
  wire_put16(buf + WIRE_TCP_F_WINDOW, h->window);
  wire_put16(buf + WIRE_TCP_F_CHECKSUM, 0);
  wire_put16(buf + WIRE_TCP_F_URGENT, h->urgent);
  (void)wire_tcp_emit_options(&h->opts, buf + WIRE_TCP_F_OPTIONS, hlen - WIRE_TCP_HLEN);
  /* hlen is a multiple of 4, so the payload may be summed as a second chunk. */
  uint32_t s = wire_csum_pseudo(src, dst, WIRE_IP_PROTO_TCP, (uint16_t)total);
  s = wire_csum_partial(s, buf, hlen);
  if (h->payload_len) s = wire_csum_partial(s, h->payload, h->payload_len);
  wire_put16(buf + WIRE_TCP_F_CHECKSUM, wire_csum_fold(s));
  return (int)hlen;
}

int wire_tcp_emit(uint32_t src, uint32_t dst, const wire_tcp *h, uint8_t *buf, size_t cap) {
  size_t hlen = wire_tcp_header_len(h);
  size_t total = hlen + h->payload_len;
  if (hlen > WIRE_TCP_MAX_HLEN || total > 65535u || cap < total) return MICROTCP_ENOSPC;
  wire_tcp in_place = *h;
  if (h->payload_len) {
    if (h->payload != buf + hlen) memmove(buf + hlen, h->payload, h->payload_len);
    in_place.payload = buf + hlen;
  }
  (void)wire_tcp_emit_header(src, dst, &in_place, buf, cap);
  return (int)total;
}
