"""The reliability qubits' tick and outcome updates as numba loops, in place (the CPU path).

Same maps as the reference (``uqo.engine.reliability``), one agent per iteration:

* ``tick(rho, n, gamma, p_star, ready, entropy)``: drift ``(1 - gamma) rho + gamma
  diag(1 - p*, p*)`` on rows ``[0, n)``, trace renormalised (round-off hygiene), then the
  diagnostics ``P(reliable)`` and the von Neumann entropy (closed-form qubit spectrum) written
  into ``ready`` and ``entropy``;
* ``observe(rho, rows, e0, e1, bad)``: Lueders update of ``rows`` (distinct) by the diagonal
  effect ``diag(e0, e1)``; a row whose outcome had probability ~0 is left as it is and flagged
  in ``bad`` for the caller's reset.

Why a hand-written loop: at a million agents the array code makes a dozen full passes over a
32 MB array; one loop reads and writes each qubit once.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import numba_cell as nc


@njit(parallel=True, cache=True, fastmath=nc.FASTMATH, nogil=True)
def _tick(rho, n, gamma, p_star, ready, entropy):
    keep = 1.0 - gamma
    for i in prange(n):
        a = keep * rho[i, 0, 0].real + gamma * (1.0 - p_star)
        d = keep * rho[i, 1, 1].real + gamma * p_star
        b = keep * complex(rho[i, 0, 1])
        tr = a + d
        a, d, b = a / tr, d / tr, b / tr
        rho[i, 0, 0] = a
        rho[i, 1, 1] = d
        rho[i, 0, 1] = b
        rho[i, 1, 0] = b.conjugate()
        ready[i] = d
        entropy[i] = nc.qubit_entropy(a, d, b)


@njit(cache=True, nogil=True)
def _observe(rho, rows, e0, e1, bad):
    for k in range(rows.shape[0]):
        i = rows[k]
        a, d = rho[i, 0, 0].real, rho[i, 1, 1].real
        norm = e0[k] * a + e1[k] * d
        if not norm > 1e-12:
            bad[k] = True
            continue
        bad[k] = False
        b = complex(rho[i, 0, 1]) * (math.sqrt(e0[k] * e1[k]) / norm)
        rho[i, 0, 0] = e0[k] * a / norm
        rho[i, 1, 1] = e1[k] * d / norm
        rho[i, 0, 1] = b
        rho[i, 1, 0] = b.conjugate()


def tick(rho: np.ndarray, n: int, gamma: float, p_star: float, ready: np.ndarray,
         entropy: np.ndarray) -> None:
    """Drift and diagnostics of rows ``[0, n)`` of ``rho`` ``(R, 2, 2)``, in place."""
    if n:
        _tick(rho, int(n), float(gamma), float(p_star), ready, entropy)


def observe(rho: np.ndarray, rows: np.ndarray, e0: np.ndarray, e1: np.ndarray) -> np.ndarray:
    """Lueders updates of distinct ``rows`` in place; returns the ``bad`` mask."""
    bad = np.zeros(len(rows), np.bool_)
    if len(rows):
        _observe(rho, np.ascontiguousarray(rows, np.int64), np.ascontiguousarray(e0, np.float64),
                 np.ascontiguousarray(e1, np.float64), bad)
    return bad
