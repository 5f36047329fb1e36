"""The ``quantum`` strategy: placement read from the engine's two-factor belief.

For each candidate agent the belief gives its liveness ``a = P(up)`` (its site of the
failure-domain cell), its reliability ``r = P(reliable)`` (its reliability qubit) and the rate
at which it goes down (the learned hazard plus its pair's joint-failure rate, ``correlation``).
The chance that a task given to it now completes is

    q = a * exp(-rate * H) * (s0 + (s1 - s0) r)

with ``H`` the tasks' expected hold time (the scheduler's load forecast) and ``s1``, ``s0`` the
success probabilities of a reliable and an unreliable agent (docs/model.md). Placement is the
shared machinery of ``scored`` (cheapest units by ``-log q``, floor, gang, anti-affinity by pair
mutual information). Two modes:

* ``sample`` (default): the reliability qubit is measured per agent per decision (the Born
  rule: reliable with probability ``r``), and ``q`` uses the outcome's success probability:
  posterior sampling over the belief, so an agent with an uncertain record keeps a chance in
  proportion to how likely it is to be good;
* ``exact``: ``q`` uses the expectation ``s0 + (s1 - s0) r`` (greedy on the belief).

The floor is applied to the expectation in both modes.
"""

from __future__ import annotations

import numpy as np

from .scored import Scored

DEFAULT_HOLD_S = 10.0


def _parts(view, slots: np.ndarray):
    link, prm = view.link, view.link.reg.params
    a, r, rate = link.factors(slots)
    a, r = a.astype(np.float64), r.astype(np.float64)
    survive = np.exp(-rate * view.hold_s)
    return a * survive, r, prm.success_unreliable, prm.success_reliable


def expected(view, slots: np.ndarray, rng=None) -> np.ndarray:
    """``q`` with the reliability's expectation."""
    up, r, s0, s1 = _parts(view, slots)
    return up * (s0 + (s1 - s0) * r)


def born_sampled(view, slots: np.ndarray, rng) -> np.ndarray:
    """``q`` with the reliability qubit measured (Born rule) once per agent per decision."""
    up, r, s0, s1 = _parts(view, slots)
    return up * np.where(rng.random(len(slots)) < r, s1, s0)


def QuantumSample() -> Scored:
    return Scored("quantum", born_sampled, mean=lambda view, slots: expected(view, slots))


def QuantumExact() -> Scored:
    return Scored("quantum", expected)
