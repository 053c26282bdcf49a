"""tools/bench-all.sh, back-to-back part, quick mode (BENCH_QUICK=1): it runs
both harnesses (microtcp-b2b and lwip-b2b, Debian's liblwip), prints a
numeric ratio and reports integrity ok for both; with a corrupted byte
(B2B_CORRUPT_AT) it reports integrity FAIL and exits 1. No timing thresholds:
the figures are for people, not for the test."""
import os
import re
import subprocess

import pytest

from conftest import REPO

ROW = re.compile(r"^b2b CPU/byte .*?(\d+\.\d+) ns/B\s+lwIP (\d+\.\d+) ns/B\s+(\d+\.\d+)\s+<= 0\.80", re.M)


def run_bench(build_dir, **env):
    e = dict(os.environ, BUILD=str(build_dir), BENCH_QUICK="1", BENCH_PARTS="b2b", **env)
    if os.environ.get("MICROTCP_SANITIZED", "").lower() in ("1", "true", "on"):
        e.setdefault("B2B_BYTES", "16M")  # sanitizers: 5-10x slower, the same checks
    return subprocess.run(["bash", str(REPO / "tools/bench-all.sh")], env=e, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def harnesses(build_dir):
    mt, lw = build_dir / "tools/bench/microtcp-b2b", build_dir / "tools/bench/lwip-b2b"
    if not mt.exists():
        pytest.fail(f"{mt} not built", pytrace=False)
    if not lw.exists():
        pytest.skip("lwip-b2b not built: liblwip-dev (Debian) is missing")
    return build_dir


def test_quick_b2b_prints_a_ratio_and_integrity_ok(harnesses):
    p = run_bench(harnesses)
    assert p.returncode == 0, p.stdout + p.stderr
    m = ROW.search(p.stdout)
    assert m, f"no b2b row with a numeric ratio in:\n{p.stdout}"
    ours, ref, ratio = (float(x) for x in m.groups())
    assert ours > 0 and ref > 0
    assert abs(ratio - ours / ref) < 0.01 + 0.01 * ratio  # the ratio is the two medians' quotient
    assert re.search(r"^b2b microtcp: integrity ok \(5/5 runs", p.stdout, re.M), p.stdout
    assert re.search(r"^b2b lwIP: integrity ok \(5/5 runs", p.stdout, re.M), p.stdout


def test_a_bad_byte_is_caught(harnesses):
    p = run_bench(harnesses, B2B_CORRUPT_AT="123457", B2B_RUNS="1")
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"^b2b microtcp: integrity FAIL", p.stdout, re.M), p.stdout
    assert re.search(r"^b2b lwIP: integrity FAIL", p.stdout, re.M), p.stdout
    assert "data mismatch" in p.stderr


@pytest.mark.parametrize("prog", ["microtcp-b2b", "lwip-b2b"])
def test_harness_usage(harnesses, prog):
    exe = str(harnesses / "tools/bench" / prog)
    assert subprocess.run([exe, "--help"], capture_output=True).returncode == 0
    bad = subprocess.run([exe, "12Q"], capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr
    # a short transfer: one result line, every byte received and checked
    out = subprocess.run([exe, "300K"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(r"bytes=307200 received=307200 .* integrity=ok$", out.stdout.strip()), out.stdout


TIMER_ROW = re.compile(r"^(microtcp_deadline|microtcp_advance \(none due\)|data segment microtcp_input) per call, "
                       r"n idle conns\s+50: \d+, 300: \d+ ns\s+n=50\s+(\d+\.\d+)\s+<= 2\.00", re.M)


def test_timers_part_prints_three_rows(build_dir):
    """Part "timers" (tools/bench/idle_timers.c): one row per measured call with
    a numeric ratio, every connection established and every byte read."""
    if not (build_dir / "tools/bench/idle-timers").exists():
        pytest.fail("idle-timers not built", pytrace=False)
    e = dict(os.environ, BUILD=str(build_dir), BENCH_QUICK="1", BENCH_PARTS="timers", TIMERS_N="50 300")
    p = subprocess.run(["bash", str(REPO / "tools/bench-all.sh")], env=e, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = TIMER_ROW.findall(p.stdout)
    assert len(rows) == 3, p.stdout
    assert all(float(ratio) > 0 for _, ratio in rows)
    assert "FAILED" not in p.stdout


def test_idle_timers_rejects_a_bad_size(build_dir):
    exe = str(build_dir / "tools/bench/idle-timers")
    bad = subprocess.run([exe, "12Q"], capture_output=True, text=True)
    assert bad.returncode == 2 and "N must be" in bad.stderr
    assert subprocess.run([exe, "--help"], capture_output=True).returncode == 0
