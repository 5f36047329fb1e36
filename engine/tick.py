"""One tick of the agent belief model, as pure functions over batches of cells.

The formulas are those of DESIGN.md section 4, written down in docs/engine.md (agent model):
for a tick of length ``dt`` and an agent silent for ``tau``:

1. staleness: depolarise the agent's site with ``p = 1 - exp(-(lambda0 + lambda1 tau) dt)`` and
   dephase it with ``q = (1 - exp(-kappa dt)) / 2``;
2. past the heartbeat deadline: amplitude damping toward |0> with ``g = 1 - exp(-mu dt)``;
3. pairs: correlated failure ``rho -> (1 - c) rho + c |00><00|`` with ``c = 1 - exp(-rate dt)``;
   the cell entropy after steps 1-3, minus the entropy before the tick, is the tick's leakage;
4. pairs: ZZ coupling ``U = exp(-i J dt Z x Z)`` (diagonal: a fixed phase pattern);
5. outcome learning: reward ``r`` rotates the site's Bloch vector toward |1> (``r > 0``) or |0>
   (``r < 0``) by ``theta = min(theta0 |r|, angle to the target)`` (no overshoot);
6. diagnostics of the result: readiness, reduced entropies, purity, pair MI and concurrence.

Steps 4 and 5 are unitary on the cell, so the cell entropy computed after step 3 is also the
entropy at the end of the tick; it is carried to the next tick as the "before" value.

Inputs are device arrays of one backend (``xp`` is taken from ``rho``); ``rho`` is ``(C, 4, 4)``
(pairs) or ``(C, 2, 2)`` (singles); the per-cell parameters come as one value, ``PairInputs`` or
``SingleInputs`` (``uqo.kernels.tick_inputs``: ``(C,)`` float arrays named as above, and the
scalars). Functions return new arrays, so ``jax.jit`` compiles each into one fused program (the
register's JAX store does that; the inputs are a JAX pytree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from array_api_compat import array_namespace
from uqo.kernels.tick_inputs import PairInputs, SingleInputs

from . import pairmath as pm


@dataclass(frozen=True)
class TickParams:
    """Rates and measurement strengths of the agent belief model (per second of model time;
    docs/model.md states each map). The first block drives the liveness cells' channels, the
    second the evidence and the reliability qubits. ``heartbeat_period`` 0 and ``hazard`` 0
    (the defaults) leave the liveness cells as the one-factor model had them; the scheduler and
    the service set both."""

    lambda0: float = 0.01      # base depolarising rate
    lambda1: float = 0.002     # growth of the depolarising rate per second of silence
    kappa: float = 0.005       # extra dephasing rate
    deadline: float = 30.0     # heartbeat deadline (s): past it, amplitude damping toward |0>
    mu: float = 0.05           # damping rate past the deadline
    corr_rate: float = 0.001   # default correlated-failure rate of a failure-domain pair
    coupling: float = 0.05     # J of the in-pair ZZ interaction
    theta0: float = math.pi / 4  # rotation per unit reward
    heartbeat_error: float = 0.05  # e: false-alive rate of the heartbeat POVM
    hazard: float = 0.0        # lone failure rate: damping toward down, every tick
    heartbeat_period: float = 0.0  # agents' heartbeat period (s); 0: no silence measurement
    heartbeat_grace: float = 0.5   # how late (s) a heartbeat may be before it counts as missed
    heartbeat_loss: float = 0.05   # prior P(a live agent's heartbeat is lost)
    loss_strength: float = 20.0    # weight of that prior, in heartbeats
    timeout_alive: float = 0.05    # t: P(a live agent does not answer in time)
    success_reliable: float = 0.98    # s1: P(success) of a reliable agent
    success_unreliable: float = 0.5   # s0: P(success) of an unreliable agent
    reliable_prior: float = 0.9       # p0: P(reliable) of an agent never seen
    reliability_drift: float = 1.0 / 1800.0   # nu: rate old reliability evidence fades ...
    drift_target: float = 0.5                 # ... toward p* = drift_target
    extra: dict = field(default_factory=dict, compare=False)

    def validate(self) -> None:
        for name in ("lambda0", "lambda1", "kappa", "deadline", "mu", "corr_rate", "theta0",
                     "hazard", "heartbeat_period", "heartbeat_grace", "loss_strength",
                     "reliability_drift"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"TickParams.{name} must be finite and >= 0, got {value!r}")
        for name in ("heartbeat_loss", "timeout_alive", "success_reliable",
                     "success_unreliable", "reliable_prior", "drift_target"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 < value < 1.0):
                raise ValueError(f"TickParams.{name} must be in (0, 1), got {value!r}")
        if self.success_unreliable >= self.success_reliable:
            raise ValueError("TickParams.success_unreliable must be below success_reliable, "
                             f"got {self.success_unreliable!r} >= {self.success_reliable!r}")
        if not 0.0 <= self.heartbeat_error < 0.5:
            raise ValueError("TickParams.heartbeat_error must be in [0, 0.5), "
                             f"got {self.heartbeat_error!r}")
        if not math.isfinite(self.coupling):
            raise ValueError(f"TickParams.coupling must be finite, got {self.coupling!r}")


# ---- channels on one site of a pair --------------------------------------------------------------

def kron_site(x, y, site):
    """``(C, 4, 4)`` operator acting as ``x`` on ``site`` and ``y`` on the other site.

    ``x`` and ``y`` are ``(2, 2)`` or ``(C, 2, 2)``; the basis is ``|ab>``, index ``2a + b``.
    """
    xp = array_namespace(x, y)
    first, second = (x, y) if site == 0 else (y, x)
    if first.ndim == 2:
        first = first[None]
    if second.ndim == 2:
        second = second[None]
    k = first[:, :, None, :, None] * second[:, None, :, None, :]
    c = max(first.shape[0], second.shape[0])
    return xp.reshape(xp.broadcast_to(k, (c, 2, 2, 2, 2)), (c, 4, 4))


def site_block(rho, site, x, xprime):
    """The ``(C, 2, 2)`` block ``<x| rho |x'>`` of ``site`` (an operator on the other site)."""
    r = rho.reshape(rho.shape[0], 2, 2, 2, 2)  # [a, b, a', b']
    return r[:, x, :, xprime, :] if site == 0 else r[:, :, x, :, xprime]


