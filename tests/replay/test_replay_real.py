"""microtcp-replay on captures it did not write (issue 14): frames of any
length, files libpcap refuses, replays that would check nothing, and whole
conversations between two other hosts replayed in one host's place."""
import pathlib
import re
import subprocess

import pytest

import capfile as cf

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def replay(build_dir):
    exe = build_dir / "tools" / "replay" / "microtcp-replay"
    if not exe.exists():
        pytest.fail(f"{exe} was not built")
    return exe


def run(exe, *args, timeout=120):
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def no_sanitizer_report(r):
    return "Sanitizer" not in r.stderr and "runtime error" not in r.stderr


MODES = (["--check"], ["--outcome"], ["--feed"], ["--feed", "--promisc"])


# ---------------------------------------------------------------- memory safety
def big_tcp_capture(path, size=80000):
    """A BIG TCP frame (80 kB, as Linux hands GSO/GRO super-frames to
    tcpdump) to the server, in the middle of a conversation."""
    conv = cf.conversation()
    frames = cf.conversation_frames(conv)
    big = cf.eth(cf.MAC_S, cf.MAC_C, cf.tcp(cf.IP_C, cf.IP_S, 43210, 80, 1, 1, "A",
                                             bytes(size - 54)))
    assert len(big) == size
    frames.insert(4, (frames[3][0] + 1, big))
    cf.write_pcap(path, frames)


@pytest.mark.parametrize("mode", MODES, ids=" ".join)
def test_big_tcp_frames_are_counted_and_not_injected(replay, tmp_path, mode):
    p = tmp_path / "big-tcp.pcap"
    big_tcp_capture(p)
    r = run(replay, *mode, "--no-sidecar", "--as", cf.IP_S, p)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    assert no_sanitizer_report(r), r.stderr
    assert re.search(r"1 frames? (to 10\.1\.0\.2 )?longer than MTU \+ 14 \(1514 bytes\) were not "
                     r"injected", r.stdout), r.stdout


@pytest.mark.parametrize("mode", MODES, ids=" ".join)
def test_zero_length_frames_are_taken(replay, tmp_path, mode):
    """A zero-length record first (tcpdump's olsr-oobr-2.pcap has one): no
    memcpy from NULL (UBSan in the asan build), the rest replays."""
    p = tmp_path / "zero.pcap"
    frames = cf.conversation_frames(cf.conversation())
    cf.write_pcap(p, [(0, b"")] + frames)
    r = run(replay, *mode, "--no-sidecar", "--as", cf.IP_S, p)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    assert no_sanitizer_report(r), r.stderr
    assert "frames" in r.stdout


# ---------------------------------------------------------------- no false passes
def multi_interface_pcapng(path):
    e = cf.eth(cf.MAC_S, cf.MAC_C, cf.tcp(cf.IP_C, cf.IP_S, 1, 80, 5, 0, "S"))
    cf.write_pcapng(path, [("idb", 1), ("epb", 0, e), ("idb", 101), ("epb", 1, e[14:])])


def truncated_capture(path):
    frames = cf.conversation_frames(cf.conversation())
    cf.write_pcap(path, frames)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 30])  # the last record is cut short


@pytest.mark.parametrize("mode", MODES, ids=" ".join)
@pytest.mark.parametrize("make", [multi_interface_pcapng, truncated_capture],
                         ids=["multi-interface-pcapng", "truncated-file"])
def test_a_capture_libpcap_refuses_is_exit_2_in_every_mode(replay, tmp_path, mode, make):
    p = tmp_path / "refused.pcapng"
    make(p)
    r = run(replay, *mode, "--no-sidecar", p)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "PASS" not in r.stdout
    assert str(p) in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_check_mode_with_nothing_injected_fails(replay, tmp_path):
    p = tmp_path / "conv.pcap"
    cf.write_pcap(p, cf.conversation_frames(cf.conversation()))
    r = run(replay, "--check", "--no-sidecar", "--as", "10.1.0.99", p)
    assert r.returncode == 1, r.stdout
    assert "NOTHING CHECKED" in r.stdout and r.stdout.rstrip().endswith("stack sent 0")


