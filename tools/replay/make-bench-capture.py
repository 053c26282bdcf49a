#!/usr/bin/python3
"""Write a large capture for the feed-mode benchmark (tools/bench-replay.sh).

The capture holds what peers send to one host (10.0.0.2, a sink on port 80):
CONNS TCP connections opened at the start, then data segments round-robin
over them (FRAME_BYTES of payload each), with an ICMP echo request every 8th
frame and an ARP request every 1000th, one frame per microsecond of capture
time. Every frame is valid (checksums right, in sequence, acking the stack's
SYN-ACK), so the stack does real work on each: ACK processing, reassembly
into the receive buffer, the sink reading, delayed ACKs, echo replies.

The peers' acks need the stack's ISNs. They depend only on the stack's config,
the time and the 4-tuple (RFC 6528), so a priming run feeds the SYNs alone
with `microtcp-replay --feed --write` and reads the SYN-ACKs back.

Written with struct only (no scapy): a million frames take a few seconds.

usage: make-bench-capture.py --replay BIN --frames N OUT.pcap
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

HOST_IP, PEER_IP = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
HOST_MAC, PEER_MAC = bytes.fromhex("020000000002"), bytes.fromhex("020000000001")
BASE_S = 1700000000
FRAME_BYTES = 64
CONNS = 4


def csum_fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def sum16(b):
    if len(b) % 2:
        b += b"\0"
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


def ipv4(proto, payload, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64, proto, 0,
                      PEER_IP, HOST_IP)
    c = csum_fold(sum16(hdr))
    return HOST_MAC + PEER_MAC + b"\x08\x00" + hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


PSEUDO_TCP = sum16(PEER_IP + HOST_IP) + 6


def tcp(sport, seq, ack, flags, data=b"", data_sum=None, opts=b""):
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, 80, seq, ack, off << 4, flags, 65535, 0, 0) + opts
    s = PSEUDO_TCP + len(hdr) + len(data) + sum16(hdr) + (sum16(data) if data_sum is None else data_sum)
    c = csum_fold(s)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + data


def icmp_echo(ident, seq):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"microtcp-bench!!"
    c = csum_fold(sum16(body))
    return body[:2] + struct.pack("!H", c) + body[4:]


def arp_request():
    return (b"\xff" * 6 + PEER_MAC + b"\x08\x06" +
            struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER_MAC, PEER_IP, b"\0" * 6, HOST_IP))


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 20)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.n = 0

    def add(self, t_us, frame):
        self.f.write(struct.pack("<IIII", BASE_S + t_us // 1000000, t_us % 1000000, len(frame), len(frame)))
        self.f.write(frame)
        self.n += 1

    def close(self):
        self.f.close()


MSS_OPT = struct.pack("!BBH", 2, 4, 1460)


def syns(w):
    for i in range(CONNS):
        w.add(i, ipv4(6, tcp(40000 + i, 1000 * i, 0, 0x02, opts=MSS_OPT), i))


def stack_isns(replay, tmp):
    prime, out = os.path.join(tmp, "prime.pcap"), os.path.join(tmp, "prime-out.pcap")
    w = Writer(prime)
    syns(w)
    w.close()
    r = subprocess.run([replay, "--feed", "--no-sidecar", "--app", "sink", "--port", "80", "--as", "10.0.0.2",
                        "--quiet", "--write", out, prime], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("make-bench-capture: priming run failed:\n" + r.stdout + r.stderr)
    isn = {}
    with open(out, "rb") as f:
        data = f.read()
    pos = 24
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        fr = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        if len(fr) >= 54 and fr[12:14] == b"\x08\x00" and fr[23] == 6 and fr[26:30] == HOST_IP:
            t = fr[14 + (fr[14] & 15) * 4:]
            if t[13] & 0x12 == 0x12:
                isn[struct.unpack_from("!H", t, 2)[0]] = struct.unpack_from("!I", t, 4)[0]
    if len(isn) != CONNS:
        sys.exit("make-bench-capture: the priming run answered %d of %d SYNs" % (len(isn), CONNS))
    return isn


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replay", required=True)
    ap.add_argument("--frames", type=int, default=1000000)
    ap.add_argument("out")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        isn = stack_isns(a.replay, tmp)
    w = Writer(a.out)
    syns(w)
    seq = {40000 + i: 1000 * i + 1 for i in range(CONNS)}
    t = CONNS
    for p in sorted(seq):
        w.add(t, ipv4(6, tcp(p, seq[p], isn[p] + 1, 0x10), t))
        t += 1
    payload = bytes((i * 7) & 0xFF for i in range(FRAME_BYTES))
    psum = sum16(payload)
    ports = sorted(seq)
    k = 0
    while w.n < a.frames:
        if k % 1000 == 999:
            w.add(t, arp_request())
        elif k % 8 == 7:
            w.add(t, ipv4(1, icmp_echo(0x4242, k & 0xFFFF), k))
        else:
            p = ports[k % CONNS]
            w.add(t, ipv4(6, tcp(p, seq[p], isn[p] + 1, 0x18, payload, psum), k))
            seq[p] = (seq[p] + FRAME_BYTES) & 0xFFFFFFFF
        t += 1
        k += 1
    w.close()
    print("wrote %s: %d frames, %.1f s of capture time" % (a.out, w.n, t / 1e6))


if __name__ == "__main__":
    main()
