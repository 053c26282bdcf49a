/*
 * Parser of TCP scripts (the packetdrill subset documented in
 * tests/tcp/README.md). The whole file is parsed before anything runs, so a
 * syntax error anywhere is a usage error (exit 2), never a half-run script.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

struct parser {
  const char *path;
  int lineno;
  char err[256];
};

static int perr(struct parser *ps, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ps->err, sizeof ps->err, fmt, ap);
  va_end(ap);
  return -1;
}

static const char *skip_ws(const char *s) {
  while (*s && isspace((unsigned char)*s)) s++;
  return s;
}

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void rtrim(char *s) {
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
}

/* An unsigned decimal integer (or 0x hex); advances *s. */
static int parse_u64(struct parser *ps, const char **s, unsigned long long *out) {
  const char *p = skip_ws(*s);
  if (!isdigit((unsigned char)*p)) return perr(ps, "expected a number at '%.20s'", p);
  char *end;
  errno = 0;
  *out = strtoull(p, &end, 0);
  if (errno) return perr(ps, "number out of range at '%.20s'", p);
  *s = end;
  return 0;
}

static int parse_u32(struct parser *ps, const char **s, uint32_t *out) {
  unsigned long long v;
  if (parse_u64(ps, s, &v) < 0) return -1;
  if (v > 0xffffffffull) return perr(ps, "number %llu does not fit in 32 bits", v);
  *out = (uint32_t)v;
  return 0;
}

/* Seconds with an optional fraction ("0", ".1", "1.250") to microseconds,
 * exactly (no floating point: "0.1" is 100000 µs, not 99999). */
static int parse_seconds(struct parser *ps, const char **s, int64_t *us) {
  const char *p = *s;
  int64_t whole = 0, frac = 0;
  int digits = 0, fdigits = 0;
  while (isdigit((unsigned char)*p)) {
    whole = whole * 10 + (*p++ - '0');
    digits++;
    if (whole > 1000000000) return perr(ps, "time too large");
  }
  if (*p == '.' && !starts_with(p, "...")) {
    p++;
    while (isdigit((unsigned char)*p)) {
      if (fdigits < 6) frac = frac * 10 + (*p - '0');
      else if (*p != '0') return perr(ps, "time has more precision than 1 us");
      fdigits++;
      p++;
    }
  }
  if (digits + fdigits == 0) return perr(ps, "expected a time, e.g. '0.100', '+0.1' or '*'");
  for (int i = fdigits; i < 6; i++) frac *= 10;
  *us = whole * 1000000 + frac;
  *s = p;
  return 0;
}

/* "*", "T", "+T", "T~T", "+T~+T". */
static int parse_time(struct parser *ps, const char **s, struct line_time *t) {
  const char *p = *s;
  memset(t, 0, sizeof *t);
  if (*p == '*') {
    t->any = true;
    *s = p + 1;
    return 0;
  }
  if (*p == '+') {
    t->rel_lo = true;
    p++;
  }
  if (parse_seconds(ps, &p, &t->lo_us) < 0) return -1;
  t->hi_us = t->lo_us;
  t->rel_hi = t->rel_lo;
  if (*p == '~') {
    p++;
    t->range = true;
    t->rel_hi = false;
    if (*p == '+') {
      t->rel_hi = true;
      p++;
    }
    if (parse_seconds(ps, &p, &t->hi_us) < 0) return -1;
  }
  if (!t->range && starts_with(p, "...")) {
    p += 3;
    t->blocking = true;
    if (parse_seconds(ps, &p, &t->end_us) < 0) return -1;
    if (t->end_us < t->lo_us) return perr(ps, "a blocking call cannot end before it starts");
  }
  if (*p && !isspace((unsigned char)*p)) return perr(ps, "expected a space after the time");
  *s = p;
  return 0;
}

