#!/usr/bin/python3
"""Run a command and report what it cost: peak resident memory (the kernel's
ru_maxrss of that child), wall-clock seconds and CPU seconds, as one line of
key=value (appended to --out FILE, else printed on stderr), plus its exit
status as this script's own. With --limit-mib N the command runs with an
address-space limit of N MiB (RLIMIT_AS), so a run that would need more fails
to allocate instead of pushing a shared machine into swap or the OOM killer.

  tools/bench/measure.py [--out FILE] [--name NAME] [--limit-mib N] -- CMD [ARGS...]
"""
import argparse
import os
import resource
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--name", default="run")
    ap.add_argument("--limit-mib", type=int, default=0)
    ap.add_argument("cmd", nargs="+")
    a = ap.parse_args()

    def limit():
        if a.limit_mib:
            n = a.limit_mib << 20
            resource.setrlimit(resource.RLIMIT_AS, (n, n))

    t0 = time.monotonic()
    try:
        p = subprocess.Popen(a.cmd, preexec_fn=limit)
    except OSError as e:
        sys.exit(f"measure: cannot run {a.cmd[0]}: {e}")
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    line = (f"{a.name}_rc={rc} {a.name}_maxrss_kib={ru.ru_maxrss} {a.name}_wall_s={wall:.3f} "
            f"{a.name}_cpu_s={ru.ru_utime + ru.ru_stime:.3f}")
    if a.out:
        with open(a.out, "a") as f:
            f.write(line.replace(" ", "\n") + "\n")
    else:
        print(line, file=sys.stderr)
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
