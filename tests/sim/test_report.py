"""The HTML report (sim/report.c) of real runs, rendered in a real browser.

microtcp-sim run/swarm --report, microtcp-replay --report and microtcp-report
write a self-contained page of inline SVG. Here headless Chromium (Debian
package `chromium`, listed in tools/lib-deps.sh) loads each page from disk
with the network cut off and:
- dumps the DOM it built: the SVG elements must be there as SVG (one
  time-sequence graph per TCP connection of the run, the fault markers of a
  lossy run, the timeline, the links);
- logs every console message: Chrome reports malformed SVG attributes (a NaN
  in a path, a negative width) there, so the page must log none;
- takes a screenshot: the PNG must not be blank and must show the colours of
  the data line and of the loss markers.
The counts in the page are also checked against the run itself (the pcap's
TCP connections, the JSON's drop counters)."""
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import zlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium not installed (Debian package chromium; tools/lib-deps.sh)")
    return CHROMIUM


def browse(page, tmp_path, screenshot=None, size="1100,3000"):
    """Load page in headless Chromium (no network); returns (dom, console lines)."""
    prof = tmp_path / "chromium-profile"
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={prof}", "--no-first-run", "--enable-logging=stderr", "--v=0",
            # nothing may be fetched: every request but file:// fails
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            f"--window-size={size}"]
    if screenshot:
        args.append(f"--screenshot={screenshot}")
    else:
        args.append("--dump-dom")
    args.append(pathlib.Path(page).resolve().as_uri())
    r = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    console = [l for l in r.stderr.splitlines() if ":CONSOLE" in l]
    if screenshot:
        assert pathlib.Path(screenshot).exists(), r.stderr[-2000:]
    else:
        assert "</html>" in r.stdout, r.stderr[-2000:]
    return r.stdout, console


def png_pixels(path):
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes): (width, height, rows of bytes)."""
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def colour_counts(path):
    w, h, bpp, rows = png_pixels(path)
    counts = {}
    for row in rows:
        for x in range(0, w * bpp, bpp):
            px = row[x:x + 3]
            counts[px] = counts.get(px, 0) + 1
    return w * h, counts


def pcap_tcp_connections(path):
    """Distinct TCP connections (unordered address:port pairs) in an Ethernet pcap."""
    data = pathlib.Path(path).read_bytes()
    assert struct.unpack("<I", data[:4])[0] == 0xa1b2c3d4
    pos, conns = 24, set()
    while pos + 16 <= len(data):
        caplen = struct.unpack("<I", data[pos + 8:pos + 12])[0]
        f = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ihl = (f[14] & 15) * 4
        src, dst = f[26:30], f[30:34]
        sp, dp = struct.unpack(">HH", f[14 + ihl:14 + ihl + 4])
        conns.add(frozenset([(src, sp), (dst, dp)]))
    return conns


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300,
                          cwd=REPO, **kw)


@pytest.fixture(scope="module")
def quickstart(build_dir, tmp_path_factory):
    """quickstart.ini, seed 1: its report, pcap and JSON."""
    d = tmp_path_factory.mktemp("quickstart")
    r = run([build_dir / "sim/microtcp-sim", "run", "sim/scenarios/quickstart.ini", "--quiet",
             "--report", d / "report", "--pcap", d / "all.pcap", "--json", d / "run.json"])
    assert r.returncode == 0, r.stdout + r.stderr
    return d


def test_quickstart_report_has_one_time_sequence_graph_per_connection(quickstart, tmp_path):
    dom, console = browse(quickstart / "report/index.html", tmp_path)
    assert console == [], console
    conns = pcap_tcp_connections(quickstart / "all.pcap")
    assert len(conns) == 3  # bulk, rpc, web
    assert len(re.findall(r'<svg class="tsg"', dom)) == len(conns)
    assert len(re.findall(r'<svg class="cwnd"', dom)) == len(conns)
    assert len(re.findall(r'<svg class="rtt"', dom)) == len(conns)
    assert dom.count('<svg class="timeline"') == 1
    # every host has an up and a down link; the busy ones are drawn
    assert len(re.findall(r'<svg class="linkplot"', dom)) == 8
    # each graph has drawn data, acks, and (the stack's samples) a cwnd line
    for sec in re.findall(r'<section class="conn".*?</section>', dom, re.S):
        assert re.search(r'class="data" d="M\d', sec), sec[:300]
        assert re.search(r'class="ack" d="M\d', sec), sec[:300]
        assert re.search(r'class="cw" d="M\d', sec), sec[:300]
        assert re.search(r'class="srtt" d="M\d', sec), sec[:300]
    # the bulk transfer lost frames: its zoom on the first one shows the SACK
    # blocks and the retransmission segment by segment
    zoom = re.search(r'<svg class="tsg-zoom".*?</svg>', dom, re.S)
    assert zoom and re.search(r'class="sack" d="M\d', zoom.group(0)) and \
        re.search(r'class="retx" d="M\d', zoom.group(0)), "no zoom with SACK blocks and a retransmission"


def test_quickstart_report_marks_every_lost_frame(quickstart, tmp_path):
    """Each frame a link dropped is marked on its connection (or counted as
    not TCP): the marks add up to the JSON's loss counters."""
    dom, console = browse(quickstart / "report/index.html", tmp_path)
    assert console == [], console
    links = json.loads((quickstart / "run.json").read_text())["links"]
    lost = sum(l["drops"]["loss"] for l in links)
    assert lost > 50
    marked = sum(int(n) for n in re.findall(r'data-fault-loss="(\d+)"', dom))
    assert marked == lost, (marked, lost)
    # drawn: one marker per frame and pixel column, with a tooltip (the zoom
    # graphs draw their frames' marks again, so they are left out here)
    main = re.sub(r'<svg class="tsg-zoom".*?</svg>', '', dom, flags=re.S)
    markers = re.findall(r'<g class="mark mark-loss"><title>frame \d+ at [^<]*lost', main)
    assert 20 < len(markers) <= lost


