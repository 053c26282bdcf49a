"""Shared pytest fixtures: where the CMake build lives."""
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_dir():
    return REPO


@pytest.fixture(scope="session")
def build_dir():
    d = os.environ.get("MICROTCP_BUILD_DIR")
    if not d:
        pytest.skip("MICROTCP_BUILD_DIR is not set (run the suite through ctest)")
    return pathlib.Path(d)
