"""The TCP script runner (microtcp-script) really fails on wrong expectations,
so a passing script means something. The scripts themselves run as ctest
entries tcp.<name>; this file checks the runner: mutated scripts must fail
with exit 1 and a FILE:LINE message, syntax errors must exit 2."""
import pathlib
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
SCRIPTS = sorted((HERE / "scripts").glob("*.pkt"))


@pytest.fixture(scope="session")
def runner(build_dir):
    p = build_dir / "tests" / "tcp" / "microtcp-script"
    if not p.exists():
        pytest.fail(f"{p} was not built")
    return p


def run(runner, script, *args):
    return subprocess.run([str(runner), *args, str(script)], capture_output=True, text=True,
                          timeout=60)


def test_there_are_at_least_80_scripts():
    assert len(SCRIPTS) >= 80, len(SCRIPTS)


def test_every_script_names_an_rfc_or_behaviour_in_its_header():
    for s in SCRIPTS:
        first = s.read_text().splitlines()[0]
        assert first.startswith("//"), s.name


MUTATIONS = [
    ("established-data-delayed-ack.pkt", "ack 1001\n", "ack 1000\n"),          # wrong ack
    ("established-data-delayed-ack.pkt", "+.04 >", "+.2 >"),                    # wrong time
    ("rto-exponential-backoff.pkt", "+2  >", "+3  >"),                          # wrong backoff
    ("rfc5961-rst-in-window-gets-challenge-ack.pkt", "< R 100:100", "< R 1:1"),  # no ACK comes
    ("nagle-holds-second-small-segment.pkt", "+.09 <", "+.09 write(4, ..., 1) = 1\n+0 <"),  # extra packet
    ("listen-handshake-all-options.pkt", "wscale 7>\n+.1", "wscale 6>\n+.1"),   # wrong option value
    ("listen-handshake-all-options.pkt", "ecr 100,", "ecr 101,"),              # wrong TS ecr
    ("connect-refused-by-rst.pkt", "[ECONNREFUSED]", "[ECONNRESET]"),          # wrong SO_ERROR
    ("close-with-unread-data-sends-rst.pkt", "> R.", "> F."),                  # wrong flags
    ("fast-retransmit-three-dupacks.pkt", "tcpi_total_retrans == 1", "tcpi_total_retrans == 2"),
]


@pytest.mark.parametrize("script,old,new", MUTATIONS, ids=lambda v: str(v)[:30])
def test_runner_fails_on_wrong_expectation(runner, tmp_path, script, old, new):
    text = (HERE / "scripts" / script).read_text()
    assert old in text, f"mutation anchor {old!r} not in {script}"
    assert run(runner, HERE / "scripts" / script).returncode == 0
    bad = tmp_path / script
    bad.write_text(text.replace(old, new, 1))
    r = run(runner, bad)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{bad}:" in r.stderr


def test_unlisted_packet_after_last_line_fails(runner, tmp_path):
    text = (HERE / "scripts" / "established-data-delayed-ack.pkt").read_text()
    bad = tmp_path / "trailing.pkt"
    bad.write_text(text + "+0 write(4, ..., 10) = 10\n")
    r = run(runner, bad)
    assert r.returncode == 1 and "unexpected packet" in r.stderr, r.stderr


def test_blocked_call_that_never_completes_fails(runner, tmp_path):
    text = (HERE / "scripts" / "established-data-delayed-ack.pkt").read_text()
    bad = tmp_path / "blocked.pkt"
    bad.write_text(text + "+0...1 read(4, ..., 10) = 10\n")
    r = run(runner, bad)
    assert r.returncode == 1 and "still blocked" in r.stderr, r.stderr


def test_call_that_blocks_without_start_end_fails(runner, tmp_path):
    # packetdrill runs such a call on its main thread, where it can never end
    text = (HERE / "scripts" / "established-data-delayed-ack.pkt").read_text()
    bad = tmp_path / "blocks.pkt"
    bad.write_text(text + "+0 read(4, ..., 10) = 10\n")
    r = run(runner, bad)
    assert r.returncode == 1 and "START...END" in r.stderr, r.stderr


def test_blocking_call_returning_at_the_wrong_time_fails(runner, tmp_path):
    script = HERE / "scripts" / "blocking-read-waits-for-data.pkt"
    text = script.read_text()
    assert run(runner, script).returncode == 0
    bad = tmp_path / "late.pkt"
    bad.write_text(text.replace("+0...0.3 read", "+0...0.2 read", 1))
    r = run(runner, bad)
    assert r.returncode == 1 and "returned at" in r.stderr, r.stderr


def test_outbound_packet_without_option_list_must_have_none(runner, tmp_path):
    # as packetdrill: no <...> list means no options; "<...>" means any
    script = HERE / "scripts" / "listen-handshake-all-options.pkt"
    text = script.read_text()
    lines = text.splitlines(keepends=True)
    i = next(i for i, l in enumerate(lines) if l.split()[1:2] == [">"] and " <mss " in l)
    for repl, code in ((lines[i].split(" <")[0] + "\n", 1), (lines[i].split(" <")[0] + " <...>\n", 0)):
        mutated = tmp_path / "opts.pkt"
        mutated.write_text("".join(lines[:i] + [repl] + lines[i + 1:]))
        r = run(runner, mutated)
        assert r.returncode == code, (repl, r.stdout + r.stderr)


@pytest.mark.parametrize("line", [
    "0 < Q 0:0(0) win 1",              # unknown flag
    "0 < S 0:5(4) win 1",              # range does not match length
    "0 > S 0:0(0) <frob 3>",           # unknown option
    "frob",                            # no time
    "0 %{ print(1) }%",                # not an assertion
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3 trailing",
])
def test_syntax_errors_exit_2(runner, tmp_path, line):
    bad = tmp_path / "bad.pkt"
    bad.write_text("// header\n" + line + "\n")
    r = run(runner, bad)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{bad}:2:" in r.stderr


def test_usage_error_exits_2(runner):
    assert run(runner, "--bogus").returncode == 2


@pytest.mark.parametrize("content", [None, "", "// only a comment\n\n"])
def test_directory_or_empty_script_is_an_input_error(runner, tmp_path, content):
    """`microtcp-script /tmp` and an empty .pkt used to exit 0: nothing checked."""
    target = tmp_path
    if content is not None:
        target = tmp_path / "empty.pkt"
        target.write_text(content)
    r = subprocess.run([str(runner), str(target)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stderr
    assert str(target) in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr


def test_help_and_version_state_the_exit_codes(runner):
    r = subprocess.run([str(runner), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "exit codes: 0 ok, 1 failure found" in r.stdout
    r = subprocess.run([str(runner), "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("microtcp-script ")
