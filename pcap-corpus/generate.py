#!/usr/bin/python3
"""Generate the edge-case part of pcap-corpus/ (see README.md).

Each scenario is a *script*: the frames a scripted peer sends to the host the
stack plays (10.0.0.2), with TCP ack numbers relative to the stack's ISN (the
replay convention for captures without frames from the host: the host's ISN
counts as 0, its first TS val as 0). The script is replayed through
microtcp-replay --outcome --write, which injects the peer's frames on their
timestamps, runs the built-in app and writes the whole conversation (the
peer's frames as injected, the stack's answers as sent). That capture is the
corpus file; its sidecar holds the expected outcome, which the recording run
already had to meet, and `mode = check`, so a later replay compares every
frame the stack sends with the recorded one.

So the generated captures are golden files: when the stack's behaviour
changes on purpose, re-run this script and review the diff of the summaries
(microtcp-replay --verbose). When it changes by accident, the corpus test
fails with the first differing frame.

usage: /usr/bin/python3 pcap-corpus/generate.py --replay BUILD/tools/replay/microtcp-replay [--only NAME]
"""
import argparse
import os
import pathlib
import struct
import subprocess
import sys
import tempfile
import textwrap

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPOption_RR, Raw,
                       fragment, wrpcap)

HERE = pathlib.Path(__file__).resolve().parent
BASE = 1700000000.0           # capture epoch of every generated file
HOST_IP, HOST_MAC = "10.0.0.2", "02:00:00:00:00:02"
PEER_IP, PEER_MAC = "10.0.0.1", "02:00:00:00:00:01"
LINUX_SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (5000, 0)), ("NOP", None), ("WScale", 7)]

SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


class Script:
    """Frames of the scripted peer(s), plus the sidecar's sections."""

    def __init__(self, name, description):
        self.name = name
        self.description = description
        self.frames = []
        self.t = 0.0
        self.replay = {}
        self.config = {}
        self.expect = {}
        self.linktype = None  # convert the recorded capture: "raw", "sll", "sll2", "pcapng"

    def add(self, pkt, dt=0.001):
        self.t += dt
        pkt.time = BASE + self.t
        self.frames.append(pkt)
        return pkt

    def wait(self, seconds):
        self.t += seconds

    def eth(self, ip=PEER_IP, mac=PEER_MAC, **ipkw):
        return Ether(src=mac, dst=HOST_MAC) / IP(src=ip, dst=HOST_IP, **ipkw)


class Peer:
    """One TCP connection of a scripted peer. `rcv` is the next byte expected
    from the stack, relative to its ISN (the SYN-ACK is seq 0)."""

    def __init__(self, s, sport=40000, dport=80, ip=PEER_IP, mac=PEER_MAC, isn=1000, ts=True,
                 syn_opts=None, win=502):
        self.s, self.sport, self.dport, self.ip, self.mac = s, sport, dport, ip, mac
        self.seq = isn
        self.rcv = 1
        self.ts = ts
        self.tsval = 5000
        self.win = win
        self.syn_opts = LINUX_SYN_OPTS if syn_opts is None else syn_opts
        self.synack_t = None

    def opts(self):
        if not self.ts:
            return []
        self.tsval += 1
        ecr = 0 if self.synack_t is None else max(0, int((self.s.t - self.synack_t) * 1000) - 1)
        return [("NOP", None), ("NOP", None), ("Timestamp", (self.tsval, ecr))]

    def seg(self, flags, data=b"", seq=None, ack=None, win=None, options=None, dt=0.001, advance=True, **tcpkw):
        self.s.t += dt
        pkt = self.s.eth(self.ip, self.mac) / TCP(
            sport=self.sport, dport=self.dport, flags=flags, seq=self.seq if seq is None else seq,
            ack=(self.rcv if ack is None else ack) if "A" in flags else 0,
            window=self.win if win is None else win,
            options=self.opts() if options is None else options, **tcpkw)
        if data:
            pkt = pkt / Raw(data)
        self.s.add(pkt, dt=0)
        if advance and seq is None:
            self.seq += len(data) + (1 if "S" in flags else 0) + (1 if "F" in flags else 0)
        return pkt

    def syn(self, dt=0.001):
        p = self.seg("S", options=self.syn_opts if self.ts or not self.syn_opts else
                     [o for o in self.syn_opts if o[0] != "Timestamp"], win=64240, dt=dt)
        self.synack_t = self.s.t
        return p

    def handshake(self, dt=0.001):
        self.syn(dt)
        self.seg("A")

    def send(self, data, flags="PA", dt=0.001):
        return self.seg(flags, data, dt=dt)

    def got(self, n):
        """The stack sent n more bytes (or 1 for its FIN): ack them from now on."""
        self.rcv += n


def http_header(n):
    return ("HTTP/1.0 200 OK\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n" % n).encode()


# ---------------------------------------------------------------- handshakes
@scenario
def tcp_handshake_linux_options(s=None):
    s = Script("tcp-handshake-linux-options", "Linux-style SYN (mss, sackOK, TS, wscale 7); the stack answers SYN-ACK with its options; ACK completes")
    p = Peer(s)
    p.handshake()
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"established": 1, "close": "open"}
    return s


@scenario
def tcp_handshake_no_options(s=None):
    s = Script("tcp-handshake-no-options", "SYN without any option: the SYN-ACK offers only MSS (no wscale/SACK/TS in reply), data flows with MSS 536 defaults")
    p = Peer(s, ts=False, syn_opts=[])
    p.handshake()
    p.send(b"x" * 100)
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"established": 1, "bytes_to_app": 100}
    return s


