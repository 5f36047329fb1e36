"""tick.cu compiles with nvcc for the GPUs we target (syntax errors cannot land without a GPU)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ._cells import KERNELS

NVCC = shutil.which("nvcc") or (shutil.which("/usr/local/cuda/bin/nvcc"))


@pytest.mark.skipif(NVCC is None, reason="nvcc (CUDA toolkit) is not installed on this machine")
@pytest.mark.parametrize("arch", ["sm_90"])
def test_tick_cu_compiles_without_spills(arch, tmp_path):
    out = subprocess.run([NVCC, f"-arch={arch}", "-std=c++17", "--resource-usage", "-c",
                          str(KERNELS / "tick.cu"), "-o", str(tmp_path / "tick.o")],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    log = out.stdout + out.stderr
    for kernel in ("uqo_tick_pairs", "uqo_tick_singles"):
        assert kernel in log
    assert "bytes spill stores" in log
    assert all(line.split()[4] == "0" for line in log.splitlines() if "spill stores" in line), log


@pytest.mark.skipif(NVCC is None, reason="nvcc (CUDA toolkit) is not installed on this machine")
def test_tick_cu_reports_a_broken_source(tmp_path):
    """The compile check can fail: a copy of the source with a syntax error is rejected."""
    bad = tmp_path / "tick.cu"
    bad.write_text((KERNELS / "tick.cu").read_text().replace("int i =", "int i = = ", 1))
    out = subprocess.run([NVCC, "-arch=sm_90", "-std=c++17", f"-I{KERNELS}", "-c", str(bad),
                          "-o", str(tmp_path / "bad.o")], capture_output=True, text=True, check=False)
    assert out.returncode != 0
    assert "error" in out.stderr


@pytest.mark.skipif(NVCC is None, reason="nvcc (CUDA toolkit) is not installed on this machine")
def test_launch_bounds_config_reaches_the_compiler(tmp_path):
    """min_blocks=3 (from uqo.kernels.cupy_tick.CudaConfig's -D options) caps the pair kernel at
    65536 / (3 * 128) = 170 registers, where the unbounded build uses more."""
    from uqo.kernels.cupy_tick import CudaConfig

    def regs(config):
        opts = [o for o in config.options() if o.startswith("-D")]
        out = subprocess.run([NVCC, "-arch=sm_90", "-std=c++17", "--resource-usage", *opts,
                              f"-I{KERNELS}", "-c", str(KERNELS / "tick.cu"), "-o",
                              str(tmp_path / "t.o")], capture_output=True, text=True, check=True)
        lines = (out.stdout + out.stderr).splitlines()
        at = next(i for i, line in enumerate(lines) if "properties for uqo_tick_pairs" in line)
        used = next(line for line in lines[at:] if "Used" in line and "registers" in line)
        return int(used.split("Used")[1].split()[0])

    assert regs(CudaConfig(min_blocks=3)) <= 170 < regs(CudaConfig())
