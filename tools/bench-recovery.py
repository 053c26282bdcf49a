#!/usr/bin/python3
"""Loss-recovery grid in the simulator: goodput and retransmissions of one
bulk transfer with a recovery feature off and on (everything else at the
stack's defaults), over loss, reordering, RTT/bandwidth and bursty loss.
Prints one table row per cell (medians over the seeds) and the on/off
goodput ratio; --out writes the same as Markdown, --svg a plot of the
ratios (one dot per cell and feature, no plotting library needed).

    tools/bench-recovery.py [--sim build/default/sim/microtcp-sim] [--seeds 3]
                            [--features prr,hystart,dsack_undo,rack]
                            [--cc newreno|cubic] [--base KEY=VALUE,...] [--queue 256KiB] [--scale 1]
                            [--jobs 2]
                            [--quick | --full]
                            [--out FILE.md] [--svg FILE.svg]

--features (or --feature) names scenario host keys that are booleans (prr,
dsack, sack, hystart, dsack_undo, rack); "a+b" switches both together.
--base KEY=VALUE,... sets host keys on both sides (e.g. rack=true to
measure dsack_undo on top of RACK). The default grid is 54 cells: loss
0/1/5 %, reordering 0/1/5 % (2 ms extra delay), three RTT/bandwidth points
(2 ms at 1 Gbit/s, 20 ms at 100 Mbit/s, 100 ms at 10 Mbit/s), without and
with Gilbert-Elliott bursts (p 0.2 %, r 20 %, 50 % loss in the bad state);
about 3 minutes per feature with 3 seeds and 2 jobs. --quick is 4 cells,
--full the older 135-cell grid. A cell counts as better (worse) when the
on/off median ratio is above 1.05 (below 0.95) and the seeds' ranges do
not overlap: that is "beyond noise" here.

exit codes: 0 ok, 1 failure found (a run that did not finish: printed with
the command that reproduces it), 2 usage error (e.g. the simulator not built).
"""
import argparse
import concurrent.futures
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile

TEMPLATE = """[sim]
seed = 1
duration = {duration}

[defaults]
link.latency = {latency}
link.loss = {loss}
link.reorder = {reorder}
link.reorder_delay = {reorder_delay}
link.bandwidth = {bandwidth}
link.queue = {queue}
{burst}sndbuf = 4MiB
rcvbuf = 4MiB
cc = {cc}
{base}{feature_lines}
[host a]
ip = 10.0.0.1

[host b]
ip = 10.0.0.2

[flow bulk]
type = tcp-bulk
client = a
server = b
port = 5001
bytes = {nbytes}
"""
BURST = "link.burst_p = 0.2%\nlink.burst_r = 20%\nlink.burst_loss = 50%\n"
MBIT = {"10mbit": 10, "100mbit": 100, "1gbit": 1000}


