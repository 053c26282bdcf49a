/*
 * microtcp-replay: replay a pcap/pcapng capture through a microtcp stack.
 * See --help and README.md. Exit status: 0 pass, 1 divergence / outcome
 * mismatch / leak, 2 usage or unreadable input (one line on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay.h"
#include "report.h"
#include "sidecar.h"

static const char USAGE[] =
    "usage: microtcp-replay [MODE] [options] CAPTURE\n"
    "       microtcp-replay import [--out DIR] [--as A.B.C.D] [--name NAME]\n"
    "                              [--description TEXT] CAPTURE\n"
    "\n"
    "import copies CAPTURE into DIR (default pcap-corpus/imported), writes its\n"
    "sidecar from what the capture shows (the host, payload replay, connections\n"
    "established, bytes that host received; accept_macs/fix_checksums if needed)\n"
    "and replays it: from a Wireshark capture to a regression test.\n"
    "\n"
    "Plays one host of CAPTURE (pcap or pcapng; Ethernet, raw IPv4, Linux SLL/SLL2)\n"
    "with a microtcp stack: frames addressed to that host are injected on the\n"
    "capture's clock, timers fire at their own times in between.\n"
    "\n"
    "Modes (default: the sidecar's `mode`, else --check):\n"
    "  --check      compare every frame the stack sends with what the host sent in\n"
    "               the capture, normalised (TCP seq/ack/SACK relative to each\n"
    "               side's ISN, TS values relative, IP ID and checksums ignored,\n"
    "               sidecar `ignore` fields skipped); on the first divergence print\n"
    "               expected vs actual one-line summaries and the differing fields,\n"
    "               exit 1. Also checks the sidecar's [expect] outcome, if any.\n"
    "  --outcome    do not compare frames; run the built-in app and check the\n"
    "               sidecar's [expect] (connections established, bytes delivered\n"
    "               to the app, how connections closed, counters).\n"
    "  --feed       robustness: hand EVERY frame to the stack (playing one host),\n"
    "               then close everything and run all timers out; fail if a pool\n"
    "               is not empty (leak). Prints frames/s and every non-zero\n"
    "               counter (drops by reason).\n"
    "  --write FILE (write mode, combines with any of the above): write the run\n"
    "               as pcap for Wireshark: the frames handed to the stack (as\n"
    "               injected, i.e. rewritten) interleaved with the stack's frames,\n"
    "               in time order.\n"
    "\n"
    "Clock: by default timers fire at their own deadlines between frames. With\n"
    "`clock = tap` in the sidecar (captures recorded by microtcp-tap --pcap) the\n"
    "stack runs on the capture's own clock and timers fire at the capture\n"
    "timestamps, as microtcp-tap's loop did, so the recording replays exactly.\n"
    "\n"
    "In check and outcome modes the peer's frames are moved into the stack's\n"
    "numbering before injection (TCP ack and SACK edges by stack ISN - recorded\n"
    "ISN, TS ecr by the TS offset, quoted seq in ICMP errors): see\n"
    "pcap-corpus/README.md, which also documents the sidecar format.\n"
    "\n"
    "Options:\n"
    "  --as A.B.C.D     the host to play (default: the sidecar's `as`, else the\n"
    "                   receiver of the first SYN, else the first IPv4 destination)\n"
    "  --as A.B.C.D:PORT  the endpoint with that address and port, for captures\n"
    "                   where both ends share an address (loopback): its frames are\n"
    "                   re-addressed first, the host to 10.127.0.2 and peers with\n"
    "                   its address to 10.127.0.1 (MACs derived from them)\n"
    "  --sidecar FILE   expectations (default: CAPTURE with its extension replaced\n"
    "                   by .ini, if that file exists); --no-sidecar ignores it\n"
    "  --app NAME       built-in app: replay | echo | sink | http | udp-echo | source\n"
    "                   | none (default: the sidecar's, else replay). replay: on each\n"
    "                   connection send what the recorded host sent (its stream\n"
    "                   reassembled from the capture), in the recorded order relative\n"
    "                   to what it had received, close as it closed, listen on every\n"
    "                   port it accepted on and open the connections it opened; the\n"
    "                   bytes delivered are compared byte for byte with the peer's\n"
    "                   reassembled stream, and outcome mode without [expect] checks\n"
    "                   that every connection the capture shows established comes up\n"
    "  --port N         the app's port (default: the first SYN's destination port)\n"
    "  --ignore LIST    comma-separated fields not compared (e.g. tcp.win,ip.ttl)\n"
    "  --write FILE     see write mode above\n"
    "  --report DIR     write DIR/index.html, the run drawn as microtcp-sim --report\n"
    "                   draws a simulated one (time-sequence graph per connection,\n"
    "                   bytes in flight, RTT samples), from the --write pcap (default\n"
    "                   DIR/replay.pcap)\n"
    "  --promisc        feed: re-address every frame to the host first\n"
    "  --accept-macs    a unicast frame to the host addressed to another MAC (an\n"
    "                   HSRP/VRRP gateway MAC, anonymised MACs) gets the stack's MAC\n"
    "  --fix-checksums  recompute the IPv4 and TCP/UDP/ICMP checksums of the frames\n"
    "                   injected (offloaded checksums recorded on the sending host)\n"
    "  --segment-gso    inject a TCP frame longer than the MTU (TSO/GSO/GRO/BIG TCP\n"
    "                   super-frame) as the MSS-sized segments a NIC would have sent\n"
    "                   (checksums computed) instead of counting it as oversize\n"
    "  --verbose        print every frame (host, inject, stack)\n"
    "  --quiet          print only failures and the verdict\n"
    "  --perturb        TEST ONLY: flip the lowest bit of the window of every TCP\n"
    "                   frame the stack sends, to prove that check mode notices\n"
    "  --help           this text\n"
    "  --version        the version\n"
    "\n"
    "Frames longer than the stack's MTU + 14 (BIG TCP/GSO super-frames, jumbo\n"
    "frames) are counted as oversize and not injected (--segment-gso: TCP ones\n"
    "are cut into segments). Every VLAN tag (802.1Q,\n"
    "QinQ) is removed. Frames cut by the capture's snapshot length are counted\n"
    "and shown as truncated.\n"
    "\n"
    "Exit status (exit codes: 0 ok, 1 failure found, 2 usage or input error): 0 pass; 1 divergence / outcome mismatch / leak, or NOTHING\n"
    "CHECKED (no frame injected; check mode with 0 frames compared and no\n"
    "[expect]; outcome mode without expectations); 2 usage error, or a capture\n"
    "or sidecar that cannot be read to the end (in every mode: a file libpcap\n"
    "refuses or stops reading, e.g. truncated, or a pcapng interface whose link\n"
    "type differs from the first; a capture without frames).\n";

/* --report: the run (the frames injected and the stack's, as --write wrote
 * them) drawn by the report writer shared with microtcp-sim (sim/report.h). */
