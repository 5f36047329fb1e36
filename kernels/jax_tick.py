"""The agent tick fused for ``jax.jit``: every cell's update as explicit scalar formulas.

Same contract as ``uqo.engine.tick.tick_pairs`` / ``tick_singles`` (the reference; read its
docstring for the model): same arguments ``(rho, s_before, inputs)``, returns ``(rho,
diagnostics)`` with the same keys. ``rho`` is ``(C, 4, 4)`` (pairs) or ``(C, 2, 2)`` (singles),
complex64 (or complex128); ``inputs`` a ``PairInputs`` / ``SingleInputs`` (``tick_inputs``: a
JAX pytree of ``(C,)`` real arrays and two scalars, one jit argument). Under ``jax.jit`` the whole tick becomes one
elementwise program over the cell index (XLA fuses it into one loop): the generic reference
instead runs batched 4x4 matmuls and dozens of array passes.

Precision follows the reference: the channels and rotations run in the state's real precision
(float32 for complex64), the spectra (entropies, concurrence) and the rotation angles in float64
(which needs ``jax_enable_x64``; ``uqo.engine.backend.get_backend("jax")`` turns it on).
"""

from __future__ import annotations

from . import cellspectra as cs
from .cx import Cx, hermitian
from .tick_inputs import PairInputs, SingleInputs

PAIR_DIAG_KEYS = ("s_cell", "leak", "ready_a", "ready_b", "s_a", "s_b", "mi", "concurrence",
                  "npurity")
SINGLE_DIAG_KEYS = ("s_cell", "leak", "ready", "npurity")
_PAIRS4 = [(i, j) for i in range(4) for j in range(i, 4)]


# ---- layout: (C, D, D) complex <-> Hermitian Cx rows --------------------------------------------

def load(rho, jnp):
    """Hermitian ``Cx`` rows (real precision of ``rho``) from ``(C, D, D)`` complex ``rho``."""
    d = rho.shape[-1]
    up = {}
    for i in range(d):
        for j in range(i, d):
            e = rho[:, i, j]
            up[(i, j)] = Cx(jnp.real(e)) if i == j else Cx(jnp.real(e), jnp.imag(e))
    return hermitian(up, d)


def store(m, dtype, jnp):
    """``(C, D, D)`` array of ``dtype`` from Hermitian ``Cx`` rows."""
    import jax

    d = len(m)
    zero = jnp.zeros_like(m[0][0].re)
    flat = [jax.lax.complex(m[i][j].re, zero if m[i][j].im is None else m[i][j].im)
            for i in range(d) for j in range(d)]
    return jnp.stack(flat, axis=-1).reshape((-1, d, d)).astype(dtype)


def _f64(m, jnp):
    return [[e.astype(jnp.float64) for e in row] for row in m]


# ---- channels ------------------------------------------------------------------------------

def _bit(i: int, site: int) -> int:
    """The site's bit of basis index ``i = 2a + b``."""
    return (i >> 1) & 1 if site == 0 else i & 1


def _set(i: int, site: int, v: int) -> int:
    """Basis index ``i`` with the site's bit set to ``v``."""
    return (v << 1) | (i & 1) if site == 0 else (i & 2) | v


def site_channel(m, site: int, p, q, g, jnp):
    """Depolarise (p), dephase (q), amplitude-damp (g) one site of a 4x4 Hermitian ``m``."""
    up = {}
    for i, j in _PAIRS4:
        si, sj = _bit(i, site), _bit(j, site)
        x = m[i][j].scale(1 - p)
        if si == sj:
            x = x + (m[_set(i, site, 0)][_set(j, site, 0)]
                     + m[_set(i, site, 1)][_set(j, site, 1)]).scale(p / 2)
        else:
            x = x.scale(1 - 2 * q)
        up[(i, j)] = x
    m = hermitian(up, 4)
    sg = jnp.sqrt(1 - g)
    up = {}
    for i, j in _PAIRS4:
        si, sj = _bit(i, site), _bit(j, site)
        x = m[i][j]
        if si + sj == 1:
            x = x.scale(sg)
        elif si + sj == 2:
            x = x.scale(sg * sg)
        else:
            x = x + m[_set(i, site, 1)][_set(j, site, 1)].scale(g)
        up[(i, j)] = x
    return hermitian(up, 4)