def test_retransmissions_seen_in_the_frames_match_the_stack(quickstart, tmp_path):
    """The report finds retransmissions from the frames alone (sequence
    space sent before); for the bulk sender that is the stack's own count."""
    dom, _ = browse(quickstart / "report/index.html", tmp_path)
    flows = {f["name"]: f for f in json.loads((quickstart / "run.json").read_text())["flows"]}
    m = re.search(r'data-retransmits="(\d+)"[^>]*>\n<h3>Connection \d+: alice:\d+ → server:5001<', dom)
    assert m, "no section for the bulk connection"
    assert int(m.group(1)) == flows["bulk"]["retransmits"] > 0


def test_quickstart_report_screenshot_shows_data_and_faults(quickstart, tmp_path):
    png = tmp_path / "shot.png"
    _, console = browse(quickstart / "report/index.html", tmp_path, screenshot=png)
    assert console == [], console
    total, counts = colour_counts(png)
    white = counts.get(b"\xff\xff\xff", 0)
    assert total - white > total // 20, "the screenshot is (nearly) blank"
    assert len(counts) > 50
    assert counts.get(bytes([0x22, 0x22, 0x22]), 0) > 50  # data segments (#222)
    assert counts.get(bytes([0x2c, 0xa0, 0x2c]), 0) > 50  # acks, timeline bars (#2ca02c)
    assert counts.get(bytes([0xd6, 0x27, 0x28]), 0) > 20  # loss markers (#d62728)


def test_report_is_bounded_and_deterministic(quickstart, build_dir, tmp_path):
    page = (quickstart / "report/index.html").read_bytes()
    assert len(page) < 2_000_000, len(page)  # ~30,000 frames, decimated per pixel column
    r = run([build_dir / "sim/microtcp-sim", "run", "sim/scenarios/quickstart.ini", "--quiet",
             "--report", tmp_path / "again"])
    assert r.returncode == 0
    assert (tmp_path / "again/index.html").read_bytes() == page
    # no fetches: nothing refers outside the page
    assert not re.search(rb'(src|href)="(https?:|//)', page)
    assert b"<script" not in page


def test_report_leaves_the_run_unchanged(build_dir, tmp_path):
    """The recorder only observes: same trace hash with and without it."""
    hashes = []
    for extra in ([], ["--report", tmp_path / "r"]):
        r = run([build_dir / "sim/microtcp-sim", "run", "sim/scenarios/crash-restart.ini", "--quiet",
                 "--json", tmp_path / "j.json", *extra])
        assert r.returncode == 0, r.stderr
        hashes.append(json.loads((tmp_path / "j.json").read_text())["trace_hash"])
    assert hashes[0] == hashes[1]