static int write_report(const struct replay_opts *o, int rc, const char *dir) {
  struct report *r = report_new();
  char err[700], title[600];
  snprintf(title, sizeof title, "microtcp-replay %s", o->capture);
  report_set_title(r, title);
  report_add_info(r, "capture", o->capture);
  report_add_info(r, "mode", o->mode == MODE_FEED ? "feed" : o->mode == MODE_OUTCOME ? "outcome" : "check");
  report_add_info(r, "result", rc == REPLAY_PASS ? "0: pass" : "1: fail (see the tool's output)");
  report_add_info(r, "frames drawn", o->write_path);
  report_add_info(r, "source", "the replay as --write recorded it: frames injected into the stack and "
                               "the stack's own; no simulated faults; bytes in flight and RTT samples "
                               "come from the frames");
  int ok = report_load_pcap(r, o->write_path, err, sizeof err);
  if (ok == 0) ok = report_write(r, dir);
  else fprintf(stderr, "microtcp-replay: report: %s\n", err);
  if (ok == 0) fprintf(stderr, "microtcp-replay: report: %s/index.html\n", dir);
  else fprintf(stderr, "microtcp-replay: cannot write the report in %s\n", dir);
  report_free(r);
  return ok;
}

static int usage(const char *msg, const char *arg) {
  fprintf(stderr, "microtcp-replay: %s%s%s (see --help)\n", msg, arg ? ": " : "", arg ? arg : "");
  return REPLAY_USAGE;
}

