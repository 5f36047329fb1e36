"""Entropies, entanglement measures and fidelity of batched states.

All results are real arrays ``(...)`` over the batch axes, in nats (``base=2`` gives bits), with
``0 ln 0 = 0``: eigenvalues are clipped at 0 so round-off never turns into NaN. Functions that
take ``rho`` also accept kets ``(..., D)`` (read through ``|psi><psi|``; see ``uqo.engine.states``
for how square arrays are read).

Use cases::

    von_neumann_entropy(rho_a, base=2)        # bits, (...)
    entanglement_entropy(psi, (2, 2))         # Schmidt entropy of site 0 against the rest
    mutual_information(rho, (2, 2))           # S(A) + S(B) - S(AB)
    concurrence(rho)                          # two qubits, Wootters
    negativity(rho, (2, 3))                   # (||rho^T_B||_1 - 1) / 2
    fidelity(rho, sigma)                      # (Tr |sqrt(rho) sqrt(sigma)|)^2
"""

from __future__ import annotations

from . import _checks as ck
from ._linalg import density_entropy, psd_sqrt, shannon
from ._sites import State, as_state
from .states import density_of, reduce_state


def von_neumann_entropy(rho, base=None, *, ket: bool | None = None):
    """``S(rho) = -Tr rho ln rho`` for ``(..., D, D)`` states; real ``(...)``."""
    b = ck.check_base(base)
    st = as_state(rho, "rho", ket)
    return _entropy(st, b)


def _entropy(st: State, base):
    xp = st.xp
    if st.ket:
        return xp.zeros(st.batch, dtype=ck.real_dtype(st.x.dtype, xp))
    return density_entropy(st.x, xp, base)


def entanglement_entropy(psi, dims, base=None):
    """Entropy of site 0 against the rest for pure states ``psi`` ``(..., D)``, from the Schmidt
    values (singular values of ``psi`` reshaped to ``(d0, D / d0)``); real ``(...)``."""
    b = ck.check_base(base)
    st = as_state(psi, "psi", ket=True)
    dims = ck.check_dims(dims, st.dim)
    xp = st.xp
    m = xp.reshape(st.x, st.batch + (dims[0], st.dim // dims[0]))
    return shannon(xp.linalg.svdvals(m) ** 2, xp, b)


def _two_sites(dims, dim: int) -> tuple[int, ...]:
    dims = ck.check_dims(dims, dim)
    if len(dims) < 2:
        raise ValueError(f"dims={dims} has one site; a bipartite quantity needs at least two")
    return dims


def mutual_information(rho, dims, base=None, *, ket: bool | None = None):
    """``I(A:B) = S(A) + S(B) - S(AB)`` between site 0 (A) and site 1 (B); other sites are
    traced out first. Real ``(...)``, clipped at 0 against round-off."""
    b = ck.check_base(base)
    st = as_state(rho, "rho", ket)
    dims = _two_sites(dims, st.dim)
    xp = st.xp
    s_a = density_entropy(reduce_state(st, dims, (0,)), xp, b)
    s_b = density_entropy(reduce_state(st, dims, (1,)), xp, b)
    if len(dims) == 2:
        s_ab = _entropy(st, b)
    else:
        s_ab = density_entropy(reduce_state(st, dims, (0, 1)), xp, b)
    return xp.clip(s_a + s_b - s_ab, 0.0, None)


def _spin_flip(dtype, xp):
    """``sigma_y (x) sigma_y`` = antidiag(-1, 1, 1, -1), shape (4, 4)."""
    signs = xp.asarray([-1.0, 1.0, 1.0, -1.0], dtype=dtype)
    return xp.flip(xp.eye(4, dtype=dtype), axis=-1) * signs[:, None]


def concurrence(rho, *, ket: bool | None = None):
    """Wootters concurrence of two-qubit states ``(..., 4, 4)``, real ``(...)`` in [0, 1].

    ``C = max(0, l1 - l2 - l3 - l4)`` with ``l`` the decreasing square roots of the eigenvalues
    of ``rho (Y x Y) rho* (Y x Y)``, computed as the singular values of
    ``sqrt(rho) (Y x Y) sqrt(rho)*`` (a Hermitian route, no non-symmetric eigensolver).
    """
    st = as_state(rho, "rho", ket)
    if st.dim != 4:
        raise ValueError(f"rho has shape {ck.shape_of(st.x)}; concurrence needs two qubits (D=4)")
    xp = st.xp
    s = psd_sqrt(density_of(st), xp)
    lam = xp.linalg.svdvals(xp.matmul(xp.matmul(s, _spin_flip(s.dtype, xp)), xp.conj(s)))
    lam = xp.sort(lam, axis=-1, descending=True)
    return xp.clip(lam[..., 0] - xp.sum(lam[..., 1:], axis=-1), 0.0, None)


def negativity(rho, dims, *, ket: bool | None = None):
    """``(||rho^T_B||_1 - 1) / 2`` with A = site 0 and B = the other sites; real ``(...)``.

    Computed as the sum of the magnitudes of the negative eigenvalues of the partial transpose
    (equal for unit trace, and exactly non-negative).
    """
    st = as_state(rho, "rho", ket)
    dims = _two_sites(dims, st.dim)
    xp = st.xp
    da, db = dims[0], st.dim // dims[0]
    x = xp.reshape(density_of(st), st.batch + (da, db, da, db))
    b = len(st.batch)
    x = xp.permute_dims(x, tuple(range(b)) + (b, b + 3, b + 2, b + 1))
    w = xp.linalg.eigvalsh(xp.reshape(x, st.batch + (st.dim, st.dim)))
    return xp.sum(xp.clip(-w, 0.0, None), axis=-1)


def fidelity(a, b, *, ket: bool | None = None):
    """Squared Uhlmann fidelity ``(Tr |sqrt(a) sqrt(b)|)^2`` in [0, 1], real ``(...)``.

    ``a`` and ``b`` are kets ``(..., D)`` or density matrices ``(..., D, D)`` in any mix (batch
    axes broadcast); for kets it is ``|<a|b>|^2``, for a ket and a density matrix ``<a|b|a>``.
    """
    sa = as_state(a, "a", ket)
    sb = as_state(b, "b", ket)
    if sa.dim != sb.dim:
        raise ValueError(f"a has shape {ck.shape_of(sa.x)} and b has shape "
                         f"{ck.shape_of(sb.x)}: their dimensions D differ")
    ck.check_broadcast("a", sa.x, sa.batch, "b", sb.x, sb.batch)
    xp = sa.xp
    x, y = sa.x, xp.asarray(sb.x)
    if sa.ket and sb.ket:
        f = xp.abs(xp.sum(xp.conj(x) * y, axis=-1)) ** 2
    elif sa.ket or sb.ket:
        psi, rho = (x, y) if sa.ket else (y, x)
        f = xp.real(xp.sum(xp.conj(psi) * xp.matmul(rho, psi[..., None])[..., 0], axis=-1))
    else:
        f = xp.sum(xp.linalg.svdvals(xp.matmul(psd_sqrt(x, xp), psd_sqrt(y, xp))), axis=-1) ** 2
    return xp.clip(f, 0.0, 1.0)
