"""microtcp-replay: every capture of pcap-corpus/ replays in its sidecar's mode
and passes; check mode fails readably when the stack's output changes; feed
mode takes every capture without crash or leak; write mode produces a pcap
holding the run; bad input gives one line and exit status 2."""
import os
import pathlib
import re
import shutil
import struct
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CORPUS = REPO / "pcap-corpus"
CAPTURES = sorted(p for d in ("generated", "live", "real", "imported") for p in (CORPUS / d).glob("*")
                  if p.suffix in (".pcap", ".pcapng"))
SANITIZED = os.environ.get("MICROTCP_SANITIZED") == "1"


@pytest.fixture(scope="session")
def replay(build_dir):
    exe = build_dir / "tools" / "replay" / "microtcp-replay"
    if not exe.exists():
        pytest.fail(f"{exe} was not built")
    return exe


def run(exe, *args, timeout=120):
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def ids(paths):
    return [p.relative_to(CORPUS).as_posix() for p in paths]


# ---------------------------------------------------------------- the corpus
def test_corpus_has_40_captures_each_with_a_sidecar_and_listed_in_the_readme():
    assert len(CAPTURES) >= 40
    readme = (CORPUS / "README.md").read_text()
    for p in CAPTURES:
        assert p.with_suffix(".ini").exists(), f"{p.name} has no sidecar"
        assert p.stem in readme, f"{p.name} is not listed in pcap-corpus/README.md"
    kinds = {p.parent.name for p in CAPTURES}
    assert {"generated", "live", "real"} <= kinds


@pytest.mark.parametrize("capture", CAPTURES, ids=ids(CAPTURES))
def test_corpus_capture_replays_and_passes(replay, capture):
    r = run(replay, capture)
    assert r.returncode == 0, f"{capture.name}:\n{r.stdout}{r.stderr}"
    assert r.stdout.rstrip().splitlines()[-1].startswith("PASS")


# live-as-linux-* replay the stack as the LINUX host: outcome mode by design.
LIVE = [p for p in CAPTURES if p.parent.name == "live" and not p.name.startswith("live-as-linux-")]
REAL = [p for p in CAPTURES if p.parent.name in ("real", "imported")]
AS_LINUX = [p for p in CAPTURES if p.name.startswith("live-as-linux-")]


def test_linux_side_captures_check_the_outcome():
    assert AS_LINUX
    for p in AS_LINUX:
        side = p.with_suffix(".ini").read_text()
        assert "mode = outcome" in side and "as = 10.77.0.1" in side and "[expect]" in side


@pytest.mark.parametrize("capture", LIVE, ids=ids(LIVE))
def test_live_capture_is_compared_frame_by_frame(replay, capture):
    """The live captures are the stack's own output (microtcp-tap --pcap):
    replaying as the stack must reproduce every frame it sent, not merely
    the outcome."""
    assert "mode = check" in capture.with_suffix(".ini").read_text()
    r = run(replay, capture)
    m = re.search(r"(\d+) compared", r.stdout)
    assert r.returncode == 0 and m and int(m.group(1)) > 0, r.stdout


# ---------------------------------------------------------------- check mode fails readably
def test_check_mode_fails_readably_when_the_stacks_output_changes(replay):
    cap = CORPUS / "live" / "live-http-get-curl.pcap"
    r = run(replay, "--perturb", cap)
    assert r.returncode == 1, r.stdout
    out = r.stdout
    assert "DIVERGENCE: the stack sent a different frame" in out
    exp = re.search(r"expected: (10\.77\.0\.2:80 > 10\.77\.0\.1:\d+ \[S\.\] .* win (\d+) .*)", out)
    act = re.search(r"actual: +(10\.77\.0\.2:80 > 10\.77\.0\.1:\d+ \[S\.\] .* win (\d+) .*)", out)
    assert exp and act, out
    assert int(exp.group(2)) ^ int(act.group(2)) == 1
    assert re.search(r"tcp\.win +expected \d+, actual \d+", out), out
    assert out.rstrip().splitlines()[-1].startswith("FAIL")


def test_a_config_change_shows_up_as_a_field_diff(replay, tmp_path):
    """A behaviour change (here a smaller MSS) is reported at the first frame
    it changes, with the fields that differ."""
    cap = CORPUS / "generated" / "tcp-http-get.pcap"
    side = tmp_path / "mss.ini"
    side.write_text((cap.with_suffix(".ini")).read_text() + "\n[config]\ntcp_mss = 1000\n")
    r = run(replay, "--sidecar", side, cap)
    assert r.returncode == 1
    assert "DIVERGENCE" in r.stdout and "expected:" in r.stdout and "actual:" in r.stdout
    assert re.search(r"tcp\.options +expected <mss 1460.*actual <mss 1000", r.stdout), r.stdout


