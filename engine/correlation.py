"""Correlation matrices of observables across agents, with their eigendecomposition.

``samples`` holds S observations (rows) of N variables (columns), e.g. the readiness of N agents
over S ticks, optionally batched ``(..., S, N)``. The result is the Pearson correlation matrix
``(..., N, N)`` and its eigenpairs, largest first: the leading eigenvector is the dominant mode of
co-movement (agents that fail together), its eigenvalue the variance that mode explains.

Use cases::

    corr = correlation_matrix(readiness_history)     # (S, N) -> Correlation
    corr.matrix[i, j]                                # in [-1, 1]
    corr.eigenvalues[0] / N                          # share of the leading mode
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import _checks as ck


class Correlation(NamedTuple):
    """``matrix`` ``(..., N, N)``; ``eigenvalues`` ``(..., N)`` in decreasing order;
    ``eigenvectors`` ``(..., N, N)`` with column ``j`` belonging to ``eigenvalues[..., j]``."""

    matrix: Any
    eigenvalues: Any
    eigenvectors: Any


def _real_samples(samples):
    xp = ck.namespace(samples)
    x = xp.asarray(samples)
    if xp.isdtype(x.dtype, "complex floating") or not xp.isdtype(
            x.dtype, ("real floating", "integral", "bool")):
        raise ValueError(f"samples has dtype {x.dtype}; expected real numbers")
    if not xp.isdtype(x.dtype, "real floating"):
        x = xp.astype(x, xp.float64)
    if x.ndim < 2 or x.shape[-2] < 2 or x.shape[-1] < 1:
        raise ValueError(f"samples has shape {ck.shape_of(x)}; expected (..., S, N) with S >= 2 "
                         "observations of N >= 1 variables")
    ck.check_finite(x, "samples", xp)
    return xp, x


def correlation_matrix(samples) -> Correlation:
    """Pearson correlations of the columns of ``samples`` ``(..., S, N)`` and their eigenpairs.

    A variable that never changes (zero variance) has no defined correlation; it gets 0 against
    every other variable and 1 with itself, so the matrix stays a valid correlation matrix (no
    NaN). Float32 input stays float32; integers become float64.
    """
    xp, x = _real_samples(samples)
    centred = x - xp.mean(x, axis=-2, keepdims=True)
    cov = xp.matmul(xp.matrix_transpose(centred), centred)
    var = xp.linalg.diagonal(cov)
    scale = xp.sqrt(xp.clip(var, 0.0, None))
    # Centring leaves round-off of ~eps * |x| per entry in a constant column: below 100x that
    # the column counts as constant.
    size = xp.max(xp.abs(x), axis=-2) * (x.shape[-2] ** 0.5)
    live = scale > 100 * xp.finfo(x.dtype).eps * size
    inv = xp.where(live, 1.0 / xp.where(live, scale, 1.0), 0.0)
    corr = cov * inv[..., :, None] * inv[..., None, :]
    n = x.shape[-1]
    eye = xp.eye(n, dtype=x.dtype)
    corr = corr * (1 - eye) + eye  # exact ones on the diagonal, also for constant variables
    corr = xp.clip((corr + xp.matrix_transpose(corr)) / 2, -1.0, 1.0)
    w, v = xp.linalg.eigh(corr)
    return Correlation(corr, xp.flip(w, axis=-1), xp.flip(v, axis=-1))