def test_check_mode_with_0_frames_compared_fails(replay, tmp_path):
    """Only the client's SYN, with a bad (offloaded) checksum: the stack stays
    silent and the capture has nothing from the server, so nothing at all is
    compared: a failure, not a pass."""
    p = tmp_path / "half.pcap"
    syn = cf.tcp(cf.IP_C, cf.IP_S, 43210, 80, 7, 0, "S", bad_csum=True)
    cf.write_pcap(p, [(0, cf.eth(cf.MAC_S, cf.MAC_C, syn))])
    r = run(replay, "--check", "--no-sidecar", "--as", cf.IP_S, "--app", "sink", "--port", 80, p)
    assert r.returncode == 1, r.stdout
    assert "NOTHING CHECKED: 0 frames compared" in r.stdout


def test_outcome_mode_without_expectations_and_0_connections_fails(replay, tmp_path):
    p = tmp_path / "conv.pcap"
    cf.write_pcap(p, cf.conversation_frames(cf.conversation()))
    r = run(replay, "--outcome", "--no-sidecar", "--as", cf.IP_S, "--app", "none", p)
    assert r.returncode == 1, r.stdout
    assert "PASS" not in r.stdout


# ---------------------------------------------------------------- sequence translation
def counters(out):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^  (\w+) +(\d+)$", out, re.M)}


def test_feed_translates_the_peers_numbering_so_a_real_client_gets_past_the_handshake(
        replay, tmp_path):
    """A conversation between two other hosts (random ISNs, timestamps): the
    client's ACK of the recorded server's SYN-ACK must be moved into the live
    stack's numbering, or it is drop_tcp_bad_ack and nothing is accepted."""
    p = tmp_path / "conv.pcap"
    cf.write_pcap(p, cf.conversation_frames(cf.conversation()))
    r = run(replay, "--feed", "--no-sidecar", "--as", cf.IP_S, p)
    assert r.returncode == 0, r.stdout + r.stderr
    c = counters(r.stdout)
    assert c.get("tcp_conns_accepted") == 1, r.stdout
    assert "moved into the stack's numbering" in r.stdout
    # The handshake's ACK and the request are accepted: the sink got the request.
    assert c.get("tcp_segments_in", 0) >= 2


# ---------------------------------------------------------------- payload replay
PLAY_OK = re.compile(r"ok port (\d+) <-> [\d.]+:\d+ \((server|client)\): received (\d+) of (\d+) "
                     r"bytes, every byte as recorded, sent (\d+) of (\d+) \((\d+) acked")


@pytest.mark.parametrize("side", ["server", "client"])
def test_payload_replay_plays_either_side_of_a_conversation_byte_for_byte(replay, tmp_path, side):
    """No sidecar: the app sends what the recorded host sent, and every byte
    delivered is compared with the peer's stream in the capture."""
    p = tmp_path / "conv.pcap"
    conv = cf.conversation()
    cf.write_pcap(p, cf.conversation_frames(conv))
    host = cf.IP_S if side == "server" else cf.IP_C
    r = run(replay, "--outcome", "--as", host, p)
    assert r.returncode == 0, r.stdout + r.stderr
    m = PLAY_OK.search(r.stdout)
    assert m and m.group(2) == side, r.stdout
    request, response = 27, 19 + 5000
    rx, tx = (request, response) if side == "server" else (response, request)
    assert (int(m.group(3)), int(m.group(4)), int(m.group(5)), int(m.group(6))) == (rx, rx, tx, tx)
    assert "1 established" in r.stdout


