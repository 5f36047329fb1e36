"""Argument conversion and checks: dtypes, tolerances, messages, and the jit (tracer) path."""

import numpy as np
import pytest
from uqo.engine import _checks as ck
from uqo.engine import concurrence, purity, von_neumann_entropy
from uqo.engine.backend import get_backend

XP = ck.namespace(np.zeros(1))


@pytest.mark.parametrize("given, want", [
    (np.array([1.0, 0.0]), np.complex64), (np.array([1, 0]), np.complex64),
    (np.array([1, 0], dtype=np.complex128), np.complex128), ([1.0, 0.0], np.complex64),
    (np.array([1, 0], dtype=np.complex64), np.complex64)])
def test_real_input_becomes_complex64_and_complex_keeps_its_dtype(given, want):
    assert ck.as_complex(given, "x", XP).dtype == want


def test_non_numeric_input_is_rejected():
    with pytest.raises(ValueError, match="x has dtype"):
        ck.as_complex(np.array(["a"]), "x", XP)


@pytest.mark.parametrize("dims, match", [
    ((2, 3), r"dims=\(2, 3\) multiply to 6, but the state has dimension D=4"),
    ((2, -2), r"dims=\(2, -2\) must be a non-empty sequence of positive integers"),
    ((), r"dims=\(\) must be"), ((2.5, 2), "dims=.* must be a sequence of positive integers"),
    (4, "dims=4 must be a sequence")])
def test_dims_errors(dims, match):
    with pytest.raises(ValueError, match=match):
        ck.check_dims(dims, 4)


def test_normalisation_tolerance_depends_on_precision():
    off = np.array([1.0 + 1e-5, 0.0])
    ck.check_ket(off.astype(np.complex64), "psi", XP)  # within float32 tolerance
    with pytest.raises(ValueError, match=r"psi with shape \(2,\) is not normalised"):
        ck.check_ket(off.astype(np.complex128), "psi", XP)


def test_errors_point_at_the_first_bad_system():
    rho = np.stack([np.eye(2) / 2] * 3).astype(np.complex128)
    rho[2, 0, 1] = 0.3  # not Hermitian
    with pytest.raises(ValueError, match=r"rho with shape \(3, 2, 2\) is not Hermitian.*"
                                         r"first at batch index \(2,\)"):
        ck.check_density(rho, "rho", XP)


def test_infinite_values_are_rejected():
    with pytest.raises(ValueError, match=r"H with shape \(2, 2\) contains NaN or infinity"):
        ck.check_finite(np.array([[np.inf, 0], [0, 1]]), "H", XP)


def test_value_checks_are_skipped_under_jit_but_shapes_are_checked():
    be = get_backend("jax")
    import jax

    rho = be.asarray(np.eye(2, dtype=np.complex64) / 2)
    assert float(jax.jit(von_neumann_entropy)(rho)) == pytest.approx(np.log(2), abs=1e-6)
    assert float(jax.jit(purity)(rho * 2)) == pytest.approx(2.0)  # no value check in a trace
    with pytest.raises(ValueError, match=r"rho has shape \(3, 3\); concurrence needs two"):
        jax.jit(concurrence)(be.asarray(np.eye(3, dtype=np.complex64) / 3))
