/*
 * `microtcp-replay import [--out DIR] [--as A.B.C.D] [--name NAME] CAPTURE`:
 * from a Wireshark capture to a regression test in one command. Copies
 * CAPTURE to DIR/NAME.pcap (or .pcapng; DIR default pcap-corpus/imported,
 * NAME default the capture's file name), writes DIR/NAME.ini from what the
 * capture shows (the host the stack plays, payload replay, the connections
 * established and the bytes the host received; accept_macs / fix_checksums
 * when frames to the host need them), then replays it with that sidecar and
 * exits with the replay's status. tests/replay picks up every capture of
 * pcap-corpus/{generated,live,real,imported} with its sidecar.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture.h"
#include "flows.h"
#include "host.h"
#include "pkt.h"
#include "replay.h"
#include "rewrite.h"

static int copy_file(const char *from, const char *to, char *err, size_t errlen) {
  FILE *in = fopen(from, "rb");
  if (!in) {
    snprintf(err, errlen, "%s: %s", from, strerror(errno));
    return -1;
  }
  FILE *out = fopen(to, "wb");
  if (!out) {
    snprintf(err, errlen, "%s: %s", to, strerror(errno));
    fclose(in);
    return -1;
  }
  char buf[65536];
  size_t n;
  int rc = 0;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) rc = -1;
  if (ferror(in)) rc = -1;
  if (fclose(out) != 0) rc = -1;
  fclose(in);
  if (rc < 0) snprintf(err, errlen, "copying %s to %s failed", from, to);
  return rc;
}

static int usage(const char *msg, const char *arg) {
  fprintf(stderr, "microtcp-replay import: %s%s%s (usage: microtcp-replay import [--out DIR] "
          "[--as A.B.C.D] [--name NAME] [--description TEXT] CAPTURE)\n",
          msg, arg ? ": " : "", arg ? arg : "");
  return REPLAY_USAGE;
}

int import_run(int argc, char **argv) {
  const char *out_dir = "pcap-corpus/imported", *name = NULL, *capture = NULL, *desc = NULL;
  struct sidecar sc;
  sidecar_defaults(&sc);
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if ((!strcmp(a, "--out") || !strcmp(a, "--as") || !strcmp(a, "--name") ||
         !strcmp(a, "--description")) &&
        i + 1 < argc) {
      const char *v = argv[++i];
      if (!strcmp(a, "--description"))
        desc = v;
      else if (!strcmp(a, "--out"))
        out_dir = v;
      else if (!strcmp(a, "--name"))
        name = v;
      else if (sidecar_parse_endpoint(v, &sc.as_ip, &sc.as_port) < 0)
        return usage("--as expects A.B.C.D[:PORT]", v);
      else
        sc.has_as = true;
    } else if (a[0] == '-') {
      return usage("unknown option or missing value", a);
    } else if (capture) {
      return usage("more than one capture given", a);
    } else {
      capture = a;
    }
  }
  if (!capture) return usage("no capture given", NULL);
  struct stat st;
  if (stat(out_dir, &st) < 0) mkdir(out_dir, 0777); /* the default pcap-corpus/imported/ */
  if (stat(out_dir, &st) < 0 || !S_ISDIR(st.st_mode)) return usage("no such directory", out_dir);

  char err[8400];
  struct capture_mem cap;
  if (capture_load(&cap, capture, err, sizeof err) < 0) {
    fprintf(stderr, "microtcp-replay: %s\n", err);
    return REPLAY_USAGE;
  }
  struct host *h = calloc(1, sizeof *h);
  if (!h) abort();
  bool detected;
  struct sidecar as_sc = sc;
  if (sc.has_as && sc.as_port) {
    rewrite_split_capture(&cap, sc.as_ip, sc.as_port);
    as_sc.as_ip = REWRITE_SPLIT_HOST;
  }
  if (cap.n == 0 || host_from_capture(h, &cap, &as_sc, &detected) < 0) {
    fprintf(stderr, "microtcp-replay: %s: no frame to pick a host from\n", capture);
    capture_free(&cap);
    free(h);
    return REPLAY_USAGE;
  }
  /* What the frames to H need. */
  size_t other_mac = 0, bad_csum = 0, oversize = 0;
  for (size_t i = 0; i < cap.n; i++) {
    struct pkt p;
    const uint8_t *f = capture_frame(&cap, i);
    pkt_decode(f, cap.frames[i].len, &p);
    if (host_dir(h, &p) != DIR_TO_HOST || p.layer < PKT_IP) continue;
    if (cap.frames[i].len > 1514 && p.layer == PKT_TCP) oversize++;
    if (!(f[0] & 1) && memcmp(f, h->mac, 6)) other_mac++;
    if (cap.frames[i].wire_len == cap.frames[i].len && !pkt_checksums_ok(&p)) bad_csum++;
  }
  struct flows fs;
  memset(&fs, 0, sizeof fs);
  flows_build(&fs, &cap, h);
  uint64_t est = 0, rx = 0, tx = 0;
  for (size_t i = 0; i < fs.n; i++) {
    const struct flow *f = &fs.v[i];
    if (!f->estab) continue;
    est++;
    rx += f->p.fin ? f->p.fin_off : f->p.len;
    tx += f->h.fin ? f->h.fin_off : f->h.len;
  }
  uint32_t ip = h->ip;

  /* Where it goes. */
  const char *base = strrchr(capture, '/') ? strrchr(capture, '/') + 1 : capture;
  const char *ext = strrchr(base, '.');
  char stem[256];
  if (name)
    snprintf(stem, sizeof stem, "%s", name);
  else
    snprintf(stem, sizeof stem, "%.*s", ext ? (int)(ext - base) : (int)strlen(base), base);
  bool ng = ext && !strcmp(ext, ".pcapng");
  char dest[2048], side[2048];
  if (strlen(out_dir) + strlen(stem) + 10 > sizeof dest) {
    capture_free(&cap);
    free(h);
    flows_free(&fs);
    return usage("path too long", out_dir);
  }
  snprintf(dest, sizeof dest, "%s/%s.%s", out_dir, stem, ng ? "pcapng" : "pcap");
  snprintf(side, sizeof side, "%s/%s.ini", out_dir, stem);
  /* Importing a file already in place (a recording script writes there) keeps it. */
  char *real_from = realpath(capture, NULL), *real_to = realpath(dest, NULL);
  bool same = real_from && real_to && !strcmp(real_from, real_to);
  free(real_from);
  free(real_to);
  int rc = same ? 0 : copy_file(capture, dest, err, sizeof err);
  FILE *s = rc == 0 ? fopen(side, "w") : NULL;
  if (!s) {
    if (rc == 0) snprintf(err, sizeof err, "%s: %s", side, strerror(errno));
    fprintf(stderr, "microtcp-replay: %s\n", err);
    flows_free(&fs);
    capture_free(&cap);
    free(h);
    return REPLAY_USAGE;
  }
  if (desc) fprintf(s, "# %s\n", desc);
  fprintf(s, "# imported from %s by microtcp-replay import: %zu frames (%s)\n", base, cap.n,
          capture_linktype_name(cap.linktype));
  fprintf(s, "# the stack plays %u.%u.%u.%u with the payload-replay app: %llu connections "
          "established,\n# %llu bytes received and %llu sent by that host in the capture\n",
          ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255, (unsigned long long)est,
          (unsigned long long)rx, (unsigned long long)tx);
  if (sc.as_port)
    fprintf(s, "\n[replay]\nmode = outcome\nas = %u.%u.%u.%u:%u\napp = replay\n",
            sc.as_ip >> 24, sc.as_ip >> 16 & 255, sc.as_ip >> 8 & 255, sc.as_ip & 255, sc.as_port);
  else
    fprintf(s, "\n[replay]\nmode = outcome\nas = %u.%u.%u.%u\napp = replay\n", ip >> 24,
            ip >> 16 & 255, ip >> 8 & 255, ip & 255);
  if (other_mac) fprintf(s, "# %zu frames to the host are addressed to another MAC\naccept_macs = yes\n", other_mac);
  if (oversize)
    fprintf(s, "# %zu TCP frames to the host are super-frames (TSO/GSO/GRO)\nsegment_gso = yes\n",
            oversize);
  if (bad_csum) fprintf(s, "# %zu frames to the host have bad (offloaded) checksums\nfix_checksums = yes\n", bad_csum);
  fprintf(s, "\n[expect]\nestablished = %llu\nbytes_to_app = %llu\n", (unsigned long long)est,
          (unsigned long long)rx);
  fclose(s);
  flows_free(&fs);
  capture_free(&cap);
  free(h);
  printf("imported %s as %s with sidecar %s; replaying it:\n", capture, dest, side);

  struct replay_opts o;
  memset(&o, 0, sizeof o);
  o.capture = dest;
  sidecar_defaults(&o.sc);
  if (sidecar_load(&o.sc, side, err, sizeof err) < 0) {
    fprintf(stderr, "microtcp-replay: sidecar %s\n", err);
    return REPLAY_USAGE;
  }
  o.mode = o.sc.mode;
  o.accept_macs = o.sc.accept_macs;
  o.fix_checksums = o.sc.fix_checksums;
  o.segment_gso = o.sc.segment_gso;
  return replay_run(&o);
}
