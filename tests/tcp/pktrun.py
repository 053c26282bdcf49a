#!/usr/bin/env python3
"""Run a TCP script (packetdrill packet syntax) against one microtcp stack in
virtual time. Usage: pktrun.py [--verbose] [--tolerance_usecs=N] LIB SCRIPT.pkt

The format is documented in tests/tcp/README.md. Exit 0 pass, 1 fail, 2 error.
"""
import ctypes
import re
import struct
import sys

STACK_IP, REMOTE_IP = "192.168.0.2", "192.0.2.1"
REMOTE_ISN = 1000000          # inbound relative seq 0 maps to this
REMOTE_PORT, LISTEN_PORT = 40000, 8080

ERRNO = {-3: "EAGAIN", -4: "EBADF", -5: "EADDRINUSE", -6: "ENOTCONN", -7: "EISCONN",
         -8: "ECONNREFUSED", -9: "ECONNRESET", -10: "ETIMEDOUT", -11: "EHOSTUNREACH",
         -12: "ENETUNREACH", -14: "EPIPE", -15: "ECONNABORTED", -1: "EINVAL", -2: "ENOMEM",
         -17: "ENOPROTOOPT"}
STATES = ["TCP_CLOSE", "TCP_LISTEN", "TCP_SYN_SENT", "TCP_SYN_RECV", "TCP_ESTABLISHED",
          "TCP_FIN_WAIT1", "TCP_FIN_WAIT2", "TCP_CLOSE_WAIT", "TCP_CLOSING", "TCP_LAST_ACK",
          "TCP_TIME_WAIT"]
OPT = {"NODELAY": 1, "KEEPALIVE": 2, "KEEPIDLE": 3, "KEEPINTVL": 4, "KEEPCNT": 5, "SNDBUF": 6,
       "RCVBUF": 7, "CC": 8, "USER_TIMEOUT": 9, "MAXSEG": 10, "LINGER0": 11}
SOCKOPT = {"TCP_NODELAY": ("NODELAY", 1), "SO_KEEPALIVE": ("KEEPALIVE", 1),
           "TCP_KEEPIDLE": ("KEEPIDLE", 1000000), "TCP_KEEPINTVL": ("KEEPINTVL", 1000000),
           "TCP_KEEPCNT": ("KEEPCNT", 1), "SO_SNDBUF": ("SNDBUF", 1), "SO_RCVBUF": ("RCVBUF", 1),
           "TCP_MAXSEG": ("MAXSEG", 1), "TCP_USER_TIMEOUT": ("USER_TIMEOUT", 1000)}
FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, ".": 0x10, "U": 0x20, "E": 0x40, "W": 0x80}


class ScriptError(Exception):
    pass


def ip2int(s):
    a = [int(x) for x in s.split(".")]
    return a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def flags_str(f):
    out = "".join(ch for ch, bit in (("F", 1), ("S", 2), ("R", 4), ("P", 8)) if f & bit)
    return out + ("." if f & 0x10 else "")


# ---- parsing ------------------------------------------------------------------------------
def parse_opts(text):
    opts = []
    for item in [x.strip() for x in text.split(",") if x.strip()]:
        w = item.split()
        if w[0] == "mss":
            opts.append(("mss", int(w[1])))
        elif w[0] == "wscale":
            opts.append(("wscale", int(w[1])))
        elif w[0] == "sackOK":
            opts.append(("sackOK",))
        elif w[0] == "nop":
            opts.append(("nop",))
        elif w[0] == "eol":
            opts.append(("eol",))
        elif w[0] == "TS":
            opts.append(("TS", int(w[2]), int(w[4])))
        elif w[0] == "sack":
            blocks = tuple(tuple(int(v) for v in b.split(":")) for b in w[1:])
            opts.append(("sack", blocks))
        else:
            raise ScriptError(f"unknown option '{item}'")
    return opts


PKT_RE = re.compile(r"^([<>])\s+([SFRPUEW.]+)\s+(\d+):(\d+)\((\d+)\)(.*)$")


