#!/usr/bin/python3
"""Loss-recovery grid in the simulator: goodput and retransmissions of one
bulk transfer with a recovery feature off and on, over loss, reordering, RTT
and bandwidth. Prints one table row per cell (medians over the seeds) and the
on/off goodput ratio.

    tools/bench-recovery.py [--sim build/default/sim/microtcp-sim] [--seeds 10]
                            [--feature prr] [--cc newreno|cubic] [--quick]

--feature names a scenario host key that is a boolean (prr, dsack, sack).
--quick runs a small grid (for a first look; the full grid takes minutes).
exit codes: 0 ok, 1 failure found (a run that did not finish: printed with
the command that reproduces it), 2 usage error (e.g. the simulator not built).
"""
import argparse
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
sndbuf = 4MiB
rcvbuf = 4MiB
cc = {cc}
{feature} = {on}

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


def run_cell(sim, cell, feature, on, cc, seeds, tmp):
    path = os.path.join(tmp, "cell.ini")
    with open(path, "w") as f:
        f.write(TEMPLATE.format(feature=feature, on="true" if on else "false", cc=cc, **cell))
    goodputs, rexmits = [], []
    for seed in range(1, seeds + 1):
        out = os.path.join(tmp, "out.json")
        r = subprocess.run([sim, "run", path, "--seed", str(seed), "--json", out, "--quiet"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        flows = json.load(open(out))["flows"] if os.path.exists(out) else []
        if r.returncode != 0 or not flows or flows[0]["status"] != "done":
            print(f"run failed: {sim} run {path} --seed {seed} ({r.stderr.strip()[:200]})",
                  file=sys.stderr)
            return None
        fl = flows[0]
        goodputs.append(fl["bytes"] * 8 / max(1, fl["finished_us"] - fl["start_us"]))  # Mbit/s
        rexmits.append(fl["retransmits"])
        os.unlink(out)
    return statistics.median(goodputs), statistics.median(rexmits)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version="bench-recovery.py (microtcp) 0.1.0")
    ap.add_argument("--sim", default="build/default/sim/microtcp-sim")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--feature", default="prr")
    ap.add_argument("--cc", default="newreno", choices=["newreno", "cubic"])
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if not os.access(a.sim, os.X_OK):
        print(f"bench-recovery: {a.sim} is not built (cmake --build --preset default)", file=sys.stderr)
        return 2
    if a.quick:
        losses, reorders, rtts, bws = ["0.5%", "2%"], ["0%", "1%"], ["20ms"], ["100mbit"]
    else:
        losses = ["0%", "0.5%", "1%", "2%", "5%"]
        reorders = ["0%", "1%", "5%"]
        rtts = ["1ms", "20ms", "100ms"]
        bws = ["10mbit", "100mbit", "1gbit"]
    print(f"feature {a.feature}, cc {a.cc}, {a.seeds} seeds per cell, medians; goodput Mbit/s")
    print(f"{'loss':>5} {'reord':>5} {'rtt':>6} {'bw':>8} | {'off':>8} {'rexmit':>6} | {'on':>8} {'rexmit':>6} | on/off")
    failures = 0
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for loss, reorder, rtt, bw in itertools.product(losses, reorders, rtts, bws):
            one_way = f"{int(rtt[:-2]) / 2:g}ms"
            mbit = {"10mbit": 10, "100mbit": 100, "1gbit": 1000}[bw]
            # 1 MB at 10 Mbit/s, 5 MB above: big enough to leave slow start on
            # the fast links, small enough to finish under 5 % loss at 100 ms
            # (NewReno then gets well under 1 Mbit/s) within the duration.
            nbytes = "1MB" if mbit < 100 else "5MB"
            cell = dict(latency=one_way, loss=loss, reorder=reorder, reorder_delay="2ms",
                        bandwidth=bw, queue="256KiB", duration="1200s", nbytes=nbytes)
            off = run_cell(a.sim, cell, a.feature, False, a.cc, a.seeds, tmp)
            on = run_cell(a.sim, cell, a.feature, True, a.cc, a.seeds, tmp)
            if off is None or on is None:
                failures += 1
                continue
            ratio = on[0] / off[0] if off[0] else float("nan")
            ratios.append(ratio)
            print(f"{loss:>5} {reorder:>5} {rtt:>6} {bw:>8} | {off[0]:8.2f} {off[1]:6.0f} | "
                  f"{on[0]:8.2f} {on[1]:6.0f} | {ratio:.3f}")
    if ratios:
        print(f"on/off goodput ratio: median {statistics.median(ratios):.3f}, "
              f"min {min(ratios):.3f}, max {max(ratios):.3f} over {len(ratios)} cells")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
