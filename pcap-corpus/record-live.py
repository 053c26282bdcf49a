#!/usr/bin/python3
"""Re-record the live part of pcap-corpus/ (pcap-corpus/live/): real Linux
programs (ping, curl, python sockets) talk to microtcp-tap over a TAP device,
microtcp-tap writes what it received and sent (--pcap), and each capture gets a
sidecar.

Needs root, /dev/net/tun and iproute2. Everything happens inside network
namespaces this script creates (named mtreplay-<scenario>-<pid>): the TAP
device lives there and nothing leaves the machine. Namespaces and processes
are removed even when a scenario fails; every wait is bounded.

The captures are microtcp-tap's own view: its input and output frames,
timestamped with the stack's clock (CLOCK_MONOTONIC). Replaying one as the
stack's host (10.77.0.2) in check mode should reproduce every frame the stack
sent, because the stack is deterministic (same seed, same config, same inputs
at the same times). After recording, each capture is replayed in check mode;
where that does not hold the scenario says why and its sidecar uses outcome
mode (the expected outcome instead of frame-by-frame comparison).

Two captures are also kept under a second name (live-as-linux-*) whose sidecar
has the stack play the Linux host instead: there the stack legitimately
behaves differently from Linux, so the sidecar states the expected outcome.

usage: sudo /usr/bin/python3 pcap-corpus/record-live.py --build build/default [--only NAME]
"""
import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = pathlib.Path(__file__).resolve().parent
LINUX_IP, STACK_IP = "10.77.0.1", "10.77.0.2"
STACK_MAC = "02:00:00:00:77:02"
SEED = 1

SCENARIOS = []


def scenario(name, description, app, port, expect, tap_args=(), replay=None, mode="check", linux_side=None):
    """linux_side: also keep the capture under another name, replayed with the
    stack playing the LINUX host (outcome mode, see write_linux_side)."""
    def deco(fn):
        SCENARIOS.append(dict(name=name, description=description, app=app, port=port, expect=expect,
                              tap_args=list(tap_args), replay=replay or {}, mode=mode, run=fn,
                              linux_side=linux_side))
        return fn
    return deco


class Netns:
    """A namespace with microtcp-tap inside; close() removes both."""

    def __init__(self, name, tap_bin):
        self.name = "mtreplay-%s-%d" % (name[:20], os.getpid())
        self.tap_bin = tap_bin
        self.tap = None
        subprocess.run(["ip", "netns", "add", self.name], check=True, timeout=10)
        self.run(["ip", "link", "set", "lo", "up"])

    def cmd(self, argv):
        return ["ip", "netns", "exec", self.name] + argv

    def run(self, argv, timeout=60, check=True):
        return subprocess.run(self.cmd(argv), capture_output=True, text=True, timeout=timeout, check=check)

    def python(self, code, timeout=60):
        r = self.run(["/usr/bin/python3", "-c", textwrap.dedent(code)], timeout=timeout, check=False)
        if r.returncode != 0:
            raise RuntimeError("python in the namespace failed:\n" + r.stdout + r.stderr)
        return r.stdout.strip()

    def start_tap(self, pcap, app, port, extra):
        argv = [str(self.tap_bin), "--ifname", "tap0", "--ip", STACK_IP + "/24", "--host-ip", LINUX_IP + "/24",
                "--mac", STACK_MAC, "--seed", str(SEED), "--app", app, "--pcap", str(pcap)]
        if port:
            argv += ["--port", str(port)]
        self.tap = subprocess.Popen(self.cmd(argv + extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            r = self.run(["ip", "-4", "addr", "show", "tap0"], check=False)
            if LINUX_IP in r.stdout:
                # Linux's own chatter when an interface comes up (IPv6 is
                # off, but give it a moment) must not start the capture.
                time.sleep(0.3)
                return
            if self.tap.poll() is not None:
                raise RuntimeError("microtcp-tap exited: " + self.tap.stderr.read())
            time.sleep(0.1)
        raise RuntimeError("the TAP device did not come up")

    def stop_tap(self):
        if self.tap and self.tap.poll() is None:
            self.tap.send_signal(signal.SIGTERM)
            try:
                self.tap.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.tap.kill()
                self.tap.wait()

    def close(self):
        self.stop_tap()
        for pid in subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                                  text=True).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)


# ---------------------------------------------------------------- scenarios
@scenario("live-tcp-handshake", "Linux connects to the echo app and closes at once: three-way handshake "
          "(Linux's SYN options: MSS, SACK, timestamps, window scale), then Linux's FIN",
          "echo", 7, {"established": 1, "bytes_to_app": 0, "close": "clean"})
