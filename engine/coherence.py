"""Coherence of batched states in the computational basis (Baumgratz, Cramer & Plenio 2014).

Use cases::

    l1_coherence(rho)                         # sum of |off-diagonal entries|, (...)
    relative_entropy_coherence(rho, base=2)   # S(diag rho) - S(rho) in bits, (...)
"""

from __future__ import annotations

from . import _checks as ck
from ._linalg import density_entropy, shannon
from ._sites import as_state


def l1_coherence(rho, *, ket: bool | None = None):
    """``sum_{i != j} |rho_ij|`` for states ``(..., D, D)`` (or kets); real ``(...)`` in
    ``[0, D - 1]``."""
    st = as_state(rho, "rho", ket)
    xp = st.xp
    if st.ket:  # |psi_i psi_j^*| summed = (sum |psi_i|)^2 - sum |psi_i|^2
        a = xp.abs(st.x)
        return xp.clip(xp.sum(a, axis=-1) ** 2 - xp.sum(a * a, axis=-1), 0.0, None)
    total = xp.sum(xp.abs(st.x), axis=(-2, -1))
    return xp.clip(total - xp.sum(xp.abs(xp.linalg.diagonal(st.x)), axis=-1), 0.0, None)


def relative_entropy_coherence(rho, base=None, *, ket: bool | None = None):
    """``S(diag rho) - S(rho)`` (nats, ``base=2`` for bits) for states ``(..., D, D)`` (or kets);
    real ``(...)``, clipped at 0 against round-off."""
    b = ck.check_base(base)
    st = as_state(rho, "rho", ket)
    xp = st.xp
    if st.ket:
        return shannon(xp.abs(st.x) ** 2, xp, b)
    populations = xp.real(xp.linalg.diagonal(st.x))
    return xp.clip(shannon(populations, xp, b) - density_entropy(st.x, xp, b), 0.0, None)
