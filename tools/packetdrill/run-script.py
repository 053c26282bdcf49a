#!/usr/bin/env python3
"""Run one of the project's TCP scripts under real packetdrill, against
libmicrotcp-packetdrill.so.

    run-script.py --packetdrill PATH --so PATH [--strict] SCRIPT.pkt [packetdrill args...]
    run-script.py --find BUILD_DIR --so PATH ...   (ctest: the packetdrill found by
                                                   build-packetdrill.sh, see below)

The script's runner-only header lines become packetdrill arguments, so both
runners see the same stack:
    // config: k=v ...      -> --so_flags (the same microtcp_config names)
    // tolerance_usecs=N    -> --tolerance_usecs=N
--strict asks packetdrill to check as much as it can (see tools/packetdrill/README.md):
small timing tolerance unless the script sets one, and TS val checked
against the stack's millisecond clock.

With --find, the packetdrill recorded by `--setup BUILD_DIR` (ctest's
packetdrill.build fixture, which runs build-packetdrill.sh once) is used; when
there is none the test is skipped (exit 77, reason printed), but when the
environment has CI=true a missing packetdrill is a failure (exit 1).

exit codes: 0 ok, 1 failure found (packetdrill's mismatch), 2 usage error;
77 skipped, 124 timeout.
"""
import argparse
import os
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
    if strict:
        if tolerance is None:
            tolerance = STRICT_TOLERANCE_USECS
        # TS val checked against the script (our TS clock ticks every ms), and
        # segments must match the script one for one (no coalescing allowed).
        cmd += ["--tcp_ts_tick_usecs=1000", "--strict_segments"]
    if tolerance is not None:
        cmd.append(f"--tolerance_usecs={tolerance}")
    cmd += list(extra)
    cmd.append(script)
    return cmd


SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def setup(build_dir):
    """Find or build packetdrill once; record the path or the reason."""
    rec = os.path.join(build_dir, "packetdrill-found.txt")
    tmp = rec + f".{os.getpid()}"  # written whole, then renamed: readers never see half
    r = subprocess.run([os.path.join(HERE, "build-packetdrill.sh"), build_dir],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode == 0:
        path = r.stdout.strip().splitlines()[-1]
        with open(tmp, "w") as f:
            f.write("path " + path + "\n")
        os.replace(tmp, rec)
        print("packetdrill:", path)
        return 0
    reason = (r.stderr.strip().splitlines() or ["build-packetdrill.sh failed"])[-1]
    with open(tmp, "w") as f:
        f.write("missing " + reason + "\n")
    os.replace(tmp, rec)
    print("SKIP: " + reason)
    return 1 if in_ci() else 0


def found(build_dir):
    """(path, None) or (None, reason)."""
    try:
        with open(os.path.join(build_dir, "packetdrill-found.txt")) as f:
            kind, _, rest = f.readline().strip().partition(" ")
    except OSError:
        return None, "packetdrill.build (the fixture that finds packetdrill) has not run"
    return (rest, None) if kind == "path" else (None, rest)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--setup":
        return setup(os.path.abspath(sys.argv[2]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version="run-script.py (microtcp) 0.1.0")
    ap.add_argument("--packetdrill")
    ap.add_argument("--find", metavar="BUILD_DIR")
    ap.add_argument("--expect-fail", action="store_true",
                    help="pass only if packetdrill reports a failure (exit 1) promptly")
    ap.add_argument("--so", help="libmicrotcp-packetdrill.so (required)")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("script")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    if not a.so:
        ap.error("--so is required")
    pd = a.packetdrill
    if not pd and a.find:
        pd, why = found(os.path.abspath(a.find))
        if not pd:
            if in_ci():
                print(f"FAIL: packetdrill is required when CI=true: {why}")
                return 1
            print(f"SKIP: {why}")
            return SKIP
    if not pd:
        ap.error("--packetdrill or --find is required")
    cmd = command(pd, a.so, a.script, a.strict, a.extra)
    # A script expected to fail names its reason: "// expect: TEXT" lines.
    expects = [m.group(1).strip() for m in
               (re.match(r"\s*//\s*expect:(.*)", l) for l in open(a.script)) if m]
    try:
        r = subprocess.run(cmd, timeout=a.timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        sys.stdout.write(r.stdout)
    except subprocess.TimeoutExpired:
        print(f"{a.script}: packetdrill did not finish in {a.timeout} s (hang)", file=sys.stderr)
        return 124
    if a.expect_fail:
        missing = [e for e in expects if e not in r.stdout]
        if r.returncode == 1 and not missing:
            print("packetdrill reported the failure, as expected")
            return 0
        if missing:
            print(f"the failure does not say: {missing}")
        print(f"expected packetdrill to report a failure (exit 1), got exit {r.returncode}")
        return 1
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