def test_check_mode_notices_a_frame_the_stack_does_not_send(replay, tmp_path):
    """Drop the stack's SYN-ACK expectations by replaying as a host that
    would answer differently: the wrong app port means RST instead of SYN-ACK."""
    cap = CORPUS / "generated" / "tcp-echo-exchange.pcap"
    r = run(replay, "--port", "9999", cap)
    assert r.returncode == 1
    assert "DIVERGENCE" in r.stdout and "[R." in r.stdout, r.stdout


def test_outcome_mismatch_is_reported(replay, tmp_path):
    cap = CORPUS / "generated" / "tcp-data-small-sink.pcap"
    side = tmp_path / "wrong.ini"
    side.write_text("[replay]\nmode = outcome\napp = sink\nport = 80\n\n[expect]\nbytes_to_app = 999\n")
    r = run(replay, "--sidecar", side, cap)
    assert r.returncode == 1
    assert "OUTCOME MISMATCH: expected 999 bytes delivered to the app, got 1000" in r.stdout


# ---------------------------------------------------------------- feed mode
@pytest.mark.parametrize("capture", CAPTURES, ids=ids(CAPTURES))
def test_feed_mode_takes_every_capture_without_leak(replay, capture):
    for extra in ([], ["--promisc"]):
        r = run(replay, "--feed", *extra, capture)
        assert r.returncode == 0, f"{capture.name} {extra}:\n{r.stdout}{r.stderr}"
        assert "PASS: no leak" in r.stdout
        assert "runtime error" not in r.stderr and "Sanitizer" not in r.stderr


def test_feed_mode_prints_counters_with_drop_reasons(replay):
    r = run(replay, "--feed", CORPUS / "generated" / "ip-malformed-headers.pcap")
    assert r.returncode == 0
    assert re.search(r"^feed .*: \d+ frames in [\d.]+ s \(\d+ frames/s; [\d.]+ s CPU, \d+ frames per CPU second\)", r.stdout, re.M)
    assert re.search(r"^  frames_in +\d+", r.stdout, re.M)
    assert re.search(r"^  drop_ip_\w+ +\d+", r.stdout, re.M), r.stdout


def test_feed_mode_takes_garbage_frames(replay, tmp_path):
    """Random bytes as Ethernet frames (a fixed seed): no crash, no leak."""
    import random
    rnd = random.Random(7)
    p = tmp_path / "garbage.pcap"
    with open(p, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(3000):
            n = rnd.choice((0, 1, 13, 14, 20, 34, 54, 60, 200, 1514))
            b = bytearray(rnd.randbytes(n))
            if n >= 34 and i % 2:  # half of them look like IPv4 to the host
                b[0:6] = bytes.fromhex("020000000002")
                b[12:14] = b"\x08\x00"
                b[14] = 0x45
                b[30:34] = bytes([10, 0, 0, 2])
            f.write(struct.pack("<IIII", 1700000000, i, n, n) + bytes(b))
    r = run(replay, "--feed", "--as", "10.0.0.2", p)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3000 frames" in r.stdout and "PASS: no leak" in r.stdout


def test_huge_frames_of_every_link_type_are_cut_not_overflowed(replay, tmp_path):
    """caplen can be up to the file's snaplen (256 KiB), beyond any buffer the
    tool keeps for one frame: a VLAN-tagged, a raw-IPv4 and an SLL frame of
    200000 bytes each."""
    big = 200000
    ip = bytes([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]) + bytes(big - 20)
    frames = {1: bytes.fromhex("020000000002020000000001") + b"\x81\x00\x00\x05\x08\x00" + ip,
              101: ip,
              113: bytes(14) + b"\x08\x00" + ip}
    for lt, fr in frames.items():
        p = tmp_path / ("big-%d.pcap" % lt)
        p.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, lt) +
                      struct.pack("<IIII", 1700000000, 0, len(fr), len(fr)) + fr)
        for mode in ([], ["--feed"]):
            r = run(replay, *mode, "--no-sidecar", "--as", "10.0.0.2", p)
            assert r.returncode in (0, 1), (lt, mode, r.stdout, r.stderr)
            assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr


# ---------------------------------------------------------------- write mode
def read_pcap(path):
    data = path.read_bytes()
    magic, = struct.unpack_from("<I", data, 0)
    assert magic == 0xA1B2C3D4
    assert struct.unpack_from("<I", data, 20)[0] == 1  # Ethernet
    frames, pos = [], 24
    while pos < len(data):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", data, pos)
        frames.append((sec * 1000000 + usec, data[pos + 16:pos + 16 + caplen]))
        pos += 16 + caplen
    return frames


