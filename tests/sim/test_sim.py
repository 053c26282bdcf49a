"""microtcp-sim: determinism, example scenarios, swarm, sharding, invariants
catching a deliberately broken run, CLI errors, and pcap validity."""
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCEN = REPO / "sim" / "scenarios"


def run(exe, *args, timeout=300):
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def run_json(exe, tmp_path, scenario, *extra, name="out", timeout=300):
    js, pc = tmp_path / f"{name}.json", tmp_path / f"{name}.pcap"
    r = run(exe, "run", scenario, "--json", js, "--pcap", pc, *extra, timeout=timeout)
    return r, js, pc


def statuses(js):
    d = json.loads(js.read_text())
    return {f["name"]: (f["status"], f["reason"]) for f in d["flows"]}, d


def test_same_seed_gives_identical_pcap_and_json(sim, tmp_path):
    r1, j1, p1 = run_json(sim, tmp_path, SCEN / "quickstart.ini", "--seed", 42, name="a")
    r2, j2, p2 = run_json(sim, tmp_path, SCEN / "quickstart.ini", "--seed", 42, name="b")
    assert r1.returncode == 0, r1.stderr
    assert r2.returncode == 0, r2.stderr
    assert p1.read_bytes() == p2.read_bytes()
    assert j1.read_text() == j2.read_text()
    assert p1.stat().st_size > 100000


def test_different_seeds_differ(sim, tmp_path):
    _, j1, p1 = run_json(sim, tmp_path, SCEN / "quickstart.ini", "--seed", 1, name="a")
    _, j2, p2 = run_json(sim, tmp_path, SCEN / "quickstart.ini", "--seed", 2, name="b")
    assert p1.read_bytes() != p2.read_bytes()
    assert json.loads(j1.read_text())["trace_hash"] != json.loads(j2.read_text())["trace_hash"]


def test_check_command_reports_identical_runs(sim):
    r = run(sim, "check", SCEN / "partition-heal.ini", "--seed", 3)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "identical" in r.stdout


EXPECT_ALL_DONE = ["quickstart", "lossy-wan", "many-clients", "partition-heal", "swarm-small"]


@pytest.mark.parametrize("name", EXPECT_ALL_DONE)
def test_example_scenario_completes_every_flow(sim, tmp_path, name):
    r, js, pcap = run_json(sim, tmp_path, SCEN / f"{name}.ini")
    assert r.returncode == 0, r.stdout + r.stderr
    st, d = statuses(js)
    assert st and all(s == "done" for s, _ in st.values()), st
    assert d["integrity_errors"] == 0


def test_crash_restart_reports_reason_and_recovers(sim, tmp_path):
    r, js, _ = run_json(sim, tmp_path, SCEN / "crash-restart.ini")
    assert r.returncode == 0, r.stdout + r.stderr
    st, _ = statuses(js)
    assert st["before-crash"][0] == "failed" and st["before-crash"][1]
    assert st["after-restart"][0] == "done"


SANITIZED = os.environ.get("MICROTCP_SANITIZED") == "1"


@pytest.mark.slow
@pytest.mark.skipif(SANITIZED, reason="run in the default build (too slow under ASan)")
def test_scale_1000_hosts_10000_connections(sim, tmp_path):
    r, js, _ = run_json(sim, tmp_path, SCEN / "scale-1000.ini", timeout=600)
    assert r.returncode == 0, r.stderr
    st, d = statuses(js)
    assert len(st) == 1000
    assert all(s == "done" for s, _ in st.values())
    hosts = {l["host"] for l in d["links"]}
    assert len(hosts) == 1000


# Seeds of swarm-small 1..500 that fail since swarm mode also draws the stack
# configuration (issue 15 part 8): core findings reported to the lead, not
# simulator bugs. Each is a transfer that crawls or stops for 300 s after the
# calm (70: bulk 249 KB, 420); across 20 such seeds of
# swarm-small and quickstart the receiving host drew ooo_ranges = 1 in 16.
# When a fix lands, this list must shrink (the test fails on a seed that
# passes but is still listed, so it cannot go stale). 104 left the list when
# the receiver's "every second full-sized segment" ACK rule started to use
# the negotiated MSS instead of its own configured one. 420 left it when
# RACK-TLP and D-SACK undo became the defaults (core/TCP.md "Measured").
# 70 left it (2026-12-03) when bare ACKs started to carry SND.MAX instead of
# an RTO-rewound SND.NXT (tcp_output.c bare_ack_seq); the same change fixed
# 310, an ACK loop that the Linux window-update rule had exposed.
SWARM_SMALL_KNOWN_FAILURES = set()