def correlated_failure(m, c):
    up = {(i, j): m[i][j].scale(1 - c) for i, j in _PAIRS4}
    up[(0, 0)] = up[(0, 0)] + Cx(c)
    return hermitian(up, 4)


def zz_coupling(m, coupling_dt, dtype, jnp):
    """``rho_ij exp(-i J dt (z_i - z_j))``; only entries with ``z_i != z_j`` change."""
    angle = jnp.asarray(2.0 * coupling_dt, jnp.float64)
    cos, sin = jnp.cos(angle).astype(dtype), jnp.sin(angle).astype(dtype)
    up = {}
    for i, j in _PAIRS4:
        dz = cs.ZZ_DIAG[i] - cs.ZZ_DIAG[j]
        up[(i, j)] = m[i][j] if dz == 0 else m[i][j] * Cx(cos, -sin if dz > 0 else sin)
    return hermitian(up, 4)


def qubit_channel(m, p, q, g, jnp):
    a, d = m[0][0].re, m[1][1].re
    a, d = (1 - p / 2) * a + (p / 2) * d, (1 - p / 2) * d + (p / 2) * a
    a, d = a + g * d, (1 - g) * d
    b = m[0][1].scale((1 - p) * (1 - 2 * q) * jnp.sqrt(1 - g))
    return hermitian({(0, 0): Cx(a), (0, 1): b, (1, 1): Cx(d)}, 2)


def reduced(m):
    """``(rho_A, rho_B)`` as 2x2 Hermitian Cx rows of a 4x4 pair ``m``."""
    ra = {(x, y): m[2 * x][2 * y] + m[2 * x + 1][2 * y + 1] for x, y in ((0, 0), (0, 1), (1, 1))}
    rb = {(x, y): m[x][y] + m[2 + x][2 + y] for x, y in ((0, 0), (0, 1), (1, 1))}
    return hermitian(ra, 2), hermitian(rb, 2)


# ---- outcome learning ----------------------------------------------------------------------

def rotation_toward(r, reward, theta0, dtype, jnp):
    """``(alpha, beta)`` of the SU(2) rotation ``[[alpha, beta], [-beta*, alpha]]`` (alpha real)
    that turns the Bloch vector of the 2x2 state ``r`` toward the reward's target; float64 math
    as ``uqo.engine.tick.rotation_toward``, result in ``dtype``."""
    f64 = jnp.float64
    x = 2.0 * r[0][1].re.astype(f64)
    y = -2.0 * r[0][1].im.astype(f64)
    z = r[0][0].re.astype(f64) - r[1][1].re.astype(f64)
    reward = reward.astype(f64)
    tz = jnp.where(reward > 0, -1.0, 1.0)
    nx, ny = y * tz, -x * tz
    norm_perp = jnp.sqrt(nx * nx + ny * ny)
    rlen = jnp.sqrt(x * x + y * y + z * z)
    cos_to = jnp.where(rlen > 0, z * tz / jnp.where(rlen > 0, rlen, 1.0), 1.0)
    gap = jnp.arccos(jnp.clip(cos_to, -1.0, 1.0))
    degenerate = norm_perp < 1e-12
    nx = jnp.where(degenerate, 0.0, nx / jnp.where(degenerate, 1.0, norm_perp))
    ny = jnp.where(degenerate, 1.0, ny / jnp.where(degenerate, 1.0, norm_perp))
    theta = jnp.minimum(theta0 * jnp.abs(reward), gap)
    theta = jnp.where(rlen > 1e-12, theta, 0.0)
    c, s = jnp.cos(theta / 2.0), jnp.sin(theta / 2.0)
    return c.astype(dtype), Cx((-s * ny).astype(dtype), (-s * nx).astype(dtype))


def _su2(alpha, beta):
    return [[Cx(alpha), beta], [-beta.conj(), Cx(alpha)]]