def live_handshake(ns):
    ns.python("""
        import socket, time
        s = socket.create_connection(('%s', 7), timeout=10)
        time.sleep(0.1)
        s.close()
        time.sleep(0.3)
    """ % STACK_IP)


@scenario("live-tcp-echo-linux-closes", "Linux sends 3 messages to the echo app, reads each echo, then "
          "closes first (Linux-initiated close: the stack ends in CLOSE_WAIT, LAST_ACK)",
          "echo", 7, {"established": 1, "bytes_to_app": 300, "close": "clean"})
def live_echo_linux_closes(ns):
    ns.python("""
        import socket, time
        s = socket.create_connection(('%s', 7), timeout=10)
        for i in range(3):
            msg = bytes([65 + i]) * 100
            s.sendall(msg)
            got = b''
            while len(got) < len(msg):
                got += s.recv(1000)
            assert got == msg
            time.sleep(0.05)
        s.close()
        time.sleep(0.3)
    """ % STACK_IP)


@scenario("live-http-get-curl", "curl fetches GET /4096 from the http app: request, 4096 bytes of "
          "body in MSS segments, the stack closes after the response (stack-initiated close)",
          "http", 80, {"established": 1, "close": "clean"})
def live_http_get(ns):
    r = ns.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "--max-time", "10",
                "--local-port", "41000", "http://%s/4096" % STACK_IP])
    if r.stdout.strip() != "200 4096":
        raise RuntimeError("curl: " + r.stdout + r.stderr)
    time.sleep(0.3)


@scenario("live-tcp-bulk-to-sink", "Linux sends 256 KiB to the sink app and shuts down its side; the "
          "sink reads everything and closes: bulk transfer with window updates",
          "sink", 9, {"established": 1, "bytes_to_app": 262144, "close": "clean"})
def live_bulk(ns):
    ns.python("""
        import socket, time
        s = socket.create_connection(('%s', 9), timeout=10)
        s.sendall(bytes(range(256)) * 1024)
        s.shutdown(socket.SHUT_WR)
        assert s.recv(10) == b''
        s.close()
        time.sleep(0.3)
    """ % STACK_IP)


@scenario("live-tcp-stack-closes-source", "the stack connects to a Linux server (python) and sends "
          "20000 bytes, then closes first (stack-initiated close, the stack as client; TIME_WAIT on the stack)",
          "none", 0, {"established": 1, "close": "clean"},
          tap_args=["--connect", LINUX_IP + ":5001", "--bytes", "20000"],
          replay={"app": "source", "connect": LINUX_IP + ":5001", "bytes": "20000"},
          linux_side=dict(name="live-as-linux-server-receives-20000", app="sink", port=5001,
                          description="the capture of live-tcp-stack-closes-source replayed with the stack "
                          "playing the Linux server (a sink on port 5001) and microtcp-tap's frames injected",
                          expect={"established": 1, "bytes_to_app": 20000, "close": "clean"}))
def live_stack_closes(ns):
    srv = ns.cmd(["/usr/bin/python3", "-c", textwrap.dedent("""
        import socket
        l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind(('', 5001)); l.listen(1); l.settimeout(15)
        c, _ = l.accept(); c.settimeout(15)
        n = 0
        while True:
            b = c.recv(65536)
            if not b: break
            n += len(b)
        c.close()
        print(n)
    """)])
    return {"server": srv}


@scenario("live-tcp-zero-window", "the stack sends 300000 bytes to a Linux server that does not read "
          "for 1.5 s with a 4 KiB receive buffer: Linux's window closes, the stack probes it (persist timer), "
          "then Linux reads everything and the stack closes",
          "none", 0, {"established": 1, "close": "clean"},
          tap_args=["--connect", LINUX_IP + ":5002", "--bytes", "300000"],
          replay={"app": "source", "connect": LINUX_IP + ":5002", "bytes": "300000"},
          linux_side=dict(name="live-as-linux-server-zero-window", app="sink", port=5002,
                          description="the capture of live-tcp-zero-window replayed with the stack playing "
                          "the slow Linux server (a sink on port 5002): the injected sender keeps probing "
                          "and resending as it did against Linux's closed window",
                          expect={"established": 1, "bytes_to_app": 300000, "close": "clean"}))
def live_zero_window(ns):
    srv = ns.cmd(["/usr/bin/python3", "-c", textwrap.dedent("""
        import socket, time
        l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        l.bind(('', 5002)); l.listen(1); l.settimeout(15)
        c, _ = l.accept(); c.settimeout(15)
        time.sleep(1.5)
        n = 0
        while True:
            b = c.recv(65536)
            if not b: break
            n += len(b)
        c.close()
        print(n)
    """)])
    return {"server": srv}


