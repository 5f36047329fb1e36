"""Closed-form spectra of a cell written on matrix entries (``Cx`` lists of ``(C,)`` arrays).

The same formulas as ``uqo.engine.pairmath`` (the reference): qubit spectrum by the 2x2 formula;
pair spectrum as the roots of the characteristic quartic, from the power sums of the traceless
part ``B = m - tr(m) I / 4``, by Ferrari's resolvent cubic solved in Viete's trigonometric form;
Wootters' concurrence from the spectrum of ``rho (Y x Y) rho* (Y x Y)``. Callers pass float64
entries (the quartic needs them) and ``xp``, an array namespace with ``sqrt, log, cos, acos,
clip, where, maximum`` (jax.numpy here). kernels/ does not import the engine (the dependency
runs kernels <- engine), so the three constants below are duplicated from pairmath; a test checks
they agree.
"""

from __future__ import annotations

import math

from .cx import Cx, matmul, trace_re

ZZ_DIAG = (1.0, -1.0, -1.0, 1.0)      # z_i z_j for |ab>, i = 2a + b
FLIP_SIGN = (-1.0, 1.0, 1.0, -1.0)    # sigma_y (x) sigma_y = antidiag(-1, 1, 1, -1)
TINY = 1e-300


def xlogx(x, xp):
    """``x ln x`` with ``0 ln 0 = 0``; negative round-off counts as 0."""
    x = xp.clip(x, 0.0, None)
    return x * xp.log(xp.clip(x, TINY, None))


def qubit_spectrum(m, xp):
    """``(lo, hi)`` eigenvalues of a Hermitian 2x2 ``m`` (list of rows of Cx)."""
    r00, r11, r01 = m[0][0].re, m[1][1].re, m[0][1]
    half = xp.sqrt((r00 - r11) ** 2 + 4.0 * r01.abs2()) / 2.0
    mid = (r00 + r11) / 2.0
    return mid - half, mid + half


def qubit_entropy(m, xp):
    lo, hi = qubit_spectrum(m, xp)
    return -(xlogx(lo, xp) + xlogx(hi, xp))


def traceless_power_sums(m, hermitian_input: bool):
    """``(t, q2, q3, q4)``: trace of ``m`` and traces of ``B^2, B^3, B^4``, ``B = m - t I/4``."""
    t = trace_re(m)
    shift = t / 4.0
    b = [[(m[i][j] - Cx(shift)) if i == j else m[i][j] for j in range(4)] for i in range(4)]
    b2 = matmul(b, b, hermitian_result=hermitian_input)
    q2 = trace_re(b2)
    q3 = _re_trace_product(b2, b)
    q4 = _re_trace_product(b2, b2)
    return t, q2, q3, q4


def _re_trace_product(a, b):
    """``Re tr(a b)`` = ``Re sum_ij a_ij b_ji``."""
    total = None
    for i in range(4):
        for j in range(4):
            x, y = a[i][j], b[j][i]
            term = x.re * y.re
            if x.im is not None and y.im is not None:
                term = term - x.im * y.im
            total = term if total is None else total + term
    return total


def cubic_real_roots(a2, a1, a0, xp):
    """The three real roots of ``z^3 + a2 z^2 + a1 z + a0`` (Viete), as pairmath does."""
    p = a1 - a2 * a2 / 3.0
    q = 2.0 * a2 ** 3 / 27.0 - a2 * a1 / 3.0 + a0
    m = xp.sqrt(xp.clip(-p / 3.0, 0.0, None))
    m3 = m * m * m
    safe = m3 > 1e-150
    arg = xp.where(safe, -q / (2.0 * xp.where(safe, m3, 1.0)), 0.0)
    phi = xp.acos(xp.clip(arg, -1.0, 1.0)) / 3.0
    shift = a2 / 3.0
    return tuple(2.0 * m * xp.cos(phi - 2.0 * math.pi * k / 3.0) - shift for k in range(3))