@scenario
def tcp_handshake_mss_536(s=None):
    s = Script("tcp-handshake-mss-536", "peer offers MSS 536; the stack's 2000-byte HTTP answer is cut into 536-byte segments")
    p = Peer(s, syn_opts=[("MSS", 536), ("SAckOK", b""), ("Timestamp", (5000, 0)), ("NOP", None), ("WScale", 7)])
    p.handshake()
    p.send(b"GET /2000 HTTP/1.0\r\n\r\n")
    s.wait(0.01)
    p.got(len(http_header(2000)) + 2000 + 1)
    p.seg("A")
    p.seg("FA")
    s.replay = {"app": "http", "port": 80}
    s.expect = {"established": 1, "close": "clean"}
    return s


@scenario
def tcp_handshake_wscale_15(s=None):
    s = Script("tcp-handshake-wscale-15", "peer offers window scale 15 (RFC 7323 2.3: treat as 14); the stack completes the handshake and takes data")
    p = Peer(s, syn_opts=[("MSS", 1460), ("NOP", None), ("WScale", 15)], ts=False)
    p.handshake()
    p.send(b"y" * 300)
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"established": 1, "bytes_to_app": 300}
    return s


@scenario
def tcp_handshake_sack_no_ts(s=None):
    s = Script("tcp-handshake-sack-no-timestamps", "SYN with MSS, SACK-permitted and wscale but no timestamps")
    p = Peer(s, dport=7, ts=False, syn_opts=[("MSS", 1460), ("NOP", None), ("NOP", None), ("SAckOK", b""), ("NOP", None), ("WScale", 7)])
    p.handshake()
    p.send(b"z" * 10)
    s.replay = {"app": "echo", "port": 7}
    s.expect = {"established": 1, "bytes_to_app": 10}
    return s


@scenario
def tcp_syn_with_data(s=None):
    s = Script("tcp-syn-with-data", "a SYN carrying 20 bytes of data (allowed by RFC 9293 3.10.7.2): the data is queued or dropped, never delivered before the handshake")
    p = Peer(s, ts=False, syn_opts=[("MSS", 1460)])
    s.add(s.eth() / TCP(sport=40000, dport=80, flags="S", seq=1000, window=64240, options=[("MSS", 1460)]) / Raw(b"d" * 20))
    p.seq = 1001
    p.seg("A")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"established": 1}
    return s


@scenario
def tcp_syn_closed_port(s=None):
    s = Script("tcp-syn-closed-port", "SYN to a port nobody listens on: RST+ACK (RFC 9293 3.10.7.1)")
    s.add(s.eth() / TCP(sport=40000, dport=81, flags="S", seq=1000, window=64240, options=LINUX_SYN_OPTS))
    s.replay = {"app": "none"}
    s.expect = {"counters": "tcp_rst_out = 1, drop_tcp_no_socket = 1"}
    return s


@scenario
def tcp_ack_closed_port(s=None):
    s = Script("tcp-ack-closed-port", "a stray ACK to a closed port: RST with seq = the ACK's ack number, no ACK flag")
    s.add(s.eth() / TCP(sport=40000, dport=81, flags="A", seq=1000, ack=777777, window=502))
    s.replay = {"app": "none"}
    s.expect = {"counters": "tcp_rst_out = 1"}
    return s


@scenario
def tcp_syn_flood_burst(s=None):
    s = Script("tcp-syn-flood-burst", "300 SYNs from different ports within 30 ms to a listener with backlog 1024 and 64 connection blocks: once the blocks are taken, SYNs get SYN cookies (MSS only), nothing crashes; a real client completes its handshake with the cookie 10 ms later, but every half-open block is fresh (a peer mid-handshake is not evicted), so its ACK and data are dropped; its retransmission after the flood's SYN-ACKs went unanswered for an RTO takes the oldest half-open block")
    for i in range(300):
        s.add(s.eth(ip="10.0.0.%d" % (10 + i % 200), mac="02:00:00:00:01:%02x" % (i % 200)) /
              TCP(sport=20000 + i, dport=80, flags="S", seq=1000 * i, window=64240, options=[("MSS", 1460)]), dt=0.0001)
    p = Peer(s, sport=40000)
    p.handshake(dt=0.01)
    p.send(b"hello")
    s.wait(1.2)  # the flood's SYN-ACKs are retransmitted at 1 s: unanswered for an RTO
    p.seg("PA", b"hello", seq=p.seq - 5)  # the client's retransmission
    s.replay = {"app": "sink", "port": 80}
    s.config = {"max_tcp": 64}
    s.expect = {"bytes_to_app": 5,
                "counters": "tcp_half_open_evicted >= 1, tcp_syncookies_ok = 1, drop_tcp_backlog >= 2"}
    return s


# ---------------------------------------------------------------- data transfer
@scenario
def tcp_data_small_sink(s=None):
    s = Script("tcp-data-small-sink", "1000 bytes then FIN; the sink reads them and closes: FIN from the stack, last ACK")
    p = Peer(s)
    p.handshake()
    p.send(b"a" * 1000)
    p.seg("FA", dt=0.005)
    s.wait(0.001)
    p.got(1)
    p.seg("A")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"established": 1, "bytes_to_app": 1000, "close": "clean"}
    return s


