"""Basic operations on batched quantum states.

States are state vectors (kets) ``(..., D)`` or density matrices ``(..., D, D)``, batched on
any number of leading axes; a function that accepts both reads a square array as density matrices
unless told ``ket=True``. ``dims`` lists the sites' dimensions, site 0 first, with
``prod(dims) == D``.

Use cases::

    rho = to_density(psi)                      # (..., D) -> (..., D, D)
    rho_a = partial_trace(rho, (2, 2), keep=0)  # reduced state of site 0, (..., 2, 2)
    p1 = expectation(rho, proj1, site=1, dims=(2, 2))   # real, (...)
"""

from __future__ import annotations

import math
import operator

from . import _checks as ck
from ._sites import State, as_state, site_dims


def normalise(state, *, ket: bool | None = None):
    """``state / norm`` for kets, ``rho / Tr(rho)`` for density matrices; shape and dtype kept.

    Raises ValueError for a zero (or NaN) norm or trace.
    """
    st = as_state(state, "state", ket, check=False)
    xp = st.xp
    if st.ket:
        scale = xp.sqrt(xp.sum(xp.abs(st.x) ** 2, axis=-1))
    else:
        scale = xp.real(xp.linalg.trace(st.x))
    if ck.is_concrete(scale) and not bool(xp.all(scale > 0)):
        raise ValueError(f"state with shape {ck.shape_of(st.x)} has a zero or negative "
                         f"{'norm' if st.ket else 'trace'}; it cannot be normalised")
    scale = xp.astype(scale, st.x.dtype)
    return st.x / (scale[..., None] if st.ket else scale[..., None, None])


def to_density(state, *, ket: bool | None = None):
    """Density matrices ``|psi><psi|`` ``(..., D, D)`` from kets ``(..., D)``; density
    matrices are checked and returned as they are."""
    st = as_state(state, "state", ket)
    return ket_outer(st.x, st.xp) if st.ket else st.x


def ket_outer(psi, xp):
    """``psi psi^dag`` for ``psi`` ``(..., D)`` (no checks)."""
    return psi[..., :, None] * xp.conj(psi)[..., None, :]


def inner(a, b):
    """``<a|b>`` for kets ``a`` and ``b`` ``(..., D)`` (batch axes broadcast); complex ``(...)``."""
    sa = as_state(a, "a", ket=True)
    xp = sa.xp
    sb = as_state(b, "b", ket=True)
    if sa.dim != sb.dim:
        raise ValueError(f"a has shape {ck.shape_of(sa.x)} and b has shape {ck.shape_of(sb.x)}: "
                         "their last axes differ")
    ck.check_broadcast("a", sa.x, sa.batch, "b", sb.x, sb.batch)
    return xp.sum(xp.conj(sa.x) * xp.asarray(sb.x), axis=-1)


def expectation(state, op, site=None, dims=None, *, ket: bool | None = None):
    """``<O>`` = ``Tr(O rho)`` (or ``<psi|O|psi>``) of a Hermitian observable, real ``(...)``.

    ``op`` is ``(d, d)`` shared or ``(..., d, d)`` batched, on the whole system (``site=None``,
    ``d == D``) or on one site of ``dims``.
    """
    st = as_state(state, "state", ket)
    xp = st.xp
    o = ck.as_complex(op, "op", xp, st.x.dtype)
    d = ck.check_square(o, "op", "(d, d) or (..., d, d)")
    ck.check_finite(o, "op", xp)
    ck.check_hermitian(o, "op", xp, relative=True)
    dims, site = site_dims(st.dim, site, dims, d)
    if dims[site] != d:
        raise ValueError(f"op has shape {ck.shape_of(o)}, but site {site} of dims={dims} has "
                         f"dimension {dims[site]}")
    red = reduce_state(st, dims, (site,)) if len(dims) > 1 else density_of(st)
    return xp.real(xp.sum(o * xp.matrix_transpose(red), axis=(-2, -1)))


def density_of(st: State):
    """The density matrices of a converted state (kets become ``|psi><psi|``)."""
    return ket_outer(st.x, st.xp) if st.ket else st.x


def _keep_tuple(keep, n: int) -> tuple[int, ...]:
    try:
        out = (operator.index(keep),) if not hasattr(keep, "__iter__") else tuple(
            operator.index(k) for k in keep)
    except TypeError:
        raise ValueError(f"keep={keep!r} must be a site index or a sequence of them") from None
    if not out or len(set(out)) != len(out) or any(not 0 <= k < n for k in out):
        raise ValueError(f"keep={keep!r} must be distinct site indices in [0, {n})")
    return out


def partial_trace(rho, dims, keep, *, ket: bool | None = None):
    """Reduced state of the sites ``keep`` (an index or a sequence, in that order).

    ``rho`` is ``(..., D, D)`` (or kets ``(..., D)``); returns ``(..., Dk, Dk)`` with
    ``Dk = prod(dims[k] for k in keep)``.
    """
    st = as_state(rho, "rho", ket)
    dims = ck.check_dims(dims, st.dim)
    return reduce_state(st, dims, _keep_tuple(keep, len(dims)))


def reduce_state(st: State, dims: tuple[int, ...], keep: tuple[int, ...]):
    """Core of ``partial_trace`` for a converted, checked state (no checks here)."""
    xp = st.xp
    traced = tuple(s for s in range(len(dims)) if s not in keep)
    dk = math.prod(dims[k] for k in keep)
    b = len(st.batch)
    lead = tuple(range(b))
    if st.ket:
        x = xp.reshape(st.x, st.batch + dims)
        x = xp.permute_dims(x, lead + tuple(b + s for s in keep + traced))
        m = xp.reshape(x, st.batch + (dk, st.dim // dk))
        return xp.matmul(m, ck.dagger(m, xp))
    n = len(dims)
    x = xp.reshape(st.x, st.batch + dims + dims)
    order = [b + k for k in keep] + [b + n + k for k in keep]
    order += [b + t for t in traced] + [b + n + t for t in traced]
    x = xp.permute_dims(x, lead + tuple(order))
    x = xp.reshape(x, st.batch + (dk, dk, st.dim // dk, st.dim // dk))
    return xp.linalg.trace(x)


def purity(rho, *, ket: bool | None = None):
    """``Tr(rho^2)`` in ``[1/D, 1]``, real ``(...)`` (1 for kets)."""
    st = as_state(rho, "rho", ket)
    xp = st.xp
    if st.ket:
        return xp.ones(st.batch, dtype=ck.real_dtype(st.x.dtype, xp))
    return xp.sum(xp.real(st.x) ** 2 + xp.imag(st.x) ** 2, axis=(-2, -1))
