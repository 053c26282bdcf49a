"""Attacker hosts in the simulator (issue 13, the simulator's part).

sim/scenarios/attack-mix.ini runs five attackers (SYN flood, sockstress,
slowloris, blind RST/SYN/data injection, forged ICMP errors) against a server
while three legitimate clients use it. These tests fail if a legitimate flow
is locked out or corrupted, and if an attack stops having an effect: every
defence counter it should move is zero without the attacker and nonzero with
it (so a broken attacker, which would leave the defences idle, is caught)."""
import json
import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
MIX = REPO / "sim" / "scenarios" / "attack-mix.ini"


def run_json(sim, scenario, tmp_path, *extra, name="out"):
    js = tmp_path / f"{name}.json"
    r = subprocess.run([str(sim), "run", str(scenario), "--quiet", "--json", str(js), *extra],
                       capture_output=True, text=True, timeout=600)
    assert js.exists(), r.stderr
    return r, json.loads(js.read_text())


def hosts(j):
    return {h["name"]: h for h in j["hosts"]}


def counter(j, host, name):
    return hosts(j)[host].get("counters", {}).get(name, 0)


def split_mix():
    """attack-mix.ini as (everything before the attackers, {name: section})."""
    text = MIX.read_text()
    parts = re.split(r"(?=^\[attacker )", text, flags=re.M)
    return parts[0], {re.match(r"\[attacker (\S+)\]", p).group(1): p for p in parts[1:]}


@pytest.fixture(scope="module")
def mix(sim, tmp_path_factory):
    r, j = run_json(sim, MIX, tmp_path_factory.mktemp("mix"))
    return r, j


def test_legitimate_flows_complete_under_all_attacks(mix):
    r, j = mix
    assert r.returncode == 0, r.stderr
    assert j["integrity_errors"] == 0
    assert {f["name"]: f["status"] for f in j["flows"]} == {"bulk": "done", "web": "done", "rpc": "done"}
    # web and rpc arrive at 40/45 s into a pool the attackers filled; they get in by eviction
    web = next(f for f in j["flows"] if f["name"] == "web")
    assert web["finished_us"] - web["start_us"] < 5_000_000, web


def test_every_defence_fires_in_the_mix(mix):
    _, j = mix
    c = hosts(j)["server"]["counters"]
    assert c.get("tcp_syncookies_sent", 0) > 10000, c      # the flood is answered statelessly
    assert c.get("arp_incomplete_evicted", 0) > 1000, c    # its spoofed sources never answer ARP
    assert c.get("tcp_stalled_evicted", 0) > 0, c          # sockstress connections make room
    assert c.get("tcp_challenge_acks", 0) > 0, c           # RFC 5961 against the prober
    assert c.get("tcp_challenge_acks_limited", 0) > 0, c   # ... and its rate limit
    assert counter(j, "alice", "tcp_icmp_hard_as_soft") > 0  # forged unreachables are soft errors
    a = {n: h["attack"] for n, h in hosts(j).items() if "attack" in h}
    assert a["flood"]["frames"] > 100000 and a["stress"]["connections_answered"] >= 40, a
    assert a["loris"]["bytes_trickled"] > 100 and a["prober"]["injections"] > 1000, a
    assert a["forger"]["injections"] > 100, a


# Each attacker alone against the same legitimate work: (attacker, host, counter)
EFFECTS = [
    ("flood", "server", "tcp_syncookies_sent"),
    ("flood", "server", "arp_incomplete_evicted"),
    ("loris", "server", "drop_tcp_peer_limit"),
    ("prober", "server", "tcp_challenge_acks"),
    ("forger", "alice", "tcp_icmp_hard_as_soft"),
]


@pytest.fixture(scope="module")
def baseline(sim, tmp_path_factory):
    head, _ = split_mix()
    d = tmp_path_factory.mktemp("base")
    (d / "none.ini").write_text(head)
    r, j = run_json(sim, d / "none.ini", d)
    assert r.returncode == 0, r.stderr
    return j