def site_channel(rho, site, p, q, g):
    """Depolarise (p), dephase (q), then amplitude-damp (g) one site of ``(C, 4, 4)`` pairs.

    ``p, q, g`` are ``(C,)`` real. Depolarising: ``(1 - p) rho + p (I/2)_site (x) Tr_site rho``;
    dephasing: coherences of the site scaled by ``1 - 2q``; damping: Kraus operators
    ``K0 = diag(1, sqrt(1 - g))`` and ``K1 = sqrt(g) |0><1|`` on the site.
    """
    xp = array_namespace(rho)
    eye = xp.eye(2, dtype=rho.dtype)
    other = site_block(rho, site, 0, 0) + site_block(rho, site, 1, 1)
    pc = p[:, None, None]
    rho = (1 - pc) * rho + pc * kron_site(eye / 2, other, site)
    off = kron_site(1 - eye, xp.ones((2, 2), dtype=rho.dtype), site)
    rho = rho * (1 - 2 * q[:, None, None] * off)
    s = xp.sqrt(1 - g)
    k0 = kron_site(xp.asarray([[0, 0], [1, 1]], dtype=rho.dtype), xp.ones((2, 2), dtype=rho.dtype),
                   site)  # 1 where the site's row index is 1
    k0t = xp.matrix_transpose(k0)
    sc = s[:, None, None]
    scale = (1 + (sc - 1) * k0) * (1 + (sc - 1) * k0t)
    e00 = xp.asarray([[1, 0], [0, 0]], dtype=rho.dtype)
    moved = kron_site(e00, site_block(rho, site, 1, 1), site)
    return rho * scale + g[:, None, None] * moved


