"""The sharded fused tick on 4 host devices equals the one-device tick (run in a subprocess so
XLA_FLAGS can create the devices before JAX starts)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from uqo.kernels.sharding import partition_layout

SCRIPT = textwrap.dedent("""
    import math, numpy as np, jax
    jax.config.update("jax_enable_x64", True)
    from uqo.kernels import jax_tick as jt
    from uqo.kernels.sharding import (cell_mesh, partition_layout, sharded_tick_pairs,
                                      sharded_tick_singles)
    from uqo.kernels.tick_inputs import PairInputs, SingleInputs
    assert len(jax.devices()) == 4, jax.devices()
    rng = np.random.default_rng(0)
    n = 1000
    a = rng.normal(size=(n, 4, 4)) + 1j * rng.normal(size=(n, 4, 4))
    rho = a @ a.conj().transpose(0, 2, 1)
    rho = (rho / np.trace(rho, axis1=1, axis2=2).real[:, None, None]).astype(np.complex64)
    params = [rng.uniform(0, .2, n).astype(np.float32) for _ in range(7)]
    params += [rng.uniform(-1, 1, n).astype(np.float32) for _ in range(2)]
    s = rng.uniform(0, 1, n)
    order, block = partition_layout(rng.integers(0, 4, n), 4)
    idx = np.where(order < 0, 0, order)          # padding -> a real cell, ignored below
    mesh = cell_mesh()
    keep = order >= 0
    inputs = PairInputs(*params, coupling_dt=0.05, theta0=math.pi / 4)
    got_rho, got, agg = sharded_tick_pairs(mesh)(rho[idx], s[idx],
                                                 inputs.map_cells(lambda p: p[idx]), live=keep)
    assert len(got_rho.sharding.device_set) == 4
    want_rho, want = jax.jit(jt.tick_pairs)(rho, s, inputs)
    assert np.abs(np.asarray(got_rho)[keep] - np.asarray(want_rho)[order[keep]]).max() < 1e-6
    for k in want:
        assert np.abs(np.asarray(got[k])[keep] - np.asarray(want[k])[order[keep]]).max() < 1e-9, k
    # aggregates count live cells only, not the padding rows (copies of cell 0 here)
    assert int(agg["cells"]) == n
    assert abs(float(agg["global_coherence"]) - np.asarray(want["npurity"]).mean()) < 1e-9
    assert abs(float(agg["leakage"]) - np.asarray(want["leak"]).sum()) < 1e-9

    q = rho[:, :2, :2] / np.trace(rho[:, :2, :2], axis1=1, axis2=2)[:, None, None]
    q = (0.5 * (q + q.conj().transpose(0, 2, 1))).astype(np.complex64)
    inputs = SingleInputs(*params[:4], theta0=math.pi / 4)
    got_q, got, agg = sharded_tick_singles(mesh)(q[idx], s[idx],
                                                 inputs.map_cells(lambda p: p[idx]), live=keep)
    want_q, want = jax.jit(jt.tick_singles)(q, s, inputs)
    assert np.abs(np.asarray(got_q)[keep] - np.asarray(want_q)[order[keep]]).max() < 1e-6
    assert abs(float(agg["global_coherence"]) - np.asarray(want["npurity"]).mean()) < 1e-9
    print("SHARDED-OK")
""")


def test_sharded_tick_equals_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "SHARDED-OK" in out.stdout


def test_partition_layout_groups_cells_by_partition():
    part = np.array([2, 0, 2, 1, 0, 2])
    order, block = partition_layout(part, 3)
    assert block == 8 and order.shape == (24,)
    blocks = order.reshape(3, 8)
    for k in range(3):
        got = blocks[k][blocks[k] >= 0]
        np.testing.assert_array_equal(got, np.flatnonzero(part == k))


def test_partition_layout_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match="partition must be"):
        partition_layout(np.array([0, 3]), 3)
