"""Every ```sh block of every README is run by this test, so the
documentation cannot drift from what works. Each block carries a marker on
the line above it:

    <!-- runnable -->            run here, from the repository root, with bash -eu
    <!-- runnable: root -->      the same, needs root (network namespaces)
    <!-- not run by tests: WHY -->  e.g. the test command itself

A block without a marker fails test_every_shell_block_is_marked. The blocks
use build/default, so they run in the default build (ctest's pytest entry
there). Files a block creates at the top of the repository (run.pcap,
demo.log, www/...) are removed afterwards; so are the namespaces it adds and
the processes in them. (The sim/README scenario block is run by
tests/sim/test_sim.py.)"""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import REPO

BLOCK = re.compile(r"(?:<!-- (runnable(?::[^>]*)?|not run by tests:[^>]*) -->\n)?```(?:sh|bash)\n(.*?)```", re.S)


def readmes():
    """Every README*.md of the source tree (no git needed: a tarball or a
    minbase machine has none), build directories excepted."""
    return sorted(str(p.relative_to(REPO)) for p in REPO.glob("**/README*.md")
                  if not {"build", ".git"} & set(p.relative_to(REPO).parts[:-1]))


def blocks():
    for f in readmes():
        text = (REPO / f).read_text()
        for m in BLOCK.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            yield f, line, (m.group(1) or "").strip(), m.group(2)


RUNNABLE = [(f, line, marker, body) for f, line, marker, body in blocks() if marker.startswith("runnable")]


def test_every_shell_block_is_marked():
    unmarked = [f"{f}:{line}" for f, line, marker, _ in blocks() if not marker]
    assert not unmarked, "shell blocks without <!-- runnable --> or <!-- not run by tests: why -->"
    # at least the README's quickstart and the tap sequences are run
    assert any(f == "README.md" and "quickstart.sh" in b for f, _, _, b in RUNNABLE)
    assert any(f == "tools/tap/README.md" for f, _, _, _ in RUNNABLE)


def cleanup(before, body):
    for name in set(os.listdir(REPO)) - before:
        p = REPO / name
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    for ns in re.findall(r"ip netns add (\S+)", body):
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
        for pid in pids:
            subprocess.run(["kill", "-9", pid], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.mark.parametrize("f,line,marker,body", RUNNABLE, ids=[f"{f}:{l}" for f, l, _, _ in RUNNABLE])
def test_readme_block_runs_as_written(build_dir, f, line, marker, body):
    if os.environ.get("MICROTCP_SANITIZED") == "1" or build_dir.resolve() != (REPO / "build/default").resolve():
        pytest.skip("README commands use build/default: runs in the default build")
    if "root" in marker and os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, TAP devices)")
    before = set(os.listdir(REPO))
    try:
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=REPO, capture_output=True,
                           text=True, timeout=600)
    finally:
        cleanup(before, body)
    assert r.returncode == 0, f"{f}:{line} exited {r.returncode}\n{body}\nstdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}"