def test_payload_replay_gets_through_a_burst_larger_than_the_stacks_first_flight(replay,
                                                                                tmp_path):
    """A Linux server sends 40 segments before the client acks (large cwnd);
    the stack's first flight is smaller, so the recorded ack covers data it
    has not sent: it is cut to what the stack sent instead of being dropped."""
    body = bytes(range(256)) * 240
    conv = cf.conversation(response=body)
    # Move every client ACK of the response after the last response segment.
    first = next(i for i, c in enumerate(conv) if not c[2] and len(c[1]) > 100)
    resp = [c for c in conv[first:] if not c[2] and len(c[1]) > 100]
    acks = [c for c in conv[first:] if c[2] and len(c[1]) <= 100 + 12 and (c[1][33] & 1) == 0]
    rest = [c for c in conv[first:] if c not in resp and c not in acks]
    conv = conv[:first] + resp + acks[-1:] + rest
    conv = [(i * 100, c[1], c[2]) for i, c in enumerate(conv)]
    p = tmp_path / "burst.pcap"
    cf.write_pcap(p, cf.conversation_frames(conv))
    r = run(replay, "--outcome", "--as", cf.IP_C, p)
    assert r.returncode == 0, r.stdout
    r = run(replay, "--outcome", "--as", cf.IP_S, p)
    m = PLAY_OK.search(r.stdout)
    assert m, r.stdout
    # The recorded ack (all 61440 bytes) is cut to what the stack had sent
    # instead of being dropped as an ack of unsent data: the stack's data
    # gets acknowledged beyond its first flight (10 segments).
    assert int(m.group(7)) > 10 * 1448, r.stdout


# ---------------------------------------------------------------- explanation and rewriting
def rewritten_capture(path, kind):
    conv = cf.conversation()
    if kind == "hsrp-mac":
        frames = cf.conversation_frames(conv, server_mac=bytes.fromhex("00000c07ac01"))
    elif kind == "offloaded-checksums":
        frames = []
        for t, b in cf.conversation_frames(conv):
            if b[6:12] == cf.MAC_C:  # recorded on the client: its checksums not filled in
                b = b[:50] + bytes([b[50] ^ 0x55]) + b[51:]
            frames.append((t, b))
    cf.write_pcap(path, frames)


@pytest.mark.parametrize("kind,option,cause", [
    ("hsrp-mac", "--accept-macs", "are addressed to another MAC than the stack's"),
    ("offloaded-checksums", "--fix-checksums", "have a bad checksum")])
def test_a_foreign_capture_fails_with_the_likely_cause_and_passes_with_the_option(
        replay, tmp_path, kind, option, cause):
    p = tmp_path / (kind + ".pcap")
    rewritten_capture(p, kind)
    r = run(replay, "--outcome", p)
    assert r.returncode == 1, r.stdout
    assert re.search(r"^why: the stack's drop counters: drop_\w+ 9$", r.stdout, re.M), r.stdout
    assert "likely cause: 9 frames to 10.1.0.2 " + cause in r.stdout and option in r.stdout
    r = run(replay, "--outcome", option, p)
    assert r.returncode == 0, r.stdout
    assert PLAY_OK.search(r.stdout), r.stdout


# ---------------------------------------------------------------- real conversations
REAL = sorted((REPO / "pcap-corpus" / "real").glob("real-*.pcap"))
CLEAN_REAL = [p for p in REAL if "offloads-on" not in p.name and "loopback" not in p.name
              and "lossy" not in p.name]
LINUX_CLIENT, LINUX_SERVER = "10.78.0.1", "10.78.0.2"


def test_the_real_corpus_is_there():
    assert len(CLEAN_REAL) >= 4 and any("offloads-on" in p.name for p in REAL)


@pytest.mark.parametrize("capture", CLEAN_REAL, ids=[p.stem for p in CLEAN_REAL])
@pytest.mark.parametrize("side", ["server", "client"])
def test_a_real_linux_conversation_replays_on_either_side_every_byte_compared(replay, capture,
                                                                                side):
    """Recorded by pcap-corpus/record-real.py (curl / python http.server /
    python sockets, Linux on both ends): the stack in either Linux's place,
    no sidecar, outcome mode."""
    host = LINUX_SERVER if side == "server" else LINUX_CLIENT
    r = run(replay, "--outcome", "--no-sidecar", "--as", host, capture)
    assert r.returncode == 0, r.stdout
    m = PLAY_OK.search(r.stdout)
    assert m and m.group(2) == side, r.stdout
    assert int(m.group(3)) == int(m.group(4)) and int(m.group(5)) == int(m.group(6))
    assert int(m.group(3)) + int(m.group(5)) > 0
    # Every connection the capture shows, each on its own line.
    n = int(re.search(r"expected from the capture: (\d+) connections established", r.stdout).group(1))
    assert len(PLAY_OK.findall(r.stdout)) == n and "MISMATCH" not in r.stdout, r.stdout
    if "three-connections" in capture.name:
        assert n == 3 and {p for p, *_ in PLAY_OK.findall(r.stdout)} == (
            {"8000", "8001"} if side == "server" else {p for p, *_ in PLAY_OK.findall(r.stdout)})