def qubit_channel(rho, p, q, g):
    """The same three channels on single-qubit cells ``(C, 2, 2)``."""
    xp = array_namespace(rho)
    a, d = xp.real(rho[:, 0, 0]), xp.real(rho[:, 1, 1])
    a, d = (1 - p / 2) * a + (p / 2) * d, (1 - p / 2) * d + (p / 2) * a
    a, d = a + g * d, (1 - g) * d
    b = rho[:, 0, 1] * ((1 - p) * (1 - 2 * q) * xp.sqrt(1 - g))
    row0 = xp.stack([a.astype(rho.dtype), b], axis=-1)
    row1 = xp.stack([xp.conj(b), d.astype(rho.dtype)], axis=-1)
    return xp.stack([row0, row1], axis=-2)


def correlated_failure(rho, c):
    """``(1 - c) rho + c |00><00|`` on ``(C, 4, 4)`` pairs, ``c`` of shape ``(C,)``."""
    xp = array_namespace(rho)
    proj = xp.zeros((4, 4), dtype=rho.dtype)
    proj = xp.where(xp.reshape(xp.arange(16), (4, 4)) == 0, xp.asarray(1, dtype=rho.dtype), proj)
    cc = c[:, None, None]
    return (1 - cc) * rho + cc * proj


def zz_phase(coupling_dt, dtype, xp):
    """The ``(4, 4)`` phase pattern ``exp(-i J dt (z_i - z_j))`` of the ZZ coupling."""
    z = xp.asarray(pm.ZZ_DIAG, dtype=xp.float64)
    angle = -coupling_dt * (z[:, None] - z[None, :])
    return (xp.cos(angle) + 1j * xp.sin(angle)).astype(dtype)


# ---- outcome learning -------------------------------------------------------------------------

def rotation_toward(rho_site, reward, theta0):
    """Per-cell SU(2) rotation ``(C, 2, 2)`` that turns the Bloch vector toward the target.

    The target is |1> (-z) for ``reward > 0`` and |0> (+z) for ``reward < 0``; the axis is
    ``r x target`` normalised; the angle ``min(theta0 |reward|, angle(r, target))``. Cells with
    zero reward, or whose Bloch vector is already on the target, get the identity; a vector
    exactly opposite the target turns about the y axis.
    """
    xp = array_namespace(rho_site)
    x, y, z = (v.astype(xp.float64) for v in pm.bloch(rho_site))
    reward = reward.astype(xp.float64)
    tz = xp.where(reward > 0, -1.0, 1.0)
    # axis = r x (0, 0, tz) = (y tz, -x tz, 0)
    nx, ny = y * tz, -x * tz
    norm_perp = xp.sqrt(nx * nx + ny * ny)
    rlen = xp.sqrt(x * x + y * y + z * z)
    cos_to = xp.where(rlen > 0, z * tz / xp.where(rlen > 0, rlen, 1.0), 1.0)
    gap = xp.acos(xp.clip(cos_to, -1.0, 1.0))
    degenerate = norm_perp < 1e-12
    nx = xp.where(degenerate, 0.0, nx / xp.where(degenerate, 1.0, norm_perp))
    ny = xp.where(degenerate, 1.0, ny / xp.where(degenerate, 1.0, norm_perp))
    theta = xp.minimum(theta0 * xp.abs(reward), gap)
    theta = xp.where(rlen > 1e-12, theta, 0.0)
    c, s = xp.cos(theta / 2.0), xp.sin(theta / 2.0)
    # exp(-i theta/2 (nx X + ny Y)) = c I - i s (nx X + ny Y)
    u01 = (-1j * s * nx - s * ny)
    u10 = (-1j * s * nx + s * ny)
    cc = c + 0j
    u = xp.stack([xp.stack([cc, u01], axis=-1), xp.stack([u10, cc], axis=-1)], axis=-2)
    return u.astype(rho_site.dtype)


def conjugate(rho, u):
    """``u rho u^dag`` for batched square matrices."""
    xp = array_namespace(rho)
    return xp.matmul(xp.matmul(u, rho), xp.conj(xp.matrix_transpose(u)))


