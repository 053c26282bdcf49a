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


@pytest.fixture(scope="session")
def sim(build_dir):
    exe = build_dir / "sim" / "microtcp-sim"
    if not exe.exists():
        pytest.fail(f"{exe} was not built")
    return exe


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


def test_swarm_200_seeds_pass(sim):
    r = run(sim, "swarm", SCEN / "swarm-small.ini", "--seeds", "1..200", timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [l for l in r.stdout.splitlines() if l.startswith("seed ")]
    assert len(lines) == 200 and all(" ok " in l for l in lines)


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


def test_pcap_reads_cleanly_in_tshark(sim, tmp_path):
    if not shutil.which("tshark"):
        pytest.skip("tshark not installed")
    _, _, pcap = run_json(sim, tmp_path, SCEN / "quickstart.ini")
    r = subprocess.run(["tshark", "-r", str(pcap), "-q", "-z", "expert,error"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Malformed" not in r.stdout, r.stdout[:2000]
    n = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tcp.analysis.flags && !tcp.analysis.window_update"],
                       capture_output=True, text=True, timeout=300)
    assert n.returncode == 0


@pytest.mark.skipif(SANITIZED, reason="run in the default build")
def test_same_seed_identical_across_gcc_and_clang(sim, build_dir, tmp_path):
    """Build the simulator with clang and compare outputs with the gcc build."""
    if not shutil.which("clang"):
        pytest.skip("clang not installed")
    cb = tmp_path / "clang-build"
    subprocess.run(["cmake", "-S", str(REPO), "-B", str(cb), "-G", "Ninja", "-DCMAKE_C_COMPILER=clang",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True, timeout=300)
    subprocess.run(["cmake", "--build", str(cb), "--target", "microtcp-sim", "-j", "2"], check=True,
                   capture_output=True, timeout=600)
    clang_sim = cb / "sim" / "microtcp-sim"
    for scen in ("quickstart.ini", "lossy-wan.ini"):
        _, j1, p1 = run_json(sim, tmp_path, SCEN / scen, "--seed", 9, name="gcc")
        _, j2, p2 = run_json(clang_sim, tmp_path, SCEN / scen, "--seed", 9, name="clang")
        assert p1.read_bytes() == p2.read_bytes(), scen
        assert j1.read_text() == j2.read_text(), scen