/* ---- packets ----------------------------------------------------------------------- */
static int parse_flags(struct parser *ps, const char **s, uint8_t *flags) {
  const char *p = skip_ws(*s);
  *flags = 0;
  const char *start = p;
  for (; *p && !isspace((unsigned char)*p); p++) {
    switch (*p) {
    case 'F': *flags |= TH_FIN; break;
    case 'S': *flags |= TH_SYN; break;
    case 'R': *flags |= TH_RST; break;
    case 'P': *flags |= TH_PSH; break;
    case '.': *flags |= TH_ACK; break;
    case 'U': *flags |= TH_URG; break;
    case 'E': *flags |= TH_ECE; break;
    case 'W': *flags |= TH_CWR; break;
    default: return perr(ps, "unknown TCP flag '%c' (use S F R P . U E W)", *p);
    }
  }
  if (p == start) return perr(ps, "expected TCP flags");
  *s = p;
  return 0;
}

/* One option inside <...>, text already split at commas. */
static int parse_option(struct parser *ps, const char *text, struct pkt_opt *o) {
  const char *p = skip_ws(text);
  memset(o, 0, sizeof *o);
  if (starts_with(p, "mss")) {
    o->kind = PO_MSS;
    p += 3;
    if (parse_u32(ps, &p, &o->a) < 0) return -1;
  } else if (starts_with(p, "wscale")) {
    o->kind = PO_WSCALE;
    p += 6;
    if (parse_u32(ps, &p, &o->a) < 0) return -1;
  } else if (starts_with(p, "sackOK")) {
    o->kind = PO_SACKOK;
    p += 6;
  } else if (starts_with(p, "sack")) {
    o->kind = PO_SACK;
    p += 4;
    for (;;) {
      p = skip_ws(p);
      if (!*p) break;
      if (o->nblocks == PKT_MAX_SACK) return perr(ps, "more than %d SACK blocks", PKT_MAX_SACK);
      if (parse_u32(ps, &p, &o->blocks[o->nblocks][0]) < 0) return -1;
      if (*p != ':') return perr(ps, "SACK block needs start:end");
      p++;
      if (parse_u32(ps, &p, &o->blocks[o->nblocks][1]) < 0) return -1;
      o->nblocks++;
    }
    if (!o->nblocks) return perr(ps, "sack option without blocks");
  } else if (starts_with(p, "TS")) {
    o->kind = PO_TS;
    p = skip_ws(p + 2);
    if (!starts_with(p, "val")) return perr(ps, "expected 'TS val X ecr Y'");
    p += 3;
    if (parse_u32(ps, &p, &o->a) < 0) return -1;
    p = skip_ws(p);
    if (!starts_with(p, "ecr")) return perr(ps, "expected 'TS val X ecr Y'");
    p += 3;
    if (parse_u32(ps, &p, &o->b) < 0) return -1;
  } else if (starts_with(p, "nop")) {
    o->kind = PO_NOP;
    p += 3;
  } else if (starts_with(p, "eol")) {
    o->kind = PO_EOL;
    p += 3;
  } else {
    return perr(ps, "unknown TCP option '%s'", p);
  }
  if (*skip_ws(p)) return perr(ps, "trailing text in option '%s'", text);
  return 0;
}

static int parse_options(struct parser *ps, const char *text, struct pkt *pk) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", text);
  pk->has_opts = true;
  pk->nopts = 0;
  if (!*skip_ws(buf)) return 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (pk->nopts == PKT_MAX_OPTS) return perr(ps, "too many options");
    if (parse_option(ps, tok, &pk->opts[pk->nopts]) < 0) return -1;
    pk->nopts++;
  }
  return 0;
}

