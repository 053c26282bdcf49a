"""Fixtures shared by the simulator tests."""
import pytest


@pytest.fixture(scope="session")
def sim(build_dir):
    """The built microtcp-sim executable."""
    exe = build_dir / "sim" / "microtcp-sim"
    if not exe.exists():
        pytest.fail(f"{exe} was not built")
    return exe
