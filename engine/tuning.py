"""Variational tuning: fit the belief model's rates and measurement strengths to a recorded
trace by JAX autodiff through the tick.

Use cases::

    data = replay_data(n_agents, n_ticks, dt, heartbeat_s, pairs, events)   # from a trace
    nll, n = outcome_nll(params, data)           # mean -log P(outcome) under the model
    tuned, report = fit(params, data)            # L-BFGS-B on the mean NLL's gradient
    evaluate(tuned, heldout)                     # the same score on a trace not fitted to

The replay runs the register's own tick, tick by tick (``lax.scan``): the queued observations
of the tick (heartbeats, detections, outcomes: Lueders updates by their diagonal effects, the
table of ``evidence``), then model time advances: silence past an expected heartbeat
(``1, loss^k``), staleness depolarising, hazard damping and the pair's correlated failure
(``tick.site_channel``, ``tick.correlated_failure``, ``tick.qubit_channel``) on the liveness
cells, drift on the reliability qubits (``reliability.drift``). Before each tick's events the
model predicts every outcome it is about to see, from the belief it holds then::

    P(success) = a (1 - t) s,  P(failure) = a (1 - t) (1 - s),  P(timeout) = 1 - a (1 - t)

(``a`` liveness, ``s = s0 + (s1 - s0) r`` with ``r`` reliability, ``t`` the chance a live agent
does not answer in time). The objective is the mean negative log-likelihood of the outcomes
(prequential log loss): the forecast a scheduler reads, scored on what happened next.
Rates are fitted in log space, probabilities in logit space; ``params`` is any object with the
``TickParams`` attribute names (a dict is returned).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

HEARTBEAT, DOWN, SUCCESS, FAILURE, TIMEOUT = range(5)

# name -> "rate" (fitted as log) or "prob" (fitted as logit)
TUNABLE = {"lambda0": "rate", "lambda1": "rate", "hazard": "rate", "corr_rate": "rate",
           "heartbeat_error": "prob", "heartbeat_loss": "prob", "timeout_alive": "prob",
           "success_reliable": "prob", "success_unreliable": "prob", "reliable_prior": "prob",
           "reliability_drift": "rate", "drift_target": "prob"}
FIXED = ("loss_strength", "heartbeat_grace")
_EPS = 1e-12


@dataclass(frozen=True)
class ReplayData:
    """A trace as dense per-tick arrays (``(T, N)`` event counts) plus the cell layout."""

    n_agents: int
    n_ticks: int
    dt: float
    period: float
    pairs: np.ndarray      # (P, 2)
    singles: np.ndarray    # (S,)
    counts: np.ndarray     # (T, N, 5) int: events of each kind per tick and agent
    compiled: dict = field(default_factory=dict, compare=False, repr=False)  # jitted losses

    @property
    def outcomes(self) -> int:
        return int(self.counts[:, :, SUCCESS:].sum())


def replay_data(n_agents: int, n_ticks: int, dt: float, period: float, pairs, events
                ) -> ReplayData:
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    events = np.asarray(events, np.int64).reshape(-1, 3)
    if len(events) and (events[:, 0].max() >= n_ticks or events[:, 1].max() >= n_agents
                        or events.min() < 0 or events[:, 2].max() > TIMEOUT):
        raise ValueError("events must be (tick < n_ticks, agent < n_agents, kind 0..4) rows")
    paired = np.zeros(n_agents, bool)
    paired[pairs.ravel()] = True
    counts = np.zeros((n_ticks, n_agents, 5), np.int32)
    np.add.at(counts, (events[:, 0], events[:, 1], events[:, 2]), 1)
    return ReplayData(n_agents, n_ticks, float(dt), float(period), pairs,
                      np.flatnonzero(~paired), counts)


def _values(params) -> dict:
    get = params.get if isinstance(params, dict) else lambda k: getattr(params, k)
    return {k: float(get(k)) for k in (*TUNABLE, *FIXED)}


def _pack(values: dict) -> np.ndarray:
    out = []
    for name, kind in TUNABLE.items():
        v = min(max(values[name], 1e-9), 1 - 1e-9) if kind == "prob" else max(values[name], 1e-9)
        out.append(math.log(v) if kind == "rate" else math.log(v / (1 - v)))
    return np.array(out)


def _unpack(x, jnp) -> dict:
    out = {}
    for i, (name, kind) in enumerate(TUNABLE.items()):
        out[name] = jnp.exp(x[i]) if kind == "rate" else 1 / (1 + jnp.exp(-x[i]))
    return out


def _lueders_pairs(rho, v, jnp):
    """``M rho M / Tr`` with the diagonal ``M = diag(v)`` (C, 4); a zero-probability outcome
    leaves the cell as it was."""
    new = rho * (v[:, :, None] * v[:, None, :])
    tr = jnp.real(jnp.trace(new, axis1=1, axis2=2))
    ok = tr > _EPS
    return jnp.where(ok[:, None, None], new / jnp.where(ok, tr, 1.0)[:, None, None], rho)


def _lueders_qubits(rho, m0, m1, jnp):
    v = jnp.stack([m0, m1], axis=-1)
    return _lueders_pairs(rho, v, jnp)


def _site_vectors(m0, m1, jnp):
    """Per-cell ``(C, 4)`` diagonal of ``diag(m0a, m1a) (x) diag(m0b, m1b)``."""
    a0, a1 = m0[:, 0], m1[:, 0]
    b0, b1 = m0[:, 1], m1[:, 1]
    return jnp.stack([a0 * b0, a0 * b1, a1 * b0, a1 * b1], axis=-1)


def _liveness(rho_p, rho_s, data, jnp):
    """``(N,)`` P(up) from the pair cells' reduced states and the single cells."""
    up_a = jnp.real(rho_p[:, 2, 2] + rho_p[:, 3, 3])
    up_b = jnp.real(rho_p[:, 1, 1] + rho_p[:, 3, 3])
    a = jnp.zeros(data.n_agents)
    a = a.at[data.pairs[:, 0]].set(up_a).at[data.pairs[:, 1]].set(up_b)
    return a.at[data.singles].set(jnp.real(rho_s[:, 1, 1]))