static int parse_packet(struct parser *ps, const char *body, struct pkt *pk) {
  memset(pk, 0, sizeof *pk);
  pk->dir = body[0];
  const char *p = body + 1;
  p = skip_ws(p);
  if (isdigit((unsigned char)*p)) {
    /* packetdrill's "SRC>DST" port pair: inbound SRC, outbound DST is the
     * remote port (the local one is the runner's, 8080 or ephemeral). */
    uint32_t src = 0, dst = 0;
    if (parse_u32(ps, &p, &src) < 0) return -1;
    if (*p++ != '>') return perr(ps, "expected SRC>DST ports");
    if (parse_u32(ps, &p, &dst) < 0) return -1;
    if (!src || !dst || src > 65535 || dst > 65535) return perr(ps, "port out of range");
    pk->remote_port = (uint16_t)(pk->dir == '<' ? src : dst);
  }
  if (parse_flags(ps, &p, &pk->flags) < 0) return -1;
  uint32_t start = 0, end = 0, len = 0;
  p = skip_ws(p);
  if (parse_u32(ps, &p, &start) < 0) return -1;
  if (*p++ != ':') return perr(ps, "expected seq:end(len)");
  if (parse_u32(ps, &p, &end) < 0) return -1;
  if (*p++ != '(') return perr(ps, "expected seq:end(len)");
  if (parse_u32(ps, &p, &len) < 0) return -1;
  if (*p++ != ')') return perr(ps, "expected seq:end(len)");
  if (end - start != len)
    return perr(ps, "sequence range %u:%u does not match the length (%u)", start, end, len);
  pk->seq = start;
  pk->len = len;
  /* As packetdrill: no option list means no options; "<...>" means any. */
  pk->has_opts = true;
  for (;;) {
    p = skip_ws(p);
    if (!*p) break;
    if (starts_with(p, "ack ")) {
      p += 4;
      if (parse_u32(ps, &p, &pk->ack) < 0) return -1;
      pk->has_ack = true;
    } else if (starts_with(p, "win ")) {
      p += 4;
      if (parse_u32(ps, &p, &pk->win) < 0) return -1;
      if (pk->win > 65535) return perr(ps, "win %u does not fit the 16-bit field", pk->win);
      pk->has_win = true;
    } else if (*p == '<') {
      const char *close = strrchr(p, '>');
      if (!close) return perr(ps, "option list '<' without '>'");
      char opts[512];
      size_t n = (size_t)(close - p - 1);
      if (n >= sizeof opts) return perr(ps, "option list too long");
      memcpy(opts, p + 1, n);
      opts[n] = 0;
      if (!*skip_ws(opts)) return perr(ps, "empty option list '<>' (packetdrill: omit it for none)");
      if (!strcmp(skip_ws(opts), "...")) pk->has_opts = false;
      else if (parse_options(ps, opts, pk) < 0) return -1;
      p = close + 1;
    } else {
      return perr(ps, "unexpected text in packet: '%s'", p);
    }
  }
  return 0;
}

/* ---- system calls ------------------------------------------------------------------ */
static int parse_call(struct parser *ps, const char *body, struct call *c) {
  memset(c, 0, sizeof *c);
  const char *p = body;
  size_t n = 0;
  while (isalnum((unsigned char)*p) || *p == '_') {
    if (n + 1 >= sizeof c->name) return perr(ps, "call name too long");
    c->name[n++] = *p++;
  }
  if (!n || *p != '(') return perr(ps, "cannot parse '%s' (expected a packet, a call or %%{ }%%)", body);
  p++;
  /* Arguments: split at top-level commas; brackets/braces/quotes nest. */
  int depth = 0;
  bool quoted = false;
  char cur[CALL_ARG_LEN];
  size_t cl = 0;
  for (;; p++) {
    if (!*p) return perr(ps, "missing ')' in call");
    char ch = *p;
    if (ch == '"') quoted = !quoted;
    if (!quoted && (ch == '[' || ch == '{' || ch == '(')) depth++;
    if (!quoted && (ch == ']' || ch == '}' || ch == ')')) {
      if (depth == 0) break; /* the call's closing parenthesis */
      depth--;
    }
    if (!quoted && ch == ',' && depth == 0) {
      if (c->nargs == CALL_MAX_ARGS) return perr(ps, "too many arguments");
      cur[cl] = 0;
      snprintf(c->args[c->nargs++], CALL_ARG_LEN, "%s", skip_ws(cur));
      rtrim(c->args[c->nargs - 1]);
      cl = 0;
      continue;
    }
    if (cl + 1 >= sizeof cur) return perr(ps, "argument too long");
    cur[cl++] = ch;
  }
  cur[cl] = 0;
  if (*skip_ws(cur) || c->nargs) {
    if (c->nargs == CALL_MAX_ARGS) return perr(ps, "too many arguments");
    snprintf(c->args[c->nargs++], CALL_ARG_LEN, "%s", skip_ws(cur));
    rtrim(c->args[c->nargs - 1]);
  }
  p = skip_ws(p + 1);
  if (*p != '=') return perr(ps, "expected '= RESULT' after the call");
  p = skip_ws(p + 1);
  if (starts_with(p, "...")) {
    c->ret_any = true;
    p += 3;
  } else {
    bool neg = false;
    if (*p == '-') {
      neg = true;
      p++;
    }
    unsigned long long v;
    if (parse_u64(ps, &p, &v) < 0) return -1;
    c->ret = neg ? -(long long)v : (long long)v;
    p = skip_ws(p);
    n = 0;
    while (isalnum((unsigned char)*p) || *p == '_') {
      if (n + 1 >= sizeof c->err) return perr(ps, "errno name too long");
      c->err[n++] = *p++;
    }
    c->err[n] = 0;
    p = skip_ws(p);
    if (*p == '(') { /* "(Connection reset by peer)" or "(flags O_RDWR)": a comment */
      const char *close = strchr(p, ')');
      if (!close) return perr(ps, "missing ')' after the result");
      p = close + 1;
    }
  }
  if (*skip_ws(p)) return perr(ps, "trailing text after the result: '%s'", skip_ws(p));
  if (c->err[0] && c->ret != -1) return perr(ps, "an errno name needs the result -1");
  return 0;
}

