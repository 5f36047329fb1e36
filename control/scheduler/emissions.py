"""Learning the reliability factor's emission probabilities ``s0``, ``s1`` online (online EM).

Use cases::

    em = EmissionLearner(s0=0.5, s1=0.98)
    em.observe(r_before, success)        # one answered task outcome; r = P(reliable) before it
    s0, s1 = em.estimate()               # posterior means, pushed to the engine each tick

The belief says an agent is reliable (``|1>``) or not and that a reliable one completes a task
with probability ``s1``, an unreliable one with ``s0`` (docs/model.md). Fixed defaults
(0.98 / 0.5) are a guess; a fleet whose good agents complete 99.5 % of their tasks and whose bad
ones 60 % makes that guess miscalibrated at both ends, and the failure forecast with it (a
belief ``r = 0.1`` forecast 45 % failures where 16 % came). This is the M-step of EM for a
two-class mixture, run online (Cappe and Moulines 2009): each outcome ``y`` of an agent whose
belief before it was ``r`` counts for class 1 with responsibility
``w = r P(y | s1) / (r P(y | s1) + (1 - r) P(y | s0))`` and for class 0 with ``1 - w``; each
class's success probability is its Beta posterior mean over those weighted counts, starting
from the defaults worth ``prior`` outcomes each. Only the class labels' belief is used, never the
outcome's future: the estimate at time ``t`` depends on outcomes before ``t`` only.

Hand-written: it is four running sums; no library offers online EM for this one mixture.
"""

from __future__ import annotations

import numpy as np

MARGIN = 0.02       # s0 stays at least this far below s1 (the classes must stay distinct)


class EmissionLearner:
    def __init__(self, s0: float, s1: float, prior: float = 20.0, memory: float = 2000.0):
        # [weight, successes] per class: the defaults' pseudo-outcomes, and the data's, which
        # fade with a memory of ``memory`` outcomes (online EM's step size: the first outcomes
        # were weighed with beliefs that knew nothing yet, so they must not count forever)
        self.prior_n = np.array([prior, prior], np.float64)
        self.prior_ok = np.array([s0 * prior, s1 * prior], np.float64)
        self.memory = float(memory)
        self.n = np.zeros(2)
        self.ok = np.zeros(2)

    def estimate(self) -> tuple[float, float]:
        """``(s0, s1)``: each class's posterior mean success probability (``s0 < s1``)."""
        s0, s1 = (self.prior_ok + self.ok) / (self.prior_n + self.n)
        s1 = float(np.clip(s1, 0.5 + MARGIN, 1.0 - 1e-4))
        return float(np.clip(s0, 1e-4, s1 - MARGIN)), s1

    def observe(self, r, success) -> None:
        """Answered outcomes (``success`` bools) of agents whose ``P(reliable)`` was ``r``."""
        r = np.clip(np.asarray(r, np.float64), 0.0, 1.0)
        y = np.asarray(success, bool)
        s0, s1 = self.estimate()
        l1 = np.where(y, s1, 1.0 - s1) * r
        l0 = np.where(y, s0, 1.0 - s0) * (1.0 - r)
        w = l1 / np.maximum(l0 + l1, 1e-300)
        fade = np.exp(-w.size / self.memory)
        self.n *= fade
        self.ok *= fade
        self.n += [float((1.0 - w).sum()), float(w.sum())]
        self.ok += [float(((1.0 - w) * y).sum()), float((w * y).sum())]


DRIFT_GRID = tuple(1.0 / np.array([3600.0, 1200.0, 400.0, 130.0, 45.0]))