@scenario
def tcp_data_bulk_sink(s=None):
    s = Script("tcp-data-bulk-sink", "64 KiB in 1448-byte segments (every second one ACKed at once, the rest after the delayed-ACK timer)")
    p = Peer(s)
    p.handshake()
    total = 0
    for i in range(46):
        chunk = bytes([(i * 7 + k) & 255 for k in range(1448)])
        p.send(chunk, flags="A", dt=0.0002)
        total += len(chunk)
    p.seg("FA", dt=0.05)
    s.wait(0.001)
    p.got(1)
    p.seg("A")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"established": 1, "bytes_to_app": total, "close": "clean"}
    return s


@scenario
def tcp_echo_exchange(s=None):
    s = Script("tcp-echo-exchange", "three requests to the echo app, each echoed back and ACKed; the peer closes")
    p = Peer(s, dport=7)
    p.handshake()
    for msg in (b"hello\n", b"microtcp echo test\n", b"x" * 1000):
        p.send(msg)
        s.wait(0.002)
        p.got(len(msg))
        p.seg("A")
    p.seg("FA", dt=0.005)
    s.wait(0.001)
    p.got(1)
    p.seg("A")
    s.replay = {"app": "echo", "port": 7}
    s.expect = {"established": 1, "bytes_to_app": 6 + 19 + 1000, "close": "clean"}
    return s


@scenario
def tcp_http_get(s=None):
    s = Script("tcp-http-get", "HTTP/1.0 GET /5000: header + 5000 body bytes in MSS segments, then FIN from the server")
    p = Peer(s)
    p.handshake()
    p.send(b"GET /5000 HTTP/1.0\r\nHost: 10.0.0.2\r\n\r\n")
    s.wait(0.005)
    p.got(len(http_header(5000)) + 5000)
    p.seg("A")
    p.got(1)
    p.seg("FA", dt=0.002)
    s.replay = {"app": "http", "port": 80}
    s.expect = {"established": 1, "close": "clean"}
    return s


@scenario
def tcp_out_of_order(s=None):
    s = Script("tcp-out-of-order", "segment 2 arrives before segment 1: the stack sends a duplicate ACK with a SACK block, then a cumulative ACK; the app gets the bytes in order")
    p = Peer(s)
    p.handshake()
    a, b = b"A" * 500, b"B" * 500
    p.seg("PA", b, seq=p.seq + 500)
    p.seg("PA", a, seq=p.seq)
    p.seq += 1000
    p.seg("FA", dt=0.05)
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 1000}
    return s


@scenario
def tcp_duplicate_segment(s=None):
    s = Script("tcp-duplicate-segment", "the same data segment twice: the second is acknowledged again (immediate ACK, RFC 9293 3.10.7.4) and not delivered twice")
    p = Peer(s)
    p.handshake()
    seq = p.seq
    p.send(b"D" * 200)
    p.seg("PA", b"D" * 200, seq=seq, dt=0.002)
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 200}
    return s


@scenario
def tcp_out_of_window(s=None):
    s = Script("tcp-out-of-window", "a data segment 1 GB beyond the window: dropped, answered with an ACK (RFC 9293 3.10.7.4), not delivered")
    p = Peer(s)
    p.handshake()
    p.seg("PA", b"W" * 100, seq=p.seq + 1000000000)
    p.send(b"ok")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 2, "counters": "drop_tcp_out_of_window >= 1"}
    return s


@scenario
def tcp_old_ack(s=None):
    s = Script("tcp-ack-of-unsent-data", "an ACK for data the stack never sent (RFC 9293 3.10.7.4: ACK and drop)")
    p = Peer(s)
    p.handshake()
    p.seg("A", ack=100000)
    p.send(b"after")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 5}
    return s


@scenario
def tcp_urgent_data(s=None):
    s = Script("tcp-urgent-pointer", "a segment with URG and an urgent pointer: the bytes are delivered in line")
    p = Peer(s)
    p.handshake()
    p.seg("PAU", b"U" * 10, urgptr=5)
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 10}
    return s


@scenario
def tcp_retransmit_rto(s=None):
    s = Script("tcp-retransmit-rto", "the peer ignores the stack's HTTP answer: retransmission after the RTO (RFC 6298), then the ACK arrives")
    p = Peer(s)
    p.handshake()
    p.send(b"GET /100 HTTP/1.0\r\n\r\n")
    s.wait(1.5)
    p.got(len(http_header(100)) + 100 + 1)
    p.seg("A")
    p.seg("FA")
    s.replay = {"app": "http", "port": 80}
    s.expect = {"close": "clean", "counters": "tcp_retransmits >= 1"}
    return s


@scenario
def tcp_fast_retransmit_sack(s=None):
    s = Script("tcp-fast-retransmit-sack", "the peer SACKs everything after the first segment of a 20000-byte answer with three duplicate ACKs: fast retransmit of the hole")
    p = Peer(s)
    p.handshake()
    p.send(b"GET /20000 HTTP/1.0\r\n\r\n")
    s.wait(0.002)
    hdr = len(http_header(20000))
    for k in range(1, 4):
        # the first segment [1, 1449) is missing; later ones arrived
        right = 1 + min(1448 * (k + 1), hdr + 20000)
        p.seg("A", ack=1, options=[("NOP", None), ("NOP", None), ("Timestamp", (p.tsval + k, 1)),
                                   ("NOP", None), ("NOP", None), ("SAck", (1449, right))], dt=0.0005)
    p.tsval += 3  # the explicit options above used these values
    s.wait(0.01)
    # the retransmission filled the hole: everything of the initial window is in
    p.seg("A", ack=1 + 1448 * 10)
    s.wait(0.01)
    p.got(hdr + 20000 + 1)  # the rest and the FIN, sent after that ACK
    p.seg("A")
    p.seg("FA")
    s.replay = {"app": "http", "port": 80}
    s.expect = {"counters": "tcp_retransmits >= 1", "close": "clean"}
    return s


