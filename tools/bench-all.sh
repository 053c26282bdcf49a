#!/usr/bin/env bash
# Every figure of issue 16's "Aims" from one run, each as ours / a reference
# measured in the same run on the same machine (the machine is shared and
# noisy, so only same-run ratios mean anything). Figures, not a test: it
# fails only when a part breaks (a harness error, a byte that does not
# match), never on a figure missing its aim.
#
#   1. b2b   back to back, one connection, equal windows: CPU time per byte of
#            microtcp (tools/bench/microtcp_b2b.c) vs lwIP (Debian's
#            liblwip, tools/bench/lwip_b2b.c), runs interleaved, medians;
#            every byte checked at the receiver.
#   2. sim   simulator bulk goodput per wall second vs Linux veth with
#            offloads off (tools/bench-sim.sh, which also gives 3's
#            scale-1000 figure).
#   3. mem   scale-1000.ini peak RSS (from bench-sim), 10,000 hosts x 10
#            connections (tools/bench/gen-scale.py --no-announce
#            --stagger-ms 10; arenas are committed as used, so the run gets
#            an 8 GiB max_memory and a 12 GiB address-space cap and the
#            figure is its peak RSS), microtcp-tap start time and RSS at
#            start (tools/bench/tap-start.py).
#   4. tap   TAP plain and default paths vs veth (offloads off), each way
#            (tools/bench-tap.sh).
#   5. timers one stack holding 100, 1,000 and 10,000 idle connections
#            (keepalive armed) and 4 active ones: ns per call of
#            microtcp_deadline, microtcp_advance and a data segment's
#            microtcp_input (tools/bench/idle_timers.c); the ratio is the
#            10,000 figure over the 100 one (flat: about 1).
#
# Knobs: BUILD (default build/default), BENCH_QUICK=1 (smaller sizes, no
# 10,000-host run: under 2 minutes), BENCH_PARTS (comma list of b2b, sim,
# mem, tap, timers; default all), B2B_BYTES (default 1G, quick 64M), B2B_RUNS
# (default 5), TIMERS_N (idle connections per timers run, default
# "100 1000 10000"; quick "100 1000"), SIM_RUNS (simulator bulk runs, the
# median counts; default 3), SCALE_SERVERS (servers of the big scenario, 100 clients
# each; default 100 for 10,000 hosts, fewer to try the part quickly). Parts
# 2-4 need root (namespaces, veth, TAP); without it they are listed as
# skipped.
# exit codes: 0 ok, 1 failure found (a part failed or a byte did not match),
#             2 usage error (not built, unknown option)
set -euo pipefail
case "${1:-}" in
  "") ;;
  --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: tools/bench-all.sh [--help]   (knobs are environment variables, see --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
build=${BUILD:-build/default}
quick=${BENCH_QUICK:-0}
parts=",${BENCH_PARTS:-b2b,sim,mem,tap,timers},"
py=/usr/bin/python3
if [ "$quick" = 1 ]; then
  b2b_bytes=${B2B_BYTES:-64M} sim_bytes=256MiB iperf_s=2 tap_mb=64 timers_n=${TIMERS_N:-100 1000}
else
  b2b_bytes=${B2B_BYTES:-1G} sim_bytes=1GiB iperf_s=5 tap_mb=300 timers_n=${TIMERS_N:-100 1000 10000}
fi
b2b_runs=${B2B_RUNS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
res=$tmp/results # key=value lines from every part, read by the report at the end
: >"$res"
status=0
want() { [[ $parts == *",$1,"* ]]; }
note() { echo "bench-all: $*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$res"

# ---- 1. back to back: microtcp vs lwIP ----
if want b2b; then
  mt=$build/tools/bench/microtcp-b2b lw=$build/tools/bench/lwip-b2b
  [ -x "$mt" ] || { note "$mt not built (cmake --build --preset default)"; exit 2; }
  [ -x "$lw" ] || note "$lw not built (apt-get install liblwip-dev, then reconfigure): no reference"
  note "back to back: $b2b_runs x $b2b_bytes per stack, interleaved"
  for i in $(seq 1 "$b2b_runs"); do
    for h in "$mt" "$lw"; do
      [ -x "$h" ] || continue
      if out=$("$h" "$b2b_bytes" 2>"$tmp/b2b.err"); then
        echo "b2b_run=$out" >>"$res"
      else
        note "$(basename "$h") run $i failed: $(tail -n 3 "$tmp/b2b.err") $out"
        echo "b2b_run=${out:-b2b stack=$(basename "$h" -b2b) integrity=FAIL}" >>"$res"
        status=1
      fi
    done
  done
fi

# ---- 2. simulator vs veth (and scale-1000's events/s and peak RSS) ----
if want sim || want mem; then
  note "simulator: bulk $sim_bytes, veth iperf3 $iperf_s s, scale-1000"
  if ! SIM="$build/sim/microtcp-sim" SIM_BYTES=$sim_bytes IPERF_SECONDS=$iperf_s RESULTS=$res \
      tools/bench-sim.sh 2>"$tmp/sim.err"; then
    note "bench-sim.sh failed: $(tail -n 5 "$tmp/sim.err")"
    status=1
  fi
  sed 's/^/  bench-sim: /' "$tmp/sim.err" >&2
fi

# ---- 3. memory: 10,000 hosts x 10 connections, microtcp-tap start ----
if want mem; then
  if [ "$quick" = 1 ]; then
    echo "scale10k_skip=quick mode" >>"$res"
  else
    note "10,000 hosts x 10 connections (peak RSS; max_memory 8 GiB of arenas committed as used)"
    $py tools/bench/gen-scale.py --servers "${SCALE_SERVERS:-100}" --clients 99 --conns 10 \
      --no-announce --stagger-ms 10 --max-memory 8GiB >"$tmp/scale10k.ini"
    echo "scale10k_hosts=$((${SCALE_SERVERS:-100} * 100))" >>"$res"
    timeout 1200 $py tools/bench/measure.py --out "$res" --name scale10k --limit-mib 12288 -- \
      "$build/sim/microtcp-sim" run "$tmp/scale10k.ini" --quiet --json "$tmp/scale10k.json" \
      2>"$tmp/scale10k.err" || true
    # the simulator's last word (its refusal, or a failure's reproduce line)
    echo "scale10k_msg=$(grep -v '^scale10k_' "$tmp/scale10k.err" | tail -n 1 | sed "s|$tmp/||g")" >>"$res"
    if [ -s "$tmp/scale10k.json" ]; then
      $py -c 'import json, sys; d = json.load(open(sys.argv[1]));
print("scale10k_done=%d/%d" % (sum(f["status"] == "done" for f in d["flows"]), len(d["flows"])))' \
        "$tmp/scale10k.json" >>"$res"
    fi
  fi
  if is_root && [ -e /dev/net/tun ]; then
    $py tools/bench/tap-start.py --tap "$build/tools/tap/microtcp-tap" --out "$res" >/dev/null ||
      { note "tap-start failed"; status=1; }
  else
    echo "tap_start_skip=needs root and /dev/net/tun" >>"$res"
  fi
fi

# ---- 4. TAP paths vs veth ----
if want tap; then
  if is_root && [ -e /dev/net/tun ]; then
    note "TAP vs veth: $tap_mb MiB per run"
    if ! BUILD=$build MB=$tap_mb RESULTS=$res tools/bench-tap.sh >"$tmp/tap.out" 2>"$tmp/tap.err"; then
      note "bench-tap.sh failed: $(tail -n 5 "$tmp/tap.err")"
      status=1
    fi
  else
    echo "tap_skip=needs root and /dev/net/tun" >>"$res"
  fi
fi
# ---- 5. idle connections vs per-call cost ----
if want timers; then
  it=$build/tools/bench/idle-timers
  [ -x "$it" ] || { note "$it not built (cmake --build --preset default)"; exit 2; }
  note "idle timers: n = $timers_n idle connections"
  # shellcheck disable=SC2086 # timers_n is a list of numbers
  if ! "$it" $timers_n >"$tmp/timers.out" 2>"$tmp/timers.err"; then
    note "idle-timers failed: $(tail -n 3 "$tmp/timers.err")"
    status=1
  fi
  sed 's/^/timers_run=/' "$tmp/timers.out" >>"$res"
fi
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$res"

# ---- the table ----
$py - "$res" "$quick" "$parts" <<'PY' || status=1
import statistics, sys

res_file, quick, parts = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
kv, runs, timers = {}, [], []
for line in open(res_file):
    k, _, v = line.rstrip("\n").partition("=")
    if k == "b2b_run":
        runs.append(dict(w.split("=", 1) for w in v.split()[1:] if "=" in w))
    elif k == "timers_run":
        timers.append(dict(w.split("=", 1) for w in v.split()[1:] if "=" in w))
    else:
        kv[k] = v
rows, notes, bad = [], [], False


def num(k):
    try:
        return float(kv[k])
    except (KeyError, ValueError):
        return None


def row(name, ours, ref, ratio, aim, cmp=None, bound=None):
    if ratio is None:
        met = "-"
    elif cmp == "<=":
        met = "yes" if ratio <= bound else "no"
    elif cmp == ">=":
        met = "yes" if ratio >= bound else "no"
    elif cmp == "<":
        met = "yes" if ratio < bound else "no"
    else:
        met = "-"
    rows.append((name, ours, ref, "n/a" if ratio is None else f"{ratio:.2f}", aim, met))


def skipped(name, why, aim):
    if len(why) > 40:  # the whole reason below the table
        notes.append(f"{name}: {why}")
        why = why[:why.find(":")] if 0 < why.find(":") <= 40 else "see below"
    rows.append((name, f"skipped: {why}", "", "n/a", aim, "-"))


gb = lambda bps: f"{bps / 1e9:.2f} Gbit/s"

if ",b2b," in parts:
    by = {}
    for r in runs:
        by.setdefault(r.get("stack", "?"), []).append(r)
    mt, lw = by.get("microtcp", []), by.get("lwip", [])
    for name, rs in (("microtcp", mt), ("lwIP", lw)):
        okn = sum(r.get("integrity") == "ok" for r in rs)
        if rs and okn != len(rs):
            bad = True
        if rs:
            notes.append(f"b2b {name}: integrity {'ok' if okn == len(rs) else 'FAIL'} ({okn}/{len(rs)} runs, "
                         f"every byte checked); ns/byte per run: "
                         + " ".join(r.get("ns_per_byte", "?") for r in rs)
                         + f"; {rs[0].get('bytes_per_data_frame', '?')} bytes per data frame")
    med = lambda rs: statistics.median(float(r["ns_per_byte"]) for r in rs) if rs and all(
        "ns_per_byte" in r for r in rs) else None
    m, l = med(mt), med(lw)
    size = f"{int(mt[0]['bytes']) / 2**20:.0f} MiB" if mt and "bytes" in mt[0] else "?"
    wnd = f"window {mt[0].get('window', '?')}, MSS {mt[0].get('mss', '?')}" if mt else ""
    label = f"b2b CPU/byte ({size}, {wnd}, median of {len(mt)})"
    if m is not None and l is not None:
        row(label, f"{m:.3f} ns/B", f"lwIP {l:.3f} ns/B", m / l, "<= 0.80", "<=", 0.8)
    elif m is not None:
        row(label, f"{m:.3f} ns/B", "lwIP: not built", None, "<= 0.80")
    else:
        skipped(label, "the harness failed", "<= 0.80")

if ",sim," in parts:
    s, v = num("sim_bulk_bps"), num("veth_bps")
    if s is None:
        skipped("sim bulk goodput per wall s", "bench-sim failed", ">= 1.00")
    elif v is None:
        row("sim bulk goodput per wall s", gb(s), "veth: skipped (needs root)", None, ">= 1.00")
    else:
        row("sim bulk goodput per wall s vs veth (offloads off)", gb(s), f"veth iperf3 {gb(v)}", s / v,
            ">= 1.00", ">=", 1.0)

if ",mem," in parts:
    r = num("scale1000_maxrss_kib")
    if r is None:
        skipped("scale-1000.ini peak RSS", "bench-sim failed", "<= 250 MiB")
    else:
        row("scale-1000.ini peak RSS", f"{r / 1024:.0f} MiB", "aim 250 MiB", r / 1024 / 250, "<= 1.00 (250 MiB)",
            "<=", 1.0)
    big = f"{int(kv.get('scale10k_hosts', 10000)):,} hosts x 10 conns"
    if "scale10k_skip" in kv:
        skipped(f"{big} peak RSS", kv["scale10k_skip"], "< 1.00 (4 GiB)")
    else:
        r10, done, msg = num("scale10k_maxrss_kib"), kv.get("scale10k_done"), kv.get("scale10k_msg", "")
        if r10 is None or done is None:  # it did not run to the end
            why = ("over 4 GiB (simulator's estimate)" if "max_memory" in msg else
                   f"failed (exit {kv.get('scale10k_rc', '?')})")
            notes.append(f"{big}: exit {kv.get('scale10k_rc', '?')}: {msg}")
            skipped(f"{big} peak RSS", why, "< 1.00 (4 GiB)")
        else:
            if kv.get("scale10k_rc") != "0":
                notes.append(f"{big}: ran to the end but exit {kv.get('scale10k_rc')}: {msg}")
            row(f"{big} peak RSS ({done} flows done, {num('scale10k_wall_s'):.0f} s)",
                f"{r10 / 1024:.0f} MiB", "aim 4096 MiB", r10 / 1024 / 4096, "< 1.00 (4 GiB)", "<", 1.0)
    if "tap_start_skip" in kv:
        skipped("microtcp-tap start", kv["tap_start_skip"], "< 1.00")
    elif num("tap_start_s") is not None:
        t, k = num("tap_start_s"), num("tap_start_rss_kib")
        row("microtcp-tap start (launch to 'up')", f"{t:.3f} s", "aim 0.5 s", t / 0.5, "< 1.00 (0.5 s)", "<", 1.0)
        row("microtcp-tap RSS at start", f"{k / 1024:.1f} MiB", "aim 64 MiB", k / 1024 / 64, "< 1.00 (64 MiB)",
            "<", 1.0)
        if kv.get("tap_start_connect") != "ok":
            bad = True
            notes.append("microtcp-tap start: a TCP connection to the stack FAILED")

if ",tap," in parts:
    if "tap_skip" in kv:
        skipped("TAP vs veth", kv["tap_skip"], "")
    elif num("tap_plain_to_bps") is None:
        skipped("TAP vs veth", "bench-tap failed", "")
    else:
        vt, vf = num("tap_veth_off_to_bps"), num("tap_veth_off_from_bps")
        vto, vfo = num("tap_veth_on_to_bps"), num("tap_veth_on_from_bps")
        opts = kv.get("tap_plain_opts", "none")
        same = opts == "none"
        for path, aim, bound in (("plain", ">= 0.50", 0.5), ("default", ">= 1.00", 1.0)):
            for d, ref in (("to", vt), ("from", vf)):
                x = num(f"tap_{path}_{d}_bps")
                what = "Linux -> stack" if d == "to" else "stack -> Linux"
                tag = f" (options: {opts})" if path == "plain" and not same else (
                    " (= plain in this build)" if path == "default" and same else "")
                row(f"TAP {path} path{tag}, {what}", gb(x), f"veth offloads off {gb(ref)}", x / ref, aim, ">=",
                    bound)
        for d, ref in (("to", vto), ("from", vfo)):
            x = num(f"tap_gso_{d}_bps")
            what = "Linux -> stack" if d == "to" else "stack -> Linux"
            row(f"TAP --gso, {what} (no aim)", gb(x), f"veth offloads on {gb(ref)}", x / ref, "-")

if ",timers," in parts:
    ts = sorted((t for t in timers if "n" in t), key=lambda t: int(t["n"]))
    if any(t.get("integrity") != "ok" for t in ts):
        bad = True
        notes.append("idle timers: a run FAILED its check (connections not established or data missing)")
    if len(ts) < 2:
        skipped("idle timers", "idle-timers failed" if not ts else "needs two sizes (TIMERS_N)", "<= 2.00 (flat)")
    else:
        lo, hi = ts[0], ts[-1]
        for key, what in (("deadline_ns", "microtcp_deadline"), ("advance_ns", "microtcp_advance (none due)"),
                          ("input_ns", "data segment microtcp_input")):
            ours = ", ".join(f"{int(t['n']):,}: {float(t[key]):.0f}" for t in ts) + " ns"
            row(f"{what} per call, n idle conns", ours, f"n={int(lo['n']):,}",
                float(hi[key]) / float(lo[key]), "<= 2.00 (flat)", "<=", 2.0)

hdr = ("figure", "ours", "reference (same run)", "ratio", "aim", "met")
w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
print(f"bench-all{' (BENCH_QUICK=1)' if quick else ''}: load {kv.get('load_start', '?')} at start, "
      f"{kv.get('load_end', '?')} at end")
for r in [hdr] + rows:
    print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
for n in notes:
    print(n)
sys.exit(1 if bad else 0)
PY
exit "$status"
