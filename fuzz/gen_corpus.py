#!/usr/bin/python3
"""Write the seed corpora of every fuzz target into fuzz/corpus/<target>/.

Deterministic: running it twice gives the same files. Packets are built with
scapy (so their encodings are an independent implementation's, not ours);
the record formats of the stateful targets are documented at the top of each
target's source (fuzz/targets/fuzz_<target>.c).

    /usr/bin/python3 fuzz/gen_corpus.py
"""
import os
import shutil
import struct

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPOption_NOP, IPOption_RR, Raw, fragment

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
STACK_MAC, PEER_MAC = "02:00:00:00:00:02", "02:00:00:00:00:01"
STACK_IP, PEER_IP = "10.0.0.2", "10.0.0.1"
SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)), ("NOP", None), ("WScale", 7)]

written = {}


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))
    written[target] = written.get(target, 0) + 1


def to_stack(l3):
    return Ether(dst=STACK_MAC, src=PEER_MAC) / l3


def ip(**kw):
    return IP(src=PEER_IP, dst=STACK_IP, **kw)


# ---- frame: one Ethernet frame ----------------------------------------------------------
frames = {
    "arp-request": Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC) / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=STACK_IP),
    "arp-reply": to_stack(ARP(op=2, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst=STACK_MAC, pdst=STACK_IP)),
    "arp-gratuitous-conflict": Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:09")
    / ARP(op=1, hwsrc="02:00:00:00:00:09", psrc=STACK_IP, pdst=STACK_IP),
    "icmp-echo": to_stack(ip() / ICMP(type=8, id=7, seq=1) / (b"ping" * 8)),
    "icmp-echo-ip-options": to_stack(ip(options=[IPOption_NOP(), IPOption_RR(routers=["1.2.3.4"])]) / ICMP(type=8) / b"x"),
    "icmp-port-unreach": to_stack(ip() / ICMP(type=3, code=3) / bytes(ip() / UDP(sport=5000, dport=53))[:28]),
    "udp-53": to_stack(ip() / UDP(sport=5000, dport=53) / b"hello"),
    "udp-closed-port": to_stack(ip() / UDP(sport=5000, dport=99) / b"?"),
    "udp-zero-checksum": to_stack(ip() / UDP(sport=5000, dport=53, chksum=0) / b"nocsum"),
    "tcp-syn": to_stack(ip() / TCP(sport=40000, dport=80, seq=1000, flags="S", options=SYN_OPTS)),
    "tcp-syn-closed-port": to_stack(ip() / TCP(sport=40000, dport=81, seq=1000, flags="S")),
    "tcp-ack-sack": to_stack(ip() / TCP(sport=40000, dport=80, flags="A", options=[("NOP", None), ("NOP", None), ("SAck", (10, 20, 30, 40))]) / b"xyz"),
    "tcp-rst": to_stack(ip() / TCP(sport=40000, dport=80, flags="R", seq=5)),
    "ip-first-fragment": to_stack(ip(id=9, flags="MF") / Raw(bytes(16))),
    "padded-short-udp": to_stack(ip() / UDP(sport=1, dport=53) / b"a") / Raw(bytes(20)),
    "ieee8023-length": Ether(dst=STACK_MAC, src=PEER_MAC, type=0x0100) / Raw(bytes(40)),
}
for name, fr in frames.items():
    write("frame", name, fr)

# ---- arp: records [op] ... (see fuzz_arp.c) ---------------------------------------------
def arp_rec(ctl, op=0, sha=1, spa=1, tpa=2):
    return bytes([0, ctl, op, sha, spa, tpa])
write("arp", "request-for-us", arp_rec(0x02, spa=5, tpa=2))
write("arp", "reply-unsolicited", arp_rec(0x09, spa=6, tpa=2))
write("arp", "resolve-then-reply", bytes([1, 7]) + arp_rec(0x09, sha=7, spa=7, tpa=2) + bytes([2, 5]))
write("arp", "resolve-timeout", bytes([1, 8, 1, 8, 3, 8]) + bytes([2, 100]) * 4)
write("arp", "claim-static-peer", arp_rec(0x0b, sha=9, spa=1, tpa=2))
write("arp", "claim-our-ip", arp_rec(0x02, sha=9, spa=2, tpa=2))
write("arp", "raw-malformed", bytes([0, 0x04, 0, 0, 0, 0]) + bytes(ARP(op=3, hwlen=5))[:28])
write("arp", "many-hosts", b"".join(bytes([1, h]) for h in range(10, 30)) + bytes([2, 10]) + b"".join(arp_rec(0x09, sha=h, spa=h) for h in range(10, 30)))

