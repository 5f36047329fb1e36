"""Every fused tick kernel equals the numpy reference (uqo.engine.tick) within 1e-5 (complex64)
on random registers: one test body, parametrised by kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest
from uqo.engine import tick as ref
from uqo.kernels.tick_inputs import PairInputs, SingleInputs

from ._cells import (
    build_cuda_host,
    host_cuda_pairs,
    host_cuda_singles,
    random_params,
    random_states,
)

KERNELS = ["jax", "numba", "cuda_host", "cupy"]
TOL = 1e-5


def _gpu_reason() -> str | None:
    try:
        import cupy
    except ImportError:
        return "cupy is not installed (pip install 'uqo[gpu]')"
    return None if cupy.is_available() else "no CUDA device (cupy.is_available() is False)"


@pytest.fixture(scope="module")
def cuda_host_lib(tmp_path_factory):
    return build_cuda_host(tmp_path_factory.mktemp("cuda_host"))


def _kernel(name, request):
    """``(pairs(rho, s, PairInputs), singles(rho, s, SingleInputs))`` returning numpy."""
    if name == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        from uqo.kernels import jax_tick as jt

        fp, fs = jax.jit(jt.tick_pairs), jax.jit(jt.tick_singles)
        return (lambda *a: _host(fp(*a)), lambda *a: _host(fs(*a)))
    if name == "numba":
        from uqo.kernels import numba_tick as nt

        return nt.tick_pairs, nt.tick_singles
    if name == "cuda_host":
        lib = request.getfixturevalue("cuda_host_lib")
        return (lambda rho, s, x: host_cuda_pairs(lib, rho, s, *x.per_cell(),
                                                  coupling_dt=x.coupling_dt, theta0=x.theta0),
                lambda rho, s, x: host_cuda_singles(lib, rho, s, *x.per_cell(), theta0=x.theta0))
    reason = _gpu_reason()
    if reason:
        pytest.skip(f"CuPy kernel needs a GPU: {reason}")
    import cupy
    from uqo.kernels import cupy_tick as ct

    def on_device(fn):
        return lambda rho, s, x: _host(fn(cupy.asarray(rho), cupy.asarray(s),
                                          x.map_cells(cupy.asarray)))
    return on_device(ct.tick_pairs), on_device(ct.tick_singles)


def _host(result):
    from uqo.engine.backend import to_numpy

    rho, diag = result
    return to_numpy(rho), {k: to_numpy(v) for k, v in diag.items()}


def _assert_same(got, want):
    got_rho, got_diag = got
    want_rho, want_diag = want
    np.testing.assert_allclose(got_rho, want_rho, atol=TOL, rtol=0)
    assert set(got_diag) == set(want_diag)
    for key, value in want_diag.items():
        np.testing.assert_allclose(got_diag[key], value, atol=TOL, rtol=0, err_msg=key)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("seed", [0, 1])
def test_pair_tick_equals_reference(kernel, seed, request):
    pairs, _ = _kernel(kernel, request)
    rng = np.random.default_rng(seed)
    n = 3000
    rho = random_states(rng, n, 4)
    params = random_params(rng, n, 9, 2)
    if seed == 1:   # no channels at all: the entangled cells stay entangled
        params = [np.zeros_like(p) for p in params[:7]] + params[7:]
    s_before = rng.uniform(0, math.log(4), n)
    inputs = PairInputs(*params, coupling_dt=0.05, theta0=math.pi / 4)
    want = ref.tick_pairs(rho, s_before, inputs)
    assert (want[1]["concurrence"] > 0.05).sum() > (100 if seed == 1 else 0)
    _assert_same(pairs(rho, s_before, inputs), want)


@pytest.mark.parametrize("kernel", KERNELS)
def test_single_tick_equals_reference(kernel, request):
    _, singles = _kernel(kernel, request)
    rng = np.random.default_rng(5)
    n = 2000
    rho = random_states(rng, n, 2)
    params = random_params(rng, n, 4, 1)
    s_before = rng.uniform(0, math.log(2), n)
    inputs = SingleInputs(*params, theta0=math.pi / 4)
    want = ref.tick_singles(rho, s_before, inputs)
    _assert_same(singles(rho, s_before, inputs), want)


@pytest.mark.parametrize("kernel", KERNELS)
def test_many_ticks_keep_states_valid(kernel, request):
    """200 ticks of the fused kernel alone: trace 1, Hermitian, positive (to 1e-5)."""
    pairs, _ = _kernel(kernel, request)
    rng = np.random.default_rng(9)
    n = 256
    rho, s = random_states(rng, n, 4), np.full(n, math.log(4))
    for _ in range(200):
        params = random_params(rng, n, 9, 2)
        params = [p * 0.05 for p in params[:7]] + params[7:]
        rho, diag = pairs(rho, s, PairInputs(*params, coupling_dt=0.05, theta0=math.pi / 4))
        s = np.asarray(diag["s_cell"], np.float64)
    tr = np.trace(rho, axis1=1, axis2=2)
    np.testing.assert_allclose(tr.real, 1.0, atol=TOL)
    np.testing.assert_allclose(rho, rho.conj().transpose(0, 2, 1), atol=TOL)
    assert np.linalg.eigvalsh(rho.astype(np.complex128)).min() > -TOL