def test_write_mode_interleaves_inputs_and_outputs(replay, tmp_path):
    cap = CORPUS / "live" / "live-http-get-curl.pcap"
    out = tmp_path / "run.pcap"
    r = run(replay, "--write", out, cap)
    assert r.returncode == 0, r.stdout
    m = re.search(r"(\d+) frames injected, \d+ compared, \d+ ignored \(other hosts\), stack sent (\d+)", r.stdout)
    frames = read_pcap(out)
    assert len(frames) == int(m.group(1)) + int(m.group(2))
    times = [t for t, _ in frames]
    assert times == sorted(times)
    stack_mac = bytes.fromhex("020000007702")
    from_stack = [f for _, f in frames if f[6:12] == stack_mac]
    assert 0 < len(from_stack) < len(frames)
    if shutil.which("tshark"):
        r = subprocess.run(["tshark", "-r", str(out)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "HTTP/1.0 200 OK" in r.stdout


def test_write_mode_in_feed_mode(replay, tmp_path):
    out = tmp_path / "feed.pcap"
    r = run(replay, "--feed", "--write", out, CORPUS / "generated" / "icmp-ping.pcap")
    assert r.returncode == 0
    assert len(read_pcap(out)) > 0


# ---------------------------------------------------------------- link types
@pytest.mark.parametrize("name,linktype", [("link-raw-ipv4.pcap", "raw IP"),
                                           ("link-linux-cooked-sll.pcap", "Linux cooked (SLL)"),
                                           ("link-linux-cooked-sll2.pcap", "Linux cooked v2 (SLL2)"),
                                           ("link-pcapng.pcapng", "Ethernet")])
def test_link_types_are_accepted(replay, name, linktype):
    r = run(replay, CORPUS / "generated" / name)
    assert r.returncode == 0, r.stdout + r.stderr
    first = r.stdout.splitlines()[0]
    assert f"frames ({linktype})" in first, first


# ---------------------------------------------------------------- CLI
def test_help_documents_every_mode(replay):
    r = run(replay, "--help")
    assert r.returncode == 0
    for word in ("--check", "--outcome", "--feed", "--write", "--as", "--sidecar", "--perturb", "clock = tap"):
        assert word in r.stdout, word


@pytest.mark.parametrize("args,msg", [
    (["/nonexistent.pcap"], "No such file"),
    (["--bogus", "x.pcap"], "unknown option"),
    (["--check", "--feed", "x.pcap"], "choose one of"),
    ([], "no capture given"),
    (["--as", "1.2.3", "x.pcap"], "--as expects"),
    (["--app", "telnet", "x.pcap"], "--app expects"),
])
def test_usage_errors_are_one_line_and_exit_2(replay, args, msg):
    r = run(replay, *args)
    assert r.returncode == 2
    assert msg in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_garbage_capture_and_bad_sidecar_exit_2(replay, tmp_path):
    g = tmp_path / "garbage.pcap"
    g.write_bytes(b"not a capture at all" * 10)
    for mode in ([], ["--feed"]):
        r = run(replay, *mode, g)
        assert r.returncode == 2 and "unknown file format" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    side = tmp_path / "typo.ini"
    side.write_text("[replay]\nmdoe = check\n")
    r = run(replay, "--sidecar", side, CORPUS / "generated" / "icmp-ping.pcap")
    assert r.returncode == 2 and "mdoe" in r.stderr


def test_truncated_capture_is_an_error_not_a_crash(replay, tmp_path):
    src = (CORPUS / "generated" / "tcp-data-bulk-sink.pcap").read_bytes()
    t = tmp_path / "cut.pcap"
    t.write_bytes(src[:len(src) // 2 + 7])
    for mode in ([], ["--feed"]):
        r = run(replay, *mode, "--no-sidecar", t)
        assert r.returncode in (0, 1, 2), r.stderr
        assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr


# ---------------------------------------------------------------- the generator
def test_generator_reproduces_a_committed_capture(replay, tmp_path):
    """The generated corpus is the generator's output: one scenario
    regenerated is byte-identical to the committed file."""
    if SANITIZED:
        pytest.skip("runs in the default build")
    if subprocess.run(["/usr/bin/python3", "-c", "import scapy"], capture_output=True).returncode:
        pytest.skip("python3-scapy not installed")
    r = subprocess.run(["/usr/bin/python3", str(CORPUS / "generate.py"), "--replay", str(replay),
                        "--only", "tcp-out-of-order", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for ext in (".pcap", ".ini"):
        assert (tmp_path / ("tcp-out-of-order" + ext)).read_bytes() == \
            (CORPUS / "generated" / ("tcp-out-of-order" + ext)).read_bytes(), ext


def test_ignored_fields_are_not_compared(replay):
    """--ignore (or the sidecar's ignore) takes a field out of the comparison:
    the perturbed window then passes, and nothing else was changed."""
    cap = CORPUS / "live" / "live-http-get-curl.pcap"
    assert run(replay, "--perturb", cap).returncode == 1
    r = run(replay, "--perturb", "--ignore", "tcp.win", cap)
    assert r.returncode == 0, r.stdout
