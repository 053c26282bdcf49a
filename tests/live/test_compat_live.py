"""The seed project's API (tools/tap/include/microtcp/compat.h) live: our own
programs written the way the seed's examples are (tests/live/compat/echo.c and
http.c, built against compat.h only) run in a network namespace on a TAP
device of their own, and Linux programs (nc, curl, Python sockets) talk to
them. Every test removes its processes and namespace, also on failure (the
Netns fixture), and every Linux client runs under a timeout. Needs root and
/dev/net/tun; skipped with the reason otherwise."""
import hashlib
import os
import shutil
import time

import pytest

from test_tap_hostile import _why_not as _why_not_tap
from test_tap_live import Netns

pytestmark = pytest.mark.live

TAP_IP, STACK_IP = "10.0.0.5", "10.0.0.4"  # the seed's examples' addresses


def _why_not():
    why = _why_not_tap()  # build, root, /dev/net/tun, iproute2: as the hostile probes
    if why:
        return why
    for tool, package in (("nc", "netcat-openbsd"), ("curl", "curl")):
        if not shutil.which(tool):
            return f"needs {tool} ({package})"
    return None


if _why_not():
    pytestmark = [pytest.mark.live, pytest.mark.skip(reason=_why_not())]


@pytest.fixture
def ns(build_dir, tmp_path):
    for prog in ("compat_echo", "compat_http"):
        if not (build_dir / "tools" / "tap" / prog).exists():
            pytest.fail(f"{prog} was not built")
    n = Netns(build_dir, tmp_path)
    try:
        yield n
    finally:
        n.close()


def start(ns, prog, ready, *args):
    """Start a compat program in the namespace; wait for its ready line."""
    p = ns.spawn([ns.build_dir / "tools" / "tap" / prog, *args], f"{prog}.log")
    deadline = time.time() + 15
    while ready not in p.log.read_text():
        if p.poll() is not None:
            raise RuntimeError(f"{prog} exited {p.returncode}: " + p.log.read_text())
        if time.time() > deadline:
            raise RuntimeError(f"{prog} did not become ready: " + p.log.read_text())
        time.sleep(0.05)
    ns.wait_for_addr(p, TAP_IP, prog)
    return p


def nc_echo(ns, msg):
    r = ns.run(["sh", "-c", f"printf '%s' '{msg}' | nc -q 2 -w 5 {STACK_IP} 8081"], timeout=20, check=False)
    return r.stdout


@pytest.mark.parametrize("how", ["create", "callbacks"])
def test_seed_echo_example_answers_nc(ns, how):
    """The seed's echo example logic: accept, recv once, send "echo: " + it,
    close. Built on microtcp_create, and on microtcp_callbacks_create_for_tap +
    microtcp_create_using_callbacks (the reader-thread adapter)."""
    p = start(ns, "compat_echo", "listening", *(["--callbacks"] if how == "callbacks" else []))
    for i in range(3):  # one connection after the other, as the example serves them
        msg = f"hello {i} from nc"
        assert nc_echo(ns, msg) == "echo: " + msg
    assert p.poll() is None, p.log.read_text()


def curl(ns, *urls, timeout=30):
    r = ns.run(["curl", "-sS", "--max-time", str(timeout - 5), *urls], timeout=timeout, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_seed_http_example_serves_curl(ns):
    """The seed's HTTP example logic (non-blocking sockets in one mux, WOULDBLOCK
    via microtcp_get_socket_error): curl gets "Hello, world!"; two requests on
    one kept-alive connection; an unknown path gets 404."""
    p = start(ns, "compat_http", "serving")
    assert curl(ns, f"http://{STACK_IP}/") == "Hello, world!"
    assert curl(ns, f"http://{STACK_IP}/", f"http://{STACK_IP}/26") == "Hello, world!" + \
        "abcdefghijklmnopqrstuvwxyz"
    r = ns.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                f"http://{STACK_IP}/nope"], timeout=20, check=False)
    assert r.stdout == "404", r.stdout + r.stderr
    assert p.poll() is None, p.log.read_text()


BIG = 4 << 20


def test_seed_http_large_bodies_need_mux_send_events(ns):
    """4 MiB answers are far more than the 128 KiB send buffer: the server
    sends until WOULDBLOCK and resumes on MICROTCP_MUX_SEND. Three clients at
    once (Python, reading slowly at first), every byte checked."""
    start(ns, "compat_http", "serving")
    code = f"""
import hashlib, socket, threading, time
want = hashlib.sha256(bytes((97 + i % 26) for i in range({BIG}))).hexdigest()
res = []
def get(slow):
    s = socket.create_connection(('{STACK_IP}', 80), timeout=30)
    s.sendall(b'GET /{BIG} HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')
    data = bytearray()
    while True:
        if slow and len(data) < 300000:
            time.sleep(0.01)          # the stack's send buffer fills meanwhile
        b = s.recv(1 << 16)
        if not b:
            break
        data += b
    head, _, body = bytes(data).partition(b'\\r\\n\\r\\n')
    res.append((b'Content-Length: {BIG}' in head, len(body), hashlib.sha256(body).hexdigest() == want))
ts = [threading.Thread(target=get, args=(i == 0,)) for i in range(3)]
[t.start() for t in ts]
[t.join(60) for t in ts]
print(res)
"""
    out = ns.python(code, timeout=90)
    assert out == str([(True, BIG, True)] * 3), out


def test_seed_http_many_connections_in_one_mux(ns):
    """40 concurrent keep-alive connections, each asking twice: the mux
    reports each connection's events, none is starved."""
    start(ns, "compat_http", "serving")
    code = f"""
import socket, threading
ok = []
def response(s, buf):
    while b'\\r\\n\\r\\n' not in buf:
        b = s.recv(65536)
        if not b:
            return None, buf
        buf += b
    head, _, rest = buf.partition(b'\\r\\n\\r\\n')
    n = int(head.split(b'Content-Length: ')[1].split(b'\\r\\n')[0])
    while len(rest) < n:
        b = s.recv(65536)
        if not b:
            return None, b''
        rest += b
    return (head, rest[:n]), rest[n:]
def one(i):
    s = socket.create_connection(('{STACK_IP}', 80), timeout=20)
    buf, good = b'', 0
    for k in range(2):
        s.sendall(b'GET /%d HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' % (100 + i))
        r, buf = response(s, buf)
        good += r is not None and r[0].startswith(b'HTTP/1.1 200') and len(r[1]) == 100 + i
    s.close()
    ok.append(good == 2)
ts = [threading.Thread(target=one, args=(i,)) for i in range(40)]
[t.start() for t in ts]
[t.join(30) for t in ts]
print(sum(ok), len(ok))
"""
    assert ns.python(code, timeout=60) == "40 40"
