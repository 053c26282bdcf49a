#!/usr/bin/python3
"""microtcp-tap start-up cost (needs root): starts it with default options
(the sink app) on a new TAP device in a fresh network namespace and measures
the time from launch to its "NAME up" line (its documented readiness signal:
the device is up and the stack answers) and its resident memory at that
moment (VmRSS), then checks that a TCP connection from Linux to the stack
succeeds. Prints key=value lines (appended to --out FILE if given).

  tools/bench/tap-start.py --tap build/default/tools/tap/microtcp-tap [--out FILE]
"""
import argparse
import os
import select
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tap", required=True)
    ap.add_argument("--out")
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("tap-start: needs root (network namespace, TAP device)")
    ns = f"mtcpst-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    proc = None
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        t0 = time.monotonic()
        # `ip netns exec` execs the command: proc.pid is microtcp-tap's pid.
        proc = subprocess.Popen(["ip", "netns", "exec", ns, a.tap, "--ifname", "tapst", "--ip", "10.9.7.2/24",
                                 "--host-ip", "10.9.7.1/24", "--app", "sink", "--port", "9"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        buf = b""
        up_s = None
        while up_s is None:
            left = a.timeout - (time.monotonic() - t0)
            if left <= 0 or proc.poll() is not None:
                break
            r, _, _ = select.select([proc.stderr], [], [], left)
            if not r:
                break
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            if b" up" in buf and b"microtcp-tap: tapst up" in buf:
                up_s = time.monotonic() - t0
        if up_s is None:
            sys.exit(f"tap-start: no 'up' line within {a.timeout:.0f} s; stderr: {buf.decode(errors='replace')[-500:]}")
        rss_kib = 0
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss_kib = int(line.split()[1])
        probe = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c",
                                "import socket; s = socket.create_connection(('10.9.7.2', 9), timeout=10); "
                                "s.sendall(b'x' * 1000); s.close()"], capture_output=True, text=True)
        lines = [f"tap_start_s={up_s:.3f}", f"tap_start_rss_kib={rss_kib}",
                 f"tap_start_connect={'ok' if probe.returncode == 0 else 'FAIL'}"]
        text = "\n".join(lines) + "\n"
        if a.out:
            with open(a.out, "a") as f:
                f.write(text)
        sys.stdout.write(text)
        if probe.returncode != 0:
            sys.exit(f"tap-start: a TCP connection to the stack failed: {probe.stderr.strip()[-300:]}")
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
