#!/usr/bin/python3
"""Record real conversations between Linux programs (none of them ours) for
pcap-corpus/real/ (and one capture class for pcap-corpus/classes/): curl against python's http.server, a bulk transfer over
python sockets (as nc would do it), HTTP/1.1 keep-alive with two requests on
one connection, a client that resets, and the same HTTP GET with the kernel's
offloads left on (checksums not filled in, GSO super-frames) or cut by a
small snapshot length.

Everything happens in two network namespaces this script creates
(mtreal-c-PID: the client 10.78.0.1, mtreal-s-PID: the server 10.78.0.2,
joined by one veth pair); nothing is routed anywhere else. tcpdump records
on the server's veth. Every process started is killed and both namespaces
deleted on the way out, also on failure or Ctrl-C.

    sudo /usr/bin/python3 pcap-corpus/record-real.py [--out pcap-corpus/real] [--only NAME]
         [--replay build/default/tools/replay/microtcp-replay]

With --replay, each new capture is imported (`microtcp-replay import`),
which writes its sidecar and checks that it replays. Needs root, iproute2,
ethtool, tcpdump, curl and python3.
"""
import argparse
import fcntl
import hashlib
import random
import select
import struct
import threading
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
PID = os.getpid()
NS_C, NS_S = f"mtreal-c-{PID}", f"mtreal-s-{PID}"
IP_C, IP_S = "10.78.0.1", "10.78.0.2"
IF_C, IF_S = "mtr-c", "mtr-s"

procs = []


def sh(*cmd, check=True, ns=None, **kw):
    if ns:
        cmd = ("ip", "netns", "exec", ns) + cmd
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def spawn(ns, *cmd, **kw):
    p = subprocess.Popen(("ip", "netns", "exec", ns) + cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True, **kw)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)  # its own session: the process and its children only
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def cleanup():
    for p in procs:
        try:
            stop(p)
        except ProcessLookupError:
            pass
    for ns in (NS_C, NS_S):
        sh("ip", "netns", "del", ns, check=False)


def setup(offloads):
    sh("ip", "netns", "add", NS_C)
    sh("ip", "netns", "add", NS_S)
    sh("ip", "link", "add", IF_C, "netns", NS_C, "type", "veth", "peer", "name", IF_S, "netns", NS_S)
    for ns, ifc, ip in ((NS_C, IF_C, IP_C), (NS_S, IF_S, IP_S)):
        sh("ip", "addr", "add", ip + "/24", "dev", ifc, ns=ns)
        sh("ip", "link", "set", ifc, "up", ns=ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
        if not offloads:
            # Checksums computed in software, no super-frames: the capture
            # shows what a wire would carry.
            sh("ethtool", "-K", ifc, "tx", "off", "tso", "off", "gso", "off", "gro", "off", ns=ns)


class LossyLink:
    """Instead of a veth pair: a TAP device in each namespace and this
    process forwarding frames between them, dropping and reordering some
    (a seeded random.Random, so a recording is repeatable up to timing):
    loss and reorder where the kernel has no netem. TAPs without
    IFF_VNET_HDR get no offloads: checksums are filled in, no super-frames."""

    TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000

    def __init__(self, seed, loss, reorder):
        self.rnd = random.Random(seed)
        self.loss, self.reorder = loss, reorder
        self.fds = {}
        self.stopping = False
        self.dropped = self.reordered = self.forwarded = 0
        for ns, ifc, ip in ((NS_C, IF_C, IP_C), (NS_S, IF_S, IP_S)):
            fd = os.open("/dev/net/tun", os.O_RDWR)
            fcntl.ioctl(fd, self.TUNSETIFF, struct.pack("16sH", ifc.encode(),
                                                          self.IFF_TAP | self.IFF_NO_PI))
            self.fds[ifc] = fd
            sh("ip", "link", "set", ifc, "netns", ns)
            sh("ip", "addr", "add", ip + "/24", "dev", ifc, ns=ns)
            sh("ip", "link", "set", ifc, "up", ns=ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        other = {self.fds[IF_C]: self.fds[IF_S], self.fds[IF_S]: self.fds[IF_C]}
        held = {}  # fd -> a frame held back to go out after the next one
        while not self.stopping:
            ready, _, _ = select.select(list(other), [], [], 0.05)
            for fd in ready:
                try:
                    frame = os.read(fd, 65536)
                except OSError:
                    continue
                if self.rnd.random() < self.loss:
                    self.dropped += 1
                    continue
                if fd not in held and self.rnd.random() < self.reorder:
                    held[fd] = frame
                    self.reordered += 1
                    continue
                os.write(other[fd], frame)
                self.forwarded += 1
                if fd in held:
                    os.write(other[fd], held.pop(fd))
            if not ready:  # idle: nothing stays held back
                for fd, frame in list(held.items()):
                    os.write(other[fd], frame)
                    held.pop(fd)

    def close(self):
        self.stopping = True
        self.thread.join(2)
        for fd in self.fds.values():
            os.close(fd)


def wait_port(port, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        r = sh("ss", "-ltnH", f"sport = :{port}", ns=NS_S, check=False)
        if r.stdout.strip():
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} in {NS_S}")


def start_tcpdump(path, snaplen=0, iface=IF_S, ns=NS_S):
    p = spawn(ns, "tcpdump", "-i", iface, "-U", "--immediate-mode", "-B", "16384", "-n", "-s", str(snaplen), "-w", str(path), "tcp")
    end = time.time() + 5
    line = b""
    while time.time() < end and b"listening on" not in line:
        line = p.stderr.readline()
        if not line and p.poll() is not None:
            raise RuntimeError("tcpdump failed to start")
    return p


def content(n, seed):
    out = bytearray()
    block = seed.encode()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


PY_BULK_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001)); s.listen(1)
c, _ = s.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.sendall(b"received %d bytes\\n" % n); c.close()
"""
PY_BULK_CLIENT = """
import hashlib, socket, sys
n = int(sys.argv[1]); data = bytearray(); b = b"bulk"
while len(data) < n:
    b = hashlib.sha256(b).digest(); data += b
