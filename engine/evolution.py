"""Unitary evolution of batched states: ``exp(-i H t)``, one-site unitaries, the QFT and
split-step (Strang) evolution through it.

Use cases::

    psi_t = evolve(psi, H, 0.1)                  # H (D, D) shared or (..., D, D) batched
    rho_t = evolve(rho, H, t)                    # rho -> U rho U^dag, t scalar or (...)
    out = apply_unitary(rho, hadamard, site=1, dims=(2, 2))
    phi = qft(psi, site=0, dims=(4, 2))          # unitary DFT on site 0
    psi = split_step(psi, diag, mixer_eigs, dt, site=0, dims=(4, 2))

``evolve`` uses the closed form for a qubit,
``exp(-iHt) = e^{-i a t} (cos(|b| t) I - i sin(|b| t) b.sigma / |b|)`` for ``H = a I + b.sigma``,
and the eigendecomposition ``V exp(-i w t) V^dag`` otherwise.
"""

from __future__ import annotations

from . import _checks as ck
from ._sites import apply_op, as_state, site_dims, split

_TINY = 1e-30


def real_array(x, name: str, xp, dtype):
    """A finite real array (or scalar) of ``dtype``; complex input is an error."""
    try:
        arr = xp.asarray(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={x!r} is not a real number or array") from None
    if xp.isdtype(arr.dtype, "complex floating"):
        raise ValueError(f"{name} with shape {ck.shape_of(arr)} must be real, got {arr.dtype}")
    arr = xp.astype(arr, dtype)
    ck.check_finite(arr, name, xp)
    return arr


def hamiltonian(H, xp, dtype, dim: int | None = None):
    """``H`` converted to ``dtype`` and checked: finite, Hermitian, ``(..., D, D)``."""
    h = ck.as_complex(H, "H", xp, dtype)
    d = ck.check_square(h, "H", "(D, D) or (..., D, D)")
    if dim is not None and d != dim:
        raise ValueError(f"H has shape {ck.shape_of(h)}, but the state has dimension D={dim}")
    ck.check_finite(h, "H", xp)
    ck.check_hermitian(h, "H", xp, relative=True)
    return h


def propagator(H, t):
    """``U = exp(-i H t)`` for Hermitian ``H`` ``(..., D, D)`` and real ``t`` (scalar or a batch
    shape broadcasting with H's); returns ``(..., D, D)`` in H's complex dtype."""
    xp = ck.namespace(H)
    h = hamiltonian(H, xp, ck.as_complex(H, "H", xp).dtype)
    tt = real_array(t, "t", xp, ck.real_dtype(h.dtype, xp))
    ck.check_broadcast("H", h, ck.shape_of(h)[:-2], "t", tt, ck.shape_of(tt))
    return _propagator(h, tt, xp)


def _propagator(h, t, xp):
    return _qubit_propagator(h, t, xp) if h.shape[-1] == 2 else _eigh_propagator(h, t, xp)


def _qubit_propagator(h, t, xp):
    """Closed form for ``(..., 2, 2)``: ``H = a I + bx X + by Y + bz Z``."""
    a = xp.real(h[..., 0, 0] + h[..., 1, 1]) / 2
    bz = xp.real(h[..., 0, 0] - h[..., 1, 1]) / 2
    h10 = (h[..., 1, 0] + xp.conj(h[..., 0, 1])) / 2
    bx, by = xp.real(h10), xp.imag(h10)
    nb = xp.sqrt(bx * bx + by * by + bz * bz)
    big = nb > _TINY
    s = xp.where(big, xp.sin(nb * t) / xp.where(big, nb, 1.0), t)  # sin(|b|t)/|b| -> t at b=0
    c = xp.cos(nb * t)
    phase = xp.exp(-1j * (a * t))
    entries = (c - 1j * (s * bz), -(s * by) - 1j * (s * bx),
               s * by - 1j * (s * bx), c + 1j * (s * bz))
    u = xp.stack([phase * e for e in entries], axis=-1)
    return xp.astype(xp.reshape(u, ck.shape_of(u)[:-1] + (2, 2)), h.dtype)


def _eigh_propagator(h, t, xp):
    w, v = xp.linalg.eigh(h)
    phases = xp.exp(-1j * (w * t[..., None]))
    return xp.matmul(v * xp.astype(phases, h.dtype)[..., None, :], ck.dagger(v, xp))


def evolve(state, H, t, *, ket: bool | None = None):
    """``exp(-i H t)`` applied to kets ``(..., D)`` (``U psi``) or density matrices
    ``(..., D, D)`` (``U rho U^dag``). ``H`` is ``(D, D)`` shared or ``(..., D, D)`` batched,
    ``t`` a real scalar or batch array; all batch axes broadcast. Keeps the state's dtype.
    """
    st = as_state(state, "state", ket)
    xp = st.xp
    h = hamiltonian(H, xp, st.x.dtype, st.dim)
    tt = real_array(t, "t", xp, ck.real_dtype(st.x.dtype, xp))
    ck.check_broadcast("H", h, ck.shape_of(h)[:-2], "t", tt, ck.shape_of(tt))
    ck.check_broadcast("state", st.x, st.batch, "H", h, ck.shape_of(h)[:-2])
    ck.check_broadcast("state", st.x, st.batch, "t", tt, ck.shape_of(tt))
    return apply_op(st, _propagator(h, tt, xp), (st.dim,), 0)


def apply_unitary(state, U, site=None, dims=None, *, ket: bool | None = None):
    """``U`` on the whole system (``site=None``, U ``(D, D)``) or on one site of ``dims``
    (U ``(d, d)``; without ``dims``, equal sites of dimension d are assumed). ``U`` may be
    batched ``(..., d, d)``. Kets become ``U psi``, density matrices ``U rho U^dag``.
    """
    st = as_state(state, "state", ket)
    xp = st.xp
    u = ck.as_complex(U, "U", xp, st.x.dtype)
    d = ck.check_square(u, "U", "(d, d) or (..., d, d)")
    ck.check_finite(u, "U", xp)
    ck.check_unitary(u, "U", xp)
    dims, site = site_dims(st.dim, site, dims, d)
    if dims[site] != d:
        raise ValueError(f"U has shape {ck.shape_of(u)}, but site {site} of dims={dims} has "
                         f"dimension {dims[site]}")
    ck.check_broadcast("state", st.x, st.batch, "U", u, ck.shape_of(u)[:-2])
    return apply_op(st, u, dims, site)


def _dft(psi, dims, site, xp, inverse: bool):
    """Unitary DFT on one site of kets ``(..., D)``: the QFT ``(F psi)_k = sum_j
    e^{+2 pi i jk/d} psi_j / sqrt(d)`` is numpy's orthonormal *inverse* FFT."""
    pre, d, post = split(dims, site)
    batch = ck.shape_of(psi)[:-1]
    x = xp.reshape(psi, batch + (pre, d, post))
    x = xp.fft.fft(x, axis=-2, norm="ortho") if inverse else xp.fft.ifft(x, axis=-2, norm="ortho")
    return xp.reshape(x, batch + (pre * d * post,))


def _ket_site(psi, site, dims):
    st = as_state(psi, "psi", ket=True)
    dims, site = site_dims(st.dim, site, dims)
    return st, dims, site


def qft(psi, site=None, dims=None):
    """Quantum Fourier transform (unitary DFT) on one site of kets ``(..., D)``; ``site=None``
    (or ``dims=None``) transforms the whole system as one site."""
    st, dims, site = _ket_site(psi, site, dims)
    return _dft(st.x, dims, site, st.xp, inverse=False)


def iqft(psi, site=None, dims=None):
    """Inverse of ``qft`` on the same site."""
    st, dims, site = _ket_site(psi, site, dims)
    return _dft(st.x, dims, site, st.xp, inverse=True)


def split_step(psi, diag, mixer_eigs, dt, site=None, dims=None):
    """One Strang step of ``H = diag(diag) + M_site`` with the cyclic mixer
    ``M = F^dag diag(mixer_eigs) F`` (F = the QFT on ``site``):
    ``exp(-i diag dt/2) -> QFT -> exp(-i mixer_eigs dt) -> iQFT -> exp(-i diag dt/2)``.

    ``psi`` ``(..., D)``; ``diag`` real ``(D,)`` or ``(..., D)``; ``mixer_eigs`` real ``(d,)`` or
    ``(..., d)`` with ``d = dims[site]``; ``dt`` real scalar or ``(...)``. Local error O(dt^3).
    """
    st, dims, site = _ket_site(psi, site, dims)
    xp = st.xp
    rd = ck.real_dtype(st.x.dtype, xp)
    v = real_array(diag, "diag", xp, rd)
    m = real_array(mixer_eigs, "mixer_eigs", xp, rd)
    tau = real_array(dt, "dt", xp, rd)
    _check_last(v, "diag", st.dim)
    _check_last(m, "mixer_eigs", dims[site])
    for name, arr, batch in (("diag", v, v.shape[:-1]), ("mixer_eigs", m, m.shape[:-1]),
                             ("dt", tau, tau.shape)):
        ck.check_broadcast("psi", st.x, st.batch, name, arr, batch)
    half = xp.astype(xp.exp(-0.5j * (v * tau[..., None])), st.x.dtype)
    x = _dft(half * st.x, dims, site, xp, inverse=False)
    pre, d, post = split(dims, site)
    kick = xp.astype(xp.exp(-1j * (m * tau[..., None])), st.x.dtype)[..., None, :, None]
    x = xp.reshape(x, ck.shape_of(x)[:-1] + (pre, d, post)) * kick
    x = xp.reshape(x, ck.shape_of(x)[:-3] + (st.dim,))
    return half * _dft(x, dims, site, xp, inverse=True)


def _check_last(x, name: str, n: int) -> None:
    if x.ndim < 1 or x.shape[-1] != n:
        raise ValueError(f"{name} has shape {ck.shape_of(x)}; expected (..., {n})")