@pytest.mark.parametrize("view,host,side", [("server", LINUX_SERVER, "server"),
                                            ("client", LINUX_CLIENT, "client")])
def test_a_real_lossy_conversation_replays_on_the_side_it_was_recorded(replay, view, host, side):
    """200000 bytes over a link dropping and reordering 3% of the frames each
    way (record-real.py's LossyLink): retransmissions, SACK blocks and
    out-of-order segments in the capture; each end's own view replays with
    every byte delivered and every byte sent acknowledged."""
    cap = REPO / "pcap-corpus" / "real" / f"real-bulk-lossy-{view}-view.pcap"
    r = run(replay, "--outcome", "--no-sidecar", "--as", host, cap)
    assert r.returncode == 0, r.stdout
    m = PLAY_OK.search(r.stdout)
    assert m and m.group(2) == side
    assert int(m.group(3)) == int(m.group(4)) and int(m.group(5)) == int(m.group(6)) == int(m.group(7))
    sacks = subprocess.run(["tcpdump", "-nr", str(cap)], capture_output=True, text=True).stdout
    assert "sack" in sacks or not sacks  # (tcpdump may be missing)


def test_real_offloaded_capture_needs_fix_checksums_and_has_oversize_frames(replay):
    """Offloads left on: the capture shows unfilled checksums both ways and
    GSO super-frames from the server. As the server, --fix-checksums makes
    it replay; as the client, the super-frames cannot be injected, and the
    failure says so."""
    cap = REPO / "pcap-corpus" / "real" / "real-http-get-offloads-on.pcap"
    r = run(replay, "--outcome", "--no-sidecar", "--as", LINUX_SERVER, cap)
    assert r.returncode == 1 and "try --fix-checksums" in r.stdout, r.stdout
    r = run(replay, "--outcome", "--no-sidecar", "--fix-checksums", "--as", LINUX_SERVER, cap)
    assert r.returncode == 0 and PLAY_OK.search(r.stdout), r.stdout
    r = run(replay, "--outcome", "--no-sidecar", "--fix-checksums", "--as", LINUX_CLIENT, cap)
    assert r.returncode == 1
    assert re.search(r"likely cause: \d+ frames to 10\.78\.0\.1 are longer than MTU \+ 14", r.stdout)


def test_real_captures_feed_without_bad_acks(replay):
    """Feed mode on a real bulk transfer: the handshake and every data
    segment are accepted (the sink reads the whole 300000 bytes)."""
    cap = REPO / "pcap-corpus" / "real" / "real-bulk-python-sockets.pcap"
    r = run(replay, "--feed", "--no-sidecar", "--as", LINUX_SERVER, cap)
    assert r.returncode == 0, r.stdout
    c = counters(r.stdout)
    assert c.get("tcp_conns_accepted") == 1 and c.get("drop_tcp_bad_ack", 0) == 0, r.stdout


# ---------------------------------------------------------------- import
def test_import_turns_a_capture_into_a_test_case(replay, tmp_path):
    src = tmp_path / "mine.pcap"
    cf.write_pcap(src, cf.conversation_frames(cf.conversation()))
    out = tmp_path / "corpus"
    out.mkdir()
    r = run(replay, "import", "--out", out, "--description", "a test", src)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (out / "mine.pcap").read_bytes() == src.read_bytes()
    side = (out / "mine.ini").read_text()
    assert side.startswith("# a test\n")
    assert "as = 10.1.0.2" in side and "app = replay" in side and "mode = outcome" in side
    assert "established = 1" in side and "bytes_to_app = 27" in side
    r = run(replay, out / "mine.pcap")  # the sidecar is found next to it
    assert r.returncode == 0 and r.stdout.rstrip().splitlines()[-1].startswith("PASS"), r.stdout


