"""The ``quantum`` strategy: placement read from the engine's two-factor belief.

For each candidate agent the belief gives its liveness ``a = P(up)`` (its site of the
failure-domain cell), its reliability ``r = P(reliable)`` (its reliability qubit) and the rate
at which it goes down (the learned hazard plus its pair's joint-failure rate, ``correlation``).
The chance that a task given to it now completes is

    q = a * exp(-rate * H) * (s0 + (s1 - s0) r) * (1 - tau)

with ``H`` the tasks' expected hold time (the scheduler's load forecast), ``s1``, ``s0`` the
success probabilities of a reliable and an unreliable agent, ``tau`` the agent's learned rate of
missing a deadline while up (``emissions.LiveMisses``), and ``s0 + (s1 - s0) r`` refined by the
agent's own record (``emissions.AgentRecords``; docs/model.md). Placement is the
shared machinery of ``scored`` (cheapest units by ``-log q``, gang, anti-affinity by pair
mutual information), with the floor read from the belief: an agent is dispatched to only when
``q >= (s0 + s1) / 2``, i.e. when the belief holds it more likely up and reliable than not (the
fixed floor 0.5 sat below ``s0``: an agent the belief knew to be unreliable stayed eligible, and
under load took tasks it then failed, where a classical score that fell below 0.5 did not). Two modes:

* ``sample`` (default): the reliability qubit is measured per agent per decision (the Born
  rule: reliable with probability ``r``), and ``q`` uses the outcome's success probability:
  posterior sampling over the belief, so an agent with an uncertain record keeps a chance in
  proportion to how likely it is to be good;
* ``exact``: ``q`` uses the expectation ``s0 + (s1 - s0) r`` (greedy on the belief).

The floor is applied to the expectation in both modes.
"""

from __future__ import annotations

import numpy as np

from .fused import survival
from .scored import FIT_WEIGHT, MIN_Q, Scored

DEFAULT_HOLD_S = 10.0
SLACK_NATS = 1e-9     # keeps the bound below q's cost whatever the rounding of log


def _parts(view, slots: np.ndarray):
    link, prm = view.link, view.link.reg.params
    a, r, rate = link.factors(slots)
    survive = survival(rate, float(view.hold_s))      # fused: the same exp everywhere
    return (a.astype(np.float64), survive, r.astype(np.float64), prm.success_unreliable,
            prm.success_reliable, link.punctual(slots))


def expected(view, slots: np.ndarray, rng=None) -> np.ndarray:
    """``q`` with the reliability's expectation."""
    a, survive, r, s0, s1, punctual = _parts(view, slots)
    return (a * survive) * (view.link.refine(slots, s0 + (s1 - s0) * r) * punctual)


def born_sampled(view, slots: np.ndarray, rng) -> np.ndarray:
    """``q`` with the reliability qubit measured (Born rule) once per agent per decision."""
    a, survive, r, s0, s1, punctual = _parts(view, slots)
    return (a * survive) * (view.link.refine(slots, np.where(rng.random(len(slots)) < r, s1, s0))
                            * punctual)


def factors(view, slots: np.ndarray) -> dict:
    """``expected``'s four factors per slot (``q`` is their product): ``liveness`` ``a``,
    ``survival`` ``exp(-(h + c_pair) H)``, ``reliability`` (the class expectation refined by
    the agent's record) and ``punctual`` ``1 - tau``."""
    a, survive, r, s0, s1, punctual = _parts(view, slots)
    return {"liveness": a, "survival": survive,
            "reliability": view.link.refine(slots, s0 + (s1 - s0) * r), "punctual": punctual}


def belief_floor(params) -> float:
    """``(s0 + s1) / 2`` of the register's current ``TickParams``: the least ``q`` the quantum
    strategy dispatches to (``BeliefScored``)."""
    return 0.5 * (params.success_unreliable + params.success_reliable)


class BeliefScored(Scored):
    """``Scored`` whose floor is read from the belief: an agent is dispatched to only when its
    ``q`` is at least ``(s0 + s1) / 2``, the success probability halfway between an unreliable
    and a reliable agent (with the current learned ``s0``, ``s1``)."""

    def floor_of(self, view) -> float:
        return max(float(self.floor), belief_floor(view.link.reg.params))


def QuantumSample() -> Scored:
    return BeliefScored("quantum", born_sampled, mean=lambda view, slots: expected(view, slots))