def parse_packet(text):
    m = PKT_RE.match(text)
    if not m:
        raise ScriptError(f"cannot parse packet '{text}'")
    d, fl, start, end, ln, rest = m.groups()
    flags = 0
    for ch in fl:
        flags |= FLAGS[ch]
    p = {"dir": d, "flags": flags, "seq": int(start), "len": int(ln), "ack": None, "win": None,
         "opts": None}
    if int(end) - int(start) != int(ln):
        raise ScriptError(f"seq range {start}:{end} does not match length ({ln})")
    om = re.search(r"<(.*)>", rest)
    if om:
        p["opts"] = parse_opts(om.group(1))
        rest = rest[:om.start()]
    am = re.search(r"\back\s+(\d+)", rest)
    if am:
        p["ack"] = int(am.group(1))
    wm = re.search(r"\bwin\s+(\d+)", rest)
    if wm:
        p["win"] = int(wm.group(1))
    return p


def split_args(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "[({":
            depth += 1
        elif ch in "])}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


CALL_RE = re.compile(r"^(\w+)\((.*)\)\s*=\s*(-?\d+|\.\.\.)(?:\s+(\w+))?.*$")


def parse_line(raw, last_time):
    """Returns (time_us, kind, payload)."""
    line = raw.strip()
    m = re.match(r"^(\+?)(\d*\.?\d+)\s+(.*)$", line)
    if not m:
        raise ScriptError("expected a time, e.g. '0.100' or '+0.1'")
    t = int(round(float(m.group(2)) * 1e6))
    t = last_time + t if m.group(1) else t
    body = m.group(3).strip()
    if body.startswith("<") or body.startswith(">"):
        return t, "pkt", parse_packet(body)
    if body.startswith("%{"):
        inner = body[2:body.rindex("}%")]
        return t, "assert", [x.strip() for x in re.split(r"[;\n]", inner) if x.strip()]
    cm = CALL_RE.match(body)
    if not cm:
        raise ScriptError(f"cannot parse '{body}'")
    name, args, ret, err = cm.groups()
    return t, "call", (name, split_args(args), ret, err)


# ---- the stack ------------------------------------------------------------------------------
class Stack:
    def __init__(self, lib, config):
        self.lib = lib
        L = lib
        L.shim_create.restype = ctypes.c_void_p
        L.shim_create.argtypes = [ctypes.c_uint64, ctypes.c_char_p]
        L.shim_stack.restype = ctypes.c_void_p
        L.shim_stack.argtypes = [ctypes.c_void_p]
        L.shim_input.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t]
        L.shim_output.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t]
        L.shim_deadline.restype = ctypes.c_uint64
        L.shim_deadline.argtypes = [ctypes.c_void_p]
        L.shim_advance.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
        L.shim_stat.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p,
                                ctypes.POINTER(ctypes.c_longlong)]
        L.shim_counter.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_longlong)]
        L.shim_destroy.argtypes = [ctypes.c_void_p]
        u64, vp, i = ctypes.c_uint64, ctypes.c_void_p, ctypes.c_int
        sig = {"microtcp_tcp_listen": [vp, u64, ctypes.c_uint16, i],
               "microtcp_tcp_accept": [vp, u64, i, vp],
               "microtcp_tcp_connect": [vp, u64, ctypes.c_uint32, ctypes.c_uint16, ctypes.c_uint16],
               "microtcp_tcp_send": [vp, u64, i, ctypes.c_char_p, ctypes.c_size_t],
               "microtcp_tcp_recv": [vp, u64, i, ctypes.c_char_p, ctypes.c_size_t],
               "microtcp_tcp_shutdown": [vp, u64, i], "microtcp_tcp_close": [vp, u64, i],
               "microtcp_tcp_setopt": [vp, i, i, ctypes.c_int64],
               "microtcp_socket_error": [vp, i], "microtcp_poll": [vp, i],
               "microtcp_local_port": [vp, i], "microtcp_tcp_state": [vp, i]}
        for name, args in sig.items():
            getattr(L, name).argtypes = args
            getattr(L, name).restype = ctypes.c_int
        self.h = L.shim_create(0, config.encode())
        if not self.h:
            raise ScriptError(f"cannot create stack with config '{config}'")
        self.st = L.shim_stack(self.h)
        self.now = 0

    def call(self, name, *args):
        return getattr(self.lib, name)(self.st, *args)

    def close(self):
        self.lib.shim_destroy(self.h)