# ---------------------------------------------------------------- closing and resets
@scenario
def tcp_close_peer_first(s=None):
    s = Script("tcp-close-peer-first", "the peer closes first (FIN), the echo app closes after EOF: CLOSE_WAIT -> LAST_ACK -> CLOSED")
    p = Peer(s, dport=7)
    p.handshake()
    p.send(b"bye")
    s.wait(0.002)
    p.got(3)
    p.seg("FA")
    s.wait(0.001)
    p.got(1)
    p.seg("A")
    s.replay = {"app": "echo", "port": 7}
    s.expect = {"bytes_to_app": 3, "close": "clean"}
    return s


@scenario
def tcp_close_stack_first(s=None):
    s = Script("tcp-close-stack-first", "the app closes first (at 50 ms): FIN from the stack, the peer ACKs and sends its FIN, the stack ACKs into TIME_WAIT")
    p = Peer(s)
    p.handshake()
    p.send(b"data")
    s.t = 0.060
    p.got(1)
    p.seg("A")
    p.seg("FA")
    s.replay = {"app": "sink", "port": 80, "app_close_at_us": 50000}
    s.expect = {"bytes_to_app": 4}
    return s


@scenario
def tcp_simultaneous_close(s=None):
    s = Script("tcp-simultaneous-close", "the app closes at 50 ms and the peer's FIN (not acking the stack's FIN) crosses it: CLOSING, then TIME_WAIT")
    p = Peer(s)
    p.handshake()
    s.t = 0.0505
    p.seg("FA")
    p.got(1)
    p.seg("A", dt=0.001)
    s.replay = {"app": "sink", "port": 80, "app_close_at_us": 50000}
    return s


@scenario
def tcp_rst_exact(s=None):
    s = Script("tcp-rst-exact-seq", "RST with exactly the expected sequence number: the connection is reset (RFC 5961 3.2)")
    p = Peer(s)
    p.handshake()
    p.send(b"abc")
    p.seg("R", options=[], dt=0.01)
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 3, "close": "reset"}
    return s


@scenario
def tcp_rst_in_window_challenge(s=None):
    s = Script("tcp-rst-in-window-challenge", "RST in the window but not exact: challenge ACK (RFC 5961 3.2), the connection survives and later data arrives")
    p = Peer(s)
    p.handshake()
    p.seg("R", seq=p.seq + 100, options=[])
    p.send(b"still here")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 10, "close": "open", "counters": "tcp_challenge_acks >= 1"}
    return s


@scenario
def tcp_rst_out_of_window(s=None):
    s = Script("tcp-rst-out-of-window", "RST far outside the window: silently dropped (RFC 5961 3.2)")
    p = Peer(s)
    p.handshake()
    p.seg("R", seq=p.seq + 2000000000, options=[])
    p.send(b"alive")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 5, "close": "open"}
    return s


@scenario
def tcp_syn_on_established(s=None):
    s = Script("tcp-syn-on-established", "a SYN on an established connection: challenge ACK (RFC 5961 4), the connection is kept")
    p = Peer(s)
    p.handshake()
    # With timestamps negotiated, a segment without TSopt is dropped (RFC 7323
    # 3.2), so the SYN carries one.
    p.seg("S", seq=p.seq + 5000, options=[("MSS", 1460)] + p.opts(), advance=False)
    p.send(b"more")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 4, "close": "open", "counters": "tcp_challenge_acks >= 1"}
    return s


@scenario
def tcp_fin_with_data(s=None):
    s = Script("tcp-fin-with-data", "data and FIN in one segment: both accepted, the sink closes")
    p = Peer(s)
    p.handshake()
    p.seg("FPA", b"last words")
    s.wait(0.002)
    p.got(1)
    p.seg("A")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 10, "close": "clean"}
    return s


# ---------------------------------------------------------------- windows and timers
@scenario
def tcp_zero_window(s=None):
    s = Script("tcp-zero-window", "the peer's window is 0 while the stack has an HTTP answer queued: persist probes (RFC 9293 3.8.6.1) until the window opens at 3 s")
    p = Peer(s)
    p.handshake()
    p.seg("PA", b"GET /3000 HTTP/1.0\r\n\r\n", win=0)
    s.t = 3.0
    p.seg("A", win=502)
    s.wait(0.01)
    p.got(len(http_header(3000)) + 3000 + 1)
    p.seg("A")
    p.seg("FA")
    s.replay = {"app": "http", "port": 80}
    s.expect = {"close": "clean"}
    return s


@scenario
def tcp_keepalive_stack(s=None):
    s = Script("tcp-keepalive-stack", "the stack's keepalive (idle 2 s, interval 1 s): probes with seq = snd.nxt - 1, the peer answers the second")
    p = Peer(s)
    p.handshake()
    s.t = 3.1
    p.seg("A")
    s.t = 6.0
    p.send(b"k")
    s.replay = {"app": "sink", "port": 80, "keepalive_us": 2000000}
    s.config = {"tcp_keepintvl_us": 1000000}
    s.expect = {"bytes_to_app": 1, "close": "open"}
    return s