def local_pair_unitary(u_a, u_b):
    """``(C, 4, 4)`` Kronecker products ``u_a (x) u_b`` of per-cell ``(C, 2, 2)`` unitaries."""
    xp = array_namespace(u_a)
    k = u_a[:, :, None, :, None] * u_b[:, None, :, None, :]
    return xp.reshape(k, (u_a.shape[0], 4, 4))


def _hygiene(rho, xp):
    """Remove round-off drift: Hermitian part, unit trace. The maps above are exactly trace
    preserving (tests check them against their Kraus forms in float64); in complex64 ten
    thousand ticks of round-off would otherwise move the trace by ~3e-5."""
    rho = (rho + xp.conj(xp.matrix_transpose(rho))) / 2
    d = rho.shape[-1]
    tr = sum(xp.real(rho[:, i, i]) for i in range(d))
    return rho / tr[:, None, None].astype(rho.dtype)


# ---- the whole tick ----------------------------------------------------------------------------

def tick_pairs(rho, s_before, inputs: PairInputs):
    """One tick of ``(C, 4, 4)`` pair cells. Returns ``(rho, diagnostics)``.

    ``s_before`` is each cell's entropy before the tick; ``inputs`` holds the per-site channel
    strengths ``p_*, q_*, g_*``, the correlated-failure probability ``c``, the summed rewards
    ``r_*`` queued for each site (0: none), all ``(C,)``, and the scalars ``coupling_dt``
    (J dt) and ``theta0``. Diagnostics (float64 ``(C,)``): ``s_cell, leak, ready_a, ready_b,
    s_a, s_b, mi, concurrence, npurity``.
    """
    x = inputs
    xp = array_namespace(rho)
    rho = site_channel(rho, 0, x.p_a, x.q_a, x.g_a)
    rho = site_channel(rho, 1, x.p_b, x.q_b, x.g_b)
    rho = correlated_failure(rho, x.c)
    s_cell = pm.pair_entropy(rho)
    rho = rho * zz_phase(x.coupling_dt, rho.dtype, xp)
    rho_a, rho_b = pm.reduced_pair(rho)
    u = local_pair_unitary(rotation_toward(rho_a, x.r_a, x.theta0),
                           rotation_toward(rho_b, x.r_b, x.theta0))
    rho = conjugate(rho, u)
    rho = _hygiene(rho, xp)
    rho_a, rho_b = pm.reduced_pair(rho)
    s_a, s_b = pm.qubit_entropy(rho_a), pm.qubit_entropy(rho_b)
    diag = {
        "s_cell": s_cell, "leak": s_cell - s_before,
        "ready_a": xp.real(rho_a[:, 1, 1]).astype(xp.float64),
        "ready_b": xp.real(rho_b[:, 1, 1]).astype(xp.float64),
        "s_a": s_a, "s_b": s_b, "mi": xp.clip(s_a + s_b - s_cell, 0.0, None),
        "concurrence": pm.pair_concurrence(rho), "npurity": pm.normalised_purity(rho),
    }
    return rho, diag


def tick_singles(rho, s_before, inputs: SingleInputs):
    """One tick of ``(C, 2, 2)`` single-agent cells; ``inputs`` holds ``p, q, g, r`` (``(C,)``)
    and ``theta0``. Returns ``(rho, diagnostics)`` with ``s_cell, leak, ready, npurity``
    (float64 ``(C,)``)."""
    xp = array_namespace(rho)
    x = inputs
    rho = qubit_channel(rho, x.p, x.q, x.g)
    s_cell = pm.qubit_entropy(rho)
    rho = conjugate(rho, rotation_toward(rho, x.r, x.theta0))
    rho = _hygiene(rho, xp)
    diag = {"s_cell": s_cell, "leak": s_cell - s_before,
            "ready": xp.real(rho[:, 1, 1]).astype(xp.float64),
            "npurity": pm.normalised_purity(rho)}
    return rho, diag