def _scan_fn(p, data, jnp):
    """The per-tick step of the replay (closure over parameters and layout)."""
    from .reliability import drift, lueders_diagonal
    from .tick import correlated_failure, qubit_channel, site_channel

    pa, pb, sg = data.pairs[:, 0], data.pairs[:, 1], data.singles
    dt, period = data.dt, data.period
    s0, s1, t_alive = p["success_unreliable"], p["success_reliable"], p["timeout_alive"]
    e = p["heartbeat_error"]

    def step(carry, counts):
        rho_p, rho_s, rho_r, last, seen, misses, heard, now, nll = carry
        a = _liveness(rho_p, rho_s, data, jnp)
        r = jnp.real(rho_r[:, 1, 1])
        s = s0 + (s1 - s0) * r
        ok = a * (1 - t_alive)
        logp = jnp.stack([jnp.log(ok * s + _EPS), jnp.log(ok * (1 - s) + _EPS),
                          jnp.log(1 - ok + _EPS)], axis=-1)
        nll = nll - jnp.sum(counts[:, SUCCESS:] * logp)
        # the tick's observations, as one diagonal effect per agent and factor
        hb, down = counts[:, HEARTBEAT], counts[:, DOWN]
        answered = (counts[:, SUCCESS] + counts[:, FAILURE]) > 0
        # Kraus diagonals sqrt(effect), written as powers so no sqrt meets a zero (its
        # derivative there is infinite and would poison the gradient)
        m0 = jnp.where(answered, 0.0, e ** (hb / 2))
        m1 = (1 - e) ** (hb / 2) * jnp.where(down > 0, 0.0, 1.0) * \
            t_alive ** (counts[:, TIMEOUT] / 2)
        rho_p = _lueders_pairs(rho_p, _site_vectors(jnp.stack([m0[pa], m0[pb]], -1),
                                                    jnp.stack([m1[pa], m1[pb]], -1), jnp), jnp)
        rho_s = _lueders_qubits(rho_s, m0[sg], m1[sg], jnp)
        ns, nf = counts[:, SUCCESS], counts[:, FAILURE]
        rho_r = lueders_diagonal(rho_r, s0 ** ns * (1 - s0) ** nf, s1 ** ns * (1 - s1) ** nf)
        gap = now - last
        beat = hb > 0
        counted = beat & seen & (gap < 3.5 * period)
        misses = misses + jnp.where(counted, jnp.maximum(jnp.round(gap / period) - 1, 0), 0)
        heard = heard + counted
        last = jnp.where(beat, now, last)
        seen = seen | beat
        # model time advances: silence, staleness, hazard, correlated failure, drift
        now = now + dt
        tau = now - last
        grace = p["heartbeat_grace"]
        k1 = jnp.floor((tau - grace) / period)
        k0 = jnp.maximum(jnp.floor((tau - dt - grace) / period), 0)
        missed = jnp.where(k1 >= 1, jnp.maximum(k1 - k0, 0), 0)
        n0 = p["loss_strength"]
        loss = (misses + p["heartbeat_loss"] * n0) / (misses + heard + n0)
        sil = loss ** (missed / 2)
        one = jnp.ones_like(sil)
        rho_p = _lueders_pairs(rho_p, _site_vectors(jnp.stack([one[pa], one[pb]], -1),
                                                    jnp.stack([sil[pa], sil[pb]], -1), jnp), jnp)
        rho_s = _lueders_qubits(rho_s, one[sg], sil[sg], jnp)
        dep = 1 - jnp.exp(-(p["lambda0"] + p["lambda1"] * tau) * dt)
        g = 1 - jnp.exp(-p["hazard"] * dt) + 0 * tau
        zero_p = jnp.zeros(len(pa))
        rho_p = site_channel(rho_p, 0, dep[pa], zero_p, g[pa])
        rho_p = site_channel(rho_p, 1, dep[pb], zero_p, g[pb])
        rho_p = correlated_failure(rho_p, zero_p + (1 - jnp.exp(-p["corr_rate"] * dt)))
        rho_s = qubit_channel(rho_s, dep[sg], jnp.zeros(len(sg)), g[sg])
        rho_r = drift(rho_r, 1 - jnp.exp(-p["reliability_drift"] * dt), p["drift_target"])
        return (rho_p, rho_s, rho_r, last, seen, misses, heard, now, nll), None

    return step