@scenario
def tcp_keepalive_peer_probe(s=None):
    s = Script("tcp-keepalive-peer-probe", "the peer's keepalive probe (seq = rcv.nxt - 1, one garbage byte): the stack answers with an ACK and delivers nothing")
    p = Peer(s)
    p.handshake()
    s.t = 2.0
    p.seg("A", b"\x00", seq=p.seq - 1)
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 0, "close": "open"}
    return s


@scenario
def tcp_delayed_ack(s=None):
    s = Script("tcp-delayed-ack", "one small segment: the ACK waits for the delayed-ACK timer (40 ms)")
    p = Peer(s)
    p.handshake()
    p.send(b"ping")
    s.wait(0.1)
    p.send(b"pong")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 8}
    return s


# ---------------------------------------------------------------- malformed TCP
def malformed_tcp(name, description, raw_tcp_header_options, ok_after=True):
    s = Script(name, description)
    p = Peer(s)
    p.handshake()
    # The option bytes go in by hand (scapy would not build malformed ones):
    # data offset 6 = a 24-byte header whose last 4 bytes are these.
    seg = s.eth() / TCP(sport=40000, dport=80, flags="PA", seq=p.seq, ack=1, window=502,
                        dataofs=5 + len(raw_tcp_header_options) // 4, options=[]) / Raw(raw_tcp_header_options + b"M" * 8)
    s.add(seg)
    p.send(b"fine")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 4, "counters": "drop_tcp_malformed >= 1"}
    return s


@scenario
def tcp_option_len_zero(s=None):
    return malformed_tcp("tcp-option-length-zero", "an option with length 0 (would loop forever in a naive walker): dropped as malformed",
                         b"\x63\x00\x01\x01")


@scenario
def tcp_option_len_one(s=None):
    return malformed_tcp("tcp-option-length-one", "an option with length 1: dropped as malformed", b"\x22\x01\x01\x01")


@scenario
def tcp_option_overrun(s=None):
    return malformed_tcp("tcp-option-length-overrun", "an option whose length runs past the header: dropped as malformed", b"\x01\x01\x08\x20")


@scenario
def tcp_option_bad_mss_len(s=None):
    return malformed_tcp("tcp-option-mss-wrong-length", "an MSS option of length 3: dropped as malformed", b"\x02\x03\x05\x01")


@scenario
def tcp_data_offset_too_big(s=None):
    s = Script("tcp-data-offset-past-end", "a TCP header claiming 60 bytes in a 28-byte segment: dropped as malformed")
    p = Peer(s)
    p.handshake()
    s.add(s.eth() / TCP(sport=40000, dport=80, flags="PA", seq=p.seq, ack=1, window=502, dataofs=15, options=[]) / Raw(b"12345678"))
    p.send(b"fine")
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 4, "counters": "drop_tcp_malformed >= 1"}
    return s


@scenario
def tcp_bad_checksum(s=None):
    s = Script("tcp-bad-checksum", "a data segment with a wrong TCP checksum: dropped and counted, the retransmission with the right one is taken")
    p = Peer(s)
    p.handshake()
    seq = p.seq
    s.add(s.eth() / TCP(sport=40000, dport=80, flags="PA", seq=seq, ack=1, window=502, chksum=0x1234) / Raw(b"C" * 50))
    p.seg("PA", b"C" * 50, seq=seq, dt=0.2)
    p.seq += 50
    s.replay = {"app": "sink", "port": 80}
    s.expect = {"bytes_to_app": 50, "counters": "drop_tcp_checksum = 1"}
    return s


# ---------------------------------------------------------------- IPv4
@scenario
def ip_bad_header_checksum(s=None):
    s = Script("ip-bad-header-checksum", "an echo request with a wrong IPv4 header checksum: dropped (RFC 1122 3.2.1.2), the next one answered")
    s.add(s.eth(chksum=0xbeef) / ICMP(id=1, seq=1) / Raw(b"p" * 32))
    s.add(s.eth() / ICMP(id=1, seq=2) / Raw(b"p" * 32))
    s.replay = {"app": "none"}
    s.expect = {"counters": "drop_ip_checksum = 1, icmp_echo_replies_out = 1"}
    return s


@scenario
def ip_malformed_headers(s=None):
    s = Script("ip-malformed-headers", "IPv4 headers with version 6, ihl 4, total length beyond the frame and the reserved flag: all dropped as malformed")
    good = bytes(IP(src=PEER_IP, dst=HOST_IP) / ICMP(id=9, seq=1) / Raw(b"q" * 16))
    e = Ether(src=PEER_MAC, dst=HOST_MAC, type=0x0800)
    v6 = bytes([0x65]) + good[1:]
    ihl4 = bytes([0x44]) + good[1:]
    toolong = good[:2] + struct.pack("!H", 400) + good[4:]
    evil = good[:6] + bytes([good[6] | 0x80]) + good[7:]
    for b in (v6, ihl4, toolong, evil):
        s.add(e / Raw(b))
    s.add(s.eth() / ICMP(id=9, seq=2) / Raw(b"q" * 16))
    s.replay = {"app": "none"}
    s.expect = {"counters": "drop_ip_malformed >= 3, icmp_echo_replies_out = 1"}
    return s


