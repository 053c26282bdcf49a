#!/usr/bin/env python3
"""Generate the committed seed corpora for every fuzz target (deterministic).
Run from the repository root: /usr/bin/python3 fuzz/gen_corpus.py"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
STACK_MAC, PEER_MAC = bytes([2, 0, 0, 0, 0, 2]), bytes([2, 0, 0, 0, 0, 1])
STACK_IP, PEER_IP = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(proto, payload, ident=1, frag=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, PEER_IP, STACK_IP)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def l4sum(proto, seg, off):
    pseudo = PEER_IP + STACK_IP + struct.pack("!BBH", 0, proto, len(seg))
    return seg[:off] + struct.pack("!H", csum(pseudo + seg)) + seg[off + 2:]


def tcp(sport, dport, seq, ack, flags, opts=b"", data=b"", win=65535):
    while len(opts) % 4:
        opts += b"\x01"
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (20 + len(opts)) // 4 << 4, flags, win, 0, 0) + opts + data
    return l4sum(6, h, 16)


def eth(payload, etype=0x0800):
    return STACK_MAC + PEER_MAC + struct.pack("!H", etype) + payload


SYN_OPTS = bytes([2, 4, 5, 180, 4, 2, 8, 10]) + struct.pack("!II", 100, 0) + bytes([1, 3, 3, 7])


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


arp_req = eth(struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER_MAC, PEER_IP, b"\0" * 6, STACK_IP), 0x0806)
echo = ipv4(1, (lambda b: b[:2] + struct.pack("!H", csum(b)) + b[4:])(struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping" * 8))
udp = ipv4(17, l4sum(17, struct.pack("!HHHH", 5000, 53, 8 + 5, 0) + b"hello", 6))
syn = ipv4(6, tcp(40000, 80, 1000, 0, 0x02, SYN_OPTS))
bad_opt = ipv4(6, tcp(40000, 80, 1000, 0, 0x02, bytes([2, 0, 1, 1])))
frag1 = ipv4(1, bytes(16), ident=9, frag=0x2000)
for name, frame in [("arp-request", arp_req), ("icmp-echo", eth(echo)), ("udp-53", eth(udp)),
                    ("tcp-syn", eth(syn)), ("tcp-syn-bad-option", eth(bad_opt)), ("ip-fragment", eth(frag1))]:
    write("fuzz_frame", name, frame)

write("fuzz_wire_roundtrip", "tcp-syn-options", tcp(1, 2, 3, 4, 0x02, SYN_OPTS))
write("fuzz_wire_roundtrip", "tcp-sack", tcp(1, 2, 3, 4, 0x10, bytes([1, 1, 5, 18]) + struct.pack("!IIII", 10, 20, 30, 40), b"xyz"))
write("fuzz_wire_roundtrip", "ipv4", echo)
write("fuzz_wire_roundtrip", "udp", struct.pack("!HHHH", 1, 2, 12, 0) + b"abcd")
write("fuzz_wire_roundtrip", "icmp", struct.pack("!BBHI", 3, 3, 0, 0) + echo[:28])
write("fuzz_wire_roundtrip", "arp", arp_req[14:])

# reassembly records: [id][offset/8 (2)][flags: 1=MF 2=UDP][len/8][bytes]
def frag(ident, off8, mf, n8, fill):
    return struct.pack("!BHBB", ident, off8, mf, n8) + bytes([fill]) * (n8 * 8)
write("fuzz_ipv4_reasm", "two-in-order", frag(1, 0, 1, 4, 8) + frag(1, 4, 0, 2, 0))
write("fuzz_ipv4_reasm", "reversed", frag(2, 4, 0, 2, 0) + frag(2, 0, 1, 4, 8))
write("fuzz_ipv4_reasm", "overlap", frag(3, 0, 1, 4, 8) + frag(3, 2, 0, 4, 0))
write("fuzz_ipv4_reasm", "many-ids", b"".join(frag(i, 0, 1, 1, 8) for i in range(6)))

# stateful records: [dt][op] + args ; op 0 = segment [flags][seqΔ][ackΔ][win][len/8][optbits]
def seg(flags, sd=0, ad=0, win=255, n8=0, ob=0, dt=1):
    return bytes([dt, 0, flags, sd & 0xff, ad & 0xff, win, n8, ob])
ACK, PSH, FIN, RST, SYN = 0x10, 0x08, 0x01, 0x04, 0x02
write("fuzz_tcp_stateful", "data-in-order", seg(ACK | PSH, n8=10) + seg(ACK | PSH, n8=10) + bytes([1, 2]))
write("fuzz_tcp_stateful", "out-of-order", seg(ACK, sd=30, n8=10) + seg(ACK, n8=10) + bytes([1, 2]))
write("fuzz_tcp_stateful", "fin-then-close", seg(ACK | FIN) + bytes([1, 2, 1, 3, 1]))
write("fuzz_tcp_stateful", "rst-in-window", seg(RST, sd=3) + seg(RST))
write("fuzz_tcp_stateful", "send-and-sack", bytes([1, 1, 20]) + seg(ACK, ob=1) + seg(ACK, ob=3) + seg(ACK, ob=1) + bytes([50, 4, 100]))
write("fuzz_tcp_stateful", "zero-window", seg(ACK, win=0) + bytes([1, 1, 10, 100, 4, 200]) + seg(ACK, win=50))
write("fuzz_tcp_stateful", "syn-flood", bytes([1, 5]) * 12)
write("fuzz_tcp_stateful", "paws", seg(ACK | PSH, n8=2) + seg(ACK | PSH, n8=2, ob=8))
print("corpus written to", ROOT)
