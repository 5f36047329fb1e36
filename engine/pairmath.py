"""Closed-form math for the register's cells: single qubits ``(C, 2, 2)`` and pairs ``(C, 4, 4)``.

The tick must touch a million cells per call, so nothing here calls a batched eigensolver
(numpy's ``eigvalsh`` on 500k 4x4 matrices takes ~0.8 s on the CI machine). Instead:

* a qubit's spectrum is ``(t +- sqrt((r00 - r11)^2 + 4|r01|^2)) / 2``;
* a pair's spectrum is the root set of its characteristic quartic, built from the power sums of
  the traceless part ``B = rho - t I/4`` (no cancellation against the trace) and solved with
  Ferrari's resolvent cubic in Viete's trigonometric form (all roots are real for Hermitian
  ``rho``); when the resolvent's largest root is well apart from the other two, those two are
  recomputed from it by Vieta's relations (``cellspectra.deflate_small_roots``), which Viete's
  form alone gets only to ~sqrt(eps) when they are close to each other and to 0. Work is done
  in float64 whatever the state's precision.

Accuracy (tests/engine_register/test_pairmath.py measures it against ``eigvalsh``): eigenvalues
to ~1e-12 for spread spectra; a cluster of k equal eigenvalues is resolved to ~eps**(1/k) at
worst (the textbook conditioning of polynomial roots). Entropies are within 1e-5 nats of
``eigvalsh`` on every degenerate family tested, including ``|0><0| (x) I/2``, which a failure
leaves in a maximally mixed pair (2-3e-4 before the deflation). The concurrence of almost pure
or rank-2 states is within ~1e-3: its eigenvalues near 0 pass through a square root, and
nothing built on the characteristic polynomial does better. That is far inside what scheduling
needs (mutual-information thresholds of ~0.1 nats); the exact functions in
``uqo.engine.entropy`` use ``eigvalsh``.

Everything here is written once against the array namespace ``xp`` of its arguments and is pure
(returns new arrays), so ``jax.jit`` fuses it and numpy runs it as is.
"""

from __future__ import annotations

from array_api_compat import array_namespace
from uqo.kernels.cellspectra import quartic_roots

# Z eigenvalue products z_i z_j for the basis |ab>, i = 2a + b, site A first: (1, -1, -1, 1).
ZZ_DIAG = (1.0, -1.0, -1.0, 1.0)
# sigma_y (x) sigma_y = antidiag(-1, 1, 1, -1): the spin-flip of Wootters' concurrence.
_FLIP_SIGN = (-1.0, 1.0, 1.0, -1.0)
_TINY = 1e-300


def xlogx(x, xp):
    """``x ln x`` with ``0 ln 0 = 0``; negative round-off is treated as 0."""
    x = xp.clip(x, 0.0, None)
    return x * xp.log(xp.clip(x, _TINY, None))


def qubit_spectrum(rho):
    """Eigenvalues ``(lo, hi)`` of Hermitian ``(..., 2, 2)`` matrices, each ``(...)`` float64."""
    xp = array_namespace(rho)
    r00 = xp.real(rho[..., 0, 0]).astype(xp.float64)
    r11 = xp.real(rho[..., 1, 1]).astype(xp.float64)
    r01 = rho[..., 0, 1].astype(xp.complex128)
    half = xp.sqrt((r00 - r11) ** 2 + 4.0 * (xp.real(r01) ** 2 + xp.imag(r01) ** 2)) / 2.0
    mid = (r00 + r11) / 2.0
    return mid - half, mid + half


def qubit_entropy(rho):
    """Von Neumann entropy (nats) of ``(..., 2, 2)`` states, float64 ``(...)``."""
    xp = array_namespace(rho)
    lo, hi = qubit_spectrum(rho)
    return -(xlogx(lo, xp) + xlogx(hi, xp))


def bloch(rho):
    """Bloch vectors ``(x, y, z)`` of ``(..., 2, 2)`` states (|0> is +z, |1> is -z)."""
    xp = array_namespace(rho)
    r01 = rho[..., 0, 1]
    return (2.0 * xp.real(r01), -2.0 * xp.imag(r01),
            xp.real(rho[..., 0, 0]) - xp.real(rho[..., 1, 1]))