class ExpectedWeights:
    """``expected`` read from per-slot factors kept across decisions (the placement weights).

    ``q = up0 * exp(-rate * H) * sr`` with ``up0`` the readiness, ``rate`` the failure rate and
    ``sr = s0 + (s1 - s0) r``: the same operations as ``expected``, so the same numbers. The
    factors are one ``(capacity, 3)`` array (one memory row per candidate instead of a lookup in
    each of the link's arrays), refreshed when the link takes a new snapshot: every slot after a
    tick, a membership change or a forced snapshot (``BeliefLink.structure``), otherwise only
    the slots whose readiness or reliability changed (task outcomes, heartbeats, failures).
    ``H`` is read per call, so the forecast's hold time may change between decisions.

    ``bound`` is the lister's bound per slot, ``lower`` plus the fitness term of the idle cost,
    kept beside the factors (one gather per candidate instead of two plus a pass: the
    candidates' bounds were a tenth of a 1M-agent decision); the fitness term is recomputed
    when the table's membership version moves."""

    deterministic = True        # ``Scored.q``: the same value all decision long

    def __init__(self):
        self.generation = self.structure = -1
        self.factors = np.zeros((0, 3))
        self.floor = np.zeros(0)
        self._ready = self._rel = None
        self._fit_of = (None, -1)                   # (table, version) the fitness term is for
        self._fit = self._bound = np.zeros(0)

    def __call__(self, view, slots: np.ndarray, rng=None) -> np.ndarray:
        self.refresh(view.link)
        up0, rate, sr = np.take(self.factors, slots, axis=0).T.copy()   # rows: one miss each
        return up0 * survival(rate, float(view.hold_s)) * sr

    def refresh(self, link) -> None:
        if link.generation == self.generation:
            return
        if (link.structure != self.structure or len(self.factors) != len(link.eng)
                or self._ready is None or len(self._ready) != len(link.ready_eng)):
            if len(self.factors) != len(link.eng):
                self.factors = np.zeros((len(link.eng), 3))
                self.floor = np.zeros(len(link.eng))
            slots = slice(None)                   # every slot (a slice: no index arrays)
        else:
            moved = (link.ready_eng != self._ready) | (link.rel_eng != self._rel)
            slots = link.slot_of_eng[np.flatnonzero(moved)]
            slots = np.union1d(slots[slots >= 0], np.flatnonzero(link.seen != self._seen))
        self._ready, self._rel = link.ready_eng.copy(), link.rel_eng.copy()
        self._seen = link.seen.copy()       # outcomes move tau and the record, not only r
        self.generation, self.structure = link.generation, link.structure
        a, r, rate = link.factors(slots)
        prm = link.reg.params
        s0, s1 = prm.success_unreliable, prm.success_reliable
        self.factors[slots, 0] = a.astype(np.float64)
        self.factors[slots, 1] = rate
        idx = np.arange(len(link.eng))[slots]
        self.factors[slots, 2] = link.refine(idx, s0 + (s1 - s0) * r.astype(np.float64)) * \
            link.punctual(idx)                                  # expected()'s order
        best = self.factors[slots, 0] * self.factors[slots, 2]           # q with no decay
        self.floor[slots] = -np.log(np.maximum(best, MIN_Q)) - SLACK_NATS
        if len(self._fit) == len(self.floor):
            self._bound[slots] = self.floor[slots] + self._fit[slots]

    def lower(self, view, slots: np.ndarray) -> np.ndarray:
        """A lower bound on ``-log max(q, MIN_Q)`` that ignores the hold time (``q`` can only
        be smaller with it): ranks candidates before their ``q`` is computed (``topunits``)."""
        self.refresh(view.link)
        return self.floor[slots]

    def bound(self, view, slots: np.ndarray) -> np.ndarray:
        """``lower + FIT_WEIGHT (1 - fitness / fit_max)``: the lower bound on the idle cost
        that the lister ranks candidates by (``topunits``)."""
        return self.product_form(view)[0][slots]

    def product_form(self, view) -> tuple[np.ndarray, np.ndarray, float]:
        """``(bound, factors, H)`` for every slot, current: ``q = factors[:, 0] exp(-factors[:,
        1] H) factors[:, 2]`` and ``bound`` the lister's bound per slot. ``Scored`` lists
        candidates of such an estimator in one compiled call (``fused.top_units``)."""
        self.refresh(view.link)
        t = view.table
        if self._fit_of[0] is not t or self._fit_of[1] != t.version \
                or len(self._fit) != len(self.floor):
            self._fit = FIT_WEIGHT * (1.0 - t.fitness.astype(np.float64) / float(view.fit_max))
            self._bound = self.floor + self._fit
            self._fit_of = (t, t.version)
        return self._bound, self.factors, float(view.hold_s)


def QuantumExact(reference: bool = False) -> Scored:
    """``reference``: the plain estimator and sort-and-scan lister (for equivalence tests)."""
    if reference:
        return BeliefScored("quantum", expected, reference=True)
    return BeliefScored("quantum", ExpectedWeights())