# ---- ipv4_reasm: records [id][off8 hi][off8 lo][flags][len8] + bytes -------------------
def frag(ident, off8, flags, data):
    n8 = (len(data) + 7) // 8
    return struct.pack("!BHBB", ident, off8, flags, n8) + data.ljust(n8 * 8, b"\0")
udp_hdr = struct.pack("!HHHH", 1000, 9, 8 + 40, 0)
payload = udp_hdr + bytes(range(40))
write("ipv4_reasm", "udp-in-order", frag(1, 0, 3, payload[:24]) + frag(1, 3, 2, payload[24:]))
write("ipv4_reasm", "udp-reversed", frag(2, 3, 2, payload[24:]) + frag(2, 0, 3, payload[:24]))
write("ipv4_reasm", "udp-overlap", frag(3, 0, 3, payload[:32]) + frag(3, 2, 2, payload[16:]))
write("ipv4_reasm", "udp-duplicate", frag(4, 0, 3 | 8, payload[:24]) + frag(4, 3, 2, payload[24:]))
write("ipv4_reasm", "icmp-echo-3-parts", b"".join(frag(5, i, 1 if i < 2 else 0, bytes(ICMP(type=8) / (b"e" * 16))[i * 8:i * 8 + 8]) for i in range(3)))
write("ipv4_reasm", "timeout", frag(6, 0, 3, payload[:24]) + frag(6, 3, 2 | 16, payload[24:]))
write("ipv4_reasm", "many-ids", b"".join(frag(i, 0, 1, bytes(8)) for i in range(6)))
write("ipv4_reasm", "two-sources", frag(7, 0, 3, payload[:24]) + frag(7, 3, 2 | 64, payload[24:]) + frag(7, 3, 2, payload[24:]))
write("ipv4_reasm", "end-past-64k", frag(8, 0x1fff, 2, bytes(16)) + frag(8, 0, 3, payload[:8]))

# ---- icmp: records [ctl][type][code][r0][r1][len] (+ len raw bytes if ctl&3 == 0) --------
def icmp_rec(ctl, typ, code, rest=0, n=20, raw=b""):
    return bytes([ctl, typ, code, rest >> 8, rest & 0xff, n if not raw else len(raw)]) + raw
write("icmp", "needfrag-tcp", icmp_rec(1, 3, 4, 576, 40))
write("icmp", "needfrag-tiny-mtu", icmp_rec(1, 3, 4, 68, 40))
write("icmp", "port-unreach-udp", icmp_rec(3, 3, 3, 0, 40))
write("icmp", "host-unreach-syn", icmp_rec(2, 3, 1, 0, 40) + icmp_rec(2 | 8, 3, 1, 0, 40) * 3)
write("icmp", "proto-unreach-established", icmp_rec(1, 3, 2, 0, 40))
write("icmp", "time-exceeded", icmp_rec(1, 11, 0, 0, 40))
write("icmp", "echo", icmp_rec(4, 8, 0, 0x0102, 56))
write("icmp", "echo-reply-unsolicited", icmp_rec(0, 0, 0, 0x0102, raw=b"data"))
write("icmp", "raw-quote-short", icmp_rec(0, 3, 3, 0, raw=bytes(ip() / UDP())[:20]))
write("icmp", "quote-truncated-tcp", icmp_rec(1, 3, 4, 1000, 4) + icmp_rec(1 | 16, 3, 4, 600, 14))

# ---- udp: records [op] ... (see fuzz_udp.c) ---------------------------------------------
def udp_rec(ctl, data):
    return bytes([0, ctl, len(data)]) + data