def test_swarm_500_seeds_pass(sim):
    r = run(sim, "swarm", SCEN / "swarm-small.ini", "--seeds", "1..500", timeout=600)
    lines = [l for l in r.stdout.splitlines() if l.startswith("seed ")]
    assert len(lines) == 500, r.stderr[-3000:]
    failed = {int(l.split()[1]) for l in lines if " ok " not in l}
    assert failed == SWARM_SMALL_KNOWN_FAILURES, \
        f"new failures {sorted(failed - SWARM_SMALL_KNOWN_FAILURES)}, fixed (remove from the list) " \
        f"{sorted(SWARM_SMALL_KNOWN_FAILURES - failed)}: {r.stderr[-3000:]}"
    assert r.returncode == (4 if failed else 0)
    assert len({l.split()[3] for l in lines}) == 500  # every seed is a different run


# Swarm seeds that once failed, each for a reason fixed since:
# swarm-small.ini (an 8,000-seed swarm):
#   1919, 2286  two single-bit flips on two hops of one frame cancelled in the
#               internet checksum (2 bad bytes reached a sink): the simulator
#               now corrupts a frame at most once per path;
#   1770        the calm event was skipped when flows ended before it, and a
#               Gilbert-Elliott bad state ate every FIN/RST until the horizon
#               (a TCB left over): the closing phase now calms every link;
#   2525, 3090, 3397, 3656  a ping flow's five requests all fell before the
#               calm: datagram flows now keep asking until a first reply.
# quickstart.ini (1,000 seeds):
#   838, 905    the tcp-echo client sent request k+1 only on the poll after the
#               one that read echo k; when nothing else woke it, it stalled;
#   2800        Karn's rule kept a backed-off RTO (25 s) on a calm but congested
#               switch: the ACK's timestamp echo now gives a sample (RFC 7323);
#   4861, 5609  flows still recovering from RTO backoff at the scenario's 60 s:
#               swarm mode now gives flows 300 s after the calm.
SWARM_REGRESSION_SEEDS = [("swarm-small", s) for s in (1770, 1919, 2286, 2525, 3090, 3397, 3656)] + \
    [("quickstart", s) for s in (838, 905, 2800, 4861, 5609)]


@pytest.mark.parametrize("scenario,seed", SWARM_REGRESSION_SEEDS)
def test_swarm_regression_seeds_pass(sim, scenario, seed):
    r = run(sim, "run", SCEN / f"{scenario}.ini", "--seed", str(seed), "--swarm")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "result: ok" in r.stdout + r.stderr


def test_swarm_draws_faults_from_the_seed(sim, tmp_path):
    """A swarm seed really is hostile: loss on the links, corrupted frames
    caught by checksums, drifting clocks; and its flows still all complete."""
    js = tmp_path / "s.json"
    ev = tmp_path / "ev.txt"
    drops, corrupted, partitions = 0, 0, 0
    for seed in (1, 2, 3, 4):
        r = run(sim, "run", SCEN / "swarm-small.ini", "--seed", seed, "--swarm", "--json", js, "--events", ev)
        assert r.returncode == 0, r.stdout + r.stderr
        st, d = statuses(js)
        assert all(s == "done" for s, _ in st.values()), st
        assert d["swarm"] is True
        drops += sum(l["drops"]["loss"] + l["drops"]["burst"] for l in d["links"])
        corrupted += sum(l["corrupted"] for l in d["links"])
        partitions += "partition" in ev.read_text()
    assert drops > 0 and corrupted > 0 and partitions > 0


def test_flow_expectations_are_enforced(sim, tmp_path):
    """expect = done (the default) turns a failed flow into a liveness failure;
    expect = failed turns a completed one into one. (A datagram flow with no reply
    asks 32 more times, one per timeout, before failing: hence 60 s.)"""
    base = ("[sim]\nduration = 60s\n[host a]\nip = 10.0.0.1\n[host b]\nip = 10.0.0.2\n"
            "[flow u]\ntype = udp-echo\nclient = a\nserver = b\nport = 9\ncount = 3\ntimeout = 1s\n")
    cut = "[event cut]\nat = 0s\naction = partition\nhost = a\n"
    f = tmp_path / "f.ini"
    f.write_text(base + cut)
    r = run(sim, "run", f)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "LIVENESS: flow u failed" in r.stderr and "reproduce: microtcp-sim run" in r.stderr
    f.write_text(base + "expect = failed\n" + cut)
    assert run(sim, "run", f).returncode == 0
    f.write_text(base + "expect = failed\n")
    r = run(sim, "run", f)
    assert r.returncode == 4 and "expected to fail" in r.stderr
    f.write_text(base + "expect = any\n" + cut)
    assert run(sim, "run", f).returncode == 0


TOPO = """[sim]
duration = 30s
[segment lan]
type = {kind}
[host a]
ip = 10.0.0.1
segment = lan
[host b]
ip = 10.0.0.2
segment = lan
[host c]
ip = 10.0.0.3
segment = lan
[host p]
ip = 10.0.9.1
[host q]
ip = 10.0.9.2
[link p q]
forward.latency = 3ms
reverse.latency = 7ms
[flow bulk]
type = tcp-bulk
client = a
server = b
bytes = 2MB
[flow p2p]
type = tcp-echo
client = p
server = q
count = 20
"""