def test_import_of_a_capture_needing_rewrites_writes_the_options(replay, tmp_path):
    src = tmp_path / "hsrp.pcap"
    rewritten_capture(src, "hsrp-mac")
    r = run(replay, "import", "--out", tmp_path, "--name", "hsrp-imported", src)
    assert r.returncode == 0, r.stdout
    assert "accept_macs = yes" in (tmp_path / "hsrp-imported.ini").read_text()


# ---------------------------------------------------------------- capture classes
# pcap-corpus/classes/: made by pcap-corpus/make-classes.py (scapy) and, for
# the snaplen-cut one, recorded by pcap-corpus/record-real.py.
CLASSES = REPO / "pcap-corpus" / "classes"


def test_class_big_tcp_frames(replay):
    """The server's 80 kB BIG TCP frame: as the server, its bytes are part of
    the stream the stack sends (the whole 79934 bytes); as the client, the
    frame cannot be injected: counted, and the failure says why."""
    cap = CLASSES / "big-tcp-80k.pcap"
    r = run(replay, "--outcome", cap)
    m = PLAY_OK.search(r.stdout)
    assert r.returncode == 0 and m and m.group(5) == m.group(6) == "79934", r.stdout
    r = run(replay, "--outcome", "--as", "10.2.0.1", cap)
    assert r.returncode == 1 and no_sanitizer_report(r)
    assert "1 frames to 10.2.0.1 longer than MTU + 14 (1514 bytes) were not injected" in r.stdout
    assert "likely cause: 1 frames to 10.2.0.1 are longer than MTU + 14" in r.stdout


@pytest.mark.parametrize("mode", MODES, ids=" ".join)
@pytest.mark.parametrize("name,why", [("multi-interface.pcapng", "an interface has a type 101"),
                                      ("truncated-file.pcap", "truncated dump file")])
def test_class_files_libpcap_refuses(replay, mode, name, why):
    r = run(replay, *mode, CLASSES / name)
    assert r.returncode == 2 and why in r.stderr, r.stdout + r.stderr


@pytest.mark.parametrize("side", ["10.2.0.2", "10.2.0.1"])
def test_class_qinq_every_vlan_tag_is_removed(replay, side):
    r = run(replay, "--outcome", "--as", side, CLASSES / "qinq.pcap")
    assert r.returncode == 0 and PLAY_OK.search(r.stdout), r.stdout
    r = run(replay, "--feed", CLASSES / "qinq.pcap")
    assert "36 VLAN tags were removed" in r.stdout, r.stdout


def test_class_loopback_sides_by_address_and_port(replay):
    """BSD loopback link type, both ends 127.0.0.1: auto-detected as the side
    that accepted (127.0.0.1:8080), or chosen by port."""
    cap = CLASSES / "loopback-null.pcap"
    r = run(replay, "--outcome", cap)
    assert r.returncode == 0 and "both ends share an address" in r.stdout, r.stdout
    assert PLAY_OK.search(r.stdout).group(2) == "server"
    r = run(replay, "--outcome", "--as", "127.0.0.1:40404", cap)
    assert r.returncode == 0 and PLAY_OK.search(r.stdout).group(2) == "client", r.stdout


def test_class_real_loopback_recording_both_sides(replay):
    cap = REPO / "pcap-corpus" / "real" / "real-loopback-http-curl.pcap"
    r = run(replay, "--outcome", "--no-sidecar", "--fix-checksums", cap)
    assert r.returncode == 0 and PLAY_OK.search(r.stdout).group(2) == "server", r.stdout
    client_port = re.search(r"<-> 10\.127\.0\.1:(\d+)", r.stdout).group(1)
    r = run(replay, "--outcome", "--no-sidecar", "--fix-checksums", "--as",
            "127.0.0.1:" + client_port, cap)
    assert r.returncode == 0 and PLAY_OK.search(r.stdout).group(2) == "client", r.stdout


