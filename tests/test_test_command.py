"""The test command itself (tools/run-tests.sh, tools/lib-deps.sh, .ci/run):
every package a test needs is installed, every skip is listed with its reason,
and under CI=true a skip for a missing package or capability fails."""
import os
import pathlib
import re
import shutil
import subprocess
import textwrap

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
PY = "/usr/bin/python3"


def deb_lists():
    """The two package lists of tools/lib-deps.sh, as bash sees them."""
    out = subprocess.run(["bash", "-c", ". tools/lib-deps.sh; echo $MICROTCP_DEBS_BUILD; "
                          "echo $MICROTCP_DEBS_TEST"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return set(out[0].split()), set(out[1].split())


def test_every_package_a_skip_names_is_in_the_install_list():
    """A skip reason names its Debian package, "needs numpy (python3-numpy)" or
    "tshark not installed"; each one must be installed by the test command
    (python3-numpy was not, so all the live tests skipped on a fresh machine)."""
    build, test = deb_lists()
    named = set()
    for f in REPO.glob("tests/**/*.py"):
        if f.name == "test_test_command.py":  # its toy suites name fake packages
            continue
        for line in f.read_text().splitlines():
            if "skip" not in line and "needs" not in line:
                continue
            named |= set(re.findall(r"\((python3-[a-z0-9-]+|util-linux|iproute2)\)", line))
            named |= {m for m in re.findall(r"\b([a-z][a-z0-9+-]+) not installed", line)}
    named.discard("other")  # f"{other} not installed": gcc or clang
    named |= {"clang", "build-essential"}
    assert {"python3-numpy", "python3-scapy", "tshark", "util-linux"} <= named, named
    assert named - (build | test) == set(), "packages tests need but lib-deps.sh misses"


def test_build_list_is_only_what_the_simulator_needs_and_test_list_has_the_rest():
    build, test = deb_lists()
    for heavy in ("clang", "afl++", "gcc-arm-none-eabi", "tshark"):
        assert heavy not in build and heavy in test
    assert {"bison", "flex", "zip", "python3-numpy"} <= test
    assert {"cmake", "ninja-build", "pkg-config", "libpcap-dev", "libinih-dev", "libcjson-dev"} <= build
    q = (REPO / "tools/quickstart.sh").read_text()
    r = (REPO / "tools/run-tests.sh").read_text()
    assert re.search(r"^microtcp_install_deps \$MICROTCP_DEBS_BUILD$", q, re.M)
    assert re.search(r"^microtcp_install_deps \$MICROTCP_DEBS_BUILD \$MICROTCP_DEBS_TEST$", r, re.M)


def test_ci_run_sets_ci_true_and_the_summary_comes_last():
    assert re.search(r"^export CI=true$", (REPO / ".ci/run").read_text(), re.M)
    r = (REPO / "tools/run-tests.sh").read_text()
    steps = [l for l in r.splitlines() if re.match(r"^(run_preset|run_fuzz_smoke|/usr/bin/python3 tools/test-summary)", l)]
    assert steps[-1].startswith("/usr/bin/python3 tools/test-summary.py"), steps


@pytest.fixture
def toy_suite(tmp_path):
    """A tiny pytest suite using tests/conftest.py: one pass, one skip for a
    missing package, one skip by design."""
    shutil.copy(REPO / "tests/conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_toy.py").write_text(textwrap.dedent("""
        import pytest
        def test_ok(): pass
        def test_needs_pkg(): pytest.skip("needs frobnicate (python3-frobnicate)")
        @pytest.mark.skipif(True, reason="run in the default build")
        def test_by_design(): pass
    """))
    return tmp_path


def run_toy(path, ci):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run([PY, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "--junitxml", str(path / "j.xml"), str(path)],
                          capture_output=True, text=True, env=env, cwd=path)


def test_missing_package_skip_is_a_failure_only_with_ci_true(toy_suite):
    r = run_toy(toy_suite, ci=False)
    assert r.returncode == 0, r.stdout
    assert "1 passed, 2 skipped" in r.stdout and "python3-frobnicate" in r.stdout  # -rs lists it
    r = run_toy(toy_suite, ci=True)
    assert r.returncode == 1, r.stdout
    assert "1 failed, 1 passed, 1 skipped" in r.stdout, r.stdout
    assert "a failure with CI=true: needs frobnicate (python3-frobnicate)" in r.stdout


def test_summary_lists_pytest_and_ctest_skips_and_fails_ctest_skips_under_ci(toy_suite, tmp_path):
    run_toy(toy_suite, ci=False)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "CMakeLists.txt").write_text(textwrap.dedent("""
        cmake_minimum_required(VERSION 3.20)
        project(toy NONE)
        enable_testing()
        add_test(NAME needs_gizmo COMMAND sh -c "echo 'gizmo not installed'; exit 77")
        set_tests_properties(needs_gizmo PROPERTIES SKIP_RETURN_CODE 77)
        add_test(NAME fine COMMAND true)
    """))
    subprocess.run(["cmake", "-S", proj, "-B", proj / "b"], check=True, capture_output=True)
    subprocess.run(["ctest", "--output-junit", "c.xml"], cwd=proj / "b", capture_output=True)
    args = [PY, str(REPO / "tools/test-summary.py"), f"toy={proj / 'b/c.xml'}",
            f"toy={toy_suite / 'j.xml'}"]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "ctest needs_gizmo: gizmo not installed (SKIP_RETURN_CODE=77)" in r.stderr, r.stderr
    assert "test_needs_pkg: needs frobnicate (python3-frobnicate)" in r.stderr, r.stderr
    assert "test_by_design: run in the default build" in r.stderr, r.stderr
    r = subprocess.run(args, capture_output=True, text=True, env={**env, "CI": "true"})
    assert r.returncode == 1 and "a failure with CI=true" in r.stderr, r.stderr


def test_pytest_without_build_dir_uses_build_default_or_fails(tmp_path):
    """`pytest tests/replay` without MICROTCP_BUILD_DIR used to print
    "2 passed, 186 skipped" and exit 0."""
    shutil.copy(REPO / "tests/conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_b.py").write_text("def test_b(build_dir): assert build_dir.name\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "MICROTCP_BUILD_DIR")}
    r = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    # the copied conftest's REPO is tmp_path's parent: no build there
    assert r.returncode == 1 and "no build: set MICROTCP_BUILD_DIR" in r.stdout, r.stdout