def deflate_small_roots(z1, z2, z3, a2, a0, xp):
    """The two smaller roots of the resolvent cubic again, from the largest one by Vieta.

    The resolvent's roots are squares ``(y_i + y_j)^2 >= 0``. When two of them are close to each
    other and to 0 (a spectrum with two degenerate pairs, as ``|0><0| (x) I/2``, the state a
    failure leaves in a mixed cell), Viete's form gets them with an absolute error ~sqrt(eps),
    and their square roots turn that into ~1e-5 errors in eigenvalues near 0, ~2e-4 nats of
    entropy. When the largest root is well apart from the others (``z2 < z1 / 2``) it is
    accurate, so the other two follow from ``z2 + z3 = -a2 - z1`` and ``z2 z3 = -a0 / z1`` with
    the stable quadratic formula (errors ~eps). A triple root (a pure state) keeps Viete's
    values, which are accurate there.
    """
    use = (z1 > TINY) & (z2 < 0.5 * z1)
    z1s = xp.where(use, z1, 1.0)
    s = xp.clip(-a2 - z1, 0.0, None)
    prod = xp.clip(-a0 / z1s, 0.0, None)
    big = (s + xp.sqrt(xp.clip(s * s - 4.0 * prod, 0.0, None))) / 2.0
    small = xp.where(big > TINY, prod / xp.where(big > TINY, big, 1.0), 0.0)
    return xp.where(use, big, z2), xp.where(use, small, z3)


def quartic_roots(t, q2, q3, q4, xp):
    """Four real roots of the characteristic quartic (Ferrari), as pairmath does."""
    big_p = -q2 / 2.0
    big_q = -q3 / 3.0
    big_r = (q2 * q2 / 2.0 - q4) / 4.0
    a2, a1, a0 = 2.0 * big_p, big_p * big_p - 4.0 * big_r, -big_q * big_q
    z1, z2, z3 = cubic_real_roots(a2, a1, a0, xp)
    z2, z3 = deflate_small_roots(z1, z2, z3, a2, a0, xp)
    s1 = xp.sqrt(xp.clip(z1, 0.0, None))
    s2 = xp.sqrt(xp.clip(z2, 0.0, None))
    s3 = xp.sqrt(xp.clip(z3, 0.0, None))
    s3 = xp.where(big_q > 0, -s3, s3)
    c = t / 4.0
    return ((s1 + s2 + s3) / 2.0 + c, (s1 - s2 - s3) / 2.0 + c,
            (-s1 + s2 - s3) / 2.0 + c, (-s1 - s2 + s3) / 2.0 + c)


def pair_entropy(rho, xp):
    """Von Neumann entropy (nats) of a Hermitian 4x4 ``rho`` given as float64 Cx rows."""
    lam = quartic_roots(*traceless_power_sums(rho, hermitian_input=True), xp)
    return -(xlogx(lam[0], xp) + xlogx(lam[1], xp) + xlogx(lam[2], xp) + xlogx(lam[3], xp))


def spin_flip(rho):
    """Wootters' ``(Y x Y) rho* (Y x Y)``: entry ``(i, j)`` is ``s_i s_j conj(rho[3-i][3-j])``."""
    return [[rho[3 - i][3 - j].conj().scale(FLIP_SIGN[i] * FLIP_SIGN[j]) for j in range(4)]
            for i in range(4)]


def pair_concurrence(rho, xp):
    """Wootters concurrence of a 4x4 state given as float64 Cx rows."""
    m = matmul(rho, spin_flip(rho))
    mu = quartic_roots(*traceless_power_sums(m, hermitian_input=False), xp)
    lam = [xp.sqrt(xp.clip(v, 0.0, None)) for v in mu]
    top = xp.maximum(xp.maximum(lam[0], lam[1]), xp.maximum(lam[2], lam[3]))
    return xp.clip(2.0 * top - (lam[0] + lam[1] + lam[2] + lam[3]), 0.0, None)


def purity(rho):
    """``Tr rho^2`` = sum of squared moduli of a Hermitian matrix's entries."""
    n = len(rho)
    total = None
    for i in range(n):
        for j in range(i, n):
            w = rho[i][j].abs2() * (1.0 if i == j else 2.0)
            total = w if total is None else total + w
    return total


def normalised_purity(rho):
    d = len(rho)
    return (d * purity(rho) - 1.0) / (d - 1.0)


__all__ = [
    "FLIP_SIGN",
    "TINY",
    "ZZ_DIAG",
    "normalised_purity",
    "pair_concurrence",
    "pair_entropy",
    "quartic_roots",
    "qubit_entropy",
]
