"""A hand-driven TCP peer for the hostile-traffic probes (test_tap_hostile.py).

Runs inside the test's network namespace (as a script the test starts with
`ip netns exec`), on an AF_PACKET socket bound to the TAP device: it owns an
address Linux does not have (so Linux's own stack never answers for it),
answers the stack's ARP requests for it, and builds every frame with scapy,
so it can put anything into a segment of a real connection: malformed
options, urgent pointers, forged ICMP quoting it. Nothing leaves the
namespace: the socket is bound to the namespace's TAP device."""
import random
import select
import socket
import struct
import time

from scapy.all import ARP, IP, TCP, Ether, Raw, conf
from scapy.utils import checksum

conf.verb = 0
STACK_MAC = "02:00:00:00:00:02"
ETH_P_ALL = 3


class RawPeer:
    def __init__(self, ip, mac, stack_ip, stack_mac=STACK_MAC, ifname="tap0"):
        self.ip, self.mac, self.stack_ip, self.stack_mac = ip, mac, stack_ip, stack_mac
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.bind((ifname, 0))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.queue = []          # IP packets from the stack to us, not yet consumed
        self.seen = []           # every IP packet from the stack to us (for figures)
        self.sport = self.dport = 0
        self.snd_nxt = self.rcv_nxt = 0

    # ---- frames ----
    def l2(self):
        return Ether(src=self.mac, dst=self.stack_mac)

    def ip_hdr(self, **kw):
        return IP(src=self.ip, dst=self.stack_ip, **kw)

    def send(self, pkt):
        self.s.send(bytes(pkt))

    def _take(self, frame):
        if len(frame) < 14 or frame[6:12] != bytes.fromhex(self.stack_mac.replace(":", "")):
            return
        e = Ether(frame)
        if ARP in e and e[ARP].op == 1 and e[ARP].pdst == self.ip:
            self.send(Ether(src=self.mac, dst=e[ARP].hwsrc) /
                      ARP(op=2, hwsrc=self.mac, psrc=self.ip, hwdst=e[ARP].hwsrc, pdst=e[ARP].psrc))
        elif IP in e and e[IP].dst == self.ip:
            self.queue.append(e[IP])
            self.seen.append(e[IP])

    def pump(self, timeout):
        """Read frames for up to timeout s (ARP requests are answered)."""
        end = time.time() + timeout
        while True:
            left = end - time.time()
            r, _, _ = select.select([self.s], [], [], max(0.0, left))
            if r:
                while True:
                    try:
                        self._take(self.s.recv(65535, socket.MSG_DONTWAIT))
                    except BlockingIOError:
                        break
            if left <= 0:
                return

    def expect(self, pred, timeout):
        """The first queued packet matching pred (removed from the queue), or None."""
        end = time.time() + timeout
        while True:
            for i, p in enumerate(self.queue):
                if pred(p):
                    return self.queue.pop(i)
            if time.time() >= end:
                return None
            self.pump(min(0.05, max(0.0, end - time.time())))

    # ---- one TCP connection ----
    def seg(self, payload=b"", flags="PA", opts=b"", seq=None, urg=0, window=65535, dataofs=None):
        """A segment of our connection. opts are raw option bytes (any content:
        the data offset covers them, so the stack parses them as options)."""
        t = TCP(sport=self.sport, dport=self.dport, seq=self.snd_nxt if seq is None else seq,
                ack=self.rcv_nxt, flags=flags, window=window, urgptr=urg,
                dataofs=5 + (len(opts) + 3) // 4 if dataofs is None else dataofs)
        return self.l2() / self.ip_hdr() / t / Raw(opts.ljust((len(opts) + 3) // 4 * 4, b"\0") + payload)

    def connect(self, dport, sport=None, tries=3):
        self.dport = dport
        self.sport = sport or random.randrange(20000, 60000)
        isn = random.getrandbits(32)
        for _ in range(tries):
            self.send(self.l2() / self.ip_hdr() /
                      TCP(sport=self.sport, dport=dport, flags="S", seq=isn, window=65535,
                          options=[("MSS", 1460)]))
            sa = self.expect(lambda p: TCP in p and p[TCP].dport == self.sport and
                             p[TCP].flags & 0x12 == 0x12, 1.0)
            if sa is not None:
                self.snd_nxt, self.rcv_nxt = (isn + 1) & 0xFFFFFFFF, (sa[TCP].seq + 1) & 0xFFFFFFFF
                self.send(self.seg(flags="A"))
                return True
        return False

    def write(self, data, **kw):
        self.send(self.seg(data, **kw))
        self.snd_nxt = (self.snd_nxt + len(data)) & 0xFFFFFFFF

    def read(self, n, timeout, ack=True):
        """In-order data from the stack until n bytes or timeout; ACKed if ack."""
        got = bytearray()
        end = time.time() + timeout
        while len(got) < n and time.time() < end:
            p = self.expect(lambda p: TCP in p and p[TCP].dport == self.sport and
                            len(p[TCP].payload) > 0, max(0.0, end - time.time()))
            if p is None:
                break
            data = bytes(p[TCP].payload)
            if p[TCP].seq == self.rcv_nxt:
                got += data
                self.rcv_nxt = (self.rcv_nxt + len(data)) & 0xFFFFFFFF
            if ack:
                self.send(self.seg(flags="A"))
        return bytes(got)

    def data_segments(self):
        """Payload lengths of every data segment the stack sent us."""
        return [len(p[TCP].payload) for p in self.seen if TCP in p and len(p[TCP].payload) > 0]

    def data_segments_df(self):
        """(payload length, DF bit) of every data segment the stack sent us."""
        return [(len(p[TCP].payload), bool(p[IP].flags & 2)) for p in self.seen
                if TCP in p and len(p[TCP].payload) > 0]

    def close(self):
        self.send(self.seg(flags="RA"))


def tcp_quote(src, dst, sport, dport, seq):
    """The IP header + 8 bytes of a segment src:sport -> dst:dport with seq:
    what an ICMP error quotes."""
    return bytes(IP(src=src, dst=dst, proto=6, len=40) /
                 Raw(struct.pack(">HHI", sport, dport, seq)))


def icmp_error(peer_mac, stack_mac, router_ip, stack_ip, typ, code, quote, mtu=0):
    """A forged ICMP error from router_ip to the stack about `quote`."""
    hdr = struct.pack(">BBHHH", typ, code, 0, 0, mtu)  # frag-needed: next-hop MTU last
    csum = checksum(hdr + quote)
    icmp = hdr[:2] + struct.pack(">H", csum) + hdr[4:] + quote
    return Ether(src=peer_mac, dst=stack_mac) / IP(src=router_ip, dst=stack_ip, proto=1) / Raw(icmp)
