"""Every command-line tool: --help and --version exit 0, --help states the one
exit-code convention (0 ok, 1 failure found, 2 usage or input error), and an
unknown option is a one-line usage error with exit 2. Plus the examples'
and microtcp-replay's argument bugs a newcomer hit (issue 19)."""
import re
import subprocess

import pytest

from conftest import REPO

PY = "/usr/bin/python3"
CONVENTION = re.compile(r"exit codes: 0 ok, 1 failure.*2 usage", re.S)

# (name, argv relative to the build directory or the repository)
TOOLS = [
    ("microtcp-sim", ["sim/microtcp-sim"]),
    ("microtcp-script", ["tests/tcp/microtcp-script"]),
    ("microtcp-tap", ["tools/tap/microtcp-tap"]),
    ("microtcp-replay", ["tools/replay/microtcp-replay"]),
    ("run-script.py", [PY, str(REPO / "tools/packetdrill/run-script.py")]),
    ("build-packetdrill.sh", ["bash", str(REPO / "tools/packetdrill/build-packetdrill.sh")]),
    ("bench-recovery.py", [PY, str(REPO / "tools/bench-recovery.py")]),
    ("echo", ["examples/echo"]),
    ("http_server", ["examples/http_server"]),
    ("list.py", [PY, str(REPO / "pcap-corpus/list.py")]),
    ("swarm-merge.py", [PY, str(REPO / "tools/swarm-merge.py")]),
    ("test-summary.py", [PY, str(REPO / "tools/test-summary.py")]),
    ("run-tests.sh", ["bash", str(REPO / "tools/run-tests.sh")]),
    ("quickstart.sh", ["bash", str(REPO / "tools/quickstart.sh")]),
]


def argv_of(build_dir, argv):
    return argv if argv[0] in (PY, "bash") else [str(build_dir / argv[0]), *argv[1:]]


def run(argv, timeout=20):
    # a tool that misreads --help as an operand must not start serving: timeout
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("name,argv", TOOLS, ids=[t[0] for t in TOOLS])
def test_help_version_and_unknown_option(build_dir, name, argv):
    a = argv_of(build_dir, argv)
    r = run(a + ["--help"])
    assert r.returncode == 0, r.stderr
    assert CONVENTION.search(r.stdout), r.stdout
    r = run(a + ["--version"])
    assert r.returncode == 0 and re.search(r"\d+\.\d+\.\d+", r.stdout), r.stdout + r.stderr
    if name == "quickstart.sh":  # passes options on to microtcp-sim run (after building it)
        return
    r = run(a + ["--no-such-option", "x"])
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--no-such-option" in r.stderr


def test_http_server_needs_an_existing_directory(build_dir):
    """It used to create the TAP device and serve a missing /srv/www (the
    README's example) or a directory named --help."""
    r = run([str(build_dir / "examples/http_server"), "/nonexistent-www", "10.0.3.1", "10.0.3.2", "80"])
    assert r.returncode == 2 and "/nonexistent-www" in r.stderr, r.stderr
    r = run([str(build_dir / "examples/http_server"), str(REPO), "10.0.3.1", "10.0.3.2", "http"])
    assert r.returncode == 2 and "bad port" in r.stderr, r.stderr


def test_tap_cc_takes_newreno_or_cubic(build_dir):
    tap = str(build_dir / "tools/tap/microtcp-tap")
    r = run([tap, "--cc", "vegas"])
    assert r.returncode == 2 and "--cc expects newreno or cubic" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run([tap, "--help"])
    assert "--cc NAME" in r.stdout


def test_tap_tcp_knob_misuse_is_one_line(build_dir):
    tap = str(build_dir / "tools/tap/microtcp-tap")
    for arg, want in (("nosuch=1", "--tcp: unknown key"), ("rack", "--tcp expects KEY=N"),
                      ("rack=2", "--tcp value out of range"), ("rto_min_ms=x", "--tcp expects KEY=N")):
        r = run([tap, "--ip", "10.9.0.2/24", "--tcp", arg])
        assert r.returncode == 2 and want in r.stderr, (arg, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run([tap, "--help"])
    assert "--tcp KEY=N" in r.stdout and "--impair-swap" in r.stdout


def test_replay_names_a_missing_capture_once(build_dir):
    r = run([str(build_dir / "tools/replay/microtcp-replay"), "/nonexistent/x.pcap"])
    assert r.returncode == 2
    assert r.stderr.count("/nonexistent/x.pcap") == 1, r.stderr  # was printed twice
