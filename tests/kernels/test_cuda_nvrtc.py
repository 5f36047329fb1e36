"""tick.cu compiles with NVRTC, the compiler cupy.RawModule uses at run time, with exactly the
options the wrapper passes, for every launch configuration the tuner may pick.

nvcc and NVRTC differ (NVRTC has no host headers and no system include path), so a source that
builds with nvcc can still fail on a GPU node the first time CuPy compiles it. NVRTC itself runs without a GPU: it comes from the
`nvidia-cuda-nvrtc` wheel (dev extra) and is called here through its C API with ctypes.
"""

from __future__ import annotations

import ctypes
import importlib.util
from pathlib import Path

import pytest
from uqo.kernels import cupy_tick as ct


def _libnvrtc() -> Path | None:
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        for lib in sorted(Path(root).glob("*/lib/libnvrtc.so*")):
            if "builtins" not in lib.name:
                return lib
    return None


LIB = _libnvrtc()
pytestmark = pytest.mark.skipif(LIB is None, reason="NVRTC (pip nvidia-cuda-nvrtc, a dev extra "
                                "on Linux x86_64) is not installed")


def nvrtc_compile(source: str, options: tuple[str, ...]) -> tuple[int, str, int]:
    """(NVRTC result code, compile log, cubin size) for ``source`` compiled with ``options``."""
    lib = ctypes.CDLL(str(LIB))
    prog = ctypes.c_void_p()
    rc = lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), b"tick.cu", 0, None, None)
    assert rc == 0, f"nvrtcCreateProgram failed with {rc}"
    try:
        opts = [o.encode() for o in options]
        rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        cubin = ctypes.c_size_t(0)
        if rc == 0:
            assert lib.nvrtcGetCUBINSize(prog, ctypes.byref(cubin)) == 0
        return rc, log.value.decode(errors="replace"), cubin.value
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


@pytest.mark.parametrize("config", ct.TUNE_CONFIGS, ids=lambda c: c.label)
def test_every_tuning_config_compiles_with_nvrtc(config):
    rc, log, cubin = nvrtc_compile(ct.SOURCE.read_text(), config.options() + ("-arch=sm_90",))
    assert rc == 0, log
    assert cubin > 10_000


def test_nvrtc_check_can_fail():
    """A copy with an error (a host-only header, as NVRTC has none) is rejected with a log."""
    bad = "#include <vector>\n" + ct.SOURCE.read_text()
    rc, log, _ = nvrtc_compile(bad, ct.CudaConfig().options() + ("-arch=sm_90",))
    assert rc != 0
    assert "vector" in log


def test_cuda_config_parsing_and_errors():
    assert ct.CudaConfig.parse("threads=256, stage=1") == ct.CudaConfig(threads=256, stage=True)
    assert ct.CudaConfig.parse("") == ct.CudaConfig()
    assert "-DUQO_MIN_BLOCKS=3" in ct.CudaConfig(min_blocks=3).options()
    for text, word in (("threads=100", "multiple of 32"), ("stage=2", "stage is 0 or 1"),
                       ("blocks=2", "blocks=2"), ("threads=x", "not an integer")):
        with pytest.raises(ValueError, match=word):
            ct.CudaConfig.parse(text)


def test_default_config_reads_the_environment(monkeypatch):
    monkeypatch.setenv(ct.CONFIG_ENV, "min_blocks=3")
    assert ct.default_config() == ct.CudaConfig(min_blocks=3)
    monkeypatch.delenv(ct.CONFIG_ENV)
    assert ct.default_config() == ct.DEFAULT_CONFIG
    assert ct.DEFAULT_CONFIG in ct.TUNE_CONFIGS     # a default the tuner also times