int main(int argc, char **argv) {
  struct replay_opts o;
  memset(&o, 0, sizeof o);
  const char *sidecar = NULL, *as = NULL, *app = NULL, *ignore = NULL, *port = NULL;
  const char *report_dir = NULL;
  bool no_sidecar = false;
  int mode = -1;
  if (argc > 1 && !strcmp(argv[1], "import")) return import_run(argc, argv);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(USAGE, stdout);
      return 0;
    }
    if (!strcmp(a, "--version")) {
      printf("microtcp-replay %s\n", MICROTCP_VERSION_STRING);
      return 0;
    }
    if (!strcmp(a, "--check"))
      mode = mode < 0 || mode == MODE_CHECK ? MODE_CHECK : 99;
    else if (!strcmp(a, "--outcome"))
      mode = mode < 0 || mode == MODE_OUTCOME ? MODE_OUTCOME : 99;
    else if (!strcmp(a, "--feed"))
      mode = mode < 0 || mode == MODE_FEED ? MODE_FEED : 99;
    else if (!strcmp(a, "--verbose"))
      o.verbose = true;
    else if (!strcmp(a, "--quiet"))
      o.quiet = true;
    else if (!strcmp(a, "--perturb"))
      o.perturb = true;
    else if (!strcmp(a, "--promisc"))
      o.promisc = true;
    else if (!strcmp(a, "--accept-macs"))
      o.accept_macs = true;
    else if (!strcmp(a, "--fix-checksums"))
      o.fix_checksums = true;
    else if (!strcmp(a, "--segment-gso"))
      o.segment_gso = true;
    else if (!strcmp(a, "--no-sidecar"))
      no_sidecar = true;
    else if (!strcmp(a, "--as") || !strcmp(a, "--sidecar") || !strcmp(a, "--write") ||
             !strcmp(a, "--app") || !strcmp(a, "--ignore") || !strcmp(a, "--port") ||
             !strcmp(a, "--report")) {
      if (i + 1 >= argc) return usage("option needs a value", a);
      const char *v = argv[++i];
      if (!strcmp(a, "--as"))
        as = v;
      else if (!strcmp(a, "--sidecar"))
        sidecar = v;
      else if (!strcmp(a, "--write"))
        o.write_path = v;
      else if (!strcmp(a, "--report"))
        report_dir = v;
      else if (!strcmp(a, "--app"))
        app = v;
      else if (!strcmp(a, "--ignore"))
        ignore = v;
      else
        port = v;
    } else if (a[0] == '-' && a[1]) {
      return usage("unknown option", a);
    } else if (o.capture) {
      return usage("more than one capture given", a);
    } else {
      o.capture = a;
    }
  }
  if (mode == 99) return usage("choose one of --check, --outcome, --feed", NULL);
  if (!o.capture) return usage("no capture given", NULL);
  if (sidecar && no_sidecar) return usage("--sidecar and --no-sidecar exclude each other", NULL);
  if (o.promisc && mode != MODE_FEED) return usage("--promisc is for --feed", NULL);

  sidecar_defaults(&o.sc);
  char auto_path[4096];
  if (!sidecar && !no_sidecar) {
    snprintf(auto_path, sizeof auto_path, "%s", o.capture);
    char *dot = strrchr(auto_path, '.'), *slash = strrchr(auto_path, '/');
    if (dot && (!slash || dot > slash)) *dot = 0;
    if (strlen(auto_path) + 5 < sizeof auto_path) strcat(auto_path, ".ini");
    if (access(auto_path, R_OK) == 0) sidecar = auto_path;
  }
  if (sidecar) {
    char err[600];
    if (sidecar_load(&o.sc, sidecar, err, sizeof err) < 0) {
      fprintf(stderr, "microtcp-replay: sidecar %s\n", err);
      return REPLAY_USAGE;
    }
  }
  if (as) {
    if (sidecar_parse_endpoint(as, &o.sc.as_ip, &o.sc.as_port) < 0)
      return usage("--as expects A.B.C.D or A.B.C.D:PORT", as);
    o.sc.has_as = true;
  }
  /* Without a sidecar the app is the payload replay: the recorded host's own bytes. */
  if (!o.sc.present && !app) snprintf(o.sc.app, sizeof o.sc.app, "replay");
  if (app) {
    if (strcmp(app, "echo") && strcmp(app, "sink") && strcmp(app, "http") &&
        strcmp(app, "udp-echo") && strcmp(app, "source") && strcmp(app, "none") && strcmp(app, "replay"))
      return usage("--app expects replay, echo, sink, http, udp-echo, source or none", app);
    snprintf(o.sc.app, sizeof o.sc.app, "%s", app);
  }
  if (port) {
    char *end;
    unsigned long n = strtoul(port, &end, 10);
    if (end == port || *end || n == 0 || n > 65535) return usage("--port expects 1..65535", port);
    o.sc.port = (uint16_t)n;
  }
  if (ignore) {
    size_t l = strlen(o.sc.ignore);
    snprintf(o.sc.ignore + l, sizeof o.sc.ignore - l, "%s%s", l ? "," : "", ignore);
  }
  o.accept_macs = o.accept_macs || o.sc.accept_macs;
  o.fix_checksums = o.fix_checksums || o.sc.fix_checksums;
  o.segment_gso = o.segment_gso || o.sc.segment_gso;
  o.mode = mode >= 0 ? (enum replay_mode)mode : o.sc.mode;
  char report_pcap[4200];
  if (report_dir) {
    if (report_mkdirs(report_dir) < 0) {
      fprintf(stderr, "microtcp-replay: cannot create %s: %s\n", report_dir, strerror(errno));
      return REPLAY_USAGE;
    }
    if (!o.write_path) {
      snprintf(report_pcap, sizeof report_pcap, "%s/replay.pcap", report_dir);
      o.write_path = report_pcap;
    }
  }
  int rc = o.mode == MODE_FEED ? feed_run(&o) : replay_run(&o);
  if (report_dir && rc != REPLAY_USAGE && write_report(&o, rc, report_dir) < 0) return REPLAY_USAGE;
  return rc;
}
