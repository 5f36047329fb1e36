"""The agent tick as one parallel numba loop over cells: the fast CPU path.

Why a hand-written loop and not the array code: on a 2-core CPU the reference spends its time in
batched 4x4 matmuls and dozens of full-array passes, and XLA's CPU backend splits the fused JAX
tick into ~70 loops that each re-read the state (docs/gpu.md has the measurements). Here every
cell is loaded once, updated in registers/L1 in float64, written back in place, and its
diagnostics written once; cells with no queued reward skip the rotation, and provably separable
cells skip the concurrence eigenproblem (both exact: see ``numba_cell``).

Two entry points per cell kind:

* ``tick_pairs`` / ``tick_singles``: the reference's signature ``(rho, s_before, inputs)`` and
  result (new arrays), for tests and one-off use;
* ``pairs_inplace`` / ``singles_inplace``: update ``rho`` and ``s_cell`` in place and write the
  diagnostics into a preallocated ``(K, C)`` float64 buffer (rows in ``PAIR_KEYS`` /
  ``SINGLE_KEYS`` order): no allocation per tick. ``NumbaStore`` (``numba_store``) uses these.

``inputs`` is a ``PairInputs`` / ``SingleInputs`` (``tick_inputs``); the wrappers unpack it into
the compiled loops' positional arguments.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import njit, prange

from . import numba_cell as nc
from .tick_inputs import PairInputs, SingleInputs
from .validate import check_cells

PAIR_KEYS = ("s_cell", "leak", "ready_a", "ready_b", "s_a", "s_b", "mi", "concurrence",
             "npurity")
SINGLE_KEYS = ("s_cell", "leak", "ready", "npurity")
_CHUNK = 2048  # cells per scheduling unit: one set of scratch matrices each


@njit(parallel=True, cache=True, fastmath=nc.FASTMATH, nogil=True)
def _pairs_kernel(rho, s_cell, pa, pb, qa, qb, ga, gb, c, ra, rb, coupling_dt, theta0, out):
    n = rho.shape[0]
    phase = cmath.exp(complex(0.0, -2.0 * coupling_dt))  # exp(-i J dt (z_i - z_j)), z_i - z_j = 2
    for chunk in prange((n + _CHUNK - 1) // _CHUNK):
        sc = np.empty((5, 4, 4), np.complex128)
        m, t, mt, b, b2 = sc[0], sc[1], sc[2], sc[3], sc[4]
        for k in range(chunk * _CHUNK, min(n, (chunk + 1) * _CHUNK)):
            for i in range(4):
                for j in range(4):
                    m[i, j] = rho[k, i, j]
            nc.site_channel(m, t, 0, pa[k], qa[k], ga[k])
            nc.site_channel(m, t, 1, pb[k], qb[k], gb[k])
            for i in range(4):
                for j in range(4):
                    m[i, j] = (1.0 - c[k]) * m[i, j]
            m[0, 0] += c[k]
            s = nc.pair_entropy(m, b)
            for i in range(4):
                for j in range(4):
                    dz = (1 if i == 0 or i == 3 else -1) - (1 if j == 0 or j == 3 else -1)
                    if dz > 0:
                        m[i, j] *= phase
                    elif dz < 0:
                        m[i, j] *= phase.conjugate()
            if ra[k] != 0 or rb[k] != 0:  # zero reward: the rotation is exactly the identity
                al, be = nc.rotation((m[0, 0] + m[1, 1]).real, (m[2, 2] + m[3, 3]).real,
                                     m[0, 2] + m[1, 3], ra[k], theta0)
                bl, bb = nc.rotation((m[0, 0] + m[2, 2]).real, (m[1, 1] + m[3, 3]).real,
                                     m[0, 1] + m[2, 3], rb[k], theta0)
                nc.conjugate_site(m, t, 0, al, be)
                nc.conjugate_site(m, t, 1, bl, bb)
            nc.hygiene(m, 4)
            for i in range(4):
                for j in range(4):
                    rho[k, i, j] = m[i, j]
            _pair_diagnostics(m, s, s_cell[k], mt, t, b, b2, out, k)
            s_cell[k] = s


@njit(inline="always", cache=True, nogil=True)
def _pair_diagnostics(m, s, s_before, mt, t, b, b2, out, k):
    a00, a11, a01 = (m[0, 0] + m[1, 1]).real, (m[2, 2] + m[3, 3]).real, m[0, 2] + m[1, 3]
    b00, b11, b01 = (m[0, 0] + m[2, 2]).real, (m[1, 1] + m[3, 3]).real, m[0, 1] + m[2, 3]
    s_a, s_b = nc.qubit_entropy(a00, a11, a01), nc.qubit_entropy(b00, b11, b01)
    pur = 0.0
    for i in range(4):
        for j in range(4):
            pur += m[i, j].real ** 2 + m[i, j].imag ** 2
    out[0, k] = s
    out[1, k] = s - s_before
    out[2, k] = a11
    out[3, k] = b11
    out[4, k] = s_a
    out[5, k] = s_b
    out[6, k] = max(s_a + s_b - s, 0.0)
    out[7, k] = nc.concurrence(m, pur, mt, t, b, b2)
    out[8, k] = (4.0 * pur - 1.0) / 3.0


@njit(parallel=True, cache=True, fastmath=nc.FASTMATH, nogil=True)
def _singles_kernel(rho, s_cell, p, q, g, r, theta0, out):
    n = rho.shape[0]
    for k in prange(n):
        a, d, z = rho[k, 0, 0].real, rho[k, 1, 1].real, complex(rho[k, 0, 1])
        a, d = (1 - p[k] / 2) * a + (p[k] / 2) * d, (1 - p[k] / 2) * d + (p[k] / 2) * a
        a, d = a + g[k] * d, (1 - g[k]) * d
        z = z * ((1 - p[k]) * (1 - 2 * q[k]) * math.sqrt(1 - g[k]))
        s = nc.qubit_entropy(a, d, z)
        if r[k] != 0:
            al, be = nc.rotation(a, d, z, r[k], theta0)
            a, d, z = _rotate_qubit(a, d, z, al, be)
        tr = a + d
        a, d, z = a / tr, d / tr, z / tr
        rho[k, 0, 0], rho[k, 1, 1] = a, d
        rho[k, 0, 1], rho[k, 1, 0] = z, z.conjugate()
        out[0, k] = s
        out[1, k] = s - s_cell[k]
        out[2, k] = d
        out[3, k] = 2.0 * (a * a + d * d + 2.0 * (z.real ** 2 + z.imag ** 2)) - 1.0
        s_cell[k] = s


@njit(inline="always", cache=True, nogil=True)
def _rotate_qubit(a, d, z, al, be):
    """``u rho u^dag`` for ``u = [[al, be], [-be*, al]]`` and ``rho = [[a, z], [z*, d]]``."""
    u10 = -be.conjugate()
    t00, t01 = al * a + be * z.conjugate(), al * z + be * d
    t10, t11 = u10 * a + al * z.conjugate(), u10 * z + al * d
    n00 = t00 * al + t01 * be.conjugate()
    n01 = t00 * u10.conjugate() + t01 * al
    n11 = t10 * u10.conjugate() + t11 * al
    return n00.real, n11.real, n01


nc.flush_stale_caches("numba_tick", (_pairs_kernel, _singles_kernel, _pair_diagnostics,
                                     _rotate_qubit))


def pairs_inplace(rho, s_cell, inputs: PairInputs, out) -> None:
    """Tick ``(C, 4, 4)`` pair cells in place. ``inputs``: nine C-contiguous ``(C,)`` arrays and
    the two scalars; ``out``: ``(9, C')`` float64, ``C' >= C``."""
    params = inputs.per_cell()
    check_cells(rho, s_cell, params, 4, out, len(PAIR_KEYS), host=True)
    _pairs_kernel(rho, s_cell, *params, float(inputs.coupling_dt), float(inputs.theta0), out)


def singles_inplace(rho, s_cell, inputs: SingleInputs, out) -> None:
    """Tick ``(C, 2, 2)`` single cells in place. ``inputs``: ``p, q, g, r`` each ``(C,)``."""
    params = inputs.per_cell()
    check_cells(rho, s_cell, params, 2, out, len(SINGLE_KEYS), host=True)
    _singles_kernel(rho, s_cell, *params, float(inputs.theta0), out)


def tick_pairs(rho, s_before, inputs: PairInputs):
    """Reference signature: returns ``(new rho, diagnostics)``; inputs are not modified."""
    rho, s = np.array(rho, order="C"), np.array(s_before, np.float64)
    out = np.empty((len(PAIR_KEYS), rho.shape[0]))
    pairs_inplace(rho, s, inputs.map_cells(np.ascontiguousarray), out)
    return rho, dict(zip(PAIR_KEYS, out))


def tick_singles(rho, s_before, inputs: SingleInputs):
    """Reference signature: returns ``(new rho, diagnostics)``; inputs are not modified."""
    rho, s = np.array(rho, order="C"), np.array(s_before, np.float64)
    out = np.empty((len(SINGLE_KEYS), rho.shape[0]))
    singles_inplace(rho, s, inputs.map_cells(np.ascontiguousarray), out)
    return rho, dict(zip(SINGLE_KEYS, out))