@scenario
def ip_options_ping(s=None):
    s = Script("ip-options-record-route", "an echo request carrying a Record Route option (24-byte IPv4 header): answered")
    s.add(s.eth(options=[IPOption_RR(routers=["0.0.0.0"] * 4)]) / ICMP(id=3, seq=1) / Raw(b"r" * 20))
    s.replay = {"app": "none"}
    s.expect = {"counters": "icmp_echo_replies_out = 1"}
    return s


@scenario
def ip_overlapping_fragments(s=None):
    s = Script("ip-overlapping-fragments", "two echo requests in fragments: in the first a piece inside the first fragment repeats it with different bytes (the first copy wins, counted: answered with the original bytes), in the second a piece partially overlaps the first (the teardrop/overlap class, RFC 5722 spirit: the datagram is discarded); a clean one afterwards is answered")
    payload = bytes(ICMP(id=7, seq=1) / Raw(b"o" * 1000))
    e = Ether(src=PEER_MAC, dst=HOST_MAC)
    s.add(e / IP(src=PEER_IP, dst=HOST_IP, id=777, flags="MF", frag=0, proto=1) / Raw(payload[:512]))
    s.add(e / IP(src=PEER_IP, dst=HOST_IP, id=777, flags="MF", frag=32, proto=1) / Raw(b"X" * 256))
    s.add(e / IP(src=PEER_IP, dst=HOST_IP, id=777, frag=64, proto=1) / Raw(payload[512:]))
    payload2 = bytes(ICMP(id=7, seq=2) / Raw(b"p" * 1000))
    s.add(e / IP(src=PEER_IP, dst=HOST_IP, id=778, flags="MF", frag=0, proto=1) / Raw(payload2[:512]), dt=0.01)
    s.add(e / IP(src=PEER_IP, dst=HOST_IP, id=778, flags="MF", frag=32, proto=1) / Raw(b"X" * 512))
    s.add(e / IP(src=PEER_IP, dst=HOST_IP, id=778, frag=96, proto=1) / Raw(payload2[768:]))
    s.add(s.eth() / ICMP(id=7, seq=3) / Raw(b"o" * 100), dt=0.01)
    s.replay = {"app": "none"}
    s.expect = {"counters": "ip_reasm_conflicts = 1, drop_reasm_overlap = 1, icmp_echo_replies_out = 2"}
    return s


@scenario
def ip_fragment_timeout(s=None):
    s = Script("ip-fragment-timeout", "the first fragment of a datagram whose rest never comes: the reassembly slot is freed after the timeout")
    e = Ether(src=PEER_MAC, dst=HOST_MAC)
    payload = bytes(ICMP(id=8, seq=1) / Raw(b"t" * 2000))
    s.add(e / IP(src=PEER_IP, dst=HOST_IP, id=888, flags="MF", frag=0, proto=1) / Raw(payload[:1480]))
    s.t = 31.5
    s.add(s.eth() / ICMP(id=8, seq=2) / Raw(b"t" * 10))
    s.replay = {"app": "none"}
    s.expect = {"counters": "drop_reasm_timeout >= 1, icmp_echo_replies_out = 1"}
    return s


# ---------------------------------------------------------------- ICMP
@scenario
def icmp_ping(s=None):
    s = Script("icmp-ping", "three echo requests of 56 bytes (ping's default): three replies with the same id, seq and payload")
    for i in range(1, 4):
        s.add(s.eth() / ICMP(id=0x4242, seq=i) / Raw(bytes(range(56))), dt=1.0 if i > 1 else 0.001)
    s.replay = {"app": "none"}
    s.expect = {"counters": "icmp_echo_replies_out = 3"}
    return s


@scenario
def icmp_ping_fragmented(s=None):
    s = Script("icmp-ping-fragmented", "a 4000-byte echo request in three fragments: reassembled, answered in three fragments")
    for f in fragment(IP(src=PEER_IP, dst=HOST_IP, id=4242) / ICMP(id=5, seq=1) / Raw(bytes(i & 255 for i in range(4000))), fragsize=1480):
        s.add(Ether(src=PEER_MAC, dst=HOST_MAC) / f, dt=0.0001)
    s.replay = {"app": "none"}
    s.expect = {"counters": "ip_reassembled = 1, icmp_echo_replies_out = 1, ip_fragments_out >= 3"}
    return s


@scenario
def icmp_ping_fragments_reversed(s=None):
    s = Script("icmp-ping-fragments-reversed", "a 3000-byte echo request whose fragments arrive last first: reassembled and answered")
    frags = fragment(IP(src=PEER_IP, dst=HOST_IP, id=4343) / ICMP(id=6, seq=1) / Raw(b"R" * 3000), fragsize=1480)
    for f in reversed(frags):
        s.add(Ether(src=PEER_MAC, dst=HOST_MAC) / f, dt=0.0001)
    s.replay = {"app": "none"}
    s.expect = {"counters": "ip_reassembled = 1, icmp_echo_replies_out = 1"}
    return s


@scenario
def icmp_bad_checksum(s=None):
    s = Script("icmp-bad-checksum", "an echo request with a wrong ICMP checksum: dropped, no reply")
    s.add(s.eth() / ICMP(id=1, seq=1, chksum=0x1111) / Raw(b"c" * 8))
    s.replay = {"app": "none"}
    s.expect = {"counters": "drop_icmp_checksum = 1, icmp_echo_replies_out = 0"}
    return s