/* ---- assertions -------------------------------------------------------------------- */
static int parse_assert_block(struct parser *ps, const char *inner, struct line *l) {
  char buf[2048];
  snprintf(buf, sizeof buf, "%s", inner);
  char *save = NULL;
  for (char *st = strtok_r(buf, ";\n", &save); st; st = strtok_r(NULL, ";\n", &save)) {
    const char *p = skip_ws(st);
    if (!*p) continue;
    if (!starts_with(p, "assert ")) return perr(ps, "only 'assert FIELD OP VALUE' is supported in %%{ }%%, got '%s'", p);
    if (l->nasserts == ASSERT_MAX) return perr(ps, "too many assertions in one block");
    struct assertion *a = &l->asserts[l->nasserts++];
    char tail[256];
    snprintf(tail, sizeof tail, "%s", p + 7);
    char *comma = strchr(tail, ','); /* packetdrill's "assert x == 1, x" message part */
    if (comma) *comma = 0;
    char f[sizeof a->field], op[sizeof a->op], v[sizeof a->value];
    if (sscanf(tail, " %47[A-Za-z0-9_.] %2[=!<>] %31[A-Za-z0-9_-]", f, op, v) != 3)
      return perr(ps, "cannot parse assertion '%s'", p);
    if (strcmp(op, "==") && strcmp(op, "!=") && strcmp(op, "<") && strcmp(op, "<=") &&
        strcmp(op, ">") && strcmp(op, ">="))
      return perr(ps, "unknown comparison '%s'", op);
    memcpy(a->field, f, sizeof f);
    memcpy(a->op, op, sizeof op);
    memcpy(a->value, v, sizeof v);
  }
  if (!l->nasserts) return perr(ps, "empty %%{ }%% block");
  return 0;
}

/* ---- lines ------------------------------------------------------------------------- */
static int header_comment(struct parser *ps, const char *c, struct script *s, struct line *l,
                          bool *is_line) {
  const char *p;
  *is_line = false;
  if (starts_with(c, "//@")) { /* runner directive at its position */
    p = skip_ws(c + 3);
    if (!starts_with(p, "remote_port=")) return perr(ps, "unknown runner directive '%s'", p);
    p += 12;
    uint32_t port = 0;
    if (parse_u32(ps, &p, &port) < 0) return -1;
    if (port == 0 || port > 65535) return perr(ps, "port %u out of range", port);
    l->kind = L_REMOTE_PORT;
    l->remote_port = (uint16_t)port;
    *is_line = true;
    return 0;
  }
  p = skip_ws(c + 2);
  if (starts_with(p, "config:")) {
    size_t used = strlen(s->config);
    snprintf(s->config + used, sizeof s->config - used, " %s", skip_ws(p + 7));
  } else if (starts_with(p, "tolerance_usecs=") || starts_with(p, "--tolerance_usecs=")) {
    p = strchr(p, '=') + 1;
    unsigned long long v;
    if (parse_u64(ps, &p, &v) < 0) return -1;
    s->tolerance_us = (long)v;
  }
  return 0;
}