class DriftFit:
    """The reliability drift rate ``nu`` chosen online by prequential likelihood.

    Use cases::

        fit = DriftFit(capacity, p0=0.9, p_star=0.5)
        fit.observe(slot, success, now, s0, s1)   # every answered outcome, in time order
        fit.reset(slots)                          # new agents
        nu = fit.best()                           # the grid rate that predicted best so far

    How fast an agent's reliability changes is a property of the fleet (slow degradation,
    repairs), not a constant: too slow a drift and a long good record hides a degrading agent
    for many failures, too fast and every agent looks new. One scalar copy of the reliability
    filter runs per grid rate (closed form of the register's maps on a diagonal qubit: drift
    ``r -> p* + (r - p*) e^{-nu dt}``, then Bayes with ``s0``, ``s1``); each outcome adds its
    log predictive probability under every rate *before* the filters see it, so the chosen rate
    is the one whose forecasts were best (prequential model selection, Dawid 1984), fitted on
    the past only. Hand-written: a few vectorised lines; the filters are the register's own
    maps in closed form.
    """

    def __init__(self, capacity: int, p0: float, p_star: float, grid=DRIFT_GRID):
        self.grid = np.asarray(grid, np.float64)
        self.p0, self.p_star = float(p0), float(p_star)
        self.r = np.full((len(self.grid), capacity), self.p0)
        self.at = np.full(capacity, np.nan)
        self.loglik = np.zeros(len(self.grid))

    def reset(self, slots) -> None:
        self.r[:, slots], self.at[slots] = self.p0, np.nan

    def observe(self, slot: int, success: bool, now: float, s0: float, s1: float) -> None:
        r = self.r[:, slot]
        if not np.isnan(self.at[slot]):
            r = self.p_star + (r - self.p_star) * np.exp(-self.grid * (now - self.at[slot]))
        p1, p0 = (s1, s0) if success else (1.0 - s1, 1.0 - s0)
        pred = p0 + (p1 - p0) * r
        self.loglik += np.log(np.maximum(pred, 1e-12))
        self.r[:, slot] = r * p1 / np.maximum(pred, 1e-12)
        self.at[slot] = now

    def best(self) -> float:
        """The grid rate with the highest prequential log likelihood (ties: the slowest)."""
        return float(self.grid[int(np.argmax(self.loglik))])


class LiveMisses:
    """Each agent's probability ``tau`` of missing a task's deadline while up (it is slow, or
    hangs), learned from its timeouts: the third thing a task outcome can say, besides *down*
    and *unreliable*.

    Use cases::

        lm = LiveMisses(capacity, t0=0.05)
        lm.answered(slot)              # an answered outcome (success or failure): it was up
        lm.timed_out(slot, a)          # a timeout of an agent whose P(up) was ``a`` before it
        lm.confirm(slots)              # heard again (heartbeat): its timeouts stand
        lm.retract(slot)               # declared failed: its pending timeouts were the outage
        tau = lm.rate(slots)           # posterior mean per agent

    A timeout has probability ``(1 - a) + a tau``: a down agent never answers, a live one misses
    with ``tau``. So it counts as a live miss with responsibility ``w = a tau / (1 - a + a tau)``
    (the E-step, with the agent's own ``tau``) among ``w`` trials in which the agent was up;
    answered outcomes are trials with no miss. ``tau`` is the Beta posterior mean
    ``(m + k tau_fleet) / (n + k)`` with ``k = prior`` pseudo-trials at the fleet's pooled rate
    (empirical Bayes; ``tau_fleet`` starts at ``t0``, worth ``fleet_prior`` trials, and is
    re-pooled at each tick, ``settle``). The
    responsibility is provisional until the agent is heard again: an agent declared failed
    after its timeout was down, not slow, so the timeouts pending since it was last heard are
    taken back (a smoothing step: later silence explains the timeout). Placement multiplies
    ``q`` by ``1 - tau`` (docs/model.md): an agent that keeps heartbeating but keeps timing out
    stops taking tasks, where the liveness factor alone recovered at its next heartbeat.
    Hand-written: a few counters.
    """

    def __init__(self, capacity: int, t0: float, prior: float = 2.0,
                 fleet_prior: float = 50.0):
        self.t0, self.prior, self.fleet_prior = float(t0), float(prior), float(fleet_prior)
        self.m = np.zeros(capacity)
        self.n = np.zeros(capacity)
        self.pending = np.zeros(capacity)
        self.sum_m = self.sum_n = 0.0
        self.fleet = self.t0

    def settle(self) -> None:
        """Take the fleet's pooled rate as the prior from now on (called at a tick, so that
        between ticks an agent's ``tau`` moves only with its own outcomes)."""
        self.fleet = (self.sum_m + self.t0 * self.fleet_prior) / (self.sum_n + self.fleet_prior)

    def rate(self, slots) -> np.ndarray:
        return (self.m[slots] + self.prior * self.fleet) / (self.n[slots] + self.prior)

    def reset(self, slots) -> None:
        self._add(slots, -self.m[slots], -self.n[slots])
        self.pending[slots] = 0.0

    def answered(self, slot: int) -> None:
        self._add(slot, 0.0, 1.0)

    def timed_out(self, slot: int, a: float) -> None:
        a = min(max(float(a), 0.0), 1.0)
        tau = float(self.rate(slot))
        w = a * tau / max(1.0 - a + a * tau, 1e-300)
        self._add(slot, w, w)
        self.pending[slot] += w

    def confirm(self, slots) -> None:
        self.pending[slots] = 0.0

    def retract(self, slot: int) -> None:
        w = float(self.pending[slot])
        self._add(slot, -w, -w)
        self.pending[slot] = 0.0

    def _add(self, slots, dm, dn) -> None:
        self.m[slots] = np.maximum(self.m[slots] + dm, 0.0)
        self.n[slots] = np.maximum(self.n[slots] + dn, 0.0)
        self.sum_m = max(self.sum_m + float(np.sum(dm)), 0.0)
        self.sum_n = max(self.sum_n + float(np.sum(dn)), 0.0)


