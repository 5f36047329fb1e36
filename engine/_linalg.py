"""Small Hermitian-matrix helpers shared by the entropy, fidelity and measurement code.

Written once against the array namespace of the argument; batched on leading axes.
"""

from __future__ import annotations

import math

from . import _checks as ck


def xlogx(x, xp):
    """``x ln x`` elementwise with ``0 ln 0 = 0``; negative round-off is clipped to 0 first."""
    x = xp.clip(x, 0.0, None)
    pos = x > 0
    return xp.where(pos, x * xp.log(xp.where(pos, x, 1.0)), 0.0)


def shannon(p, xp, base: float | None = None):
    """``-sum p ln p`` over the last axis (divided by ``ln base`` when given); never NaN."""
    h = -xp.sum(xlogx(p, xp), axis=-1)
    return h if base is None else h / math.log(base)


def psd_sqrt(x, xp):
    """Square root of positive semidefinite ``(..., D, D)`` matrices (eigenvalues clipped at 0)."""
    w, v = xp.linalg.eigh(x)
    root = xp.astype(xp.sqrt(xp.clip(w, 0.0, None)), x.dtype)
    return xp.matmul(v * root[..., None, :], ck.dagger(v, xp))


def density_entropy(x, xp, base: float | None = None):
    """Von Neumann entropy of Hermitian ``(..., D, D)`` matrices from their spectrum (no checks)."""
    return shannon(xp.linalg.eigvalsh(x), xp, base)
