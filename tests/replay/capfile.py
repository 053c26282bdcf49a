"""Small capture builders for the replay tests: Ethernet/IPv4/TCP frames with
correct checksums, pcap and pcapng writers, and a TCP conversation between
two "real" hosts (random ISNs, timestamps, both directions recorded) as a
capture from the outside world looks. Plain struct code: no scapy needed."""
import struct

MAC_C = bytes.fromhex("525400000001")  # client
MAC_S = bytes.fromhex("525400000002")  # server
IP_C = "10.1.0.1"
IP_S = "10.1.0.2"


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ident=0, ttl=64, total_len=None):
    tl = 20 + len(payload) if total_len is None else total_len
    if tl > 0xFFFF:
        tl = 0  # BIG TCP over IPv4: Linux writes 0 and the length is the frame's
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tl & 0xFFFF, ident, 0x4000, ttl, proto, 0,
                    ip4(src), ip4(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", opts=b"", win=64240,
        bad_csum=False):
    opts += b"\x01" * ((-len(opts)) % 4)
    off = (20 + len(opts)) // 4
    fl = 0
    for ch, bit in zip("FSRPAU", (1, 2, 4, 8, 16, 32)):
        if ch in flags:
            fl |= bit
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4,
                    fl, win, 0, 0) + opts
    seg = h + payload
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(seg) & 0xFFFF)
    c = csum(pseudo + seg)
    if bad_csum:
        c ^= 0x5555
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return ipv4(src, dst, 6, seg)


def eth(dst, src, payload, ethertype=0x0800, vlans=()):
    tags = b"".join(struct.pack("!HH", tpid, vid) for tpid, vid in vlans)
    return dst + src + tags + struct.pack("!H", ethertype) + payload


def ts_opt(val, ecr):
    return b"\x01\x01\x08\x0a" + struct.pack("!II", val, ecr)


def write_pcap(path, records, linktype=1, snaplen=262144):
    """records: (t_us, bytes) or (t_us, bytes, wire_len)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for rec in records:
            t, b = rec[0], rec[1]
            wl = rec[2] if len(rec) > 2 else len(b)
            f.write(struct.pack("<IIII", 1700000000 + t // 1000000, t % 1000000, len(b), wl) + b)


def _block(btype, body):
    body += b"\0" * ((-len(body)) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def write_pcapng(path, parts):
    """parts: ("idb", linktype) or ("epb", interface, bytes)."""
    out = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for p in parts:
        if p[0] == "idb":
            out += _block(1, struct.pack("<HHI", p[1], 0, 262144))
        else:
            fr = p[2]
            out += _block(6, struct.pack("<IIIII", p[1], 0, 0, len(fr), len(fr)) + fr)
    with open(path, "wb") as f:
        f.write(out)


def conversation(request=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", response=None, *,
                 c_isn=0x9A3B11C7, s_isn=0x3C00FE01, c_ts=3000000000, s_ts=123456,
                 mss=1460, sport=43210, dport=80, segment=1448):
    """A complete conversation as a capture on the wire shows it: the client's
    SYN, the server's SYN-ACK, the request, the response in MSS-sized
    segments each acked, then the client closes. Returns a list of
    (t_us, ip_packet, from_client) in capture order."""
    if response is None:
        response = b"HTTP/1.0 200 OK\r\n\r\n" + bytes((i * 7) & 0xFF for i in range(5000))
    out = []
    t = [0]

    def add(from_client, flags, payload=b"", dt=100):
        t[0] += dt
        if from_client:
            seq, ack = c["seq"], s["seq"]
            opts = ts_opt(c["ts"], s["ts"] - 1)
            p = tcp(IP_C, IP_S, sport, dport, seq, ack if "A" in flags else 0, flags, payload,
                    opts)
            c["seq"] += len(payload) + ("S" in flags) + ("F" in flags)
            c["ts"] += 1
        else:
            seq, ack = s["seq"], c["seq"]
            opts = ts_opt(s["ts"], c["ts"] - 1)
            p = tcp(IP_S, IP_C, dport, sport, seq, ack, flags, payload, opts)
            s["seq"] += len(payload) + ("S" in flags) + ("F" in flags)
            s["ts"] += 1
        out.append((t[0], p, from_client))

    c = {"seq": c_isn, "ts": c_ts}
    s = {"seq": s_isn, "ts": s_ts}
    syn_opts = struct.pack("!BBH", 2, 4, mss) + b"\x04\x02" + ts_opt(c_ts, 0)[2:] + b"\x01\x03\x03\x07"
    t[0] += 100
    out.append((t[0], tcp(IP_C, IP_S, sport, dport, c_isn, 0, "S", b"", syn_opts), True))
    c["seq"] += 1
    c["ts"] += 1
    synack_opts = struct.pack("!BBH", 2, 4, mss) + b"\x04\x02" + ts_opt(s_ts, c_ts)[2:] + b"\x01\x03\x03\x07"
    t[0] += 100
    out.append((t[0], tcp(IP_S, IP_C, dport, sport, s_isn, c["seq"], "SA", b"", synack_opts),
                False))
    s["seq"] += 1
    s["ts"] += 1
    add(True, "A")
    add(True, "PA", request)
    add(False, "A")
    for i in range(0, len(response), segment):
        add(False, "PA", response[i:i + segment])
        add(True, "A")
    add(True, "FA")
    add(False, "FA")
    add(True, "A")
    return out


def conversation_frames(conv, vlans=(), server_mac=MAC_S, client_mac=MAC_C):
    """Ethernet frames of a conversation() (server_mac: the MAC frames to the
    server are addressed to)."""
    frames = []
    for t, p, from_client in conv:
        if from_client:
            frames.append((t, eth(server_mac, client_mac, p, vlans=vlans)))
        else:
            frames.append((t, eth(client_mac, MAC_S, p, vlans=vlans)))
    return frames