@scenario
def icmp_broadcast_ping(s=None):
    s = Script("icmp-broadcast-ping", "an echo request to 255.255.255.255 and one to the subnet broadcast: no reply (RFC 1122 3.2.2.6 allows silence; the stack stays silent)")
    e = Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff")
    s.add(e / IP(src=PEER_IP, dst="255.255.255.255") / ICMP(id=2, seq=1))
    s.add(e / IP(src=PEER_IP, dst="10.0.0.255") / ICMP(id=2, seq=2))
    s.add(s.eth() / ICMP(id=2, seq=3))
    s.replay = {"app": "none", "as": HOST_IP, "netmask": 24}
    s.expect = {"counters": "icmp_echo_replies_out = 1"}
    return s


# ---------------------------------------------------------------- UDP
@scenario
def udp_closed_port(s=None):
    s = Script("udp-closed-port", "a datagram to a closed UDP port: ICMP port unreachable quoting it (RFC 1122 4.1.3.1)")
    s.add(s.eth() / UDP(sport=5000, dport=9999) / Raw(b"anyone?"))
    s.replay = {"app": "none"}
    s.expect = {"counters": "drop_udp_no_port = 1, icmp_errors_out = 1"}
    return s


@scenario
def udp_echo(s=None):
    s = Script("udp-echo", "three datagrams to the UDP echo app (one of 1400 bytes): each echoed to its sender")
    for d in (b"one", b"two" * 10, b"3" * 1400):
        s.add(s.eth() / UDP(sport=5001, dport=7) / Raw(d))
    s.replay = {"app": "udp-echo", "port": 7}
    s.expect = {"counters": "udp_datagrams_in = 3, udp_datagrams_out = 3"}
    return s


@scenario
def udp_bad_checksum_and_zero(s=None):
    s = Script("udp-bad-checksum-and-zero", "a datagram with a wrong checksum (dropped) and one with checksum 0 (no checksum, RFC 768: accepted)")
    s.add(s.eth() / UDP(sport=5002, dport=7, chksum=0x4321) / Raw(b"bad"))
    s.add(s.eth() / UDP(sport=5002, dport=7, chksum=0) / Raw(b"nocsum"))
    s.replay = {"app": "udp-echo", "port": 7}
    s.expect = {"counters": "drop_udp_checksum = 1, udp_datagrams_out = 1"}
    return s


@scenario
def udp_length_mismatch(s=None):
    s = Script("udp-length-mismatch", "UDP length field larger than the IP payload and smaller than 8: both dropped as malformed")
    s.add(s.eth() / UDP(sport=5003, dport=7, len=200) / Raw(b"short"))
    s.add(s.eth() / UDP(sport=5003, dport=7, len=4) / Raw(b"tiny"))
    s.replay = {"app": "udp-echo", "port": 7}
    s.expect = {"counters": "drop_udp_malformed = 2, udp_datagrams_out = 0"}
    return s


# ---------------------------------------------------------------- ARP and link
@scenario
def arp_request_reply(s=None):
    s = Script("arp-request-reply", "ARP who-has for the host: is-at reply; the sender is learned, so a ping is answered without an ARP request")
    s.add(Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=HOST_IP))
    s.add(s.eth() / ICMP(id=1, seq=1))
    s.replay = {"app": "none", "static_arp": "no"}
    s.expect = {"counters": "arp_replies_out = 1, icmp_echo_replies_out = 1, arp_requests_out = 0"}
    return s


@scenario
def arp_resolve_before_reply(s=None):
    s = Script("arp-resolve-before-reply", "a ping from an unknown peer: the reply waits for an ARP request from the stack, sent once the peer answers")
    s.add(s.eth() / ICMP(id=1, seq=1))
    s.add(Ether(src=PEER_MAC, dst=HOST_MAC) / ARP(op=2, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst=HOST_MAC, pdst=HOST_IP), dt=0.001)
    s.replay = {"app": "none", "static_arp": "no"}
    s.expect = {"counters": "arp_requests_out = 1, icmp_echo_replies_out = 1"}
    return s


@scenario
def arp_for_other_host(s=None):
    s = Script("arp-for-other-host", "ARP requests for other addresses and a malformed ARP (hlen 8): no answer")
    s.add(Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst="10.0.0.99"))
    s.add(Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwlen=8, hwsrc=PEER_MAC + ":00:00", psrc=PEER_IP, pdst=HOST_IP))
    s.add(Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=HOST_IP))
    s.replay = {"app": "none", "static_arp": "no", "as": HOST_IP}
    s.expect = {"counters": "arp_replies_out = 1, drop_arp_malformed = 1"}
    return s


@scenario
def arp_conflict(s=None):
    s = Script("arp-conflict", "another machine claims the host's address (gratuitous ARP from a different MAC): counted as a conflict")
    s.add(Ether(src="02:00:00:00:00:99", dst="ff:ff:ff:ff:ff:ff") /
          ARP(op=1, hwsrc="02:00:00:00:00:99", psrc=HOST_IP, pdst=HOST_IP))
    s.add(s.eth() / ICMP(id=1, seq=1))
    s.replay = {"app": "none", "as": HOST_IP}
    s.expect = {"counters": "arp_conflicts >= 1"}
    return s


