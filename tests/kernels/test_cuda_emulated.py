"""The CUDA kernels (tick.cu) and their CuPy wrapper (cupy_tick, cupy_store) run under the host
emulator: the unmodified source compiled with g++ against cuda_emul.h, launched through the
wrapper with a named fake of CuPy (fakecupy.py). This checks what the per-cell tests cannot:
indexing, parameter packing, the output layout, the block reduction and the live mask, and the
wrapper's argument marshalling (a scalar of the wrong C type is an error here).

The mutation tests show the emulator can fail: a broken reduction, a wrong scalar type, a
divergent barrier and an out-of-bounds write are each detected.
"""

from __future__ import annotations

import math
import shutil
import types

import numpy as np
import pytest
from uqo.engine import tick as ref
from uqo.kernels import cupy_tick as ct
from uqo.kernels.cupy_store import CupyStore
from uqo.kernels.numba_store import NumbaStore
from uqo.kernels.tick_inputs import PairInputs, SingleInputs

from . import fakecupy
from ._cells import random_params, random_states

TOL = 1e-5
THETA0, CDT = math.pi / 4, 0.05
SCHEDULES = ("forward", "reverse", 7)   # lowest thread first, highest first, seeded random
CONFIGS = [ct.CudaConfig(), ct.CudaConfig(stage=True),
           ct.CudaConfig(threads=256, min_blocks=2, stage=True)]


def _pair_inputs(rng, n):
    rho = random_states(rng, max(n, 3), 4)[:n]
    return rho, rng.uniform(0, math.log(4), n), random_params(rng, n, 9, 2)


def _single_inputs(rng, n):
    rho = random_states(rng, max(n, 3), 2)[:n]
    return rho, rng.uniform(0, math.log(2), n), random_params(rng, n, 4, 1)


def _pairs_in(params):
    return PairInputs(*params, coupling_dt=CDT, theta0=THETA0)


def _singles_in(params):
    return SingleInputs(*params, theta0=THETA0)


def _assert_same(rho, diag, want_rho, want_diag, tol=TOL):
    np.testing.assert_allclose(rho, want_rho, atol=tol, rtol=0)
    assert set(diag) == set(want_diag)
    for key, value in want_diag.items():
        np.testing.assert_allclose(diag[key], value, atol=tol, rtol=0, err_msg=key)


def _get(result):
    rho, diag = result
    return rho.get(), {k: v.get() for k, v in diag.items()}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.label)
