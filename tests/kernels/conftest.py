"""Fixtures for the CUDA tests that run without a GPU: the named fake CuPy (fakecupy.py) over the
host emulator of tick.cu (cuda_emul.h)."""

from __future__ import annotations

import shutil
import sys

import pytest
from uqo.kernels import cupy_tick as ct

from . import fakecupy


@pytest.fixture(scope="session")
def emul_cache(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed: the CUDA host emulator compiles tick.cu with it")
    return tmp_path_factory.mktemp("fakecupy")


@pytest.fixture
def cp(emul_cache, monkeypatch):
    """The fake CuPy installed as ``cupy`` (a fresh fake device per test)."""
    mod = fakecupy.fake_cupy(emul_cache)
    monkeypatch.setitem(sys.modules, "cupy", mod)
    ct._module.cache_clear()
    yield mod
    ct._module.cache_clear()   # never hand a fake module to a real CuPy later in the session
