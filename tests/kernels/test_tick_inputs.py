"""The tick's inputs as one value: field order, ``map_cells``, and the JAX pytree registration
(lazy: importing the module loads no jax; one jitted program serves every ``dt``)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from uqo.kernels.tick_inputs import PairInputs, SingleInputs


def _pairs(n=5, coupling_dt=0.05):
    arrays = [np.full(n, i, np.float32) for i in range(9)]
    return PairInputs(*arrays, coupling_dt=coupling_dt, theta0=0.7)


def test_cell_fields_are_the_kernel_rows_in_declaration_order():
    names = [f.name for f in dataclasses.fields(PairInputs)]
    assert list(PairInputs.CELL_FIELDS) == names[:9]
    assert names[9:] == ["coupling_dt", "theta0"]
    assert [f.name for f in dataclasses.fields(SingleInputs)] == [*SingleInputs.CELL_FIELDS,
                                                                 "theta0"]
    assert [int(a[0]) for a in _pairs().per_cell()] == list(range(9))


def test_map_cells_touches_the_arrays_and_keeps_the_scalars():
    x = _pairs()
    y = x.map_cells(lambda a: a[:2] * 2)
    assert [a.tolist() for a in y.per_cell()] == [[2.0 * i] * 2 for i in range(9)]
    assert (y.coupling_dt, y.theta0) == (0.05, 0.7)
    assert x.p_a.shape == (5,)                       # frozen: the original is unchanged
    with pytest.raises(dataclasses.FrozenInstanceError):
        x.p_a = None


def test_importing_the_inputs_loads_no_jax():
    code = ("import sys, uqo.kernels.tick_inputs as t, uqo.engine.tick; "
            "t.PairInputs(*range(11)); print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_a_value_built_with_jax_loaded_is_a_pytree_with_every_field_a_leaf():
    jax = pytest.importorskip("jax")
    leaves, tree = jax.tree_util.tree_flatten(_pairs())
    assert len(leaves) == 11 and leaves[-2:] == [0.05, 0.7]
    back = jax.tree_util.tree_unflatten(tree, leaves)
    assert isinstance(back, PairInputs) and back.theta0 == 0.7


def test_one_jitted_program_serves_every_dt():
    jax = pytest.importorskip("jax")
    traces = []

    @jax.jit
    def f(x: PairInputs):
        traces.append(1)
        return x.p_b * x.coupling_dt + x.theta0

    got = [float(f(_pairs(coupling_dt=dt))[0]) for dt in (0.05, 0.1, 0.2)]
    assert got == pytest.approx([0.75, 0.8, 0.9])         # p_b is 1: dt is traced, not baked in
    assert len(traces) == 1