def reduced_pair(rho):
    """Reduced states ``(rho_A, rho_B)``, each ``(C, 2, 2)``, of pair states ``(C, 4, 4)``."""
    xp = array_namespace(rho)
    r = xp.reshape(rho, (rho.shape[0], 2, 2, 2, 2))  # [a, b, a', b']
    rho_a = r[:, :, 0, :, 0] + r[:, :, 1, :, 1]
    rho_b = r[:, 0, :, 0, :] + r[:, 1, :, 1, :]
    return rho_a, rho_b


def _power_sums_traceless(m, xp):
    """``(q2, q3, q4)`` = traces of ``B^2, B^3, B^4`` for ``B = m - tr(m)/4 I``, float64."""
    m = m.astype(xp.complex128)
    t = xp.real(m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2] + m[:, 3, 3])
    eye = xp.eye(4, dtype=xp.float64)
    b = m - (t / 4.0)[:, None, None] * eye
    b2 = xp.matmul(b, b)
    bt = xp.matrix_transpose(b)
    q2 = xp.real(b2[:, 0, 0] + b2[:, 1, 1] + b2[:, 2, 2] + b2[:, 3, 3])
    q3 = xp.real(xp.sum(b2 * bt, axis=(1, 2)))
    q4 = xp.real(xp.sum(b2 * xp.matrix_transpose(b2), axis=(1, 2)))
    return t, q2, q3, q4


def real_quartic_roots(t, q2, q3, q4, xp):
    """Roots of the characteristic quartic of a 4x4 matrix with real spectrum, from its trace
    ``t`` and the power sums of its traceless part; four float64 arrays.

    Ferrari: with ``y^4 + P y^2 + Q y + R`` the depressed quartic, the resolvent cubic
    ``z^3 + 2P z^2 + (P^2 - 4R) z - Q^2`` has roots ``(y1+y2)^2, (y1+y3)^2, (y1+y4)^2``, and
    ``(y1+y2)(y1+y3)(y1+y4) = -Q`` fixes the signs of their square roots. The solver lives in
    ``uqo.kernels.cellspectra`` (the lowest layer) so the fused kernels and this reference share
    one implementation; tests check it against ``eigvalsh``.
    """
    return quartic_roots(t, q2, q3, q4, xp)


def pair_spectrum(rho):
    """Eigenvalues of Hermitian ``(C, 4, 4)`` matrices: a tuple of four float64 ``(C,)``."""
    xp = array_namespace(rho)
    return real_quartic_roots(*_power_sums_traceless(rho, xp), xp)


def pair_entropy(rho):
    """Von Neumann entropy (nats) of ``(C, 4, 4)`` states, float64 ``(C,)``."""
    xp = array_namespace(rho)
    return -sum(xlogx(lam, xp) for lam in pair_spectrum(rho))


def spin_flip(rho):
    """Wootters' ``(Y x Y) rho* (Y x Y)`` of ``(C, 4, 4)`` states."""
    xp = array_namespace(rho)
    s = xp.asarray(_FLIP_SIGN, dtype=xp.float64)
    sign = (s[:, None] * s[None, :]).astype(rho.dtype)
    return xp.conj(xp.flip(rho, axis=(1, 2))) * sign


def pair_concurrence(rho):
    """Wootters concurrence of ``(C, 4, 4)`` two-qubit states, float64 ``(C,)``."""
    xp = array_namespace(rho)
    m = xp.matmul(rho.astype(xp.complex128), spin_flip(rho).astype(xp.complex128))
    mu = real_quartic_roots(*_power_sums_traceless(m, xp), xp)
    lam = [xp.sqrt(xp.clip(v, 0.0, None)) for v in mu]
    top = xp.maximum(xp.maximum(lam[0], lam[1]), xp.maximum(lam[2], lam[3]))
    return xp.clip(2.0 * top - (lam[0] + lam[1] + lam[2] + lam[3]), 0.0, None)


def purity(rho):
    """``Tr rho^2`` of Hermitian ``(C, D, D)`` states (sum of squared moduli), float64 ``(C,)``."""
    xp = array_namespace(rho)
    re, im = xp.real(rho).astype(xp.float64), xp.imag(rho).astype(xp.float64)
    return xp.sum(re * re + im * im, axis=(1, 2))


def normalised_purity(rho):
    """``(D Tr rho^2 - 1) / (D - 1)`` in [0, 1]: 1 for a pure state, 0 for ``I/D``."""
    d = rho.shape[-1]
    return (d * purity(rho) - 1.0) / (d - 1.0)
