"""Measurement of batched states: projective (Born rule with collapse) and POVM with the
Lueders update. Measuring one site of a joint state updates the other sites through it.

Draws use a numpy ``Generator`` (or a seed for one) on the host whatever the backend: the
probabilities ``(..., K)`` come to the host, one uniform number per system is drawn, and the
outcomes go back to the state's namespace. Same seed, same outcomes, on every backend.

Use cases::

    outcomes, post = measure(psi, rng)                       # whole system, outcomes in [0, D)
    outcomes, post = measure(rho, rng, site=0, dims=(2, 2))  # site 0; site 1 updated through rho
    heartbeat = np.array([np.diag([e, 1 - e]), np.diag([1 - e, e])])   # effects (K=2, 2, 2)
    outcomes, post = weak_measure(rho, heartbeat, rng, site=1, dims=(2, 2))
"""

from __future__ import annotations

import numpy as np

from . import _checks as ck
from ._linalg import psd_sqrt
from ._sites import State, apply_op, as_state, site_dims, split
from .backend import to_numpy
from .states import density_of, reduce_state


def _generator(rng) -> np.random.Generator:
    """A numpy Generator from ``rng`` (a Generator, a seed, or a SeedSequence)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        # ValueError, not TypeError: every bad engine argument raises ValueError (the contract)
        raise ValueError(f"rng={rng!r} must be a numpy Generator or an integer seed")  # noqa: TRY004
    try:
        return np.random.default_rng(rng)
    except ValueError as exc:
        raise ValueError(f"rng={rng!r} is not a valid seed: {exc}") from None


def _sample(probs, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Born-rule draws from ``probs`` ``(..., K)``: ``(outcomes, their probabilities)``.

    Inverse-CDF on the host: ``k = #{j : cdf_j <= u * cdf_K}``, so an outcome of probability 0
    is never drawn, even when round-off leaves ``cdf_K`` slightly off 1.
    """
    p = np.clip(to_numpy(probs).astype(np.float64), 0.0, None)
    cdf = np.cumsum(p, axis=-1)
    u = rng.random(p.shape[:-1]) * cdf[..., -1]
    k = np.minimum((cdf <= u[..., None]).sum(axis=-1), p.shape[-1] - 1)
    return k, np.take_along_axis(p, k[..., None], axis=-1)[..., 0]


def _site_probabilities(st: State, dims, site):
    """Populations of ``site``'s basis states, real ``(..., d)``."""
    xp = st.xp
    pops = xp.abs(st.x) ** 2 if st.ket else xp.real(xp.linalg.diagonal(st.x))
    pre, d, post = split(dims, site)
    return xp.sum(xp.reshape(pops, st.batch + (pre, d, post)), axis=(-3, -1))


def measure(state, rng, site=None, dims=None, *, ket: bool | None = None):
    """Projective measurement in the computational basis of one site (or the whole system).

    ``state``: kets ``(..., D)`` or density matrices ``(..., D, D)``. Returns ``(outcomes,
    post_states)``: integer outcomes ``(...)`` in ``[0, d)``, drawn with the Born rule, and the
    collapsed, renormalised states (same shape and dtype as ``state``).
    """
    st = as_state(state, "state", ket)
    gen = _generator(rng)
    dims, site = site_dims(st.dim, site, dims)
    xp = st.xp
    k, p_sel = _sample(_site_probabilities(st, dims, site), gen)
    outcomes = xp.asarray(k)
    _, d, post = split(dims, site)
    digit = (xp.arange(st.dim) // post) % d
    keep = xp.astype(digit == outcomes[..., None], st.x.dtype)
    rd = ck.real_dtype(st.x.dtype, xp)
    p_sel = xp.asarray(p_sel, dtype=rd)
    if st.ket:
        return outcomes, st.x * keep / xp.astype(xp.sqrt(p_sel), st.x.dtype)[..., None]
    post_states = st.x * keep[..., :, None] * keep[..., None, :]
    return outcomes, post_states / xp.astype(p_sel, st.x.dtype)[..., None, None]


def _effects(effects, xp, dtype):
    """POVM effects ``(..., K, d, d)``: Hermitian, positive, summing to the identity."""
    e = ck.as_complex(effects, "effects", xp, dtype)
    ck.check_square(e, "effects", "(K, d, d) or (..., K, d, d)")
    ck.check_ndim(e, "effects", 3, "(K, d, d) or (..., K, d, d)")
    ck.check_finite(e, "effects", xp)
    ck.check_hermitian(e, "effects", xp)
    if ck.is_concrete(e):
        tol = ck.tolerance(e.dtype, xp)
        neg = xp.clip(-xp.min(xp.linalg.eigvalsh(e), axis=-1), 0.0, None)
        ck.check_close(neg, "effects", e, "positive semidefinite", tol, xp)
        total = ck.identity_error(xp.sum(e, axis=-3), xp)
        ck.check_close(total, "effects", e, "complete (sum of effects = I)", tol, xp)
    return e


def weak_measure(rho, effects, rng, site=None, dims=None, *, ket: bool | None = None):
    """POVM measurement with the Lueders update ``rho -> sqrt(E_k) rho sqrt(E_k) / p_k``,
    ``p_k = Tr(E_k rho)``, on one site (or the whole system).

    ``effects`` ``(K, d, d)`` shared or ``(..., K, d, d)`` per system. Kets stay kets
    (``sqrt(E_k) psi / sqrt(p_k)``). Returns ``(outcomes (...) in [0, K), post_states)``.
    """
    st = as_state(rho, "rho", ket)
    gen = _generator(rng)
    xp = st.xp
    e = _effects(effects, xp, st.x.dtype)
    dims, site = site_dims(st.dim, site, dims, int(e.shape[-1]))
    if dims[site] != e.shape[-1]:
        raise ValueError(f"effects has shape {ck.shape_of(e)}, but site {site} of dims={dims} "
                         f"has dimension {dims[site]}")
    ck.check_broadcast("rho", st.x, st.batch, "effects", e, ck.shape_of(e)[:-3])
    red = reduce_state(st, dims, (site,)) if len(dims) > 1 else density_of(st)
    probs = xp.real(xp.sum(e * xp.matrix_transpose(red)[..., None, :, :], axis=(-2, -1)))
    k, p_sel = _sample(probs, gen)
    onehot = xp.asarray(np.eye(e.shape[-3])[k], dtype=st.x.dtype)
    m = xp.sum(onehot[..., None, None] * psd_sqrt(e, xp), axis=-3)
    post = apply_op(st, m, dims, site)
    scale = np.sqrt(p_sel) if st.ket else p_sel
    scale = xp.astype(xp.asarray(scale), st.x.dtype)
    return xp.asarray(k), post / (scale[..., None] if st.ket else scale[..., None, None])