@pytest.mark.parametrize("attacker,host,name", EFFECTS, ids=[f"{a}-{n}" for a, _, n in EFFECTS])
def test_each_attack_moves_its_defence_and_spares_the_flows(sim, tmp_path, baseline, attacker, host, name):
    head, attackers = split_mix()
    f = tmp_path / f"{attacker}.ini"
    f.write_text(head + attackers[attacker])
    r, j = run_json(sim, f, tmp_path)
    assert counter(baseline, host, name) == 0, f"{name} moves without any attacker"
    assert counter(j, host, name) > 0, f"{attacker} no longer has an effect: {host} {name} stays 0"
    assert r.returncode == 0 and j["integrity_errors"] == 0, r.stderr


def test_sockstress_alone_fills_the_pool_and_is_evicted(sim, tmp_path, baseline):
    """48 zero-window connections from two addresses plus the legitimate ones
    overflow a 64-block pool only with slowloris; alone, with a smaller pool,
    the stalled ones must be evicted for rpc and web."""
    head, attackers = split_mix()
    f = tmp_path / "stress.ini"
    f.write_text(head.replace("max_tcp = 64", "max_tcp = 40") + attackers["stress"])
    r, j = run_json(sim, f, tmp_path)
    assert r.returncode == 0, r.stderr
    assert counter(baseline, "server", "tcp_stalled_evicted") == 0
    assert counter(j, "server", "tcp_stalled_evicted") > 0


def test_reopening_sockstress_does_not_lock_out_web(sim, tmp_path):
    """A sockstress that never stops re-opens every evicted connection. Until
    2026-12-03 its cookie-completed connections evicted web's fresh half-open
    connection (whose plain SYN-ACK cannot be completed statelessly), and web
    got a RST; now a cookie ACK only takes the block of a half-open connection
    whose SYN-ACK went unanswered for an RTO."""
    f = tmp_path / "nostop.ini"
    f.write_text("\n".join(l for l in MIX.read_text().splitlines() if not l.startswith("stop = 20s")) + "\n")
    r, j = run_json(sim, f, tmp_path)
    assert r.returncode == 0, r.stderr
    web = next(x for x in j["flows"] if x["name"] == "web")
    assert web["status"] == "done", web
    assert counter(j, "server", "tcp_syncookies_ok") > 0  # the pool was under pressure


def locked_out(tmp_path):
    """attack-mix with a server pool of 8 blocks and a sockstress that starts
    just before web (44 s) and never stops: web finds every block held by
    connections younger than tcp_evict_stalled_us. No stack can serve it."""
    text = MIX.read_text().replace("max_tcp = 64", "max_tcp = 8")
    head, rest = text.split("[attacker stress]", 1)
    stress, tail = rest.split("[attacker loris]", 1)
    stress = stress.replace("start = 5s", "start = 44s")
    stress = "\n".join(l for l in stress.splitlines() if not l.startswith("stop = "))
    f = tmp_path / "locked.ini"
    f.write_text(head + "[attacker stress]" + stress + "\n\n[attacker loris]" + tail)
    return f


def test_a_locked_out_flow_is_a_liveness_failure(sim, tmp_path):
    """The check that guards the mix can fail: with web locked out (above),
    the run exits 4 naming it."""
    r, j = run_json(sim, locked_out(tmp_path), tmp_path)
    assert r.returncode == 4 and "LIVENESS: flow web failed" in r.stderr, r.stderr
    assert "reproduce: microtcp-sim run" in r.stderr


def exact_hit_scenario(tmp_path, prober=True):
    """A bulk flow into a receiver with a window of two 500-byte segments and
    a blind rst-probe: an in-window RST lands exactly on RCV.NXT about once
    per window's worth of probes when a segment arrived between the victim's
    ACK and the probe."""
    text = ("[sim]\nseed = 3\nduration = 60s\n[defaults]\nlink.latency = 1ms\nlink.bandwidth = 20mbit\n"
            "[host server]\nip = 10.0.0.1\nrcvbuf = 1000\nmss = 500\nwscale = 0\n"
            "[host alice]\nip = 10.0.0.2\nmss = 500\n"
            "[flow bulk]\ntype = tcp-bulk\nclient = alice\nserver = server\nport = 5001\nbytes = 2MB\n")
    if prober:
        text += "[attacker prober]\nip = 10.0.8.1\ntype = rst-probe\nflow = bulk\nrate = 2000\nstart = 1s\n"
    f = tmp_path / ("hit.ini" if prober else "nohit.ini")
    f.write_text(text)
    return f