@pytest.mark.parametrize("n", [1, 17, 300])
def test_pair_kernel_equals_reference(cp, config, n, monkeypatch):
    """n = 1 and 17: less than a warp; 300: several blocks, the last one partial."""
    monkeypatch.setattr(ct, "default_config", lambda: config)
    rho, s, params = _pair_inputs(np.random.default_rng(n), n)
    got = _get(ct.tick_pairs(cp.asarray(rho), cp.asarray(s),
                             _pairs_in(params).map_cells(cp.asarray)))
    _assert_same(*got, *ref.tick_pairs(rho, s, _pairs_in(params)))
    assert cp.device.launches == [("uqo_tick_pairs", (-(-n // config.threads), 1, 1),
                                   (config.threads, 1, 1))]


@pytest.mark.parametrize("n", [5, 300])
def test_single_kernel_equals_reference(cp, n):
    rho, s, params = _single_inputs(np.random.default_rng(n), n)
    got = _get(ct.tick_singles(cp.asarray(rho), cp.asarray(s),
                               _singles_in(params).map_cells(cp.asarray)))
    _assert_same(*got, *ref.tick_singles(rho, s, _singles_in(params)))


@pytest.mark.parametrize("config", CONFIGS[:2], ids=lambda c: c.label)
@pytest.mark.parametrize("n", [1, 17, 300])
def test_reliability_kernels_equal_the_reference(cp, config, n):
    """The reliability qubits' drift (every row of a partial last block) and queued outcome
    updates, with an impossible outcome left for the caller and flagged."""
    from uqo.engine import reliability as rel

    rng = np.random.default_rng(n)
    rho = random_states(rng, max(n, 3), 2)[:n].astype(np.complex64)
    d_rho = cp.asarray(rho)
    rows = np.unique(rng.integers(0, n, max(n // 2, 1))).astype(np.int64)
    e0, e1 = rng.uniform(0.02, 1, len(rows)), rng.uniform(0.02, 1, len(rows))
    d_rho[cp.asarray(rows[:1])] = cp.asarray(np.array([[[1, 0], [0, 0]]], np.complex64))
    e0[0], e1[0] = 0.0, 1.0                      # row 0 of the batch: probability 0
    bad = cp.zeros(len(rows), cp.uint8)
    ct.reliability_observe(d_rho, cp.asarray(rows), cp.asarray(e0), cp.asarray(e1), bad,
                           config)
    want = rho.copy()
    want[rows[:1]] = np.array([[1, 0], [0, 0]])
    want[rows[1:]] = rel.lueders_diagonal(want[rows[1:]].astype(np.complex128), e0[1:], e1[1:])
    assert bad.get().tolist() == [1] + [0] * (len(rows) - 1)
    np.testing.assert_allclose(d_rho.get(), want, atol=TOL)
    ready, ent = cp.zeros(n + 3, cp.float32), cp.zeros(n + 3, cp.float32)
    ct.reliability_inplace(d_rho, n, 0.07, 0.6, ready, ent, config)
    want = rel.drift(want.astype(np.complex128), 0.07, 0.6)
    np.testing.assert_allclose(d_rho.get(), want, atol=TOL)
    np.testing.assert_allclose(ready.get()[:n], rel.reliability(want), atol=TOL)
    np.testing.assert_allclose(ent.get()[:n], rel.qubit_entropy(want), atol=TOL)
    assert ready.get()[n:].tolist() == [0.0] * 3             # nothing past n is written
    with pytest.raises(ValueError, match="rho must be"):
        ct.reliability_inplace(cp.asarray(rho.astype(np.complex128)), n, 0.1, 0.5, ready, ent)


def _run_pairs_inplace(cp, rho, s, params, live, config=None):
    d_rho, d_s = cp.asarray(rho), cp.asarray(s)
    out = cp.empty((len(ct.PAIR_KEYS), len(rho)), cp.float32)
    agg = cp.empty(len(ct.PAIR_AGGREGATES), cp.float64)   # garbage: the wrapper zeroes it
    ct.pairs_inplace(d_rho, d_s, cp.asarray(np.stack(params)), cp.asarray(live), CDT, THETA0,
                     out, agg, config)
    return d_rho.get(), out.get(), agg.get()


@pytest.mark.parametrize("config", CONFIGS[:2], ids=lambda c: c.label)
def test_pair_aggregates_are_sums_over_live_cells(cp, config):
    rng = np.random.default_rng(3)
    n = 300
    rho, s, params = _pair_inputs(rng, n)
    live = (rng.random(n) < 0.6).astype(np.uint8)
    _, out, agg = _run_pairs_inplace(cp, rho, s, params, live, config)
    _, want = ref.tick_pairs(rho, s, _pairs_in(params))
    ok = live.astype(bool)
    assert agg[4] == ok.sum()
    for j, key in enumerate(("npurity", "leak", "mi", "concurrence")):
        own = out[ct.PAIR_KEYS.index(key)][ok].astype(np.float64).sum()
        assert agg[j] == pytest.approx(own, abs=1e-7 * n), key   # the kernel's own cells
        assert agg[j] == pytest.approx(want[key][ok].sum(), abs=TOL * n), key


def test_single_aggregates_are_sums_over_live_cells(cp):
    rng = np.random.default_rng(4)
    n = 200
    rho, s, params = _single_inputs(rng, n)
    live = (rng.random(n) < 0.5).astype(np.uint8)
    out = cp.empty((len(ct.SINGLE_KEYS), n), cp.float32)
    agg = cp.empty(len(ct.SINGLE_AGGREGATES), cp.float64)
    ct.singles_inplace(cp.asarray(rho), cp.asarray(s), cp.asarray(np.stack(params)),
                       cp.asarray(live), THETA0, out, agg)
    _, want = ref.tick_singles(rho, s, _singles_in(params))
    ok = live.astype(bool)
    agg = agg.get()
    assert agg[2] == ok.sum()
    assert agg[0] == pytest.approx(want["npurity"][ok].sum(), abs=TOL * n)
    assert agg[1] == pytest.approx(want["leak"][ok].sum(), abs=TOL * n)


@pytest.mark.parametrize("config", CONFIGS[:2], ids=lambda c: c.label)
def test_results_do_not_depend_on_the_thread_schedule(cp, config):
    """Every schedule the emulator can pick is a legal CUDA one; a race-free kernel gives
    bit-identical results under each (the reduction's arithmetic order is fixed)."""
    rng = np.random.default_rng(6)
    rho, s, params = _pair_inputs(rng, 200)
    live = (rng.random(200) < 0.7).astype(np.uint8)
    runs = []
    for schedule in SCHEDULES:
        cp.device.schedule = schedule
        runs.append(_run_pairs_inplace(cp, rho, s, params, live, config))
    for got in runs[1:]:
        for a, b in zip(got, runs[0]):
            np.testing.assert_array_equal(a, b)


def _store_args(rng, n, k, n_rewards):
    return [p.astype(np.float64) if i % 2 else p
            for i, p in enumerate(random_params(rng, n, k, n_rewards))]


STORE_CASES = {"pairs": (_pair_inputs, 9, 2, _pairs_in),
               "singles": (_single_inputs, 4, 1, _singles_in)}


@pytest.mark.parametrize("kind", STORE_CASES)
def test_cupy_store_equals_numba_store_and_reuses_its_buffers(cp, kind):
    """Same inputs, same outputs; the second tick of the same n allocates nothing. (Each tick
    starts both stores from the same state: over several ticks the backends' float32 round-off
    may differ by ~1e-8, which can flip the reference's own choice of rotation axis for a Bloch
    vector within 1e-12 of the z axis, a different but equally valid state.)"""
    inputs, n_params, n_rewards, pack = STORE_CASES[kind]
    rng = np.random.default_rng(8)
    cap, n = 300, 256
    store, run = CupyStore(types.SimpleNamespace(xp=cp)), f"run_{kind}"
    rho, s, _ = inputs(rng, cap)
    d_rho, d_s = cp.asarray(rho), cp.asarray(s)
    for tick in range(2):
        args = pack(_store_args(rng, n, n_params, n_rewards))
        want_rho, want_s, want = getattr(NumbaStore(), run)(rho.copy(), s.copy(), n, args)
        d_rho.set(rho)
        d_s.set(s)
        before = cp.device.allocations
        d_rho, d_s, diag = getattr(store, run)(d_rho, d_s, n, args)
        assert cp.device.allocations - before == (4 if tick == 0 else 0)   # no new buffers
        _assert_same(d_rho.get(), {k: v.get() for k, v in diag.items()}, want_rho, want)
        np.testing.assert_allclose(d_s.get(), want_s, atol=TOL)
        np.testing.assert_array_equal(d_rho.get()[n:], rho[n:])   # cells past n untouched
        rho, s = want_rho, want_s


# --- the emulator can fail --------------------------------------------------------------------

def _mutated_source(tmp_path, monkeypatch, old: str, new: str, last: bool = False) -> None:
    """Point the wrapper at a copy of tick.cu with ``old`` replaced by ``new`` once."""
    text = ct.SOURCE.read_text()
    assert old in text, f"tick.cu changed: update this test's mutation (no {old!r} in it)"
    at = text.rindex(old) if last else text.index(old)
    (tmp_path / "tick.cu").write_text(text[:at] + new + text[at + len(old):])
    shutil.copy(ct.SOURCE.with_name("tick.cuh"), tmp_path / "tick.cuh")
    monkeypatch.setattr(ct, "SOURCE", tmp_path / "tick.cu")
    ct._module.cache_clear()


BROKEN_REDUCTIONS = {
    "shfl offset 8, not 16": ("for (int off = 16;", "for (int off = 8;"),
    "no __syncthreads before warp 0 reads the warp sums": (
        "if (lane == 0) warp_sums[warp] = v;\n  __syncthreads();",
        "if (lane == 0) warp_sums[warp] = v;\n"),
    "no __syncthreads before the warp sums are reused": (
        "if (lane == 0) atomicAdd(dst, v);\n  }\n  __syncthreads();",
        "if (lane == 0) atomicAdd(dst, v);\n  }\n"),
}


@pytest.mark.parametrize("mutation", BROKEN_REDUCTIONS)
def test_a_broken_reduction_gives_wrong_aggregates(cp, tmp_path, monkeypatch, mutation):
    """The cells stay right, the sums go wrong: always for the shuffle offset, under at least
    one of the (deterministic) schedules for a missing barrier, as a race would on a GPU."""
    rng = np.random.default_rng(10)
    rho, s, params = _pair_inputs(rng, 300)
    live = np.ones(300, np.uint8)
    _, good_out, good = _run_pairs_inplace(cp, rho, s, params, live)
    assert good[4] == 300
    _mutated_source(tmp_path, monkeypatch, *BROKEN_REDUCTIONS[mutation])
    wrong = []
    for schedule in SCHEDULES:
        cp.device.schedule = schedule
        _, out, bad = _run_pairs_inplace(cp, rho, s, params, live)
        np.testing.assert_array_equal(out, good_out)
        wrong.append(not np.allclose(bad, good, atol=1e-3))
    assert any(wrong)
    assert all(wrong) or "__syncthreads" in mutation


def _raw_pair_launch(cp, rho, s, params, theta0):
    """The wrapper's launch, by hand, with ``theta0`` of any numpy type."""
    config = ct.CudaConfig()
    n = len(rho)
    d_rho, out = cp.asarray(rho), cp.empty((9, n), cp.float32)
    agg = cp.zeros(5, cp.float64)
    ct._kernel("uqo_tick_pairs", config)(ct._blocks(n, config), (config.threads,), (
        d_rho, cp.asarray(s), cp.asarray(np.stack(params)), cp.ones(n, cp.uint8), np.int32(n),
        *ct.coupling_phase(CDT), theta0, out, np.int64(n), agg))
    return d_rho.get(), out.get()


def test_a_wrong_scalar_type_is_detected(cp):
    rng = np.random.default_rng(11)
    rho, s, params = _pair_inputs(rng, 64)
    with pytest.raises(TypeError, match="argument 7: the kernel takes double, got float"):
        _raw_pair_launch(cp, rho, s, params, np.float32(THETA0))
    cp.device.strict_args = False   # what a GPU does: read 8 bytes where 4 were given
    got_rho, _ = _raw_pair_launch(cp, rho, s, params, np.float32(THETA0))
    want_rho, _ = ref.tick_pairs(rho, s, _pairs_in(params))
    rewarded = (params[7] != 0) | (params[8] != 0)
    assert not np.allclose(got_rho[rewarded], want_rho[rewarded], atol=TOL)
    right_rho, _ = _raw_pair_launch(cp, rho, s, params, np.float64(THETA0))
    np.testing.assert_allclose(right_rho, want_rho, atol=TOL)


def test_a_divergent_barrier_is_reported_not_hung(cp, tmp_path, monkeypatch):
    """Threads past n returning before the block reduction: CUDA's undefined behaviour, a
    launch failure here (128-thread blocks: the counts below)."""
    monkeypatch.setattr(ct, "default_config", lambda: ct.CudaConfig())
    _mutated_source(tmp_path, monkeypatch, "int i = blockIdx.x * blockDim.x + threadIdx.x;\n",
                    "int i = blockIdx.x * blockDim.x + threadIdx.x;\n  if (i >= n) return;\n")
    rho, s, params = _single_inputs(np.random.default_rng(12), 17)
    with pytest.raises(fakecupy.CUDADriverError, match="deadlock: 0 threads wait at "
                       "__syncthreads, 17 at a warp operation, 111 returned"):
        ct.tick_singles(cp.asarray(rho), cp.asarray(s),
                        _singles_in(params).map_cells(cp.asarray))


def test_an_out_of_bounds_write_is_reported(cp, tmp_path, monkeypatch):
    _mutated_source(tmp_path, monkeypatch, "out[k * ld + i] = (float)d[k];",
                    "out[k * ld + i + 1] = (float)d[k];", last=True)
    rho, s, params = _single_inputs(np.random.default_rng(13), 40)
    with pytest.raises(fakecupy.CUDADriverError, match="wrote after the device buffer"):
        ct.tick_singles(cp.asarray(rho), cp.asarray(s),
                        _singles_in(params).map_cells(cp.asarray))


def test_device_arrays_are_not_host_arrays(cp):
    """As in CuPy: no implicit conversion, explicit transfers with checked shapes and dtypes."""
    x = cp.zeros((2, 3), cp.float32)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(x)
    with pytest.raises(ValueError, match="Shape mismatch"):
        x.set(np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="cannot be set"):
        x.set(np.zeros((2, 3), np.float64))
    x.set(np.ones((2, 3), np.float32))
    assert x.get().sum() == 6 and x.data.ptr % 256 == 0
    rho, s, params = _pair_inputs(np.random.default_rng(0), 4)
    with pytest.raises(TypeError, match="host array"):   # live left on the host
        ct.pairs_inplace(cp.asarray(rho), cp.asarray(s), cp.asarray(np.stack(params)),
                         np.ones(4, np.uint8), CDT, THETA0, cp.empty((9, 4), cp.float32),
                         cp.zeros(5, cp.float64))


def test_a_launch_past_the_launch_bounds_fails(cp):
    """A block larger than the kernel's __launch_bounds__ does not launch (as on a GPU)."""
    kernel = ct._kernel("uqo_tick_singles", ct.CudaConfig())
    with pytest.raises(fakecupy.CUDADriverError, match=r"256 threads .*__launch_bounds__\(128\)"):
        kernel((1,), (256,), ())
