"""Between-tick observations on host copies of the touched cells: the Lueders updates of a
heartbeat (weak measurement) or an observed failure (projective), both diagonal on the site."""

from __future__ import annotations

import numpy as np


def lueders_pairs(rho, sites, m0, m1):
    """Lueders update by the diagonal site operator ``M = diag(m0, m1)`` on host pair cells
    ``(C, 4, 4)``: ``(M rho M) / Tr(M rho M)`` on each cell's ``site``. ``M`` (x) I is diagonal,
    so the update scales entry ``(i, j)`` by ``v_i v_j`` with ``v_i = m[site bit of i]``. If the
    outcome had probability ~0 (the model was certain otherwise) the site is reset to the
    outcome's state and the partner keeps its reduced state."""
    bits = np.array([[0, 0, 1, 1], [0, 1, 0, 1]])[sites]           # (C, 4) site bit of i
    v = np.where(bits == 1, m1[:, None], m0[:, None])               # (C, 4)
    new = rho * (v[:, :, None] * v[:, None, :]).astype(rho.dtype)
    tr = np.real(np.trace(new, axis1=1, axis2=2))
    good = tr > 1e-12
    new[good] /= tr[good, None, None]
    for c in np.flatnonzero(~good):
        outcome = np.diag([float(m0[c] ** 2 >= m1[c] ** 2), float(m0[c] ** 2 < m1[c] ** 2)])
        other = other_reduced(rho[c:c + 1], int(sites[c]), np)[0]
        new[c] = np.kron(outcome, other) if sites[c] == 0 else np.kron(other, outcome)
    return new


def other_reduced(rho, site, xp):
    r = xp.reshape(rho, (rho.shape[0], 2, 2, 2, 2))
    return r[:, 0, :, 0, :] + r[:, 1, :, 1, :] if site == 0 else r[:, :, 0, :, 0] + r[:, :, 1, :, 1]


def lueders_singles(rho, xp, m0, m1):
    m = xp.asarray(np.stack([m0, m1], axis=-1).astype(np.float64))
    new = rho * (m[:, :, None] * m[:, None, :]).astype(rho.dtype)
    tr = xp.real(new[:, 0, 0] + new[:, 1, 1])
    state = np.zeros(rho.shape, rho.dtype)
    state[:, 0, 0], state[:, 1, 1] = m0 ** 2 >= m1 ** 2, m0 ** 2 < m1 ** 2
    good = (tr > 1e-12)[:, None, None]
    return xp.where(good, new / xp.where(good[:, 0, 0], tr, 1.0)[:, None, None], xp.asarray(state))
