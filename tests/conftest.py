"""Shared pytest fixtures (where the CMake build lives) and the skip policy.

Skip policy: a test may skip because the environment lacks something (a
package, root, /dev/net/tun, a compiler) or by design (the suite runs in both
the default and the asan build, and a few tests belong to one of them). With
CI=true in the environment (.ci/run sets it), a skip of the first kind is
turned into a failure, so a CI machine that lacks a package cannot pass by
skipping what needs it. Skips by design are recognised by their reason
(BY_DESIGN below); every other skip counts as "missing"."""
import os
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent

# Reasons of skips that are part of the design, never a missing dependency:
# the test runs in the other build of the same suite.
BY_DESIGN = re.compile(r"default build|default \(unsanitized\) build|sanitizer builds add")


def ci_mode():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_is_by_design(reason):
    return bool(BY_DESIGN.search(reason or ""))


def _skip_reason(report):
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:  # (file, line, "Skipped: reason")
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and ci_mode()) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if skip_is_by_design(reason):
        return
    report.outcome = "failed"
    report.longrepr = (f"skipped for a missing package or capability, which is a failure "
                       f"with CI=true: {reason}\n(the install list is tools/lib-deps.sh)")


@pytest.fixture(scope="session")
def repo_dir():
    return REPO


@pytest.fixture(scope="session")
def build_dir():
    """MICROTCP_BUILD_DIR (ctest sets it), else build/default when it has been
    built. Without a build the tests that need one fail: they used to skip,
    and `pytest tests/replay` then printed "2 passed, 186 skipped" and exited 0."""
    d = os.environ.get("MICROTCP_BUILD_DIR")
    if d:
        return pathlib.Path(d)
    default = REPO / "build" / "default"
    if (default / "CMakeCache.txt").exists():
        return default
    pytest.fail("no build: set MICROTCP_BUILD_DIR or build the default preset first "
                "(cmake --preset default && cmake --build --preset default)", pytrace=False)


@pytest.fixture(scope="session")
def sim(build_dir):
    """The built microtcp-sim executable (the simulator tests' tool)."""
    exe = build_dir / "sim" / "microtcp-sim"
    if not exe.exists():
        pytest.fail(f"{exe} was not built")
    return exe
