"""Kernel wrappers reject bad arrays with errors naming the argument, before touching memory."""

from __future__ import annotations

import re

import numpy as np
import pytest
from uqo.kernels import numba_tick as nt
from uqo.kernels.tick_inputs import PairInputs
from uqo.kernels.validate import check_cells


def _args(n=8):
    rho = np.tile(np.eye(4, dtype=np.complex64) / 4, (n, 1, 1))
    return rho, np.zeros(n), [np.zeros(n, np.float32) for _ in range(9)], np.empty((9, n))


def test_valid_arguments_pass():
    rho, s, params, out = _args()
    assert check_cells(rho, s, params, 4, out, 9, host=True) == 8


@pytest.mark.parametrize("change, name", [
    (lambda a: (a[0][:, :2, :2], *a[1:]), "rho"),
    (lambda a: (np.ascontiguousarray(a[0].real), *a[1:]), "rho"),
    (lambda a: (a[0], a[1].astype(np.float32), *a[2:]), "s_cell"),
    (lambda a: (a[0], a[1], a[2][:8] + [np.zeros(7, np.float32)], a[3]), "params[8]"),
    (lambda a: (a[0], a[1], a[2], np.empty((9, 4))), "out"),
    (lambda a: (a[0], a[1], a[2], np.empty((9, 8), np.float32)), "out"),
])
def test_bad_argument_is_named_and_state_unchanged(change, name):
    rho, s, params, out = change(_args())
    before = np.array(rho)
    with pytest.raises(ValueError, match="^" + re.escape(name)):
        nt.pairs_inplace(rho, s, PairInputs(*params, coupling_dt=0.1, theta0=0.5), out)
    np.testing.assert_array_equal(rho, before)


def test_non_contiguous_state_is_rejected():
    rho = np.tile(np.eye(4, dtype=np.complex64) / 4, (16, 1, 1))[::2]
    with pytest.raises(ValueError, match="rho .* C-contiguous"):
        check_cells(rho, np.zeros(8), [], 4, np.empty((9, 8)), 9, host=True)