SHRINK_GRID = (np.inf, 256.0, 64.0, 16.0, 4.0)


class AgentRecords:
    """Each agent's own success record, shrunk toward its two-class belief: the per-agent
    reliability the two classes cannot express.

    Use cases::

        rec = AgentRecords(capacity)
        rec.observe(slot, success, sbar)     # an answered outcome; sbar = s0 + (s1 - s0) r before
        rec.settle()                         # at a tick: the concentration that predicted best
        p = rec.refine(slots, sbar)          # per-agent P(success | answered)

    The two-class model says an agent's success probability is ``s1`` or ``s0``; a fleet whose
    reliabilities spread continuously (or drift) has agents in between. Hierarchically, an
    agent of class ``c`` has ``p ~ Beta(kappa s_c, kappa (1 - s_c))``, so after ``S`` successes
    in ``N`` answered outcomes ``E[p] = sum_c P(c) (kappa s_c + S) / (kappa + N)
    = (kappa sbar + S) / (kappa + N)`` with ``sbar = s0 + (s1 - s0) r`` (the class posterior
    ``r`` is the belief's reliability). ``kappa`` (how tightly agents sit at their class's
    rate) is a property of the fleet: it is chosen on a grid, ``inf`` (the two classes exactly)
    down to 4, by prequential likelihood like the drift rate (every outcome scored under every
    ``kappa`` before it is counted; ties keep the larger). Hand-written: a few counters.
    """

    def __init__(self, capacity: int, grid=SHRINK_GRID):
        self.grid = np.asarray(grid, np.float64)
        self.s = np.zeros(capacity)
        self.n = np.zeros(capacity)
        self.loglik = np.zeros(len(self.grid))
        self.kappa = float(self.grid[0])

    def reset(self, slots) -> None:
        self.s[slots] = self.n[slots] = 0.0

    def _blend(self, kappa, sbar, s, n):
        with np.errstate(invalid="ignore"):
            out = (kappa * sbar + s) / (kappa + n)
        return np.where(np.isinf(kappa), sbar, out)

    def observe(self, slot: int, success: bool, sbar: float) -> None:
        pred = self._blend(self.grid, float(sbar), self.s[slot], self.n[slot])
        self.loglik += np.log(np.maximum(pred if success else 1.0 - pred, 1e-12))
        self.s[slot] += 1.0 if success else 0.0
        self.n[slot] += 1.0

    def settle(self) -> None:
        self.kappa = float(self.grid[int(np.argmax(self.loglik))])

    def refine(self, slots, sbar) -> np.ndarray:
        sbar = np.asarray(sbar, np.float64)
        if np.isinf(self.kappa):
            return sbar
        return (self.kappa * sbar + self.s[slots]) / (self.kappa + self.n[slots])
