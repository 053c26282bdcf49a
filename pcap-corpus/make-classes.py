#!/usr/bin/python3
"""Small captures of each class of real-world capture that broke
microtcp-replay (issue 14), written with scapy into pcap-corpus/classes/.
tests/replay/test_replay_real.py replays each one and checks what the tool
does with it (pass, or fail with the right explanation / exit status).

    /usr/bin/python3 pcap-corpus/make-classes.py [--out DIR]

Every capture holds one HTTP-like conversation between a client 10.2.0.1
and a server 10.2.0.2 (random-looking ISNs, timestamps, both directions),
changed the way the class is:

  big-tcp-80k.pcap          the server's response leaves as one 80 kB BIG TCP
                            frame (IPv4 total length 0, as Linux writes it)
  multi-interface.pcapng    a second interface of another link type (raw IP)
                            after the first frames: libpcap stops reading
  truncated-file.pcap       the file ends in the middle of a record
  qinq.pcap                 every frame carries two VLAN tags (802.1ad 0x88a8
                            outer, 802.1Q inner)
  loopback-null.pcap        a BSD loopback (DLT_NULL) capture, both ends
                            127.0.0.1: server port 8080
  hsrp-mac.pcap             frames to the server go to the HSRP virtual MAC
                            00:00:0c:07:ac:01
  offloaded-checksums.pcap  recorded on the client: its frames' TCP checksums
                            are not filled in
  zero-length-frame.pcap    a zero-length record before the conversation
(real-http-get-snaplen-96.pcap, a snaplen-cut recording, is made by
record-real.py.)
"""
import argparse
import pathlib
import struct

from scapy.all import (IP, TCP, Dot1AD, Dot1Q, Ether, Loopback, PcapWriter, Raw, conf, raw,
                       wrpcap)

HERE = pathlib.Path(__file__).resolve().parent
C_MAC, S_MAC = "52:54:00:00:02:01", "52:54:00:00:02:02"
C_IP, S_IP = "10.2.0.1", "10.2.0.2"
REQUEST = b"GET /data HTTP/1.1\r\nHost: 10.2.0.2\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 6000\r\n\r\n" + bytes((i * 13 + 5) & 255 for i in range(6000))


def conversation(c_ip=C_IP, s_ip=S_IP, cport=51000, sport=80, big=False):
    """[(time, from_client, IP packet)] of one complete conversation."""
    c_isn, s_isn, c_ts, s_ts = 0x71A00F31, 0xC0FFEE00, 900000, 5000
    out, t = [], [0.0]
    c, s = {"seq": c_isn + 1, "ts": c_ts + 1}, {"seq": s_isn + 1, "ts": s_ts + 1}

    def pkt(from_client, flags, data=b""):
        t[0] += 0.0002
        me, you = (c, s) if from_client else (s, c)
        src, dst, sp, dp = (c_ip, s_ip, cport, sport) if from_client else (s_ip, c_ip, sport, cport)
        p = IP(src=src, dst=dst, id=0) / TCP(sport=sp, dport=dp, flags=flags, seq=me["seq"],
                                             ack=you["seq"], window=502,
                                             options=[("NOP", None), ("NOP", None),
                                                      ("Timestamp", (me["ts"], you["ts"] - 1))])
        if data:
            p = p / Raw(data)
        me["seq"] += len(data) + ("F" in flags)
        me["ts"] += 1
        out.append((t[0], from_client, p))

    syn_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (c_ts, 0)), ("NOP", None), ("WScale", 7)]
    out.append((0.0, True, IP(src=c_ip, dst=s_ip, id=0) / TCP(sport=cport, dport=sport, flags="S",
                                                               seq=c_isn, window=64240, options=syn_opts)))
    out.append((0.0001, False, IP(src=s_ip, dst=c_ip, id=0) / TCP(
        sport=sport, dport=cport, flags="SA", seq=s_isn, ack=c_isn + 1, window=65160,
        options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (s_ts, c_ts)), ("NOP", None), ("WScale", 7)])))
    t[0] = 0.0001
    pkt(True, "A")
    pkt(True, "PA", REQUEST)
    pkt(False, "A")
    if big:
        pkt(False, "PA", RESPONSE + bytes(80000 - 66 - len(RESPONSE)))
        # IPv4 total length 0 (BIG TCP: the length is the frame's); the
        # checksum over the 16-bit-truncated length, never verified.
        out[-1][2][IP].len = 0
        out[-1][2][TCP].chksum = 0
        pkt(True, "A")
    else:
        for i in range(0, len(RESPONSE), 1448):
            pkt(False, "PA", RESPONSE[i:i + 1448])
            pkt(True, "A")
    pkt(False, "FA")
    pkt(True, "FA")
    pkt(False, "A")
    return out