def link_of(d, host, direction):
    return next(l for l in d["links"] if l["host"] == host and l["direction"] == direction)


def test_hub_floods_switch_learns_link_is_point_to_point(sim, tmp_path):
    res = {}
    for kind in ("hub", "switch"):
        f = tmp_path / f"{kind}.ini"
        f.write_text(TOPO.format(kind=kind))
        r, js, _ = run_json(sim, tmp_path, f, name=kind)
        assert r.returncode == 0, r.stdout + r.stderr
        st, d = statuses(js)
        assert all(s == "done" for s, _ in st.values()), st
        res[kind] = d
    hub_c = link_of(res["hub"], "c", "down")["frames"]
    sw_c = link_of(res["switch"], "c", "down")["frames"]
    sent_a = link_of(res["hub"], "a", "up")["frames"]
    # a hub repeats all of a's ~1400 data frames to bystander c; a switch only broadcasts
    assert hub_c >= sent_a > 1000
    assert sw_c < 20
    segs = {g["name"]: g for g in res["switch"]["segments"]}
    assert segs["lan"]["type"] == "switch" and segs["lan"]["hosts"] == 3
    assert segs["p-q"]["type"] == "link" and segs["p-q"]["hosts"] == 2
    # the link's directions have their own latency: RTT = 3 ms + 7 ms (+ serialisation)
    p2p = next(fl for fl in res["switch"]["flows"] if fl["name"] == "p2p")
    assert 10000 <= p2p["srtt_us"] < 12000, p2p
    # nothing crosses between disjoint segments
    assert link_of(res["switch"], "p", "down")["frames"] == link_of(res["switch"], "q", "up")["frames"]


def test_adding_a_host_does_not_perturb_the_others(sim, tmp_path):
    """PRNG streams are keyed by host and flow names, not positions: a silent
    extra host inserted FIRST (so every other host moves up one index and gets
    another default MAC) leaves every flow's timing, retransmissions and every
    link's drops exactly as they were."""
    scen = (SCEN / "lossy-wan.ini").read_text()
    first_host = scen.index("[host ")
    f = tmp_path / "extra.ini"
    f.write_text(scen[:first_host] + "[host zed]\nip = 10.0.0.99\narp_announce = no\nlink.loss = 5%\n\n"
                 + scen[first_host:])
    _, j1, _ = run_json(sim, tmp_path, SCEN / "lossy-wan.ini", name="a")
    r, j2, _ = run_json(sim, tmp_path, f, name="b")
    assert r.returncode == 0, r.stderr
    d1, d2 = json.loads(j1.read_text()), json.loads(j2.read_text())
    assert d1["flows"] == d2["flows"]
    assert sum(fl["retransmits"] for fl in d1["flows"]) > 0  # lossy: the streams matter
    links1 = {(l["host"], l["direction"]): l for l in d1["links"]}
    for l in d2["links"]:
        if l["host"] != "zed":
            assert l["drops"] == links1[(l["host"], l["direction"])]["drops"]
    assert link_of(d2, "zed", "down")["frames"] > 0  # it heard the broadcasts


def test_shards_cover_every_seed_exactly_once(sim):
    seen = []
    for k in (1, 2, 3):
        r = run(sim, "swarm", SCEN / "swarm-small.ini", "--seeds", "5..21", "--shard", f"{k}/3")
        assert r.returncode == 0, r.stderr
        seen += [int(m) for m in re.findall(r"^seed (\d+) ", r.stdout, re.M)]
    assert sorted(seen) == list(range(5, 22))


def test_broken_build_is_caught_by_integrity_invariant(sim, tmp_path):
    # The hook corrupts one payload byte and fixes every checksum, as a stack
    # bug would: only the byte-level stream verification can notice.
    r = run(sim, "run", SCEN / "quickstart.ini", "--inject-bug", "corrupt-payload")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "INTEGRITY" in r.stderr
    assert "reproduce: microtcp-sim run" in r.stderr


@pytest.mark.parametrize("args", [[], ["bogus"], ["run"], ["run", "x.ini", "--seed", "abc"],
                                  ["swarm", "x.ini"], ["run", "x.ini", "--shard"],
                                  ["swarm", "x.ini", "--seeds", "5..2"]])