def _initial(p, data, jnp):
    from .reliability import prior_states

    n_p, n_s = len(data.pairs), len(data.singles)
    rho_p = jnp.broadcast_to(jnp.eye(4, dtype=jnp.complex128) / 4, (n_p, 4, 4))
    rho_s = jnp.broadcast_to(jnp.eye(2, dtype=jnp.complex128) / 2, (n_s, 2, 2))
    rho_r = prior_states(data.n_agents, p["reliable_prior"], jnp, jnp.complex128)
    z = jnp.zeros(data.n_agents)
    zero = jnp.asarray(0.0, dtype=jnp.float64)
    return (rho_p, rho_s, rho_r, z, jnp.zeros(data.n_agents, bool), z, z, zero, zero)


def _loss_fn(data: ReplayData, fixed: dict):
    """The jitted loss and its value-and-gradient, compiled once per data and fixed values."""
    key = tuple(sorted(fixed.items()))
    if key not in data.compiled:
        data.compiled[key] = _compile(data, fixed)
    return data.compiled[key]


def _compile(data: ReplayData, fixed: dict):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    counts = jnp.asarray(data.counts, dtype=jnp.float64)

    def loss(x):
        p = {**fixed, **_unpack(x, jnp)}
        out, _ = jax.lax.scan(_scan_fn(p, data, jnp), _initial(p, data, jnp), counts)
        return out[-1] / max(data.outcomes, 1)

    return jax.jit(loss), jax.jit(jax.value_and_grad(loss))


def outcome_nll(params, data: ReplayData) -> tuple[float, int]:
    """Mean negative log-likelihood per outcome of ``data`` under ``params``, and the count."""
    values = _values(params)
    loss, _ = _loss_fn(data, {k: values[k] for k in FIXED})
    return float(loss(_pack(values))), data.outcomes


def fit(params, data: ReplayData, maxiter: int = 60) -> tuple[dict, dict]:
    """L-BFGS-B (scipy) on the replay's mean NLL with its JAX gradient; returns the tuned
    values (every ``TUNABLE`` and ``FIXED`` name) and a report (start and end NLL,
    iterations)."""
    from scipy.optimize import minimize

    values = _values(params)
    loss, value_and_grad = _loss_fn(data, {k: values[k] for k in FIXED})

    def fun(x):
        v, g = value_and_grad(x)
        return float(v), np.asarray(g, np.float64)

    x0 = _pack(values)
    start = float(loss(x0))
    res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=[(-16, 6)] * len(x0),
                   options={"maxiter": maxiter})
    import jax.numpy as jnp

    tuned = {k: float(v) for k, v in _unpack(jnp.asarray(res.x), jnp).items()}
    tuned.update({k: values[k] for k in FIXED})
    return tuned, {"nll_start": start, "nll_end": float(res.fun), "iterations": int(res.nit),
                   "evaluations": int(res.nfev), "converged": bool(res.success),
                   "message": str(res.message)}


def evaluate(params, data: ReplayData) -> float:
    return outcome_nll(params, data)[0]


def replay_beliefs(params, data: ReplayData) -> tuple[np.ndarray, np.ndarray]:
    """Each agent's liveness and reliability after replaying ``data`` with ``params`` (what
    the register holds after the same observations and ticks: tests compare the two)."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    values = _values(params)
    p = {k: jnp.asarray(v) for k, v in values.items()}
    out, _ = jax.lax.scan(_scan_fn(p, data, jnp), _initial(p, data, jnp),
                          jnp.asarray(data.counts, dtype=jnp.float64))
    rho_p, rho_s, rho_r = out[0], out[1], out[2]
    return (np.asarray(_liveness(rho_p, rho_s, data, jnp)),
            np.asarray(jnp.real(rho_r[:, 1, 1])))
