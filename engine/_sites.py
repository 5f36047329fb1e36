"""Site layout of a multi-site state: operators on one site, and the state/kind conversion.

A system of sites with dimensions ``dims`` has ``D = prod(dims)``, site 0 first (the most
significant digit of the basis index). Acting on site ``s`` with a ``d x d`` operator is a matmul
on a reshaped view ``(..., pre, d, post)`` where ``pre = prod(dims[:s])`` and
``post = prod(dims[s+1:])``: no ``kron`` with identities is ever built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import _checks as ck


@dataclass(frozen=True)
class State:
    """A converted, checked state: ``x`` is ``(..., D)`` when ``ket`` else ``(..., D, D)``."""

    xp: Any
    x: Any
    ket: bool
    dim: int

    @property
    def batch(self) -> tuple[int, ...]:
        return ck.shape_of(self.x)[: self.x.ndim - (1 if self.ket else 2)]


def is_ket_shape(x, ket: bool | None) -> bool:
    """How to read ``x``: ``ket`` if given, else a density matrix iff the last two axes are equal.

    A batch of ``D`` state vectors of length ``D`` is square too: pass ``ket=True`` for it.
    """
    if ket is not None:
        return bool(ket)
    return not (x.ndim >= 2 and x.shape[-1] == x.shape[-2])


def as_state(state, name: str = "state", ket: bool | None = None, check: bool = True) -> State:
    """Convert ``state`` (kets ``(..., D)`` or density matrices ``(..., D, D)``) and check it.

    With ``check`` the state must be finite and normalised (density matrices also Hermitian).
    """
    xp = ck.namespace(state)
    x = ck.as_complex(state, name, xp)
    if is_ket_shape(x, ket):
        dim = ck.check_ket(x, name, xp) if check else _ket_dim(x, name, xp)
        return State(xp, x, True, dim)
    try:
        dim = ck.check_density(x, name, xp) if check else ck.check_square(x, name)
    except ValueError as exc:
        if ket is None:  # the square shape was a guess: say how to read it the other way
            raise ValueError(f"{exc} (read as density matrices; pass ket=True for a batch "
                             "of state vectors)") from None
        raise
    if not check:
        ck.check_finite(x, name, xp)
    return State(xp, x, False, dim)


def _ket_dim(x, name, xp) -> int:
    ck.check_ndim(x, name, 1, "state vectors (..., D)")
    ck.check_finite(x, name, xp)
    return int(x.shape[-1])


def site_dims(dim: int, site, dims, op_dim: int | None = None) -> tuple[tuple[int, ...], int]:
    """``(dims, site)`` checked for a state of dimension ``dim``.

    ``site=None`` means the whole system (``dims=(dim,)``, site 0). With a site but no ``dims``,
    equal sites of the operator's dimension ``op_dim`` are assumed when ``dim`` is a power of it.
    """
    if site is None:
        if dims is not None:
            ck.check_dims(dims, dim)
        return (dim,), 0
    if dims is None:
        dims = _equal_sites(dim, op_dim, site)
    dims = ck.check_dims(dims, dim)
    return dims, ck.check_site(site, dims)


def _equal_sites(dim: int, op_dim: int | None, site) -> tuple[int, ...]:
    if op_dim is None or op_dim < 2:
        if site == 0:
            return (dim,)
        raise ValueError(f"site={site!r} given without dims: pass dims, e.g. dims=(2, 2)")
    n = round(math.log(dim, op_dim))
    if op_dim ** n != dim:
        raise ValueError(f"site={site!r} given without dims, and D={dim} is not a power of the "
                         f"operator's dimension {op_dim}: pass dims")
    return (op_dim,) * n


def split(dims: tuple[int, ...], site: int) -> tuple[int, int, int]:
    """``(pre, d, post)`` around ``site``."""
    return math.prod(dims[:site]), dims[site], math.prod(dims[site + 1:])


def left_apply(x, op, dims, site, xp):
    """``(op on site) @ x`` for ``x`` of shape ``(..., D, M)`` and ``op`` ``(..., d, d)``.

    Batch axes of ``x`` and ``op`` broadcast. Returns ``(..., D, M)``.
    """
    pre, d, post = split(dims, site)
    batch = ck.shape_of(x)[:-2]
    m = x.shape[-1]
    y = xp.reshape(x, batch + (pre, d, post * m))
    y = xp.matmul(op[..., None, :, :], y)
    return xp.reshape(y, ck.shape_of(y)[:-3] + (pre * d * post, m))


def apply_op(st: State, op, dims, site):
    """``op`` on one site of a state: ``op psi`` for kets, ``op rho op^dag`` for density
    matrices. ``op`` is ``(..., d, d)``; batch axes broadcast."""
    xp = st.xp
    if st.ket:
        return left_apply(st.x[..., None], op, dims, site, xp)[..., 0]
    half = left_apply(st.x, op, dims, site, xp)
    return ck.dagger(left_apply(ck.dagger(half, xp), op, dims, site, xp), xp)