def ether(conv, to_server_mac=S_MAC, vlans=False):
    frames = []
    for t, from_client, p in conv:
        e = Ether(src=C_MAC if from_client else S_MAC, dst=to_server_mac if from_client else C_MAC)
        if vlans:
            e = e / Dot1AD(vlan=100) / Dot1Q(vlan=7)
        f = e / p
        f.time = 1700000000 + t
        frames.append(f)
    return frames


def write(path, frames, linktype=None):
    wrpcap(str(path), frames, linktype=linktype)


def big_tcp(out):
    frames = ether(conversation(big=True))
    w = PcapWriter(str(out / "big-tcp-80k.pcap"), linktype=1, snaplen=262144, sync=True)
    for f in frames:
        w.write(f)
    w.close()


def blk(btype, body):
    body += b"\0" * ((-len(body)) % 4)
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def multi_interface(out):
    frames = [raw(f) for f in ether(conversation())]
    data = blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    data += blk(1, struct.pack("<HHI", 1, 0, 262144))
    for f in frames[:3]:
        data += blk(6, struct.pack("<IIIII", 0, 0, 0, len(f), len(f)) + f)
    data += blk(1, struct.pack("<HHI", 101, 0, 262144))  # a raw-IP interface
    for f in frames[3:]:
        data += blk(6, struct.pack("<IIIII", 1, 0, 0, len(f) - 14, len(f) - 14) + f[14:])
    (out / "multi-interface.pcapng").write_bytes(data)


def truncated(out):
    p = out / "truncated-file.pcap"
    write(p, ether(conversation()))
    b = p.read_bytes()
    p.write_bytes(b[:len(b) - 40])


def loopback(out):
    frames = []
    for t, _, p in conversation(c_ip="127.0.0.1", s_ip="127.0.0.1", cport=40404, sport=8080):
        f = Loopback(type=2) / p
        f.time = 1700000000 + t
        frames.append(f)
    write(out / "loopback-null.pcap", frames, linktype=0)


def offloaded(out):
    frames = []
    for f, (_, from_client, _) in zip(ether(conversation()), conversation()):
        if from_client:
            b = bytearray(raw(f))
            b[50:52] = b"\x12\x34"  # what the NIC was to overwrite
            f2 = Ether(bytes(b))
            f2.time = f.time
            f = f2
        frames.append(f)
    write(out / "offloaded-checksums.pcap", frames)


def zero_length(out):
    p = out / "zero-length-frame.pcap"
    write(p, ether(conversation()))
    b = bytearray(p.read_bytes())
    rec = struct.pack("<IIII", 1700000000, 0, 0, 0)
    p.write_bytes(bytes(b[:24]) + rec + bytes(b[24:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(HERE / "classes"))
    out = pathlib.Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    conf.verb = 0
    big_tcp(out)
    multi_interface(out)
    truncated(out)
    write(out / "qinq.pcap", ether(conversation(), vlans=True))
    loopback(out)
    write(out / "hsrp-mac.pcap", ether(conversation(), to_server_mac="00:00:0c:07:ac:01"))
    offloaded(out)
    zero_length(out)
    for p in sorted(out.iterdir()):
        print(p.name, p.stat().st_size)


if __name__ == "__main__":
    main()
