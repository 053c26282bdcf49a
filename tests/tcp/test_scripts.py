"""Every TCP script in tests/tcp/scripts passes against the stack, and the
runner really fails on a wrong expectation (so a passing script means something)."""
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
SCRIPTS = sorted((HERE / "scripts").glob("*.pkt"))
SANITIZED = os.environ.get("MICROTCP_SANITIZED") == "1"
pytestmark = pytest.mark.skipif(SANITIZED, reason="scripts run in the default build (ctypes + ASan)")


@pytest.fixture(scope="session")
def lib(build_dir):
    p = build_dir / "tests" / "tcp" / "libmicrotcp_script.so"
    if not p.exists():
        pytest.fail(f"{p} was not built")
    return p


def run(lib, script):
    return subprocess.run([sys.executable, str(HERE / "pktrun.py"), str(lib), str(script)],
                          capture_output=True, text=True, timeout=120)


def test_there_are_at_least_80_scripts():
    assert len(SCRIPTS) >= 80, len(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script(lib, script):
    r = run(lib, script)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("script,old,new", [
    ("established-data-delayed-ack.pkt", "ack 1001\n", "ack 1000\n"),        # wrong ack
    ("established-data-delayed-ack.pkt", "+.04 >", "+.2 >"),                  # wrong time
    ("rto-exponential-backoff.pkt", "+2  >", "+3  >"),                        # wrong backoff
    ("rfc5961-rst-in-window-gets-challenge-ack.pkt", "< R 100:100", "< R 1:1"),  # no ACK comes
    ("nagle-holds-second-small-segment.pkt", "+.09 <", "+.09 write(4, ..., 1) = 1\n+0 <"),
])
def test_runner_fails_on_wrong_expectation(lib, tmp_path, script, old, new):
    text = (HERE / "scripts" / script).read_text()
    assert old in text
    bad = tmp_path / script
    bad.write_text(text.replace(old, new, 1))
    r = run(lib, bad)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{bad}:" in r.stderr