@pytest.mark.parametrize("scenario,kind", [("partition-heal", "partition"),
                                           ("crash-restart", "crash"),
                                           ("lossy-wan", "reorder")])
def test_fault_kinds_are_marked(build_dir, tmp_path, scenario, kind):
    r = run([build_dir / "sim/microtcp-sim", "run", f"sim/scenarios/{scenario}.ini", "--quiet",
             "--report", tmp_path / "r"])
    assert r.returncode == 0, r.stderr
    dom, console = browse(tmp_path / "r/index.html", tmp_path)
    assert console == [], console
    assert f'<g class="mark mark-{kind}">' in dom
    if kind in ("partition", "crash"):  # the event is a span on the timeline
        assert f'class="event event-{kind}"' in dom


def test_inject_bug_is_marked_and_swarm_summary_links_failures(build_dir, tmp_path):
    out = tmp_path / "swarm"
    r = run([build_dir / "sim/microtcp-sim", "swarm", "sim/scenarios/swarm-small.ini", "--seeds", "1..3",
             "--inject-bug", "corrupt-payload", "--report", out])
    assert r.returncode == 3, r.stderr
    dom, console = browse(out / "index.html", tmp_path)
    assert console == [], console
    assert len(re.findall(r'<rect class="seed seed-', dom)) == 3
    links = re.findall(r'<a class="seed-report" href="([^"]+)"', dom)
    failing = [l.split()[1] for l in r.stdout.splitlines() if " fail " in l]
    assert len(links) == len(failing) > 0
    for href in links:
        seed_page = out / href
        assert seed_page.exists(), href
        assert '<g class="mark mark-bug">' in seed_page.read_text()
    assert re.search(r'<g class="gpflow"><text[^>]*>bulk</text><rect', dom)


def test_replay_report_draws_the_replayed_connection(build_dir, tmp_path):
    r = run([build_dir / "tools/replay/microtcp-replay", "--outcome", "--no-sidecar",
             "pcap-corpus/real/real-http-get-curl.pcap", "--report", tmp_path / "r"])
    assert r.returncode == 0, r.stdout + r.stderr
    dom, console = browse(tmp_path / "r/index.html", tmp_path)
    assert console == [], console
    assert len(re.findall(r'<svg class="tsg"', dom)) == len(pcap_tcp_connections(tmp_path / "r/replay.pcap")) == 1


def test_microtcp_report_draws_a_tap_capture(build_dir, tmp_path):
    cap = "pcap-corpus/live/live-as-linux-server-receives-20000.pcap"  # microtcp-tap --pcap
    r = run([build_dir / "sim/microtcp-report", cap, "--out", tmp_path / "r"])
    assert r.returncode == 0, r.stderr
    dom, console = browse(tmp_path / "r/index.html", tmp_path)
    assert console == [], console
    assert len(re.findall(r'<svg class="tsg"', dom)) == len(pcap_tcp_connections(REPO / cap)) == 1
    assert re.search(r'class="inflight" d="M\d', dom)
    # --stats: the lines the tool printed head the page
    stats = tmp_path / "stats.txt"
    stats.write_text("microtcp-tap: stopped: 35 frames in, 17 out <b>\n")
    r = run([build_dir / "sim/microtcp-report", cap, "--out", tmp_path / "s", "--stats", stats])
    assert r.returncode == 0, r.stderr
    assert "<th>stats</th><td>microtcp-tap: stopped: 35 frames in, 17 out &lt;b&gt;</td>" in \
        (tmp_path / "s/index.html").read_text()


def test_microtcp_report_refuses_bad_input(build_dir, tmp_path):
    exe = build_dir / "sim/microtcp-report"
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture")
    for args in ([], [bad], [bad, "--out", tmp_path / "r"], ["--out"], [REPO / "README.md", "--out", tmp_path]):
        r = run([exe, *args])
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("microtcp-report: "), r.stderr


def test_console_check_catches_broken_svg_and_script_errors(tmp_path):
    """The console check above can fail: Chrome logs a malformed path and a
    script error."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><svg width="9" height="9"><path d="M1 2Hnan"/></svg>'
                    '<script>throw new Error("kaput")</script></body></html>')
    _, console = browse(page, tmp_path)
    assert any("attribute d" in l for l in console), console
    assert any("kaput" in l for l in console), console
