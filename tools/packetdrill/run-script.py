#!/usr/bin/env python3
"""Run one of the project's TCP scripts under real packetdrill, against
libmicrotcp-packetdrill.so.

    run-script.py --packetdrill PATH --so PATH [--strict] SCRIPT.pkt [packetdrill args...]

The script's runner-only header lines become packetdrill arguments, so both
runners see the same stack:
    // config: k=v ...      -> --so_flags (the same microtcp_config names)
    // tolerance_usecs=N    -> --tolerance_usecs=N
--strict asks packetdrill to check as much as it can (see tools/packetdrill/README.md):
small timing tolerance unless the script sets one, and TS val checked
against the stack's millisecond clock.

Exit status: packetdrill's (0 pass, 1 mismatch), 2 usage, 124 timeout.
"""
import argparse
import re
import subprocess
import sys

LOCAL_IP = "192.168.0.2"
REMOTE_IP = "192.0.2.1"
STRICT_TOLERANCE_USECS = 1000  # packetdrill's default is 4000


def header(path):
    config, tolerance = [], None
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*//\s*config:\s*(.*)", line)
            if m:
                config += m.group(1).split()
            m = re.match(r"\s*//\s*tolerance_usecs\s*=\s*(\d+)", line)
            if m:
                tolerance = int(m.group(1))
    return config, tolerance


def command(packetdrill, so, script, strict=False, extra=()):
    config, tolerance = header(script)
    flags = [f"ip={LOCAL_IP}"] + config
    cmd = [
        packetdrill,
        f"--so_filename={so}",
        "--so_flags=" + " ".join(flags),
        f"--local_ip={LOCAL_IP}",
        f"--remote_ip={REMOTE_IP}",
        # Inbound TS ecr values the script could not know (our TS clock is
        # not the script's) are interpolated from the first outbound TS val.
        "--tcp_ts_ecr_scaled",
    ]
    if tolerance is None and strict:
        tolerance = STRICT_TOLERANCE_USECS
    if tolerance is not None:
        cmd.append(f"--tolerance_usecs={tolerance}")
    cmd += list(extra)
    cmd.append(script)
    return cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packetdrill", required=True)
    ap.add_argument("--so", required=True)
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("script")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    cmd = command(a.packetdrill, a.so, a.script, a.strict, a.extra)
    try:
        r = subprocess.run(cmd, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        print(f"{a.script}: packetdrill did not finish in {a.timeout} s (hang)", file=sys.stderr)
        return 124
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