@scenario
def link_other_ethertypes(s=None):
    s = Script("link-other-frames", "an IPv6 frame, an 802.3 length frame, a runt and a VLAN-tagged echo request (the tag is removed when reading the capture): only the last is answered")
    s.add(Ether(src=PEER_MAC, dst=HOST_MAC, type=0x86DD) / Raw(bytes(40)))
    s.add(Ether(src=PEER_MAC, dst=HOST_MAC, type=0x0050) / Raw(bytes(46)))
    s.add(Raw(bytes.fromhex("020000000002") + bytes(4)))
    s.add(Ether(src=PEER_MAC, dst=HOST_MAC) / Dot1Q(vlan=5) / IP(src=PEER_IP, dst=HOST_IP) / ICMP(id=1, seq=1))
    s.replay = {"app": "none", "as": HOST_IP}
    s.expect = {"counters": "drop_eth_type >= 1, drop_eth_malformed >= 1, icmp_echo_replies_out = 1"}
    return s


# ---------------------------------------------------------------- link-type variants
def link_variant(name, kind):
    s = Script(name, "an echo exchange over TCP recorded as %s: the replay synthesises Ethernet headers" % kind)
    p = Peer(s, dport=7)
    p.handshake()
    p.send(b"linktype")
    s.wait(0.002)
    p.got(8)
    p.seg("A")
    s.replay = {"app": "echo", "port": 7}
    s.expect = {"established": 1, "bytes_to_app": 8}
    s.linktype = kind
    return s


@scenario
def link_raw(s=None):
    return link_variant("link-raw-ipv4", "raw")


@scenario
def link_sll(s=None):
    return link_variant("link-linux-cooked-sll", "sll")


@scenario
def link_sll2(s=None):
    return link_variant("link-linux-cooked-sll2", "sll2")


@scenario
def link_pcapng(s=None):
    return link_variant("link-pcapng", "pcapng")


# ---------------------------------------------------------------- output
def synth_mac(ip):
    return bytes([2, 0]) + bytes(int(x) for x in ip.split("."))


def convert(src, dst, kind):
    """Rewrite an Ethernet capture as raw IPv4 / SLL / SLL2 / pcapng."""
    from scapy.all import rdpcap
    if kind == "pcapng":
        subprocess.run(["editcap", "-F", "pcapng", str(src), str(dst)], check=True)
        return
    pkts = rdpcap(str(src))
    lt = {"raw": 101, "sll": 113, "sll2": 276}[kind]
    # A classic pcap file written by hand: scapy's PcapWriter.write_packet()
    # skips the file header when handed raw bytes.
    w = open(dst, "wb")
    w.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, lt))
    for p in pkts:
        raw = bytes(p)
        proto, body = raw[12:14], raw[14:]
        ip_src = ".".join(str(b) for b in body[12:16])
        outgoing = ip_src == HOST_IP
        if kind == "raw":
            out = body
        elif kind == "sll":
            out = struct.pack("!HHH", 4 if outgoing else 0, 1, 6) + raw[6:12] + b"\0\0" + proto + body
        else:
            out = proto + b"\0\0" + struct.pack("!IHBB", 2, 1, 4 if outgoing else 0, 6) + raw[6:12] + b"\0\0" + body
        usec = int(round((p.time - int(p.time)) * 1e6))
        w.write(struct.pack("<IIII", int(p.time), usec, len(out), len(out)) + out)
    w.close()


def write_sidecar(path, s, mode):
    # inih reads lines of at most 200 bytes: wrap the description.
    lines = ["# " + l for l in textwrap.wrap(s.description, 76)]
    lines += ["# Generated by pcap-corpus/generate.py: re-run it rather than editing.", "",
              "[replay]", "mode = %s" % mode]
    for k, v in s.replay.items():
        lines.append("%s = %s" % (k, v))
    if s.config:
        lines += ["", "[config]"] + ["%s = %s" % kv for kv in s.config.items()]
    if s.expect:
        lines += ["", "[expect]"] + ["%s = %s" % kv for kv in s.expect.items()]
    path.write_text("\n".join(lines) + "\n")


def build(s, replay, outdir, tmp):
    script = tmp / (s.name + ".script.pcap")
    wrpcap(str(script), s.frames, linktype=1)
    side = tmp / (s.name + ".ini")
    write_sidecar(side, s, "outcome")
    recorded = tmp / (s.name + ".pcap")
    r = subprocess.run([replay, "--outcome", "--sidecar", str(side), "--write", str(recorded), str(script)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "recording failed:\n" + r.stdout + r.stderr
    ext = ".pcapng" if s.linktype == "pcapng" else ".pcap"
    final = outdir / (s.name + ext)
    if s.linktype:
        convert(recorded, final, s.linktype)
    else:
        final.write_bytes(recorded.read_bytes())
    write_sidecar(outdir / (s.name + ".ini"), s, "check")
    r = subprocess.run([replay, str(final)], capture_output=True, text=True)
    if r.returncode != 0:
        return "check replay of the recorded capture failed:\n" + r.stdout + r.stderr
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replay", required=True, help="path of the microtcp-replay binary")
    ap.add_argument("--only", help="build only this scenario")
    ap.add_argument("--out", default=str(HERE / "generated"), help="output directory")
    args = ap.parse_args()
    outdir = pathlib.Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    failures = 0
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        for fn in SCENARIOS:
            s = fn()
            if args.only and s.name != args.only:
                continue
            err = build(s, args.replay, outdir, tmp)
            print("%-40s %s" % (s.name, "ok" if err is None else "FAILED"))
            if err:
                failures += 1
                print("  " + err.replace("\n", "\n  "))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
