"""Hypothesis strategies for random states, built from a drawn seed and drawn shapes.

Drawing every matrix entry through hypothesis is slow and shrinks poorly; instead hypothesis
draws the structure (site dimensions, batch size, rank) and a seed, and numpy fills in the
numbers. Ranks from 1 (pure) to D cover the 0 ln 0 edge of every entropy.
"""

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Deterministic in CI (derandomize) and small: every property test shares this profile.
SETTINGS = settings(max_examples=15, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

seeds = st.integers(0, 2**32 - 1)
site_dims = st.lists(st.integers(2, 3), min_size=2, max_size=3).map(tuple)


def random_kets(rng, batch, dim, dtype=np.complex128):
    """Haar-like random kets ``(*batch, dim)``."""
    z = rng.normal(size=(*batch, dim)) + 1j * rng.normal(size=(*batch, dim))
    return (z / np.linalg.norm(z, axis=-1, keepdims=True)).astype(dtype)


def random_density(rng, batch, dim, rank=None, dtype=np.complex128):
    """Random density matrices ``(*batch, dim, dim)`` of the given rank (default full)."""
    rank = dim if rank is None else rank
    a = rng.normal(size=(*batch, dim, rank)) + 1j * rng.normal(size=(*batch, dim, rank))
    rho = a @ np.conj(np.swapaxes(a, -1, -2))
    rho = rho / np.trace(rho, axis1=-2, axis2=-1)[..., None, None]
    return ((rho + np.conj(np.swapaxes(rho, -1, -2))) / 2).astype(dtype)


@st.composite
def density_cases(draw, dims=site_dims):
    """``(rho (3, D, D) complex128, dims)`` with a drawn rank."""
    d = draw(dims)
    dim = int(np.prod(d))
    rank = draw(st.integers(1, dim))
    rng = np.random.default_rng(draw(seeds))
    return random_density(rng, (3,), dim, rank), d


@st.composite
def ket_cases(draw, dims=site_dims):
    """``(psi (3, D) complex128, dims)``."""
    d = draw(dims)
    rng = np.random.default_rng(draw(seeds))
    return random_kets(rng, (3,), int(np.prod(d))), d