def one_run(sim, ini, seed, tmp):
    out = os.path.join(tmp, f"out-{os.getpid()}-{abs(hash((ini, seed)))}.json")
    r = subprocess.run([sim, "run", ini, "--seed", str(seed), "--json", out, "--quiet"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        flows = json.load(open(out))["flows"] if os.path.exists(out) else []
    finally:
        if os.path.exists(out):
            os.unlink(out)
    if r.returncode != 0 or not flows or flows[0]["status"] != "done":
        return None, f"run failed: {sim} run {ini} --seed {seed} ({r.stderr.strip()[:200]})"
    fl = flows[0]
    return (fl["bytes"] * 8 / max(1, fl["finished_us"] - fl["start_us"]), fl["retransmits"]), None


def cell_ini(tmp, cell, feature, on, cc, base):
    name = "-".join(str(v).replace("%", "p").replace(".", "_").replace("\n", "") for v in cell.values())
    path = os.path.join(tmp, f"{feature}-{'on' if on else 'off'}-{cc}-{abs(hash(name))}.ini")
    # "a+b" switches several keys together
    lines = "".join(f"{k} = {'true' if on else 'false'}\n" for k in feature.split("+"))
    with open(path, "w") as f:
        f.write(TEMPLATE.format(feature_lines=lines, cc=cc, base=base, **cell))
    return path


def grid(kind):
    if kind == "quick":
        return [("0%", "1%", "20ms", "100mbit", False), ("1%", "0%", "20ms", "100mbit", False),
                ("1%", "5%", "20ms", "100mbit", False), ("0%", "0%", "2ms", "1gbit", False)]
    if kind == "full":
        return [(l, r, t, b, False) for l, r, t, b in itertools.product(
            ["0%", "0.5%", "1%", "2%", "5%"], ["0%", "1%", "5%"], ["1ms", "20ms", "100ms"],
            ["10mbit", "100mbit", "1gbit"])]
    paths = [("2ms", "1gbit"), ("20ms", "100mbit"), ("100ms", "10mbit")]
    return [(l, r, t, b, burst) for burst in (False, True) for l in ("0%", "1%", "5%")
            for r in ("0%", "1%", "5%") for t, b in paths]


def make_cell(loss, reorder, rtt, bw, burst, queue="256KiB", scale=1):
    one_way = f"{float(rtt[:-2]) / 2:g}ms"
    # 1 MB at 10 Mbit/s, 5 MB above: big enough to leave slow start on the
    # fast links, small enough to finish under 5 % loss at 100 ms.
    nbytes = f"{(1 if MBIT[bw] < 100 else 5) * scale}MB"
    return dict(latency=one_way, loss=loss, reorder=reorder, reorder_delay="2ms", bandwidth=bw,
                queue=queue, duration="1200s", nbytes=nbytes, burst=BURST if burst else "")


def verdict(off, on):
    """+1 better, -1 worse, 0 within noise (see --help)."""
    ratio = on["median"] / off["median"] if off["median"] else 1.0
    if ratio > 1.05 and min(on["all"]) > max(off["all"]):
        return 1
    if ratio < 0.95 and max(on["all"]) < min(off["all"]):
        return -1
    return 0


def svg_plot(path, results, features):
    """Strip chart: one row per feature, on/off goodput ratio (log scale,
    0.25x .. 8x) per cell; red below 1, green above."""
    import math
    w, row_h, left, top = 760, 46, 120, 30
    h = top + row_h * len(features) + 40
    x = lambda r: left + (math.log2(min(max(r, 0.25), 8)) + 2) / 5 * (w - left - 20)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="18">on/off goodput ratio per grid cell (tools/bench-recovery.py)</text>']
    for tick in (0.25, 0.5, 1, 2, 4, 8):
        out.append(f'<line x1="{x(tick):.1f}" y1="{top}" x2="{x(tick):.1f}" y2="{h - 30}" stroke="#ccc"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{h - 14}" text-anchor="middle">{tick:g}x</text>')
    for i, feat in enumerate(features):
        y = top + row_h * i + row_h / 2
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{feat}</text>')
        for j, (cell, off, on) in enumerate(r for r in results if r[0]["feature"] == feat):
            ratio = on["median"] / off["median"] if off["median"] else 1
            color = "#2a2" if ratio > 1.05 else "#c22" if ratio < 0.95 else "#666"
            jitter = (j % 7 - 3) * 4
            out.append(f'<circle cx="{x(ratio):.1f}" cy="{y + jitter:.1f}" r="3" fill="{color}" fill-opacity="0.7">'
                       f'<title>{cell["label"]}: {off["median"]:.2f} -> {on["median"]:.2f} Mbit/s</title></circle>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version="bench-recovery.py (microtcp) 0.2.0")
    ap.add_argument("--sim", default="build/default/sim/microtcp-sim")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--feature", "--features", dest="features", default="prr")
    ap.add_argument("--cc", default="newreno", choices=["newreno", "cubic"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scale", type=int, default=1, help="transfer size factor (1: 1 MB at 10 Mbit/s, 5 MB above)")
    ap.add_argument("--queue", default="256KiB", help="bottleneck queue (e.g. 2MiB for deep buffers)")
    ap.add_argument("--base", default="", help="KEY=VALUE,... host keys for both sides (e.g. rack=true)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    ap.add_argument("--out", help="write the tables as Markdown to this file")
    ap.add_argument("--svg", help="write a plot of the ratios to this file")
    a = ap.parse_args()
    if not os.access(a.sim, os.X_OK):
        print(f"bench-recovery: {a.sim} is not built (cmake --build --preset default)", file=sys.stderr)
        return 2
    if a.seeds < 1 or a.jobs < 1:
        print("bench-recovery: --seeds and --jobs must be at least 1", file=sys.stderr)
        return 2
    features = [f for f in a.features.split(",") if f]
    base = ""
    for kv in filter(None, a.base.split(",")):
        if "=" not in kv:
            print(f"bench-recovery: --base expects KEY=VALUE,...: {kv}", file=sys.stderr)
            return 2
        k, v = kv.split("=", 1)
        base += f"{k.strip()} = {v.strip()}\n"

    cells = grid("quick" if a.quick else "full" if a.full else "default")
    failures, results, md = 0, [], []
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for feat in features:
            jobs = {}
            for c in cells:
                cell = make_cell(*c, queue=a.queue, scale=a.scale)
                for on in (False, True):
                    ini = cell_ini(tmp, cell, feat, on, a.cc, base)
                    for seed in range(1, a.seeds + 1):
                        jobs[(c, on, seed)] = pool.submit(one_run, a.sim, ini, seed, tmp)
            head = (f"feature {feat}, cc {a.cc}{', base ' + a.base if a.base else ''}, queue {a.queue}, "
                    f"transfers x{a.scale}, {a.seeds} seeds per cell, "
                    f"medians; goodput Mbit/s, retransmitted segments")
            print(head)
            md += [f"### {feat} ({a.cc}{', base ' + a.base if a.base else ''}, queue {a.queue}, transfers x{a.scale}, "
                   f"{a.seeds} seeds, medians)", "",
                   "| loss | reorder | RTT | bandwidth | bursts | off Mbit/s | rexmit | on Mbit/s | rexmit | on/off |",
                   "|---|---|---|---|---|---|---|---|---|---|"]
            print(f"{'loss':>5} {'reord':>5} {'rtt':>6} {'bw':>8} {'burst':>5} | {'off':>8} {'rexmit':>6} | "
                  f"{'on':>8} {'rexmit':>6} | on/off")
            ratios, better, worse = [], [], []
            for c in cells:
                side = {}
                for on in (False, True):
                    runs = []
                    for seed in range(1, a.seeds + 1):
                        res, err = jobs[(c, on, seed)].result()
                        if err:
                            print(err, file=sys.stderr)
                            runs = None
                            break
                        runs.append(res)
                    if runs is None:
                        break
                    side[on] = {"median": statistics.median(r[0] for r in runs), "all": [r[0] for r in runs],
                                "rexmit": statistics.median(r[1] for r in runs)}
                if len(side) < 2:
                    failures += 1
                    continue
                loss, reorder, rtt, bw, burst = c
                label = f"loss {loss} reorder {reorder} rtt {rtt} {bw}{' bursts' if burst else ''}"
                off, on = side[False], side[True]
                ratio = on["median"] / off["median"] if off["median"] else float("nan")
                ratios.append(ratio)
                v = verdict(off, on)
                (better if v > 0 else worse if v < 0 else []).append(f"{label} ({ratio:.2f})")
                mark = " +" if v > 0 else " -" if v < 0 else ""
                print(f"{loss:>5} {reorder:>5} {rtt:>6} {bw:>8} {'yes' if burst else 'no':>5} | "
                      f"{off['median']:8.2f} {off['rexmit']:6.0f} | {on['median']:8.2f} {on['rexmit']:6.0f} | "
                      f"{ratio:.3f}{mark}")
                md.append(f"| {loss} | {reorder} | {rtt} | {bw} | {'yes' if burst else 'no'} | "
                          f"{off['median']:.2f} | {off['rexmit']:.0f} | {on['median']:.2f} | {on['rexmit']:.0f} | "
                          f"{ratio:.3f}{mark} |")
                results.append(({"feature": feat, "label": label}, off, on))
            if ratios:
                summary = (f"{feat}: on/off goodput ratio median {statistics.median(ratios):.3f}, "
                           f"min {min(ratios):.3f}, max {max(ratios):.3f} over {len(ratios)} cells; "
                           f"better beyond noise in {len(better)}, worse in {len(worse)}")
                print(summary)
                md += ["", summary + "."]
                if worse:
                    md += ["", "Worse beyond noise: " + "; ".join(worse) + "."]
                md.append("")
            print()
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(md) + "\n")
    if a.svg and results:
        svg_plot(a.svg, results, features)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