@scenario("live-tcp-keepalive-linux", "Linux enables keepalive (idle 1 s, interval 1 s) on an idle "
          "connection to the echo app: Linux's probes (seq - 1, no data) are answered with ACKs",
          "echo", 7, {"established": 1, "close": "clean"})
def live_keepalive(ns):
    ns.python("""
        import socket, time
        s = socket.create_connection(('%s', 7), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
        time.sleep(3.5)
        s.close()
        time.sleep(0.3)
    """ % STACK_IP)


@scenario("live-tcp-rst-closed-port", "Linux connects to a port nobody listens on: the stack answers "
          "the SYN with RST+ACK, Linux reports connection refused",
          "echo", 7, {"counters": "tcp_rst_out >= 1"})
def live_rst(ns):
    ns.python("""
        import socket
        try:
            socket.create_connection(('%s', 81), timeout=5)
            raise SystemExit('connected to a closed port')
        except ConnectionRefusedError:
            pass
    """ % STACK_IP)


@scenario("live-icmp-ping", "ping -c 3: ARP resolution of the stack by Linux, then three echo "
          "requests answered by the stack",
          "echo", 7, {"counters": "icmp_echo_replies_out = 3"})
def live_ping(ns):
    r = ns.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", STACK_IP], timeout=20)
    if " 0% packet loss" not in r.stdout:
        raise RuntimeError(r.stdout + r.stderr)


@scenario("live-icmp-ping-fragmented", "ping -s 3000 -c 2: each echo request arrives in three IPv4 "
          "fragments, the stack reassembles it and its 3008-byte reply leaves fragmented too",
          "echo", 7, {"counters": "icmp_echo_replies_out = 2"})
def live_ping_fragmented(ns):
    r = ns.run(["ping", "-c", "2", "-i", "0.2", "-s", "3000", "-W", "2", STACK_IP], timeout=20)
    if " 0% packet loss" not in r.stdout:
        raise RuntimeError(r.stdout + r.stderr)


@scenario("live-arp-linux-resolves", "Linux's neighbour cache is flushed between two pings: two ARP "
          "requests for the stack, each answered, and the stack's own ARP traffic if any",
          "echo", 7, {"counters": "arp_replies_out >= 2"})
def live_arp(ns):
    for _ in range(2):
        ns.run(["ip", "neigh", "flush", "dev", "tap0"], check=False)
        r = ns.run(["ping", "-c", "1", "-W", "2", STACK_IP], timeout=10)
        if " 0% packet loss" not in r.stdout:
            raise RuntimeError(r.stdout + r.stderr)
        time.sleep(0.2)


@scenario("live-udp-echo", "Linux sends three UDP datagrams (10, 500 and 1400 bytes) to the udp-echo "
          "app and reads each echo",
          "udp-echo", 7, {"counters": "udp_datagrams_in >= 3"})
def live_udp_echo(ns):
    ns.python("""
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.bind(('%s', 40007))
        for n in (10, 500, 1400):
            msg = bytes([n %% 256]) * n
            s.sendto(msg, ('%s', 7))
            got, _ = s.recvfrom(2000)
            assert got == msg
    """ % (LINUX_IP, STACK_IP))


# ---------------------------------------------------------------- recording
def write_sidecar(path, sc, mode, why=None):
    lines = ["# " + l for l in textwrap.wrap(sc["description"], 76)]
    lines += ["# Recorded by pcap-corpus/record-live.py (microtcp-tap --seed %d, Linux %s): re-run it "
              "rather than editing." % (SEED, os.uname().release)]
    if why:
        lines += ["# Outcome mode: " + l for l in textwrap.wrap(why, 70)]
    lines += ["", "[replay]", "mode = %s" % mode, "as = %s" % STACK_IP, "seed = %d" % SEED, "clock = tap"]
    lines.append("app = %s" % sc["replay"].get("app", sc["app"]))
    if sc["port"]:
        lines.append("port = %d" % sc["port"])
    for k, v in sc["replay"].items():
        if k != "app":
            lines.append("%s = %s" % (k, v))
    lines += ["", "[expect]"] + ["%s = %s" % kv for kv in sc["expect"].items()]
    path.write_text("\n".join(lines) + "\n")


