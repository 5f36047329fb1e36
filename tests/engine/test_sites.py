"""Site layout helpers: how square arrays are read, and dims inference for one-site operators."""

import numpy as np
import pytest
from uqo.engine._sites import as_state, is_ket_shape, left_apply, site_dims


def test_square_arrays_are_density_matrices_unless_told_otherwise():
    assert not is_ket_shape(np.zeros((3, 3)), None)
    assert is_ket_shape(np.zeros((3, 3)), True)
    assert is_ket_shape(np.zeros((5, 3)), None)
    assert as_state(np.eye(3), ket=True).batch == (3,)


@pytest.mark.parametrize("dim, site, dims, op_dim, want", [
    (8, None, None, None, ((8,), 0)), (8, 2, None, 2, ((2, 2, 2), 2)),
    (6, 1, (2, 3), 3, ((2, 3), 1)), (9, 0, None, None, ((9,), 0))])
def test_site_dims(dim, site, dims, op_dim, want):
    assert site_dims(dim, site, dims, op_dim) == want


@pytest.mark.parametrize("dim, site, op_dim, match", [
    (6, 1, 2, "D=6 is not a power of the operator's dimension 2: pass dims"),
    (4, 1, None, "site=1 given without dims: pass dims")])
def test_site_without_dims_that_cannot_be_inferred(dim, site, op_dim, match):
    with pytest.raises(ValueError, match=match):
        site_dims(dim, site, None, op_dim)


def test_left_apply_matches_kron_with_identities():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 12, 5))
    op = rng.normal(size=(3, 3))
    full = np.kron(np.kron(np.eye(2), op), np.eye(2))
    xp = as_state(np.eye(2) / 2).xp
    np.testing.assert_allclose(left_apply(x, op, (2, 3, 2), 1, xp), full @ x, atol=1e-12)