def test_an_exact_rst_hit_is_reported_as_the_attack_not_a_failure(sim, tmp_path):
    """RFC 5961 3.2 (and Linux) accept a RST at exactly RCV.NXT: a blind
    prober that gets lucky resets the flow. The simulator tells that apart
    (the victim's tcp_resets_in moved on the prober's frame) and reports it
    as the attack succeeding, not as a liveness failure of the stack."""
    r, j = run_json(sim, exact_hit_scenario(tmp_path), tmp_path)
    assert r.returncode == 0, r.stderr
    prober = hosts(j)["prober"]["attack"]
    assert prober["exact_hits"] >= 1, prober
    assert counter(j, "server", "tcp_resets_in") >= 1
    assert counter(j, "server", "tcp_challenge_acks") > 0  # the inexact ones were refused
    bulk = next(x for x in j["flows"] if x["name"] == "bulk")
    assert bulk["status"] == "failed" and "reset" in bulk["reason"], bulk
    out = subprocess.run([str(sim), "run", str(exact_hit_scenario(tmp_path))], capture_output=True, text=True,
                         timeout=600)
    assert "ATTACK: flow bulk was reset by an rst-probe's RST at exactly RCV.NXT" in out.stdout + out.stderr
    # without the prober the same flow completes: the reset was the attack's
    r2, j2 = run_json(sim, exact_hit_scenario(tmp_path, prober=False), tmp_path, name="nohit")
    assert r2.returncode == 0, r2.stderr
    assert next(x for x in j2["flows"] if x["name"] == "bulk")["status"] == "done"
    assert counter(j2, "server", "tcp_resets_in") == 0


@pytest.mark.parametrize("seed", [3, 4])
def test_attacks_mix_with_swarm_faults(sim, tmp_path, seed):
    r, j = run_json(sim, MIX, tmp_path, "--seed", str(seed), "--swarm")
    assert r.returncode == 0, r.stderr
    assert counter(j, "server", "tcp_syncookies_sent") > 0 and counter(j, "server", "tcp_challenge_acks") > 0


BASE = "[sim]\nduration = 60s\n[host s]\nip = 10.0.0.1\n[host c]\nip = 10.0.0.2\n" \
       "[flow bulk]\ntype = tcp-bulk\nclient = c\nserver = s\nport = 5001\n"


@pytest.mark.parametrize("text,line,words", [
    (BASE + "[attacker x]\ntype = rst-probe\n", 12, "a rst-probe needs 'flow'"),
    (BASE + "[attacker x]\ntype = sockstress\ntarget = s\nport = 5001\n", 14,
     "port 5001 of s is not an http flow's server port"),
    (BASE + "[attacker x]\ntype = teardrop\n", 13, "expected an attack: syn-flood, sockstress"),
    (BASE + "[attacker x]\ntype = syn-flood\ntarget = nobody\nport = 80\n", 14, "expected a host defined"),
    (BASE + "[attacker x]\ntype = icmp-forge\nflow = nope\n", 14, "expected a flow defined"),
    (BASE + "[attacker x]\ntype = syn-flood\ntarget = s\nport = 80\nstart = 2s\nstop = 1s\n", 12,
     "expected start < stop"),
    (BASE + "[attacker x]\ntype = syn-flood\ntarget = s\nport = 80\nrate = 0\n", 16, "expected a rate 1..1000000"),
])
def test_attacker_mistakes_are_refused_with_file_and_line(sim, tmp_path, text, line, words):
    f = tmp_path / "bad.ini"
    f.write_text(text)
    r = subprocess.run([str(sim), "run", str(f), "--quiet"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith(f"{f}:{line}: ") and words in r.stderr, r.stderr
