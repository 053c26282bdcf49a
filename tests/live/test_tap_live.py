"""Live tests: Linux programs in a network namespace talk to microtcp through a
TAP device. Each test creates its own namespace, starts microtcp-tap inside it
(the TAP device lives there, nothing leaves the machine) and removes both even
when it fails. Needs root and /dev/net/tun; skipped with the reason otherwise."""
import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid

import pytest

pytestmark = pytest.mark.live

HOST_IP, STACK_IP = "10.9.0.1", "10.9.0.2"
M64 = (1 << 64) - 1


def _why_not():
    if os.environ.get("MICROTCP_SANITIZED") == "1":
        return "live tests run in the default build"
    if os.geteuid() != 0:
        return "needs root (network namespaces, TAP)"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun"
    if not shutil.which("ip"):
        return "needs iproute2 (ip)"
    return None


if _why_not():
    pytestmark = [pytest.mark.live, pytest.mark.skip(reason=_why_not())]


# ---- the apps' deterministic stream (sim/apps/apps.c), to check content ----
def mix64(x):
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & M64
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def conn_seed(flow_seed, ip, port):
    a = [int(v) for v in ip.split(".")]
    ipn = a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]
    return mix64(flow_seed ^ ((ipn << 16 | port) & M64))


def stream(seed, n):
    out = bytearray()
    for w in range((n + 7) // 8):
        x = ((seed ^ w) * 0x9e3779b97f4a7c15) & M64
        out += (x ^ (x >> 29)).to_bytes(8, "little")
    return bytes(out[:n])


# ---- namespace + stack fixture ----
class Netns:
    def __init__(self, tap_bin):
        self.name = "mtcp-" + uuid.uuid4().hex[:8]
        self.tap_bin = tap_bin
        self.procs = []
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run(["ip", "link", "set", "lo", "up"])

    def cmd(self, argv):
        return ["ip", "netns", "exec", self.name] + argv

    def run(self, argv, **kw):
        kw.setdefault("check", True)
        kw.setdefault("timeout", 120)
        kw.setdefault("text", True)
        return subprocess.run(self.cmd(argv), capture_output=True, **kw)

    def start_stack(self, *args):
        p = subprocess.Popen(self.cmd([str(self.tap_bin), "--ifname", "tap0", "--ip", f"{STACK_IP}/24",
                                       "--host-ip", f"{HOST_IP}/24", *map(str, args)]),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        deadline = time.time() + 15
        while time.time() < deadline:  # wait until the TAP device is up with its address
            r = self.run(["ip", "-4", "addr", "show", "tap0"], check=False)
            if HOST_IP in r.stdout:
                time.sleep(0.2)
                return p
            if p.poll() is not None:
                raise RuntimeError("microtcp-tap exited: " + p.stderr.read())
            time.sleep(0.1)
        raise RuntimeError("TAP device did not come up")

    def python(self, code, timeout=180):
        r = self.run(["/usr/bin/python3", "-c", code], timeout=timeout, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout.strip()

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@pytest.fixture
def ns(build_dir):
    tap = build_dir / "tools" / "tap" / "microtcp-tap"
    if not tap.exists():
        pytest.fail(f"{tap} was not built")
    n = Netns(tap)
    try:
        yield n
    finally:
        n.close()


ECHO_CLIENT = """
import socket, hashlib, os, threading
data = os.urandom({n})
s = socket.create_connection(('{ip}', {port}), timeout=30)
got = bytearray()
def rd():
    while True:
        b = s.recv(1 << 16)
        if not b: break
        got.extend(b)
t = threading.Thread(target=rd); t.start()
s.sendall(data); s.shutdown(socket.SHUT_WR); t.join(120)
print(len(got), hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest())
"""


def test_ping_and_fragmented_ping(ns):
    ns.start_stack("--app", "echo", "--port", 7)
    if not shutil.which("ping"):
        pytest.skip("ping (iputils-ping) not installed")
    r = ns.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", STACK_IP])
    assert " 0% packet loss" in r.stdout
    r = ns.run(["ping", "-c", "2", "-i", "0.2", "-s", "4000", "-W", "2", STACK_IP])
    assert " 0% packet loss" in r.stdout and "4008 bytes from" in r.stdout


def test_arp_resolution(ns):
    ns.start_stack("--app", "echo", "--port", 7, "--mac", "02:00:00:00:00:2a")
    ns.python(f"import socket; socket.create_connection(('{STACK_IP}', 7), timeout=10).close()")
    r = ns.run(["ip", "neigh", "show", STACK_IP])
    assert "02:00:00:00:00:2a" in r.stdout


def test_echo_200mb_sha256(ns):
    ns.start_stack("--app", "echo", "--port", 7)
    out = ns.python(ECHO_CLIENT.format(n=200_000_000, ip=STACK_IP, port=7), timeout=600)
    assert out == "200000000 True"


def test_sink_200mb(ns):
    ns.start_stack("--app", "sink", "--port", 9)
    code = f"""
import socket, os
s = socket.create_connection(('{STACK_IP}', 9), timeout=30)
chunk = os.urandom(1 << 20)
for _ in range(200): s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
print(s.recv(10) == b'')  # the sink closes once it has read everything
"""
    assert ns.python(code, timeout=600) == "True"


def test_http_get_content_checked(ns):
    ns.start_stack("--app", "http", "--port", 80)
    if not shutil.which("curl"):
        pytest.skip("curl not installed")
    for i, size in enumerate((0, 1000, 65536, 1_000_000)):
        port = 41000 + i
        r = ns.run(["curl", "-s", "--local-port", str(port), "--max-time", "30",
                    f"http://{STACK_IP}/{size}", "-o", "-"], text=False)
        assert r.stdout == stream(conn_seed(0, HOST_IP, port), size), size
    r = ns.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                f"http://{STACK_IP}/not-a-size"])
    assert r.stdout == "404"


def test_500_concurrent_connections(ns):
    ns.start_stack("--app", "echo", "--port", 7)
    code = f"""
import socket, selectors
socks = [socket.create_connection(('{STACK_IP}', 7), timeout=30) for _ in range(500)]
for i, s in enumerate(socks): s.sendall(b'hello %05d' % i)
ok = 0
for i, s in enumerate(socks):
    want = b'hello %05d' % i
    got = b''
    while len(got) < len(want): got += s.recv(64)
    ok += got == want
for s in socks: s.close()
print(ok)
"""
    assert ns.python(code) == "500"


def test_stack_as_client_to_linux_server(ns):
    ready = f"""
import socket, hashlib
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('{HOST_IP}', 5001)); srv.listen(1); srv.settimeout(60)
c, (ip, port) = srv.accept()
data = bytearray()
while True:
    b = c.recv(1 << 16)
    if not b: break
    data.extend(b)
c.close()
print(len(data), ip, port, hashlib.sha256(data).hexdigest())
"""
    p = subprocess.Popen(ns.cmd(["/usr/bin/python3", "-c", ready]), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    ns.procs.append(p)
    stack = ns.start_stack("--app", "source", "--connect", f"{HOST_IP}:5001", "--bytes", 2_000_000)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    n, ip, port, digest = out.split()
    assert int(n) == 2_000_000 and ip == STACK_IP
    assert digest == hashlib.sha256(stream(conn_seed(0, STACK_IP, int(port)), 2_000_000)).hexdigest()
    stack.wait(timeout=30)
    assert stack.returncode == 0


def test_linux_closes_first(ns):
    ns.start_stack("--app", "echo", "--port", 7)
    # Linux shuts down first; the echo app sends the rest, then its own FIN
    out = ns.python(ECHO_CLIENT.format(n=1000, ip=STACK_IP, port=7))
    assert out == "1000 True"


def test_stack_closes_first(ns):
    ns.start_stack("--app", "http", "--port", 80)
    code = f"""
import socket
s = socket.create_connection(('{STACK_IP}', 80), timeout=10)
s.sendall(b'GET /10 HTTP/1.0\\r\\n\\r\\n')
data = b''
while True:
    b = s.recv(4096)
    if not b: break   # the stack sent FIN first, after the body
    data += b
print(data.split(b'\\r\\n\\r\\n', 1)[1].__len__())
"""
    assert ns.python(code) == "10"


def test_rst_on_closed_port(ns):
    ns.start_stack("--app", "echo", "--port", 7)
    code = f"""
import socket
try:
    socket.create_connection(('{STACK_IP}', 9), timeout=10)
    print('connected?')
except ConnectionRefusedError:
    print('refused')
"""
    assert ns.python(code) == "refused"


def test_udp_echo(ns):
    ns.start_stack("--app", "udp-echo", "--port", 5353)
    code = f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
ok = 0
for i in range(20):
    msg = b'datagram %d ' % i * 10
    s.sendto(msg, ('{STACK_IP}', 5353))
    got, addr = s.recvfrom(2048)
    ok += got == msg and addr[0] == '{STACK_IP}'
print(ok)
"""
    assert ns.python(code) == "20"


def test_transfer_through_5_percent_loss_and_reordering(ns):
    ns.start_stack("--app", "echo", "--port", 7, "--loss", 5, "--reorder", 5, "--seed", 3)
    out = ns.python(ECHO_CLIENT.format(n=2_000_000, ip=STACK_IP, port=7), timeout=300)
    assert out == "2000000 True"


# ---- the examples on the blocking API (they create their own TAP device) ----
def _start_example(ns, argv, ip):
    p = subprocess.Popen(ns.cmd(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ns.procs.append(p)
    deadline = time.time() + 15
    while time.time() < deadline:
        r = ns.run(["ip", "-4", "addr"], check=False)
        if ip in r.stdout:
            time.sleep(0.3)
            return p
        if p.poll() is not None:
            raise RuntimeError("example exited: " + p.stderr.read())
        time.sleep(0.1)
    raise RuntimeError("example did not bring its TAP device up")


def test_example_echo(ns, build_dir):
    _start_example(ns, [str(build_dir / "examples" / "echo"), "10.0.0.1", "10.0.0.2"], "10.0.0.1")
    out = ns.python(ECHO_CLIENT.format(n=5_000_000, ip="10.0.0.2", port=7))
    assert out == "5000000 True"


def test_example_http_server_serves_files(ns, build_dir, tmp_path):
    files = {"index.html": b"<h1>microtcp</h1>\n", "big.bin": os.urandom(700_000), "empty": b""}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    _start_example(ns, [str(build_dir / "examples" / "http_server"), str(tmp_path), "10.0.3.1",
                        "10.0.3.2", "80"], "10.0.3.1")
    if not shutil.which("curl"):
        pytest.skip("curl not installed")
    for name, data in files.items():
        r = ns.run(["curl", "-s", "--max-time", "30", f"http://10.0.3.2/{name}"], text=False)
        assert r.stdout == data, name
    r = ns.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                "http://10.0.3.2/missing"])
    assert r.stdout == "404"