def conjugate_site(m, site: int, alpha, beta):
    """``(u (x) I) m (u (x) I)^dag`` (site 0) or with ``I (x) u`` (site 1), ``m`` Hermitian."""
    u = _su2(alpha, beta)
    t = [[u[_bit(i, site)][0] * m[_set(i, site, 0)][j] + u[_bit(i, site)][1] * m[_set(i, site, 1)][j]
          for j in range(4)] for i in range(4)]
    up = {(i, j): t[i][_set(j, site, 0)] * u[_bit(j, site)][0].conj()
          + t[i][_set(j, site, 1)] * u[_bit(j, site)][1].conj() for i, j in _PAIRS4}
    up = {k: (Cx(v.re) if k[0] == k[1] else v) for k, v in up.items()}
    return hermitian(up, 4)


def conjugate_qubit(m, alpha, beta):
    u = _su2(alpha, beta)
    t = [[u[i][0] * m[0][j] + u[i][1] * m[1][j] for j in range(2)] for i in range(2)]
    up = {(i, j): t[i][0] * u[j][0].conj() + t[i][1] * u[j][1].conj()
          for i, j in ((0, 0), (0, 1), (1, 1))}
    return hermitian({k: (Cx(v.re) if k[0] == k[1] else v) for k, v in up.items()}, 2)


def normalise_trace(m):
    """Divide by the trace (the reference's round-off hygiene; Hermiticity holds by layout)."""
    d = len(m)
    tr = m[0][0].re
    for i in range(1, d):
        tr = tr + m[i][i].re
    inv = 1 / tr
    return [[e.scale(inv) for e in row] for row in m]


# ---- the whole tick ----------------------------------------------------------------------------

def tick_pairs(rho, s_before, inputs: PairInputs):
    """One tick of ``(C, 4, 4)`` pair cells; see ``uqo.engine.tick.tick_pairs`` for the contract.
    Returns ``(rho, diag)`` with float64 ``(C,)`` diagnostics keyed by ``PAIR_DIAG_KEYS``."""
    import jax.numpy as jnp

    x = inputs
    real = jnp.real(rho[:1, 0, 0]).dtype
    m = load(rho, jnp)
    m = site_channel(m, 0, x.p_a, x.q_a, x.g_a, jnp)
    m = site_channel(m, 1, x.p_b, x.q_b, x.g_b, jnp)
    m = correlated_failure(m, x.c)
    s_cell = cs.pair_entropy(_f64(m, jnp), jnp)
    m = zz_coupling(m, x.coupling_dt, real, jnp)
    ra, rb = reduced(m)
    m = conjugate_site(m, 0, *rotation_toward(ra, x.r_a, x.theta0, real, jnp))
    m = conjugate_site(m, 1, *rotation_toward(rb, x.r_b, x.theta0, real, jnp))
    m = normalise_trace(m)
    ra, rb = reduced(_f64(m, jnp))
    s_a, s_b = cs.qubit_entropy(ra, jnp), cs.qubit_entropy(rb, jnp)
    m64 = _f64(m, jnp)
    diag = {"s_cell": s_cell, "leak": s_cell - s_before.astype(jnp.float64),
            "ready_a": ra[1][1].re, "ready_b": rb[1][1].re, "s_a": s_a, "s_b": s_b,
            "mi": jnp.clip(s_a + s_b - s_cell, 0.0, None),
            "concurrence": cs.pair_concurrence(m64, jnp), "npurity": cs.normalised_purity(m64)}
    return store(m, rho.dtype, jnp), diag


def tick_singles(rho, s_before, inputs: SingleInputs):
    """One tick of ``(C, 2, 2)`` single cells; see ``uqo.engine.tick.tick_singles``. Returns
    ``(rho, diag)`` with float64 ``(C,)`` diagnostics keyed by ``SINGLE_DIAG_KEYS``."""
    import jax.numpy as jnp

    x = inputs
    real = jnp.real(rho[:1, 0, 0]).dtype
    m = qubit_channel(load(rho, jnp), x.p, x.q, x.g, jnp)
    s_cell = cs.qubit_entropy(_f64(m, jnp), jnp)
    m = normalise_trace(conjugate_qubit(m, *rotation_toward(m, x.r, x.theta0, real, jnp)))
    m64 = _f64(m, jnp)
    diag = {"s_cell": s_cell, "leak": s_cell - s_before.astype(jnp.float64),
            "ready": m64[1][1].re, "npurity": cs.normalised_purity(m64)}
    return store(m, rho.dtype, jnp), diag