c = socket.create_connection(("%s", 5001)); c.sendall(bytes(data[:n])); c.shutdown(socket.SHUT_WR)
while c.recv(4096): pass
c.close()
""" % IP_S
PY_RESET_CLIENT = """
import socket, struct
c = socket.create_connection(("%s", 8000))
c.sendall(b"GET /small.bin HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
c.recv(100)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
""" % IP_S


def http_server(docroot, protocol="HTTP/1.0", bind=IP_S):
    p = spawn(NS_S, sys.executable, "-m", "http.server", "--protocol", protocol, "--bind", bind,
              "--directory", str(docroot), "8000")
    wait_port(8000)
    return p


SCENARIOS = {}


def scenario(name, offloads=False, snaplen=0, iface=IF_S, as_=IP_S, corpus=True, lossy=None):
    """corpus=False: a capture class that cannot replay (pcap-corpus/classes/,
    no sidecar; tests/replay checks the explanation instead)."""
    def deco(fn):
        SCENARIOS[name] = (fn, offloads, snaplen, " ".join(fn.__doc__.split()), iface, as_,
                           corpus, lossy)
        return fn
    return deco


@scenario("real-http-get-curl")
def http_get(docroot):
    """curl fetches a 60000-byte file from python's http.server (HTTP/1.0: the server closes)"""
    http_server(docroot)
    sh("curl", "-sS", "-o", "/dev/null", f"http://{IP_S}:8000/page.bin", ns=NS_C)


@scenario("real-http-keepalive-two-requests")
def http_keepalive(docroot):
    """curl fetches two files over one HTTP/1.1 keep-alive connection from python's http.server"""
    http_server(docroot, "HTTP/1.1")
    sh("curl", "-sS", "-o", "/dev/null", "-o", "/dev/null", f"http://{IP_S}:8000/small.bin",
       f"http://{IP_S}:8000/page.bin", ns=NS_C)


@scenario("real-http-two-ports-three-connections")
def http_two_ports(docroot):
    """python's http.server on ports 8000 and 8001; curl fetches from 8000, from 8001, then from 8000 again: three connections, two listening ports"""
    http_server(docroot)
    p2 = spawn(NS_S, sys.executable, "-m", "http.server", "--bind", IP_S, "--directory",
               str(docroot), "8001")
    wait_port(8001)
    for port, f in ((8000, "small.bin"), (8001, "mid.bin"), (8000, "small.bin")):
        sh("curl", "-sS", "-o", "/dev/null", f"http://{IP_S}:{port}/{f}", ns=NS_C)


@scenario("real-bulk-python-sockets")
def bulk(docroot):
    """a python client sends 300000 bytes and shuts down its side; the python server answers with one line and closes (nc-style bulk)"""
    spawn(NS_S, sys.executable, "-c", PY_BULK_SERVER)
    wait_port(5001)
    sh(sys.executable, "-c", PY_BULK_CLIENT, "300000", ns=NS_C)


@scenario("real-http-client-resets")
def client_resets(docroot):
    """a python client sends a request, reads 100 bytes and closes with SO_LINGER 0: an RST while the server still has data"""
    http_server(docroot, "HTTP/1.1")
    sh(sys.executable, "-c", PY_RESET_CLIENT, ns=NS_C)


@scenario("real-http-get-offloads-on", offloads=True)
def http_get_offloads(docroot):
    """curl against python's http.server with the veth offloads left on: checksums not filled in, GSO super-frames from the server"""
    http_server(docroot)
    sh("curl", "-sS", "-o", "/dev/null", f"http://{IP_S}:8000/page.bin", ns=NS_C)


@scenario("real-http-get-snaplen-96", snaplen=96, corpus=False)
def http_get_snaplen(docroot):
    """curl fetches 3000 bytes, recorded with tcpdump -s 96: every data frame is cut by the snapshot length"""
    http_server(docroot)
    sh("curl", "-sS", "-o", "/dev/null", f"http://{IP_S}:8000/small.bin", ns=NS_C)


@scenario("real-loopback-http-curl", iface="lo", as_="127.0.0.1:8000")
def loopback(docroot):
    """curl fetches 20000 bytes from python's http.server over the loopback interface (both ends 127.0.0.1; lo's MTU 1500, TSO/GSO off, checksums left offloaded): replayed as 127.0.0.1:8000"""
    sh("ip", "link", "set", "lo", "mtu", "1500", ns=NS_S)
    sh("ethtool", "-K", "lo", "tso", "off", "gso", "off", ns=NS_S)  # checksums stay offloaded
    http_server(docroot, bind="127.0.0.1")
    sh("curl", "-sS", "-o", "/dev/null", "http://127.0.0.1:8000/mid.bin", ns=NS_S)


@scenario("real-bulk-lossy", lossy=(7, 0.03, 0.03))
def bulk_lossy(docroot):
    """the nc-style bulk transfer (200000 bytes) over a link dropping 3% and reordering 3% of the frames each way: retransmissions, SACK, out-of-order data"""
    spawn(NS_S, sys.executable, "-c", PY_BULK_SERVER)
    wait_port(5001)
    sh(sys.executable, "-c", PY_BULK_CLIENT, "200000", ns=NS_C, timeout=120)


def record(name, out, replay):
    fn, offloads, snaplen, desc, iface, as_, corpus, lossy = SCENARIOS[name]
    if lossy:
        return record_lossy(name, fn, desc, lossy, out, replay)
    if not corpus:
        out = HERE / "classes"
        replay = None
    with tempfile.TemporaryDirectory() as docroot:
        docroot = pathlib.Path(docroot)
        (docroot / "page.bin").write_bytes(content(60000, "page"))
        (docroot / "small.bin").write_bytes(content(3000, "small"))
        (docroot / "mid.bin").write_bytes(content(20000, "mid"))
        try:
            setup(offloads)
            tmp = docroot / "cap.pcap"
            td = start_tcpdump(tmp, snaplen, iface)
            fn(docroot)
            time.sleep(1.0)  # the last ACKs and FINs reach tcpdump
            stop(td)
            stats = td.stderr.read().decode(errors="replace").strip().splitlines()
            print(f"{name}: tcpdump: " + "; ".join(stats[-3:]))
        finally:
            cleanup()
            procs.clear()
        dest = out / (name + ".pcap")
        shutil.copyfile(tmp, dest)
    print(f"{name}: {dest.stat().st_size} bytes")
    if replay:
        r = subprocess.run([str(replay), "import", "--out", str(out), "--description", desc,
                            "--as", as_, str(dest)],
                           capture_output=True, text=True)
        print(r.stdout + r.stderr)


def record_lossy(name, fn, desc, lossy, out, replay):
    """Two captures of one lossy conversation: tcpdump on each TAP, i.e. what
    each end sent and received (NAME-server-view, NAME-client-view); each is
    imported as the side it was recorded on."""
    with tempfile.TemporaryDirectory() as docroot:
        docroot = pathlib.Path(docroot)
        link = None
        try:
            sh("ip", "netns", "add", NS_C)
            sh("ip", "netns", "add", NS_S)
            link = LossyLink(*lossy)
            views = {"server": (docroot / "s.pcap", NS_S, IF_S, IP_S),
                     "client": (docroot / "c.pcap", NS_C, IF_C, IP_C)}
            dumps = [start_tcpdump(path, 0, ifc, ns) for path, ns, ifc, _ in views.values()]
            fn(docroot)
            time.sleep(1.0)
            for td in dumps:
                stop(td)
            print(f"{name}: link forwarded {link.forwarded}, dropped {link.dropped}, "
                  f"reordered {link.reordered}")
        finally:
            if link:
                link.close()
            cleanup()
            procs.clear()
        for view, (path, _, _, ip) in views.items():
            dest = out / f"{name}-{view}-view.pcap"
            shutil.copyfile(path, dest)
            print(f"{dest.name}: {dest.stat().st_size} bytes")
            if replay:
                r = subprocess.run([str(replay), "import", "--out", str(out), "--description",
                                    desc + f" (recorded on the {view}'s side)", "--as", ip,
                                    str(dest)], capture_output=True, text=True)
                print(r.stdout + r.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(HERE / "real"))
    ap.add_argument("--only", action="append")
    ap.add_argument("--replay")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("record-real.py: needs root (network namespaces)")
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in a.only or SCENARIOS:
        record(name, out, a.replay)


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