def test_usage_errors_exit_2_with_one_line(sim, args):
    r = run(sim, *args)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_scenario_errors_name_file_and_line(sim, tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("[sim]\nseed = 1\n[host a]\nip = 10.0.0.1\n[host b]\nlink.loss = lots\n")
    r = run(sim, "run", bad)
    assert r.returncode == 2
    assert f"{bad}:6:" in r.stderr and "link.loss" in r.stderr
    bad.write_text("[sim]\n[host a]\nip = 10.0.0.1\n[host b]\nip = 10.0.0.2\n[flow f]\ntype = warp\n")
    r = run(sim, "run", bad)
    assert r.returncode == 2 and f"{bad}:7: expected a flow type" in r.stderr
    bad.write_text("[sim]\n[host a]\nip = 10.0.0.1\n[host b]\nsegment = nowhere\n")
    r = run(sim, "run", bad)
    assert r.returncode == 2 and f"{bad}:5: expected a segment" in r.stderr
    bad.write_text("[segment s]\ntype = switch\n[host a]\nsegment = s\n[host b]\nip = 10.0.0.2\n"
                   "[link a b]\nforward.loss = 1%\n")
    r = run(sim, "run", bad)
    # the [link a b] line itself (errors about a whole section name its header)
    assert r.returncode == 2 and f"{bad}:7: host 'a' is already attached" in r.stderr
    bad.write_text("[host a]\nip = 10.0.0.1\n[host b]\nip = 10.0.0.2\n[link a b]\nsideways.loss = 1%\n")
    r = run(sim, "run", bad)
    assert r.returncode == 2 and f"{bad}:6: unknown key 'sideways.loss'" in r.stderr


def tshark_errors(pcap):
    # TCP desegmentation is off: the main pcap records frames as sent, before
    # link faults, so the retransmission of a frame lost on the wire shows up as
    # an identical copy, which Wireshark's HTTP reassembly reports as an
    # "overlap". Every frame is still dissected in full.
    r = subprocess.run(["tshark", "-r", str(pcap), "-o", "tcp.desegment_tcp_streams:FALSE", "-q",
                        "-z", "expert,error"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def tshark_fields(pcap, *fields):
    args = ["tshark", "-r", str(pcap), "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return [l.split("\t") for l in r.stdout.splitlines()]


@pytest.mark.parametrize("name", ["quickstart", "swarm-small"])
def test_pcap_reads_cleanly_in_tshark(sim, tmp_path, name):
    if not shutil.which("tshark"):
        pytest.skip("tshark not installed")
    r, js, pcap = run_json(sim, tmp_path, SCEN / f"{name}.ini")
    assert r.returncode == 0
    out = tshark_errors(pcap)
    assert "Malformed" not in out and "Errors" not in out, out[:2000]
    # every protocol the scenario runs is in the trace
    rows = tshark_fields(pcap, "frame.protocols", "tcp.flags.syn", "tcp.flags.ack", "icmp.type")
    protos = [row[0].split(":") for row in rows]
    assert sum(1 for row in rows if row[1] in ("1", "True") and row[2] in ("0", "False")) >= 3  # SYNs
    assert any("arp" in p for p in protos) and any("udp" in p for p in protos)
    assert any(row[3] == "0" for row in rows)  # echo replies
    assert len(rows) == sum(l["frames"] for l in json.loads(js.read_text())["links"] if l["direction"] == "up")


def test_per_link_pcap_shows_what_the_host_saw(sim, tmp_path):
    if not shutil.which("tshark"):
        pytest.skip("tshark not installed")
    b = tmp_path / "b.pcap"
    js = tmp_path / "out.json"
    r = run(sim, "run", SCEN / "quickstart.ini", "--pcap-link", f"bob:{b}", "--json", js)
    assert r.returncode == 0, r.stderr
    d = json.loads(js.read_text())
    up, down = link_of(d, "bob", "up"), link_of(d, "bob", "down")
    delivered = down["frames"] - sum(down["drops"].values())
    # every frame bob sent plus every frame that reached bob, nothing else
    rows = tshark_fields(b, "ip.src", "ip.dst")
    assert len(rows) == up["frames"] + delivered
    assert not any("10.0.0.4" in row for row in rows)  # carol's unicast never reaches bob
    r = run(sim, "run", SCEN / "quickstart.ini", "--pcap-link", f"nobody:{b}")
    assert r.returncode == 2 and "nobody" in r.stderr


def build_compiler(build_dir):
    cache = (build_dir / "CMakeCache.txt").read_text()
    m = re.search(r"^CMAKE_C_COMPILER_ID:\w+=(\w+)", cache, re.M) or re.search(
        r"^CMAKE_C_COMPILER:\w+=(.*)$", cache, re.M)
    return "clang" if m and "clang" in m.group(1).lower() else "gcc"


@pytest.mark.slow
@pytest.mark.skipif(SANITIZED, reason="run in the default build")
def test_same_seed_identical_across_gcc_and_clang(sim, build_dir, tmp_path):
    """Build the simulator alone with the other compiler (-O0 there, while the
    suite's build is usually optimised) and compare pcap and JSON byte for byte."""
    other = "gcc" if build_compiler(build_dir) == "clang" else "clang"
    if not shutil.which(other):
        pytest.skip(f"{other} not installed")
    ob = tmp_path / f"{other}-build"
    for cmd in (["cmake", "-S", str(REPO), "-B", str(ob), "-G", "Ninja", f"-DCMAKE_C_COMPILER={other}",
                 "-DCMAKE_BUILD_TYPE=Debug"],
                ["cmake", "--build", str(ob), "--target", "microtcp-sim", "-j", "2"]):
        b = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert b.returncode == 0, (b.stdout + b.stderr)[-3000:]
    other_sim = ob / "sim" / "microtcp-sim"
    for scen, extra in (("quickstart.ini", []), ("lossy-wan.ini", []), ("swarm-small.ini", ["--swarm"])):
        _, j1, p1 = run_json(sim, tmp_path, SCEN / scen, "--seed", 9, *extra, name="this")
        _, j2, p2 = run_json(other_sim, tmp_path, SCEN / scen, "--seed", 9, *extra, name="other")
        assert p1.read_bytes() == p2.read_bytes(), scen
        assert j1.read_text() == j2.read_text(), scen


# ---- CLI bugs a newcomer hit (issue 19) -------------------------------------
def test_swarm_with_the_largest_seed_ends(sim):
    """`seed <= b; seed++` never ended for b = UINT64_MAX."""
    m = (1 << 64) - 1
    r = run(sim, "swarm", SCEN / "swarm-small.ini", "--seeds", f"{m - 1}..{m}", timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.findall(r"^seed (\d+) ", r.stdout, re.M) == [str(m - 1), str(m)]
    r = run(sim, "swarm", SCEN / "swarm-small.ini", "--seeds", f"{m - 4}..{m}", "--shard", "2/2",
            timeout=60)
    assert re.findall(r"^seed (\d+) ", r.stdout, re.M) == [str(m - 3), str(m - 1)], r.stdout


@pytest.mark.parametrize("args", [["run", "x.ini", "--seed", "18446744073709551616"],
                                  ["run", "x.ini", "--seed", "99999999999999999999999"],
                                  ["swarm", "x.ini", "--seeds", "1..18446744073709551616"],
                                  ["run", "x.ini", "--seed", "-1"]])
def test_out_of_range_seeds_are_errors_not_clamped(sim, args):
    r = run(sim, *args)
    assert r.returncode == 2 and "unsigned 64-bit" in r.stderr, r.stderr


def test_unknown_option_at_the_end_is_named_as_unknown(sim):
    r = run(sim, "run", SCEN / "quickstart.ini", "--bogus")
    assert r.returncode == 2 and "unknown option: --bogus" in r.stderr, r.stderr
    r = run(sim, "run", SCEN / "quickstart.ini", "--seed")
    assert r.returncode == 2 and "option needs a value: --seed" in r.stderr, r.stderr


def test_help_and_version_exit_0_and_state_the_exit_codes(sim):
    for a in ("--help", "-h", "help"):
        r = run(sim, a)
        assert r.returncode == 0 and "exit codes: 0 ok, 1 failure found" in r.stdout
        assert "2 usage or input error" in r.stdout
    r = run(sim, "--version")
    assert r.returncode == 0 and re.match(r"microtcp-sim \d+\.\d+", r.stdout)


def test_reproduce_line_keeps_until_and_inject_bug_and_liveness_names_stop_time(sim):
    r = run(sim, "run", SCEN / "quickstart.ini", "--until", "300ms", "--quiet")
    assert r.returncode == 4, r.stderr
    # the stop time, not the last event's (which was 0.299998 s)
    assert "still running when the run stopped at 0.300000 s" in r.stderr, r.stderr
    repro = re.search(r"reproduce: microtcp-sim run (.*)", r.stderr).group(1).split()
    assert repro[-2:] == ["--until", "300ms"], repro
    # the printed command really reproduces the failure
    assert run(sim, "run", *repro, "--quiet").returncode == 4
    r = run(sim, "run", SCEN / "quickstart.ini", "--inject-bug", "corrupt-payload", "--quiet")
    assert r.returncode == 3 and "--inject-bug corrupt-payload" in r.stderr.splitlines()[-1], r.stderr
    r = run(sim, "swarm", SCEN / "quickstart.ini", "--seeds", "3..3", "--until", "300ms")
    assert r.returncode == 4 and "--seed 3 --swarm --until 300ms" in r.stderr, r.stderr


# ---- scenario validation (issue 19): mistakes are refused with file:line ----
BASE2 = "[sim]\nduration = 10s\n[host a]\nip = 10.0.0.1\n[host b]\nip = 10.0.0.2\n"
FLOW_AB = "[flow f]\ntype = ping\nclient = a\nserver = b\n"


def assert_refused_at(sim, tmp_path, text, line, words):
    """The scenario text is refused with exit 2 and one line 'FILE:LINE: ...words...'."""
    f = tmp_path / "bad.ini"
    f.write_text(text)
    r = run(sim, "run", f, "--quiet", timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith(f"{f}:{line}: ") and words in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr


@pytest.mark.parametrize("text,line,words", [
    ("[sim]\nduration = 10s\n[host a]\nip = 10.0.0.1\n[host b]\nip = 10.0.0.1\n", 5, "has the address 10.0.0.1 of host a (line 3)"),
    ("[sim]\n[host a]\nip = 10.0.0.1\n[host b]\nip = 192.168.1.2\n", 5, "outside 10.0.0.0/8"),
    ("[sim]\n[host a]\nip = 0.0.0.0\n[host b]\n", 3, "0.0.0.0 is not a host address"),
    ("[sim]\n[host a]\nip = 10.255.255.255\n[host b]\n", 3, "broadcast"),
    ("[sim]\n[host a]\nip = 10.255.255.250\ncount = 10\n[host b]\n", 3, "run past the end of 10.0.0.0/8"),
    ("[sim]\nduration = 0\n[host a]\n[host b]\n", 2, "duration above zero"),
    (BASE2 + FLOW_AB + "[event e]\nat = 11s\naction = crash\nhost = a\n", 12, "not before the end of the run"),
    (BASE2 + FLOW_AB + "start = 10s\n", 11, "start 10s is not before the end"),
    ("[sim]\nduration = 10s\nduration = 20s\n[host a]\n[host b]\n", 3, "'duration' given twice in [sim] (first at line 2)"),
    ("[sim]\n[host a]\nip = 10.0.0.1\nmtu = 1500\nip = 10.0.0.9\n[host b]\n", 5, "'ip' given twice in [host a]"),
    ("[sim]\n[host a]\ncount = 10001\n[host b]\n", 3, "host count 1..10000"),
    ("[sim]\nmax_memory = 100GiB\n[host a]\ncount = 6000\n[host b]\ncount = 6000\n", 6, "the limit is 10000"),
    ("[sim]\nmax_memory = 100MiB\n[host a]\nsndbuf = 1MiB\nrcvbuf = 1MiB\nmax_tcp = 100\n[host b]\n", 3,
     "more than max_memory"),
    ("[sim]\n[segment s]\n[host a]\nsegment = s\n[host b]\n" + FLOW_AB, 6, "cannot reach server b"),
    ("[sim]\n[host a]\n[host b]\n[sim]\nseed = x\n", 5, "expected an integer seed"),
])
def test_scenario_mistakes_are_refused_with_file_and_line(sim, tmp_path, text, line, words):
    assert_refused_at(sim, tmp_path, text, line, words)


def test_empty_sections_and_events_naming_a_group_work(sim, tmp_path):
    f = tmp_path / "ok.ini"
    f.write_text("[sim]\nduration = 30s\n[segment s]\n[host p]\n[host q]\n[host c]\ncount = 3\n"
                 "[flow f]\ntype = ping\nclient = c\nserver = q\nstart = 1s\n"
                 "[event e]\nat = 10ms\naction = partition\nhost = c\n"
                 "[event h]\nat = 20ms\naction = heal\nhost = c\n")
    ev = tmp_path / "ev.log"
    r = run(sim, "run", f, "--events", ev)
    assert r.returncode == 0, r.stdout + r.stderr
    cuts = [l for l in ev.read_text().splitlines() if "partition" in l]
    assert len(cuts) == 3 and all(f"c{k}" in " ".join(cuts) for k in range(3)), ev.read_text()


def test_large_scenarios_print_a_memory_estimate_first(sim, tmp_path):
    f = tmp_path / "big.ini"
    f.write_text("[sim]\nduration = 1s\n[host h]\ncount = 300\n")
    r = run(sim, "run", f, "--until", "1ms", timeout=120)
    assert re.match(r"microtcp-sim: 300 hosts, 0 flows: about \d+ MiB of stack memory\n", r.stderr), r.stderr


def test_readme_scenario_is_the_example_file_and_runs(sim):
    """sim/README.md's scenario block is sim/scenarios/readme-example.ini
    verbatim, and it runs as documented (it used to fail: empty [host p]
    sections, an event naming a group, clients that could not reach the server)."""
    block = re.search(r"<!-- runnable: sim-scenario (\S+) -->\n```ini\n(.*?)```",
                      (REPO / "sim/README.md").read_text(), re.S)
    path, text = REPO / block.group(1), block.group(2)
    body = "".join(l + "\n" for l in path.read_text().splitlines() if not l.startswith("; "))
    assert body == text
    r = run(sim, "run", path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "flow over-the-link  ping      done" in r.stdout and "bulk.4" in r.stdout


def test_long_runs_print_progress_lines(sim):
    r = run(sim, "run", SCEN / "quickstart.ini", "--progress", "1ms")
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("microtcp-sim: running: virtual ")]
    assert lines and all(" s of 60.000 s, " in l and " events, " in l for l in lines), r.stderr
    r = run(sim, "run", SCEN / "quickstart.ini", "--quiet")  # quiet: none (the default: every 10 s)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # progress never changes the run
    a = run(sim, "run", SCEN / "quickstart.ini", "--progress", "1ms").stdout
    assert a == run(sim, "run", SCEN / "quickstart.ini").stdout


# ---- scale-out: --shard with GNU parallel, merged by tools/swarm-merge.py ----
MERGE = REPO / "tools" / "swarm-merge.py"


def parallel_swarm(sim, tmp_path, *extra, sshlogin=None, scenario="swarm-small.ini", seeds="1..24"):
    if not shutil.which("parallel"):
        pytest.skip("GNU parallel not installed (parallel)")
    cmd = ["parallel", "--halt", "never"] + (["--sshlogin", sshlogin] if sshlogin else []) + [
        str(sim), "swarm", str(SCEN / scenario), "--seeds", seeds, "--shard", "{}/3",
        "--json", str(tmp_path / "shard-{}.json"), *extra, ":::", "1", "2", "3"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def merge(tmp_path, *files):
    return subprocess.run(["/usr/bin/python3", str(MERGE), *map(str, files)], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("sshlogin", [None, "2/:"], ids=["local-jobs", "sshlogin-style"])
def test_swarm_shards_under_gnu_parallel_merge_into_one_report(sim, tmp_path, sshlogin):
    """`--sshlogin 2/:` is parallel's remote syntax with ':' (this machine) as
    the login: the same command line a cluster would use with real hosts."""
    r = parallel_swarm(sim, tmp_path, sshlogin=sshlogin)
    assert r.returncode == 0, r.stderr
    whole = run(sim, "swarm", SCEN / "swarm-small.ini", "--seeds", "1..24")
    # the shards ran exactly the seeds of one unsharded run, with the same results
    assert sorted(r.stdout.splitlines()) == sorted(whole.stdout.splitlines())
    m = merge(tmp_path, *sorted(tmp_path.glob("shard-*.json")))
    assert m.returncode == 0, m.stderr
    assert "seeds 1..24 in 3 shards: 24 seeds run, 0 failed" in m.stdout
    m = merge(tmp_path, tmp_path / "shard-1.json", tmp_path / "shard-3.json")
    assert m.returncode == 2 and "shards missing: 2/3" in m.stderr, m.stderr


def test_swarm_merge_lists_every_failing_seed_with_its_reproduce_line(sim, tmp_path):
    r = parallel_swarm(sim, tmp_path, "--until", "300ms", scenario="quickstart.ini", seeds="1..6")
    assert r.returncode != 0  # every seed stops before its flows end: liveness
    m = merge(tmp_path, *sorted(tmp_path.glob("shard-*.json")))
    assert m.returncode == 1, m.stdout + m.stderr
    lines = [l for l in m.stdout.splitlines() if "reproduce:" in l]
    assert len(lines) == 6 and all("--swarm --until 300ms" in l for l in lines), m.stdout
    repro = lines[0].split("reproduce: microtcp-sim ", 1)[1].split()
    assert run(sim, *repro).returncode == 4


# ---- the key tables (issue 15 part 4): one source for the loader and the docs ----
def test_readme_key_reference_is_the_loaders_tables(sim):
    """sim/README.md's key reference is `microtcp-sim keys` verbatim: every key
    the table-driven loader accepts is documented, with its range."""
    r = run(sim, "keys")
    assert r.returncode == 0 and "| `loss` |" in r.stdout, r.stderr
    block = re.search(r"<!-- keys: microtcp-sim keys -->\n(.*?)<!-- /keys -->",
                      (REPO / "sim/README.md").read_text(), re.S)
    assert block, "sim/README.md lost its key reference block"
    assert block.group(1) == r.stdout, "sim/README.md's key reference differs from `microtcp-sim keys`: " \
        "paste its output between the markers"
    # every key row names a key the loader really accepts (not just text)
    for key in re.findall(r"^\| `([a-z_]+)` \|", r.stdout, re.M):
        assert key in (REPO / "sim/scenario.c").read_text(), key


@pytest.mark.parametrize("text,line,words", [
    (BASE2.replace("[host b]\n", "[host b]\ndelack = 600ms\n"), 6, "expected a duration 1us..500ms for delack, not '600ms'"),
    (BASE2.replace("[host b]\n", "[host b]\ncc = vegas\n"), 6, "expected newreno or cubic for cc, not 'vegas'"),
    (BASE2.replace("[host b]\n", "[host b]\ndrift_ppm = -100001\n"), 6, "expected an integer -100000..100000"),
    (BASE2.replace("[host b]\n", "[host b]\nsack = maybe\n"), 6, "expected yes or no for sack"),
    (BASE2.replace("[host b]\n", "[host b]\nup.latency = 61s\n"), 6, "expected a duration 0..60s for up.latency"),
    (BASE2.replace("[host b]\n", "[host b]\ndown.mtu = 67\n"), 6, "expected an IP length 68..9000 for down.mtu"),
    (BASE2.replace("[host b]\n", "[host b]\nframes = 1\n"), 6, "expected an integer 2..60000 for frames"),
    ("[segment s]\ntype = ring\n[host a]\n[host b]\n", 2, "expected a segment type: switch or hub for type, not 'ring'"),
    (BASE2 + FLOW_AB + "expect = maybe\n", 11, "expected done, failed or any for expect"),
    (BASE2 + FLOW_AB + "size = 4\n", 11, "expected a size 8..2048 bytes for size"),
    (BASE2 + FLOW_AB + "warp = 9\n", 11, "unknown key 'warp': expected type, client, server, port"),
    (BASE2 + "[event e]\nat = 1s\naction = explode\nhost = a\n", 9, "expected an action: partition, heal"),
    (BASE2 + "[event e]\nat = 1s\naction = heal\nhost = a\none_way = sometimes\n", 11, "expected yes or no for one_way"),
    ("[defaults]\nip = 10.0.0.5\n[host a]\n[host b]\n", 2, "unknown key 'ip': expected mtu, drift_ppm"),
])
def test_table_keys_refuse_bad_values_with_file_and_line(sim, tmp_path, text, line, words):
    assert_refused_at(sim, tmp_path, text, line, words)


def test_table_keys_reach_the_stack_config(sim, tmp_path):
    """A typed table row stores into the right field: the JSON of a run shows
    the host's configuration as loaded (rto_min also lifts the initial RTO)."""
    f = tmp_path / "ok.ini"
    f.write_text("[sim]\nduration = 5s\n[host a]\nsndbuf = 8KiB\ncc = cubic\nrto_min = 1500ms\nsack = no\n"
                 "drift_ppm = -50\n[host b]\n")
    js = tmp_path / "out.json"
    r = run(sim, "run", f, "--quiet", "--json", js, timeout=60)
    assert r.returncode == 0, r.stderr
    a = next(h for h in json.loads(js.read_text())["hosts"] if h["name"] == "a")
    c = a["config"]
    assert (c["sndbuf"], c["cc"], c["rto_min_us"], c["rto_initial_us"], c["sack"], a["drift_ppm"]) == \
        (8192, "cubic", 1500000, 1500000, False, -50), a


# ---- swarm draws the stack configuration too (issue 15 part 8) ----
def swarm_hosts(sim, tmp_path, seed, scenario="swarm-small.ini"):
    js = tmp_path / f"cfg-{seed}.json"
    run(sim, "run", SCEN / scenario, "--seed", str(seed), "--swarm", "--until", "1ms", "--quiet",
        "--json", js, timeout=60)
    return {h["name"]: h["config"] for h in json.loads(js.read_text())["hosts"]}


def test_swarm_config_is_a_function_of_the_seed_within_documented_ranges(sim, tmp_path):
    plain = tmp_path / "plain.json"
    run(sim, "run", SCEN / "swarm-small.ini", "--until", "1ms", "--quiet", "--json", plain, timeout=60)
    scenario_cfg = {h["name"]: h["config"] for h in json.loads(plain.read_text())["hosts"]}
    seen = {}
    for seed in range(1, 31):
        hosts = swarm_hosts(sim, tmp_path, seed)
        assert hosts == swarm_hosts(sim, tmp_path, seed), f"seed {seed}: the draw is not a function of the seed"
        for name, c in hosts.items():
            assert 4096 <= c["sndbuf"] <= 131072 and 4096 <= c["rcvbuf"] <= 131072, c
            assert c["mss"] == 0 or 88 <= c["mss"] <= 1460, c
            assert c["wscale"] in ("auto", "off") or 0 <= c["wscale"] <= 8, c
            assert 1 <= c["initial_cwnd"] <= 10 and 1000 <= c["delack_us"] <= 200000, c
            assert 10000 <= c["rto_min_us"] <= 1000000 and c["rto_initial_us"] >= c["rto_min_us"], c
            assert 1 <= c["ooo_ranges"] <= 8 and 32 <= c["frames"] <= 256 and 4 <= c["arp_pending"] <= 32, c
            base = scenario_cfg[name]["max_tcp"]
            assert base <= c["max_tcp"] <= 2 * base, (c, base)
            assert c["mtu"] == scenario_cfg[name]["mtu"], c  # identity stays
            for k in ("sack", "timestamps", "dsack", "prr", "rack", "dsack_undo", "hystart", "cc", "nodelay",
                      "wscale"):
                seen.setdefault(k, set()).add(str(c[k]))
    # every switch is really drawn both ways over 30 seeds (a stuck draw fails here)
    assert all(len(v) >= 2 for v in seen.values()), seen
    assert len(seen["wscale"]) >= 3, seen


def test_failing_swarm_seed_prints_its_configuration(sim, tmp_path):
    js = tmp_path / "shard.json"
    r = run(sim, "swarm", SCEN / "swarm-small.ini", "--seeds", "3..3", "--until", "300ms", "--json", js)
    assert r.returncode == 4, r.stdout + r.stderr  # --until stops the flows early: liveness
    assert re.search(r"^  config \S+ +sndbuf \d+ rcvbuf \d+ mss ", r.stderr, re.M), r.stderr
    fail = json.loads(js.read_text())["failures"][0]
    assert fail["hosts"] and "config" in fail["hosts"][0] and "cc" in fail["hosts"][0]["config"], fail
