"""Quantum channels as Kraus maps, applied to batched density matrices.

A channel is an array of Kraus operators ``(K, d, d)`` (shared) or ``(..., K, d, d)`` (one set
per system, batch axes broadcasting with the state's); it must be trace preserving,
``sum_k K_k^dag K_k = I``, which ``apply_kraus`` checks.

Use cases::

    rho = apply_kraus(rho, depolarizing(0.1))                         # one qubit
    rho = apply_kraus(rho, amplitude_damping(0.2), site=1, dims=(2, 2))
    rho = apply_kraus(rho, dephasing(p_per_agent), site=0, dims=(2, 2))   # p of shape (N,)

The constructors take a probability as a Python number or an array ``(...)`` of them and return
Kraus arrays of matching batch shape (complex128 for Python numbers and float64, complex64 for
float32), in the namespace of the probability (numpy for Python numbers).
"""

from __future__ import annotations

from . import _checks as ck
from ._sites import as_state, left_apply, site_dims
from .states import density_of


def apply_kraus(rho, kraus, site=None, dims=None, *, ket: bool | None = None):
    """``sum_k K_k rho K_k^dag`` on the whole system or on one site of ``dims``.

    ``rho`` is ``(..., D, D)`` (kets ``(..., D)`` are turned into density matrices first);
    returns density matrices ``(..., D, D)`` in the state's dtype. Raises ValueError when the
    Kraus operators are not trace preserving.
    """
    st = as_state(rho, "rho", ket)
    xp = st.xp
    k = ck.as_complex(kraus, "kraus", xp, st.x.dtype)
    d = ck.check_square(k, "kraus", "(K, d, d) or (..., K, d, d)")
    ck.check_ndim(k, "kraus", 3, "(K, d, d) or (..., K, d, d)")
    ck.check_finite(k, "kraus", xp)
    if ck.is_concrete(k):
        total = xp.sum(xp.matmul(ck.dagger(k, xp), k), axis=-3)
        ck.check_close(ck.identity_error(total, xp), "kraus", k,
                       "trace preserving (sum K^dag K = I)", ck.tolerance(k.dtype, xp), xp)
    dims, site = site_dims(st.dim, site, dims, d)
    if dims[site] != d:
        raise ValueError(f"kraus has shape {ck.shape_of(k)}, but site {site} of dims={dims} "
                         f"has dimension {dims[site]}")
    ck.check_broadcast("rho", st.x, st.batch, "kraus", k, ck.shape_of(k)[:-3])
    x = density_of(st)[..., None, :, :]
    half = left_apply(x, k, dims, site, xp)
    terms = ck.dagger(left_apply(ck.dagger(half, xp), k, dims, site, xp), xp)
    return xp.sum(terms, axis=-3)


def _prob(p, name: str):
    """``(xp, p as a real array, complex dtype)`` for a probability or an array of them."""
    xp = ck.namespace(p)
    arr = xp.asarray(p)
    if not xp.isdtype(arr.dtype, ("real floating", "integral")):
        raise ValueError(f"{name} must be a real probability, got dtype {arr.dtype}")
    if not xp.isdtype(arr.dtype, "real floating"):
        arr = xp.astype(arr, xp.float64)
    ck.check_probability(arr, name, xp)
    cdt = xp.complex64 if arr.dtype == xp.float32 else xp.complex128
    return xp, arr, cdt


def _kraus(mats, weights, xp, cdt):
    """``stack_k sqrt(w_k) M_k``: ``mats`` constant ``(d, d)`` lists, ``weights`` arrays ``(...)``."""
    ops = [xp.asarray(m, dtype=cdt) * xp.astype(xp.sqrt(w), cdt)[..., None, None]
           for m, w in zip(mats, weights)]
    return xp.stack(ops, axis=-3)


_I = ((1, 0), (0, 1))
_Z = ((1, 0), (0, -1))


def dephasing(p):
    """Qubit phase flip ``rho -> (1 - p) rho + p Z rho Z``: coherences shrink by ``1 - 2p``
    (``p = 1/2`` erases them). Kraus ``sqrt(1-p) I, sqrt(p) Z``, shape ``(..., 2, 2, 2)``."""
    xp, p, cdt = _prob(p, "p")
    return _kraus((_I, _Z), (1 - p, p), xp, cdt)


def amplitude_damping(gamma):
    """Qubit decay toward |0> with probability ``gamma``: ``K0 = [[1, 0], [0, sqrt(1-g)]]``,
    ``K1 = [[0, sqrt(g)], [0, 0]]``; shape ``(..., 2, 2, 2)``."""
    xp, g, cdt = _prob(gamma, "gamma")
    p0, p1, lower = (xp.asarray(m, dtype=cdt) for m in (((1, 0), (0, 0)), ((0, 0), (0, 1)),
                                                       ((0, 1), (0, 0))))
    k0 = p0 + xp.astype(xp.sqrt(1 - g), cdt)[..., None, None] * p1
    k1 = xp.astype(xp.sqrt(g), cdt)[..., None, None] * lower
    return xp.stack([k0, k1], axis=-3)


def depolarizing(p, d: int = 2):
    """``rho -> (1 - p) rho + p Tr(rho) I/d`` on a ``d``-level site.

    Kraus operators are the ``d^2`` Weyl operators ``X^a Z^b`` (for a qubit I, X, XZ ~ Y, Z),
    weighted ``sqrt(1 - p + p/d^2)`` for the identity and ``sqrt(p/d^2)`` for the others, since
    their uniform mixture is the completely depolarising map. Shape ``(..., d^2, d, d)``.
    """
    if isinstance(d, bool) or not isinstance(d, int) or d < 2:
        raise ValueError(f"d={d!r} must be an integer >= 2")
    xp, p, cdt = _prob(p, "p")
    weyl = _weyl(d)
    weights = [1 - p + p / d**2] + [p / d**2] * (len(weyl) - 1)
    return _kraus(weyl, weights, xp, cdt)


def _weyl(d: int) -> list[list[list[complex]]]:
    """The ``d^2`` Weyl (clock-and-shift) operators ``X^a Z^b`` as nested lists, identity first.

    Built by hand (a few lines) because no dependency we carry exposes them for general d.
    """
    import cmath

    omega = cmath.exp(2j * cmath.pi / d)
    ops = []
    for a in range(d):
        for b in range(d):
            ops.append([[omega ** (b * col) if row == (col + a) % d else 0 for col in range(d)]
                        for row in range(d)])
    return ops