static int parse_body(struct parser *ps, char *body, struct line *l, FILE *f, int *physline) {
  if (body[0] == '`') {
    /* A timed shell command: packetdrill runs it; this runner does not, but
     * keeps its time (an event that only lets time pass, e.g. `true`). */
    if (!strchr(body + 1, '`')) return perr(ps, "` without closing `");
    l->kind = L_ASSERT;
    l->nasserts = 0;
    return 0;
  }
  if ((body[0] == '<' || body[0] == '>') && isspace((unsigned char)body[1])) {
    l->kind = L_PACKET;
    return parse_packet(ps, body, &l->pkt);
  }
  if (starts_with(body, "%{")) {
    l->kind = L_ASSERT;
    char block[2048];
    snprintf(block, sizeof block, "%s", body + 2);
    char *end;
    char more[512];
    while (!(end = strstr(block, "}%"))) { /* the block continues on the next lines */
      if (!fgets(more, sizeof more, f)) return perr(ps, "%%{ without }%%");
      (*physline)++;
      size_t used = strlen(block);
      snprintf(block + used, sizeof block - used, "\n%s", more);
    }
    if (*skip_ws(end + 2)) return perr(ps, "text after }%%");
    *end = 0;
    return parse_assert_block(ps, block, l);
  }
  l->kind = L_CALL;
  return parse_call(ps, body, &l->call);
}

int script_parse(const char *path, struct script *s) {
  struct parser ps = {.path = path};
  memset(s, 0, sizeof *s);
  s->path = path;
  s->tolerance_us = -1;
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  int cap = 64, physline = 0;
  s->lines = calloc((size_t)cap, sizeof *s->lines);
  char raw[1024];
  int rc = 0;
  while (rc == 0 && fgets(raw, sizeof raw, f)) {
    physline++;
    ps.lineno = physline;
    if (!strchr(raw, '\n') && !feof(f)) {
      rc = perr(&ps, "line longer than %zu characters", sizeof raw - 2);
      break;
    }
    rtrim(raw);
    char *t = (char *)skip_ws(raw);
    if (!*t || *t == '`') continue;
    if (s->nlines == cap) {
      cap *= 2;
      s->lines = realloc(s->lines, (size_t)cap * sizeof *s->lines);
    }
    struct line *l = &s->lines[s->nlines];
    memset(l, 0, sizeof *l);
    l->lineno = physline;
    snprintf(l->text, sizeof l->text, "%.*s", (int)(sizeof l->text - 1), t);
    if (starts_with(t, "//%")) {
      /* Runner-only assertions, a comment to packetdrill: "//% assert X; ..."
       * runs at +0, the time of the line before (a time here would move
       * this runner's clock and not packetdrill's). */
      const char *body = skip_ws(t + 3);
      l->t.rel_lo = l->t.rel_hi = true;
      char block[1024];
      snprintf(block, sizeof block, "%s", starts_with(body, "%{") ? body + 2 : body);
      char *end = strstr(block, "}%");
      if (end) *end = 0;
      rc = parse_assert_block(&ps, block, l);
      if (rc == 0) {
        l->kind = L_ASSERT;
        s->nlines++;
      }
      continue;
    }
    if (starts_with(t, "//")) {
      bool is_line;
      rc = header_comment(&ps, t, s, l, &is_line);
      if (rc == 0 && is_line) s->nlines++;
      continue;
    }
    char *cm = strstr(t, "//"); /* trailing comment */
    if (cm) {
      *cm = 0;
      rtrim(t);
    }
    const char *p = t;
    rc = parse_time(&ps, &p, &l->t);
    if (rc < 0) break;
    char body[1024];
    snprintf(body, sizeof body, "%s", skip_ws(p));
    rc = parse_body(&ps, body, l, f, &physline);
    if (rc == 0) s->nlines++;
  }
  fclose(f);
  if (rc < 0) {
    fprintf(stderr, "%s:%d: %s\n", path, ps.lineno, ps.err);
    script_free(s);
    return -1;
  }
  return 0;
}

void script_free(struct script *s) {
  free(s->lines);
  s->lines = NULL;
  s->nlines = 0;
}