def write_linux_side(sc, pcap, outdir):
    """The same frames with the stack playing Linux. The stack is not Linux
    (its SYN-ACK window, ACK pattern and window updates differ from what
    Linux sent), so only the outcome is checked: the peer's frames, moved into
    the stack's numbering, must still deliver every byte and close cleanly."""
    ls = sc["linux_side"]
    (outdir / (ls["name"] + ".pcap")).write_bytes(pcap.read_bytes())
    lines = ["# " + l for l in textwrap.wrap(ls["description"], 76)]
    lines += ["# Recorded by pcap-corpus/record-live.py together with %s: re-run it rather than "
              "editing." % sc["name"]]
    lines += ["# Outcome mode: " + l for l in textwrap.wrap(
        "the stack plays the Linux host, and its behaviour legitimately differs from Linux's "
        "(its SYN-ACK window, when it ACKs, its window updates), so the frames cannot match; "
        "the expected outcome is checked instead.", 70)]
    lines += ["", "[replay]", "mode = outcome", "as = %s" % LINUX_IP, "app = %s" % ls["app"],
              "port = %d" % ls["port"], "", "[expect]"] + ["%s = %s" % kv for kv in ls["expect"].items()]
    side = outdir / (ls["name"] + ".ini")
    side.write_text("\n".join(lines) + "\n")
    return outdir / (ls["name"] + ".pcap")


def record(sc, build, outdir):
    tap = build / "tools" / "tap" / "microtcp-tap"
    replay = build / "tools" / "replay" / "microtcp-replay"
    pcap = outdir / (sc["name"] + ".pcap")
    ns = Netns(sc["name"], tap)
    helpers = []
    try:
        # The stack's peers for --connect need a listener first.
        ns.run(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"], check=False)
        ns.run(["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"], check=False)
        if sc["tap_args"]:
            started = sc["run"](ns)
            helpers.append(subprocess.Popen(started["server"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True))
            # microtcp-tap is up in milliseconds and connects at once: the
            # server must be listening first (else its SYN meets a RST).
            port = sc["tap_args"][sc["tap_args"].index("--connect") + 1].rsplit(":", 1)[1]
            deadline = time.time() + 10
            while (":%s " % port) not in ns.run(["ss", "-Hltn"], check=False).stdout:
                if time.time() > deadline or helpers[0].poll() is not None:
                    raise RuntimeError("the Linux server did not start listening on port " + port)
                time.sleep(0.05)
            ns.start_tap(pcap, "source", 0, sc["tap_args"])
            out, err = helpers[0].communicate(timeout=30)
            if helpers[0].returncode != 0:
                raise RuntimeError("server: " + out + err)
            try:
                ns.tap.wait(timeout=10)  # the source app ends microtcp-tap when done
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.2)
        else:
            ns.start_tap(pcap, sc["app"], sc["port"], [])
            sc["run"](ns)
        ns.stop_tap()
    finally:
        for h in helpers:
            if h.poll() is None:
                h.kill()
                h.wait()
        ns.close()
    if sc["linux_side"]:
        other = write_linux_side(sc, pcap, outdir)
        r = subprocess.run([str(replay), str(other)], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            return "FAILED (replayed as Linux)", r.stdout + r.stderr
    write_sidecar(outdir / (sc["name"] + ".ini"), sc, "check")
    r = subprocess.run([str(replay), str(pcap)], capture_output=True, text=True, timeout=60)
    if r.returncode == 0:
        return "ok (check mode)", None
    # Not reproducible frame by frame: keep the expected outcome.
    write_sidecar(outdir / (sc["name"] + ".ini"), sc, "outcome",
                  why="check mode diverged on this recording: " + first_divergence(r.stdout))
    r2 = subprocess.run([str(replay), str(pcap)], capture_output=True, text=True, timeout=60)
    if r2.returncode == 0:
        return "ok (outcome mode; check mode diverged)", r.stdout
    return "FAILED", r2.stdout + r2.stderr


def first_divergence(out):
    lines = [l.strip() for l in out.splitlines()]
    for i, l in enumerate(lines):
        if l.startswith("DIVERGENCE"):
            return " ".join(lines[i:i + 4])
    return "(no divergence line)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(HERE.parent / "build" / "default"))
    ap.add_argument("--only")
    ap.add_argument("--out", default=str(HERE / "live"))
    ap.add_argument("--show-divergence", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("record-live: needs root (network namespaces, TAP)")
    for tool in ("ip", "ping", "curl"):
        if not shutil.which(tool):
            sys.exit("record-live: needs %s" % tool)
    build, outdir = pathlib.Path(a.build), pathlib.Path(a.out)
    outdir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for sc in SCENARIOS:
        if a.only and sc["name"] != a.only:
            continue
        try:
            verdict, detail = record(sc, build, outdir)
        except Exception as ex:  # one failed scenario must not stop the others
            verdict, detail = "FAILED", str(ex)
        print("%-36s %s" % (sc["name"], verdict), flush=True)
        if detail and (verdict.startswith("FAILED") or a.show_divergence):
            print("  " + detail.replace("\n", "\n  "))
        failed += verdict.startswith("FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