@pytest.mark.parametrize("name,option,cause", [
    ("hsrp-mac.pcap", "--accept-macs", "are addressed to another MAC than the stack's"),
    ("offloaded-checksums.pcap", "--fix-checksums", "have a bad checksum")])
def test_class_needs_a_rewrite_and_says_which(replay, name, option, cause):
    r = run(replay, "--outcome", CLASSES / name)
    assert r.returncode == 1 and cause in r.stdout and option in r.stdout, r.stdout
    r = run(replay, "--outcome", option, CLASSES / name)
    assert r.returncode == 0 and PLAY_OK.search(r.stdout), r.stdout


def test_class_snaplen_cut_frames_are_shown_truncated(replay):
    cap = CLASSES / "real-http-get-snaplen-96.pcap"
    r = run(replay, "--outcome", cap)
    assert r.returncode == 1
    assert re.search(r"likely cause: \d+ frames to 10\.78\.0\.2 are truncated \(cut by the "
                     r"capture's snapshot length\)", r.stdout), r.stdout
    assert "the capture lacks" in r.stdout
    r = run(replay, "--feed", cap)
    assert re.search(r"\d+ frames are truncated \(cut by the capture's snapshot length\)", r.stdout)
    r = run(replay, "--verbose", "--check", cap)
    assert "[truncated:" in r.stdout, r.stdout


@pytest.mark.parametrize("mode", MODES, ids=" ".join)
def test_class_zero_length_frame(replay, mode):
    r = run(replay, *mode, CLASSES / "zero-length-frame.pcap")
    # check mode diverges (scapy's frames are not what the stack sends); the
    # others pass; no mode trips over the empty record.
    assert r.returncode == (1 if mode == ["--check"] else 0), r.stdout + r.stderr
    assert no_sanitizer_report(r) and "frames" in r.stdout


@pytest.mark.parametrize("capture,host,extra", [
    (CLASSES / "big-tcp-80k.pcap", "10.2.0.1", []),
    (REPO / "pcap-corpus" / "real" / "real-http-get-offloads-on.pcap", LINUX_CLIENT,
     ["--fix-checksums"])])
def test_segment_gso_injects_super_frames_as_the_segments_a_nic_would_send(replay, capture,
                                                                            host, extra):
    r = run(replay, "--outcome", "--no-sidecar", "--as", host, *extra, capture)
    assert r.returncode == 1 and "try --segment-gso" in r.stdout, r.stdout
    r = run(replay, "--outcome", "--no-sidecar", "--as", host, "--segment-gso", *extra, capture)
    assert r.returncode == 0, r.stdout
    m = PLAY_OK.search(r.stdout)
    assert m and m.group(2) == "client" and m.group(3) == m.group(4), r.stdout
    assert re.search(r"--segment-gso injected [1-9]\d* oversize frames", r.stdout)


def test_a_reused_four_tuple_is_a_new_connection_with_its_own_numbering(replay, tmp_path):
    """Two conversations on the same 4-tuple one after the other (new ISNs):
    the second is translated with its own numbering and matched to its own
    streams, in check/outcome mode as in feed mode."""
    one = cf.conversation(request=b"first request\r\n\r\n")
    two = cf.conversation(request=b"second request, longer\r\n\r\n", response=b"x" * 3000,
                          c_isn=0x12345678, s_isn=0x0BADCAFE, c_ts=4000000000, s_ts=999)
    end = one[-1][0] + 1000000
    conv = one + [(t + end, p, c) for t, p, c in two]
    cap = tmp_path / "reuse.pcap"
    cf.write_pcap(cap, cf.conversation_frames(conv))
    r = run(replay, "--outcome", cap)
    assert r.returncode == 0, r.stdout
    oks = PLAY_OK.findall(r.stdout)
    assert [(o[2], o[4]) for o in oks] == [("17", "5019"), ("26", "3000")], r.stdout
    assert "2 established" in r.stdout
    r = run(replay, "--feed", "--no-sidecar", "--as", cf.IP_S, cap)
    assert counters(r.stdout).get("tcp_conns_accepted") == 2, r.stdout