write("udp", "to-53-and-read", udp_rec(0, b"query") + bytes([1, 0]))
write("udp", "to-5000-twice", udp_rec(2, b"a" * 30) + udp_rec(2, b"b" * 60) + bytes([1, 1, 1, 1, 1, 1]))
write("udp", "closed-port", udp_rec(4, b"nobody"))
write("udp", "raw-bad-length", udp_rec(1, struct.pack("!HHHH", 1, 53, 200, 0) + b"short"))
write("udp", "raw-length-below-8", udp_rec(1, struct.pack("!HHHH", 1, 53, 4, 0)))
write("udp", "send-fragmented", bytes([2, 0x05, 3, 10]))
write("udp", "bind-close-rebind", bytes([2, 0x82, 2, 0xc0, 2, 0x80, 2, 0x02]))
write("udp", "queue-full", udp_rec(0, b"q" * 200) * 30)

# ---- tcp_segment: [which] + TCP header/options/payload ---------------------------------
def tcpseg(which, **kw):
    return bytes([which]) + bytes(TCP(**kw))
write("tcp_segment", "syn-to-listener", tcpseg(1, flags="S", seq=1, options=SYN_OPTS))
write("tcp_segment", "syn-no-options", tcpseg(1, flags="S", seq=1))
write("tcp_segment", "synack-acceptable", tcpseg(2, flags="SA", seq=9, ack=0, options=SYN_OPTS))
write("tcp_segment", "synack-bad-ack", tcpseg(2, flags="SA", seq=9, ack=5))
write("tcp_segment", "rst-synsent", tcpseg(2, flags="RA", seq=0, ack=0))
write("tcp_segment", "data-in-order", bytes([4]) + bytes(TCP(flags="PA", seq=0, ack=0, options=[("NOP", None), ("NOP", None), ("Timestamp", (200, 0))]) / (b"d" * 100)))
write("tcp_segment", "ack-all", tcpseg(4, flags="A", seq=0, ack=4000, window=4096))
write("tcp_segment", "sack-blocks", tcpseg(4, flags="A", seq=0, ack=0, options=[("NOP", None), ("NOP", None), ("SAck", (1449, 2897, 4345, 5793))]))
write("tcp_segment", "fin", tcpseg(4, flags="FA", seq=0, ack=0))
write("tcp_segment", "rst-exact", tcpseg(4, flags="R", seq=0))
write("tcp_segment", "rst-in-window", tcpseg(4, flags="R", seq=100))
write("tcp_segment", "syn-in-established", tcpseg(4, flags="S", seq=7))
write("tcp_segment", "out-of-order", bytes([4]) + bytes(TCP(flags="A", seq=500, ack=0) / (b"o" * 100)))
write("tcp_segment", "zero-window", tcpseg(4, flags="A", seq=0, ack=1000, window=0))
write("tcp_segment", "bad-option-length", bytes([7]) + bytes(TCP(flags="S", dataofs=6)) [:20] + bytes([2, 0, 1, 1]))
write("tcp_segment", "all-options", tcpseg(7, flags="S", options=SYN_OPTS + [("SAck", (1, 2)), ("EOL", None)]))

# ---- tcp_stateful: records [dt][op] ... (see fuzz_tcp_stateful.c) -----------------------
def seg(slot=0, flags=0x10, sd=0, ad=0, win=255, n6=0, ob=1, unit=0, base=0, dt=1, sack=b""):
    ctl = slot | unit << 2 | base << 4 | 2 << 6  # window × 256
    return bytes([dt, 0, ctl, flags, sd & 0xff, ad & 0xff, win, n6, ob]) + sack
ACK, PSH, FIN, RST, SYN = 0x10, 0x08, 0x01, 0x04, 0x02
def send(slot, n64):
    return bytes([1, 1, slot | n64 << 2])
def recv(slot):
    return bytes([1, 2, slot | 63 << 2])
def wait(n):
    return bytes([1, 4, n])
write("tcp_stateful", "data-in-order", seg(flags=ACK | PSH, n6=100) + seg(flags=ACK | PSH, n6=100) + recv(0))
write("tcp_stateful", "out-of-order-fill", seg(sd=2, unit=2, n6=241) + seg(sd=1, unit=2, n6=241) + seg(n6=241) + recv(0))
write("tcp_stateful", "fin-then-close", seg(flags=ACK | FIN) + recv(0) + bytes([1, 3, 0, 1]) + seg(base=0))
write("tcp_stateful", "rst-in-window", seg(flags=RST, sd=3) + seg(flags=RST))
write("tcp_stateful", "send-ack", send(0, 40) + seg(ad=0) + send(0, 63) + seg(ad=0) + wait(50))
write("tcp_stateful", "send-sack-recovery", send(0, 63) + send(0, 63) + b"".join(
    seg(base=1, ob=1 | 1 << 2, sack=bytes([2 * k, 2])) for k in range(1, 5)) + wait(30) + seg())