# ---- the runner -----------------------------------------------------------------------------
class Runner:
    def __init__(self, lib_path, path, tolerance_us=4000, verbose=False):
        self.path = path
        self.lines = open(path).read().splitlines()
        self.tol = tolerance_us
        self.verbose = verbose
        self.config = ""
        for l in self.lines:
            m = re.match(r"^\s*//\s*config:\s*(.*)$", l)
            if m:
                self.config += " " + m.group(1).strip()
            m = re.match(r"^\s*//\s*tolerance_usecs\s*=\s*(\d+)", l)
            if m:
                self.tol = int(m.group(1))
        self.lib = ctypes.CDLL(lib_path)
        self.stack = Stack(self.lib, self.config)
        self.pending_out = []          # (time, bytes) emitted but not yet matched
        self.fds = {}                  # fd -> dict
        self.next_fd = 3
        self.stack_isn = None
        self.local_port = None         # the stack's port of the scripted connection
        self.remote_port = REMOTE_PORT
        self.last_tsval = 0
        self.last_conn_fd = None
        self.blocked = []              # pending blocking calls
        self.lineno = 0

    # time and output
    def drain(self):
        buf = ctypes.create_string_buffer(9100)
        while True:
            n = self.lib.shim_output(self.stack.h, self.stack.now, buf, 9100)
            if n <= 0:
                break
            self.pending_out.append((self.stack.now, bytes(buf.raw[:n])))

    def run_until(self, t, stop_on_output=False):
        self.drain()
        self.retry_blocked()
        while True:
            if stop_on_output and self.pending_out:
                return
            d = self.lib.shim_deadline(self.stack.h)
            if d > t:
                break
            self.stack.now = max(self.stack.now, d)
            self.lib.shim_advance(self.stack.h, self.stack.now)
            self.drain()
            self.retry_blocked()
        self.stack.now = max(self.stack.now, t)
        self.drain()
        self.retry_blocked()

    def fail(self, msg):
        raise ScriptError(f"{self.path}:{self.lineno}: {msg}")

    # packets
    def build_inbound(self, p):
        seq = (REMOTE_ISN + p["seq"]) & 0xffffffff
        ack = 0
        if p["ack"] is not None:
            ack = ((self.stack_isn or 0) + p["ack"]) & 0xffffffff
        opts = b""
        for o in p["opts"] or []:
            if o[0] == "mss":
                opts += struct.pack("!BBH", 2, 4, o[1])
            elif o[0] == "wscale":
                opts += struct.pack("!BBB", 3, 3, o[1])
            elif o[0] == "sackOK":
                opts += b"\x04\x02"
            elif o[0] == "nop":
                opts += b"\x01"
            elif o[0] == "eol":
                opts += b"\x00"
            elif o[0] == "TS":
                ecr = self.last_tsval if o[2] else 0
                opts += struct.pack("!BBII", 8, 10, o[1], ecr)
            elif o[0] == "sack":
                if self.stack_isn is None:
                    self.fail("SACK blocks before the stack's ISN is known")
                opts += struct.pack("!BB", 5, 2 + 8 * len(o[1]))
                for l, r in o[1]:
                    opts += struct.pack("!II", (self.stack_isn + l) & 0xffffffff,
                                        (self.stack_isn + r) & 0xffffffff)
        while len(opts) % 4:
            opts += b"\x00"
        win = p["win"] if p["win"] is not None else 65535
        lport = self.local_port or LISTEN_PORT
        hdr = struct.pack("!HHIIBBHHH", self.remote_port, lport, seq, ack,
                          (20 + len(opts)) // 4 << 4, p["flags"], win, 0, 0) + opts
        payload = b"\0" * p["len"]
        seg = hdr + payload
        src, dst = ip2int(REMOTE_IP), ip2int(STACK_IP)
        pseudo = struct.pack("!IIBBH", src, dst, 0, 6, len(seg))
        c = csum(pseudo + seg)
        seg = seg[:16] + struct.pack("!H", c) + seg[18:]
        iph = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(seg), 0, 0x4000, 64, 6, 0, src, dst)
        iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
        return iph + seg

    def parse_outbound(self, pkt):
        ihl = (pkt[0] & 15) * 4
        if csum(pkt[:ihl]) != 0:
            self.fail("outbound IP checksum is wrong")
        seg = pkt[ihl:]
        src, dst = struct.unpack("!II", pkt[12:20])
        if csum(struct.pack("!IIBBH", src, dst, 0, 6, len(seg)) + seg) != 0:
            self.fail("outbound TCP checksum is wrong")
        sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", seg[:16])
        hl = (off >> 4) * 4
        opts, i, raw = [], 20, seg
        while i < hl:
            k = raw[i]
            if k == 0:
                opts.append(("eol",)); i += 1; continue
            if k == 1:
                opts.append(("nop",)); i += 1; continue
            ln = raw[i + 1]
            v = raw[i + 2:i + ln]
            if k == 2:
                opts.append(("mss", struct.unpack("!H", v)[0]))
            elif k == 3:
                opts.append(("wscale", v[0]))
            elif k == 4:
                opts.append(("sackOK",))
            elif k == 8:
                tv, te = struct.unpack("!II", v)
                opts.append(("TS", tv, te))
            elif k == 5:
                bl = [struct.unpack("!II", v[j:j + 8]) for j in range(0, len(v), 8)]
                opts.append(("sack", tuple(bl)))
            i += ln
        return {"sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": flags, "win": win,
                "opts": opts, "len": len(seg) - hl}

    def summary(self, o, rel=True):
        seq = (o["seq"] - (self.stack_isn or 0)) & 0xffffffff if rel else o["seq"]
        s = f"> {flags_str(o['flags'])} {seq}:{seq + o['len']}({o['len']})"
        if o["flags"] & 0x10:
            s += f" ack {(o['ack'] - REMOTE_ISN) & 0xffffffff}"
        s += f" win {o['win']}"
        if o["opts"]:
            parts = []
            for x in o["opts"]:
                if x[0] == "TS":
                    parts.append(f"TS val {x[1]} ecr {x[2]}")
                elif x[0] == "sack":
                    parts.append("sack " + " ".join(f"{(l - REMOTE_ISN) & 0xffffffff}:{(r - REMOTE_ISN) & 0xffffffff}" for l, r in x[1]))
                else:
                    parts.append(" ".join(str(v) for v in x))
            s += " <" + ",".join(parts) + ">"
        return s

    def check_outbound(self, p, t):
        if not self.pending_out:
            self.run_until(t + self.tol, stop_on_output=True)
        if not self.pending_out:
            self.fail(f"expected {p['dir']} {flags_str(p['flags'])} {p['seq']}:{p['seq'] + p['len']}"
                      f"({p['len']}) at {t / 1e6:.6f} s, but the stack sent nothing")
        at, pkt = self.pending_out.pop(0)
        o = self.parse_outbound(pkt)
        if o["flags"] & 0x02 and self.stack_isn is None:
            self.stack_isn = o["seq"]
            if self.local_port is None:
                self.local_port = o["sport"]
        if o["opts"]:
            for x in o["opts"]:
                if x[0] == "TS":
                    self.last_tsval = x[1]
        got = self.summary(o)
        if abs(at - t) > self.tol:
            self.fail(f"packet at {at / 1e6:.6f} s, expected at {t / 1e6:.6f} s (±{self.tol} us): {got}")
        problems = []
        if o["flags"] != p["flags"]:
            problems.append(f"flags {flags_str(o['flags'])} != {flags_str(p['flags'])}")
        rseq = (o["seq"] - (self.stack_isn or 0)) & 0xffffffff
        if rseq != p["seq"]:
            problems.append(f"seq {rseq} != {p['seq']}")
        if o["len"] != p["len"]:
            problems.append(f"len {o['len']} != {p['len']}")
        if p["ack"] is not None and (o["ack"] - REMOTE_ISN) & 0xffffffff != p["ack"]:
            problems.append(f"ack {(o['ack'] - REMOTE_ISN) & 0xffffffff} != {p['ack']}")
        if p["win"] is not None and o["win"] != p["win"]:
            problems.append(f"win {o['win']} != {p['win']}")
        if p["opts"] is not None:
            want = []
            for x in p["opts"]:
                if x[0] == "TS":
                    want.append(("TS", "*", x[2]))
                elif x[0] == "sack":
                    want.append(("sack", tuple(((REMOTE_ISN + l) & 0xffffffff, (REMOTE_ISN + r) & 0xffffffff) for l, r in x[1])))
                else:
                    want.append(x)
            have = [("TS", "*", x[2]) if x[0] == "TS" else x for x in o["opts"]]
            # ecr values in scripts refer to the script's own TS val numbers
            if [h[:2] if h[0] == "TS" else h for h in have] != [w[:2] if w[0] == "TS" else w for w in want]:
                problems.append("options differ")
            else:
                for h, w in zip(have, want):
                    if h[0] == "TS" and h[2] != w[2]:
                        problems.append(f"TS ecr {h[2]} != {w[2]}")
        if problems:
            self.fail(f"expected {self.lines[self.lineno - 1].strip()}\n      got {got}\n      ({'; '.join(problems)})")

    # syscalls
    def errno_result(self, r):
        if r >= 0:
            return r, None
        return -1, ERRNO.get(r, f"E{r}")

    def do_call(self, name, args, want_ret, want_err, t):
        st = self.stack
        now = st.now
        fd = int(args[0]) if args and re.match(r"^\d+$", args[0]) else None
        f = self.fds.get(fd) if fd is not None else None

        def result(r, blocking_retry=None):
            ret, err = self.errno_result(r)
            if ret == -1 and err == "EAGAIN" and blocking_retry and not (f or {}).get("nonblock"):
                self.blocked.append((blocking_retry, want_ret, want_err, self.lineno))
                return
            self.check_result(name, ret, err, want_ret, want_err)

        if name == "socket":
            nfd = self.next_fd
            self.next_fd += 1
            self.fds[nfd] = {"h": None, "opts": [], "nonblock": False}
            return self.check_result(name, nfd, None, want_ret, want_err)
        if f is None:
            self.fail(f"{name} on unknown fd {args[0] if args else '?'}")
        if name == "bind":
            return self.check_result(name, 0, None, want_ret, want_err)
        if name == "listen":
            r = st.call("microtcp_tcp_listen", now, LISTEN_PORT, int(args[1]))
            if r >= 0:
                f["h"] = r
                self.apply_opts(f)
            return result(r if r < 0 else 0)
        if name == "fcntl":
            if "F_SETFL" in args[1]:
                f["nonblock"] = "O_NONBLOCK" in args[2]
                return self.check_result(name, 0, None, want_ret, want_err)
            return self.check_result(name, 0x802 if f["nonblock"] else 2, None, want_ret, want_err)
        if name in ("setsockopt", "getsockopt"):
            opt = args[2]
            if name == "getsockopt" and opt == "SO_ERROR":
                e = st.call("microtcp_socket_error", f["h"]) if f["h"] is not None else 0
                got = ERRNO.get(e, "0") if e else "0"
                exp = args[3].strip("[]")
                if got != exp:
                    self.fail(f"SO_ERROR is {got}, expected {exp}")
                return self.check_result(name, 0, None, want_ret, want_err)
            if name == "getsockopt":
                return self.check_result(name, 0, None, want_ret, want_err)
            if opt == "SO_REUSEADDR":
                return self.check_result(name, 0, None, want_ret, want_err)
            if opt == "SO_LINGER":
                f["opts"].append((OPT["LINGER0"], 1))
            elif opt == "TCP_CONGESTION":
                f["opts"].append((OPT["CC"], 1 if "cubic" in args[3] else 0))
            elif opt in SOCKOPT:
                key, scale = SOCKOPT[opt]
                f["opts"].append((OPT[key], int(args[3].strip("[]")) * scale))
            else:
                return self.check_result(name, -1, "ENOPROTOOPT", want_ret, want_err)
            if f["h"] is not None:
                self.apply_opts(f)
            return self.check_result(name, 0, None, want_ret, want_err)
        if name == "connect":
            r = st.call("microtcp_tcp_connect", now, ip2int(REMOTE_IP), LISTEN_PORT, 0)
            if r < 0:
                return result(r)
            f["h"] = r
            self.apply_opts(f)
            self.last_conn_fd = fd
            self.local_port = st.call("microtcp_local_port", r)
            self.remote_port = LISTEN_PORT
            if f["nonblock"]:
                return self.check_result(name, -1, "EINPROGRESS", want_ret, want_err)
            def wait_connected():
                ev = st.call("microtcp_poll", r)
                if ev & 4:
                    return 0
                if ev & 16:
                    return st.call("microtcp_socket_error", r)
                return -3
            return result(wait_connected(), wait_connected)
        if name == "accept":
            def try_accept():
                r = st.call("microtcp_tcp_accept", st.now, f["h"], None)
                if r >= 0:
                    nfd = self.next_fd
                    self.next_fd += 1
                    self.fds[nfd] = {"h": r, "opts": [], "nonblock": False}
                    self.last_conn_fd = nfd
                    return nfd
                return r
            return result(try_accept(), try_accept)
        if name in ("write", "send"):
            n = int(args[2])
            data = b"\0" * n
            def try_write():
                return st.call("microtcp_tcp_send", st.now, f["h"], data, n)
            return result(try_write(), try_write)
        if name in ("read", "recv"):
            n = int(args[2])
            buf = ctypes.create_string_buffer(max(n, 1))
            def try_read():
                return st.call("microtcp_tcp_recv", st.now, f["h"], buf, n)
            return result(try_read(), try_read)
        if name == "shutdown":
            return result(st.call("microtcp_tcp_shutdown", now, f["h"]))
        if name == "close":
            r = st.call("microtcp_tcp_close", now, f["h"]) if f["h"] is not None else 0
            del self.fds[fd]
            return result(r)
        self.fail(f"unsupported call {name}")

    def apply_opts(self, f):
        for opt, v in f["opts"]:
            self.stack.call("microtcp_tcp_setopt", f["h"], opt, v)

    def check_result(self, name, ret, err, want_ret, want_err):
        if want_ret == "...":
            return
        if ret != int(want_ret) or (want_err and err != want_err):
            self.fail(f"{name} returned {ret}{' ' + err if err else ''}, expected {want_ret}"
                      f"{' ' + want_err if want_err else ''}")

    def retry_blocked(self):
        still = []
        for fn, want_ret, want_err, line in self.blocked:
            r = fn()
            ret, err = self.errno_result(r)
            if ret == -1 and err == "EAGAIN":
                still.append((fn, want_ret, want_err, line))
                continue
            saved, self.lineno = self.lineno, line
            self.check_result("blocking call", ret, err, want_ret, want_err)
            self.lineno = saved
        self.blocked = still

    def do_assert(self, stmts):
        fd = self.last_conn_fd
        h = self.fds.get(fd, {}).get("h")
        for s in stmts:
            m = re.match(r"^assert\s+([\w.]+)\s*(==|!=|<=|>=|<|>)\s*(\w+)$", s)
            if not m:
                self.fail(f"cannot parse assertion '{s}'")
            field, op, val = m.groups()
            v = ctypes.c_longlong()
            if field.startswith("counter."):
                if self.lib.shim_counter(self.stack.h, field[8:].encode(), ctypes.byref(v)) < 0:
                    self.fail(f"unknown counter {field}")
            else:
                mapping = {"tcpi_state": "state", "tcpi_rto": "rto_us", "tcpi_rtt": "srtt_us",
                           "tcpi_rttvar": "rttvar_us", "tcpi_snd_mss": "mss",
                           "tcpi_total_retrans": "retransmits", "tcpi_snd_wscale": "snd_wscale",
                           "tcpi_rcv_wscale": "rcv_wscale", "tcpi_snd_cwnd": "cwnd",
                           "tcpi_snd_ssthresh": "ssthresh", "tcpi_snd_wnd": "snd_wnd"}
                if field not in mapping:
                    self.fail(f"unknown field {field}")
                if h is None or self.lib.shim_stat(self.stack.h, h, mapping[field].encode(), ctypes.byref(v)) < 0:
                    self.fail("no connection to inspect")
            x = v.value
            if field in ("tcpi_snd_cwnd", "tcpi_snd_ssthresh"):
                mss = ctypes.c_longlong()
                self.lib.shim_stat(self.stack.h, h, b"mss", ctypes.byref(mss))
                x = x // max(mss.value, 1) if x < 0x7fffffff else x
            want = STATES.index(val) if val in STATES else int(val)
            ok = {"==": x == want, "!=": x != want, "<": x < want, ">": x > want, "<=": x <= want,
                  ">=": x >= want}[op]
            if not ok:
                self.fail(f"assert {field} {op} {val} failed: value is {x}")

    def run(self):
        last = 0
        for i, raw in enumerate(self.lines, 1):
            self.lineno = i
            line = raw.strip()
            if not line or line.startswith("//") or line.startswith("`"):
                continue
            try:
                t, kind, what = parse_line(line, last)
            except ScriptError as e:
                raise ScriptError(f"{self.path}:{i}: {e}")
            last = t
            if kind == "pkt" and what["dir"] == ">":
                self.check_outbound(what, t)
                continue
            if self.pending_out:
                at, pkt = self.pending_out[0]
                self.fail(f"unexpected packet at {at / 1e6:.6f} s: {self.summary(self.parse_outbound(pkt))}")
            self.run_until(t)
            if self.pending_out:
                at, pkt = self.pending_out[0]
                self.fail(f"unexpected packet at {at / 1e6:.6f} s: {self.summary(self.parse_outbound(pkt))}")
            if kind == "pkt":
                if self.verbose:
                    print(f"{t / 1e6:.6f} {line}")
                self.lib.shim_input(self.stack.h, self.stack.now, self.build_inbound(what),
                                    len(self.build_inbound(what)))
            elif kind == "call":
                self.do_call(*what, t)
            else:
                self.do_assert(what)
            self.drain()
            self.retry_blocked()
        if self.blocked:
            self.lineno = self.blocked[0][3]
            self.fail("blocking call never completed")


def main(argv):
    verbose = "--verbose" in argv
    tol = 4000
    rest = []
    for a in argv[1:]:
        if a.startswith("--tolerance_usecs="):
            tol = int(a.split("=", 1)[1])
        elif a != "--verbose":
            rest.append(a)
    if len(rest) != 2:
        print("usage: pktrun.py [--verbose] [--tolerance_usecs=N] LIB SCRIPT.pkt", file=sys.stderr)
        return 2
    try:
        r = Runner(rest[0], rest[1], tol, verbose)
        r.run()
        r.stack.close()
    except ScriptError as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    print(f"ok {rest[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
