"""The reliability factor of the agent belief: one qubit per agent, ``|1>`` = reliable.

Use cases::

    rho = prior_states(n, p0=0.9, xp=np)              # (n, 2, 2), diag(1 - p0, p0)
    rho = drift(rho, gamma, p_star)                   # one tick: forget toward p_star
    e0, e1 = outcome_effects(success, s0, s1)         # a task outcome's effect diag(e0, e1)
    rho = lueders_diagonal(rho, e0, e1)               # Lueders update with that effect
    p = reliability(rho); s = qubit_entropy(rho)      # diagnostics

The agent's liveness (alive/down) lives apart, in the engine's failure-domain cells; a task
outcome is evidence on both factors (``uqo.engine.evidence``). Here:

* drift, the reliability's staleness: ``rho -> (1 - gamma) rho + gamma sigma*`` with
  ``sigma* = diag(1 - p*, p*)`` and ``gamma = 1 - exp(-nu dt)`` (a replacement channel; Kraus
  operators ``sqrt(1 - gamma) I``, ``sqrt(gamma (1 - p*)) |0><i|``, ``sqrt(gamma p*) |1><i|``
  for ``i = 0, 1``): an agent's reliability can change, so old evidence fades toward ``p*``;
* outcome measurement: a reliable agent completes a task with probability ``s1``, an
  unreliable one with ``s0``, so success has effect ``E = diag(s0, s1)`` and failure
  ``I - E``; the update is Lueders' ``sqrt(E) rho sqrt(E) / Tr(E rho)``. Effects that are
  diagonal commute, so several outcomes between two ticks compose into one effect (the
  product of their diagonals): the order of a batch does not matter.

Arrays: ``rho`` ``(C, 2, 2)`` complex, per-cell parameters ``(C,)`` real or scalars; every
function returns new arrays and works on numpy, CuPy and jax.numpy (``xp`` from ``rho``).
"""

from __future__ import annotations

from array_api_compat import array_namespace

from .pairmath import qubit_entropy

__all__ = ["drift", "lueders_diagonal", "outcome_effects", "prior_states", "qubit_entropy",
           "reliability", "success_probability"]


def prior_states(n: int, p0, xp, dtype=None):
    """``(n, 2, 2)`` copies of ``diag(1 - p0, p0)``: what we believe of an agent never seen."""
    dtype = dtype or xp.complex64
    one = xp.reshape(xp.asarray([[1.0 - p0, 0.0], [0.0, p0]], dtype=dtype), (1, 2, 2))
    return xp.broadcast_to(one, (n, 2, 2)) + xp.zeros((n, 2, 2), dtype=dtype)


def drift(rho, gamma, p_star):
    """The replacement channel ``(1 - gamma) rho + gamma diag(1 - p*, p*)``."""
    xp = array_namespace(rho)
    g = xp.asarray(gamma, dtype=xp.real(rho).dtype)
    g = xp.reshape(g, (-1, 1, 1)) if g.ndim else g
    target = xp.asarray([[1.0 - p_star, 0.0], [0.0, p_star]], dtype=rho.dtype)
    return (1 - g) * rho + g * target


def lueders_diagonal(rho, e0, e1):
    """Lueders update of each qubit by the effect ``diag(e0, e1)`` (``(C,)`` or scalars in
    ``[0, 1]``). Where the outcome had probability ~0 the state becomes the effect's likeliest
    basis state (the model was certain otherwise; the evidence wins)."""
    xp = array_namespace(rho)
    real = xp.real(rho).dtype
    e0 = xp.reshape(xp.asarray(e0, dtype=real), (-1,))
    e1 = xp.reshape(xp.asarray(e1, dtype=real), (-1,))
    a, d = xp.real(rho[:, 0, 0]), xp.real(rho[:, 1, 1])
    norm = e0 * a + e1 * d
    ok = norm > 1e-12
    safe = xp.where(ok, norm, 1.0)
    a2 = xp.where(ok, e0 * a / safe, xp.astype(e0 >= e1, real))
    d2 = xp.where(ok, e1 * d / safe, xp.astype(e0 < e1, real))
    b2 = rho[:, 0, 1] * xp.astype(xp.where(ok, xp.sqrt(e0 * e1) / safe, 0.0), rho.dtype)
    row0 = xp.stack([xp.astype(a2, rho.dtype), b2], axis=-1)
    row1 = xp.stack([xp.conj(b2), xp.astype(d2, rho.dtype)], axis=-1)
    return xp.stack([row0, row1], axis=-2)


def outcome_effects(success, s0, s1):
    """``(e0, e1)`` of a task outcome on the reliability qubit: ``(s0, s1)`` for a success,
    ``(1 - s0, 1 - s1)`` for a failure (``success`` a bool or an array of them)."""
    xp = array_namespace(success) if hasattr(success, "__array_namespace__") else None
    if xp is None:
        return (s0, s1) if success else (1.0 - s0, 1.0 - s1)
    return xp.where(success, s0, 1.0 - s0), xp.where(success, s1, 1.0 - s1)


def reliability(rho):
    """``P(reliable) = <1|rho|1>`` per qubit."""
    xp = array_namespace(rho)
    return xp.real(rho[:, 1, 1])


def success_probability(p_alive, p_reliable, s0, s1):
    """Probability that a task given to the agent now completes: it must be alive, then it
    succeeds with ``s1`` if reliable and ``s0`` if not."""
    return p_alive * (s0 + (s1 - s0) * p_reliable)