write("tcp_stateful", "send-rto", send(0, 63) + wait(199) + wait(150) + seg())
write("tcp_stateful", "zero-window-persist", seg(win=0) + send(0, 63) + wait(199) + wait(210) + seg(win=64))
write("tcp_stateful", "paws", seg(flags=ACK | PSH, n6=10) + seg(flags=ACK | PSH, n6=10, ob=3))
write("tcp_stateful", "syn-flood", bytes([1, 5, 0, 1, 5, 1]) * 6 + bytes([1, 6]))
write("tcp_stateful", "passive-accept", bytes([1, 5, 0]) + seg(slot=1, ad=0) + bytes([1, 6]) + seg(slot=1, n6=20) + bytes([1, 2, 1 | 63 << 2]))
write("tcp_stateful", "active-open", bytes([1, 7, 0]) + seg(slot=3, flags=SYN | ACK, ad=0) + send(3, 20) + seg(slot=3))
write("tcp_stateful", "active-open-refused", bytes([1, 7, 0]) + seg(slot=3, flags=RST | ACK, ad=0))
write("tcp_stateful", "active-open-timeout", bytes([1, 7, 0]) + wait(230) * 8)
write("tcp_stateful", "close-with-unread", seg(n6=50) + bytes([1, 3, 0, 1]))
write("tcp_stateful", "shutdown-both", bytes([1, 3, 0, 0]) + seg(flags=ACK | FIN) + wait(250))
write("tcp_stateful", "keepalive", bytes([1, 3, 0, 4 | 8 << 3]) + wait(250) * 3)
write("tcp_stateful", "challenge-ack-syn", seg(flags=SYN, sd=5))
write("tcp_stateful", "old-ack", send(0, 10) + seg(ad=0x80, base=1, unit=0))
# a peer without SACK (NewReno, RFC 6582) or timestamps, via a passive open on slot 1
nosack = bytes([1, 5, 4 | 8]) + seg(slot=1, ob=0) + bytes([1, 6])
write("tcp_stateful", "newreno-recovery", nosack + send(1, 63) + send(1, 63) + b"".join(
    seg(slot=1, base=1, ob=0) for _ in range(4)) + seg(slot=1, ad=0, ob=0) + wait(30))
write("tcp_stateful", "accept-queue-full", b"".join(bytes([1, 5, k & 1]) + seg(slot=1 + (k & 1)) for k in range(6)))
write("tcp_stateful", "cubic", bytes([1, 3, 0, 3 | 16]) + send(0, 63) + seg(ad=0) + send(0, 63) + seg(base=1, ob=1 | 4, sack=bytes([2, 2])) + seg())
# the leak the lead's first stateful target found: a closed connection whose
# peer keeps its window shut forever (regression kept in regressions/ too)
write("tcp_stateful", "orphan-zero-window", seg(win=0) + send(0, 63) + bytes([1, 3, 0, 1]) + b"".join(wait(250) + seg(win=0, base=1) for _ in range(20)))

# ---- sim_link: [client bytes/160][server bytes/96][config] + one fate byte per frame --------
write("sim_link", "clean", bytes([50, 50, 0]))
write("sim_link", "clean-cubic-nosack", bytes([200, 20, 3]))
write("sim_link", "drops", bytes([100, 100, 0]) + bytes([0, 4, 0, 0, 4, 4, 0, 4, 0, 0] * 8))
write("sim_link", "reorder-dup", bytes([100, 10, 4]) + bytes([6, 0, 5, 0, 6, 1, 2, 5] * 10))
write("sim_link", "corrupt", bytes([60, 60, 8]) + bytes([7, 13, 0, 7, 200, 0, 0] * 10))
write("sim_link", "syn-lost", bytes([10, 10, 16]) + bytes([4, 4, 4, 0, 4, 4]))
write("sim_link", "fin-lost", bytes([1, 1, 0]) + bytes([0] * 6 + [4, 4, 4, 0, 4, 4, 4]))
write("sim_link", "empty-transfer", bytes([0, 0, 0]))

for t in sorted(written):
    print(f"{t}: {written[t]} seeds")
