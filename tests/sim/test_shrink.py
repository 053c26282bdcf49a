"""Fault schedules (--faults-out / --faults-in) and `microtcp-sim shrink`.

A recorded schedule replays the run byte for byte (trace hash and pcap); a
schedule with lines removed still runs, and exactly its faults happen; each
injected bug shrinks from a failing seed, within a minute, to a few faults,
and the printed command reproduces the same failure; bad schedules are
refused with one line and exit 2."""
import json
import os
import pathlib
import re
import shlex
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCEN = REPO / "sim" / "scenarios"
# The bar (under a minute) is for the default build; ASan+UBSan runs
# are several times slower, so the sanitized suite allows three times as long.
SLOW = 3 if os.environ.get("MICROTCP_SANITIZED") == "1" else 1


def run(exe, *args, timeout=300, cwd=None):
    return subprocess.run([str(pathlib.Path(exe).resolve()), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def run_to(exe, tmp_path, name, scenario, *extra):
    js, pc = tmp_path / f"{name}.json", tmp_path / f"{name}.pcap"
    r = run(exe, "run", scenario, "--quiet", "--json", js, "--pcap", pc, *extra)
    assert r.returncode != 2, r.stderr
    return r, json.loads(js.read_text()), pc.read_bytes()


def data_lines(path):
    return [l for l in path.read_text().splitlines() if l.strip() and not l.lstrip().startswith("#")]


def kinds(lines):
    return {l.split()[2] for l in lines}


def drops(js, kind):
    return sum(l["drops"][kind] for l in js["links"])


def failure_of(stderr):
    m = re.search(r"^failure: (.+)$", stderr, re.M)
    return m and m.group(1)


# (scenario, seed, extra options, fault kinds the schedule must contain)
REPLAYS = [
    ("quickstart.ini", 2, (), {"loss", "jitter"}),
    ("crash-restart.ini", 5, ("--swarm",), {"drift", "latency", "loss", "calm"}),  # a crash and a restart
    ("partition-heal.ini", 1, ("--swarm",), {"partition", "heal", "loss", "reorder", "duplicate", "corrupt"}),
]


@pytest.mark.parametrize("scenario,seed,extra,expect", REPLAYS, ids=[r[0] + str(r[2]) for r in REPLAYS])
def test_faults_out_then_in_is_the_same_run(sim, tmp_path, scenario, seed, extra, expect):
    faults = tmp_path / "run.faults"
    r0, j0, p0 = run_to(sim, tmp_path, "plain", SCEN / scenario, "--seed", seed, *extra)
    r1, j1, p1 = run_to(sim, tmp_path, "rec", SCEN / scenario, "--seed", seed, *extra, "--faults-out", faults)
    r2, j2, p2 = run_to(sim, tmp_path, "rep", SCEN / scenario, "--seed", seed, *extra, "--faults-in", faults)
    # recording changes nothing; replaying is the same run, byte for byte
    assert j0["trace_hash"] == j1["trace_hash"] == j2["trace_hash"]
    assert p0 == p1 == p2 and len(p0) > 10000
    assert r0.returncode == r1.returncode == r2.returncode
    assert j1["links"] == j2["links"]
    lines = data_lines(faults)
    assert expect <= kinds(lines), kinds(lines)
    # every loss and burst drop of the run is one line of the schedule
    n_loss = sum(1 for l in lines if l.split()[2] == "loss")
    assert n_loss == drops(j1, "loss") and n_loss > 0


def test_scenario_events_stay_in_the_scenario(sim, tmp_path):
    """partition-heal's own [event] partitions are not random: a plain run's
    schedule has no partition lines, and replaying it keeps the events."""
    faults = tmp_path / "ph.faults"
    _, j1, p1 = run_to(sim, tmp_path, "a", SCEN / "partition-heal.ini", "--seed", 3, "--faults-out", faults)
    _, j2, p2 = run_to(sim, tmp_path, "b", SCEN / "partition-heal.ini", "--seed", 3, "--faults-in", faults)
    assert "partition" not in kinds(data_lines(faults))
    assert drops(j1, "partition") > 0 and p1 == p2


def test_edited_schedule_runs_with_exactly_its_faults(sim, tmp_path):
    faults = tmp_path / "q.faults"
    _, j1, _ = run_to(sim, tmp_path, "rec", SCEN / "quickstart.ini", "--seed", 4, "--faults-out", faults)
    lines = data_lines(faults)
    losses = [l for l in lines if l.split()[2] == "loss"]
    assert len(losses) > 20
    # keep every third loss, drop all jitter: the run still works
    kept = losses[::3]
    edited = tmp_path / "edited.faults"
    edited.write_text("# edited by hand\n" + "\n".join(kept) + "\n")
    r, j2, _ = run_to(sim, tmp_path, "ed", SCEN / "quickstart.ini", "--seed", 4, "--faults-in", edited)
    assert r.returncode == 0, r.stderr
    assert j2["trace_hash"] != j1["trace_hash"]
    # the kept lines name frames by link and index, so the same frames are hit
    # until the first removed loss changes what follows: at least the first
    # kept loss happens, and never more losses than lines
    assert 1 <= drops(j2, "loss") <= len(kept)
    # an empty schedule: no random fault at all
    empty = tmp_path / "empty.faults"
    empty.write_text("")
    r, j3, _ = run_to(sim, tmp_path, "empty", SCEN / "quickstart.ini", "--seed", 4, "--faults-in", empty)
    assert r.returncode == 0 and drops(j3, "loss") == 0
    assert all(l["reordered"] == 0 and l["duplicated"] == 0 for l in j3["links"])


def test_hand_written_schedule_drops_the_named_frame(sim, tmp_path):
    one = tmp_path / "one.faults"
    one.write_text("0.000000  alice.up  loss  #40\n0.000000  server.up  duplicate  #41  # a comment\n")
    r, js, _ = run_to(sim, tmp_path, "one", SCEN / "quickstart.ini", "--faults-in", one)
    assert r.returncode == 0, r.stderr
    by = {(l["host"], l["direction"]): l for l in js["links"]}
    assert by[("alice", "up")]["drops"]["loss"] == 1 and drops(js, "loss") == 1
    assert by[("server", "up")]["duplicated"] == 1
    rec = tmp_path / "rec.faults"
    run_to(sim, tmp_path, "again", SCEN / "quickstart.ini", "--faults-in", one, "--faults-out", rec)
    again = sorted(l.split()[1:4] for l in data_lines(rec))
    assert again == [["alice.up", "loss", "#40"], ["server.up", "duplicate", "#41"]]


BUGS = ["corrupt-payload", "stale-rexmit", "drop-rexmit"]


@pytest.mark.parametrize("bug", BUGS)
def test_shrink_injected_bug(sim, tmp_path, bug):
    before = run(sim, "run", SCEN / "quickstart.ini", "--quiet", "--inject-bug", bug)
    assert before.returncode in (3, 4), before.stderr
    identity = failure_of(before.stderr)
    assert identity
    t0 = time.monotonic()
    r = run(sim, "shrink", SCEN / "quickstart.ini", "--inject-bug", bug, "--out", tmp_path / "small", timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    assert took < 60 * SLOW, took
    assert f"shrink: failure: {identity}" in r.stdout
    m = re.search(r"faults (\d+) -> (\d+), flows (\d+) -> (\d+), hosts (\d+) -> (\d+); (\d+) runs", r.stdout)
    assert m, r.stdout
    f0, f1, fl0, fl1, h0, h1, runs = map(int, m.groups())
    assert f1 <= 10 and f0 > 1000 and fl1 < fl0 and h1 < h0 and runs > 5
    small_faults = data_lines(tmp_path / "small.faults")
    assert len(small_faults) == f1
    if bug != "corrupt-payload":  # these need a retransmission, so a fault
        assert 1 <= f1 <= 3, small_faults
        assert {"loss"} & kinds(small_faults) or {"burst"} & kinds(small_faults)
    # the printed command reproduces the same failure
    cmd = re.search(r"^reproduce: microtcp-sim (.+)$", r.stdout, re.M).group(1)
    again = run(sim, *shlex.split(cmd), "--json", tmp_path / "again.json")
    assert again.returncode == before.returncode, again.stderr
    assert failure_of(again.stderr) == identity
    assert json.loads((tmp_path / "again.json").read_text())["failure"] == identity
    # and the small scenario is small: one flow section, two hosts
    ini = (tmp_path / "small.ini").read_text()
    assert ini.count("[flow ") == 1 and ini.count("[host ") == 2
    if bug != "corrupt-payload":  # without its fault the shrunk run passes
        (tmp_path / "none.faults").write_text("")
        clean = run(sim, "run", tmp_path / "small.ini", "--inject-bug", bug, "--faults-in", tmp_path / "none.faults",
                    "--quiet")
        assert clean.returncode == 0, clean.stderr


def test_shrink_swarm_seed(sim, tmp_path):
    r = run(sim, "shrink", SCEN / "quickstart.ini", "--swarm", "--seed", 1, "--inject-bug", "drop-rexmit",
            "--out", tmp_path / "sw", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"faults (\d+) -> (\d+)", r.stdout)
    assert int(m.group(2)) <= 10
    cmd = re.search(r"^reproduce: microtcp-sim (.+)$", r.stdout, re.M).group(1)
    assert "--swarm" in cmd and "--faults-in" in cmd
    again = run(sim, *shlex.split(cmd))
    assert again.returncode == 4 and failure_of(again.stderr) == "liveness: flow bulk still running"


def test_shrink_stops_within_its_budget(sim, tmp_path):
    t0 = time.monotonic()
    # many-clients takes about 10 s to shrink fully: 1 s cannot be enough
    r = run(sim, "shrink", SCEN / "many-clients.ini", "--inject-bug", "stale-rexmit", "--budget", 1,
            "--out", tmp_path / "b", timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    assert "budget used up" in r.stdout
    assert took < 30 * SLOW, took  # one second of search plus the first run and the final check
    cmd = re.search(r"^reproduce: microtcp-sim (.+)$", r.stdout, re.M).group(1)
    assert failure_of(run(sim, *shlex.split(cmd)).stderr) == "integrity: flow web.29"


BAD = [
    ("0.1 alice.up loss", "expected TIME WHERE KIND FRAME"),
    ("0.1 alice.up lose #3", "unknown fault kind 'lose'"),
    ("0.1 nobody.up loss #3", "no host 'nobody'"),
    ("0.1 alice loss #3", "expected a link direction"),
    ("0.1 alice.up loss 3", "expected a frame index"),
    ("soon alice.up loss #3", "expected a time in seconds"),
    ("0.1 alice.up jitter #3", "jitter needs us=N"),
    ("0.1 alice.up corrupt #3 bit=5", "bit: expected a bit offset"),
    ("0.1 alice drift - ppm=5 colour=red", "drift takes no key 'colour'"),
    ("0.1 alice partition -", "partition needs peer="),
]


@pytest.mark.parametrize("line,message", BAD, ids=[b[1] for b in BAD])
def test_bad_schedule_is_one_line_and_exit_2(sim, tmp_path, line, message):
    f = tmp_path / "bad.faults"
    f.write_text("# fine\n0.000000 alice.up loss #2\n" + line + "\n")
    r = run(sim, "run", SCEN / "quickstart.ini", "--quiet", "--faults-in", f)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"{f}:3: ") and message in r.stderr, r.stderr


def test_bad_input_for_faults_and_shrink(sim, tmp_path):
    (tmp_path / "broken.ini").write_text("[sim]\nduration = 0\n")
    cases = [
        (("shrink", tmp_path / "broken.ini"), "broken.ini:2: expected a duration"),
        (("run", SCEN / "quickstart.ini", "--faults-in", tmp_path / "missing.faults"), "cannot open fault schedule"),
        (("run", SCEN / "quickstart.ini", "--faults-out", tmp_path / "no" / "dir.faults"), "cannot write"),
        (("swarm", SCEN / "quickstart.ini", "--seeds", "1..2", "--faults-in", "x"), "are for run"),
        (("shrink", SCEN / "quickstart.ini", "--budget", "0"), "--budget expects"),
        (("shrink", SCEN / "quickstart.ini", "--pcap", "x.pcap"), "are for run"),
        (("shrink", tmp_path / "missing.ini"), "cannot open scenario"),
        (("shrink", SCEN / "quickstart.ini", "--seed", 1), "passes: nothing to shrink"),
        (("run", SCEN / "quickstart.ini", "--inject-bug", "everything"), "--inject-bug expects"),
    ]
    for args, message in cases:
        r = run(sim, *args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and message in r.stderr, (args, r.stderr)
