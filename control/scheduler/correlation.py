"""Learning how often agents fail, alone and together with their failure-domain partner.

When both members of an engine pair are reported failed within ``window_s`` of each other
(engine time), that is one *joint* failure; every other failure is a *lone* one. Rates are
Gamma-Poisson posterior means, pooled over the fleet first and then per pair (empirical Bayes):

* the fleet's joint rate ``(J + r0 P0) / (T + P0)`` (``J`` joint failures over ``T`` pair-seconds
  observed, ``r0`` the engine's default ``corr_rate`` as a prior worth ``P0`` pair-seconds);
* each pair's rate ``(j + pooled S) / (t + S)``: a pair that has failed together leans away
  from the fleet's rate as its own evidence grows (``S`` seconds of prior weight);
* the lone hazard ``(L + h0 H0) / (A + H0)`` per agent-second (``A`` agent-seconds observed).

A lone failure whose agent is heard again within ``recall_s`` of being declared failed (two
heartbeat periods, where the scheduler knows the period) is taken back from ``L``: it was a
silence, not an outage (an agent that drops heartbeats is declared failed now and then while
it keeps working; counted, those declarations raised every agent's hazard, and so every
agent's forecast failure, by about 2 points on the flapping-heartbeats family). An outage
repaired that fast is taken back too; it costs the hazard a little of its evidence, never a
decision (the engine measured the silence and the declaration either way).

What the scheduler hands the engine is sharper than one Gamma prior for every pair:
``RateMixture`` learns the fleet's *distribution* of pair rates nonparametrically (a weight per
rate on a log grid, fitted by EM to every pair's joint failures and the seconds it was up to
have them: the Kiefer-Wolfowitz NPMLE, smoothed toward the Gamma pool above) and gives each pair
its posterior mean rate under that mixture. Where domains differ a lot (a few fail far more
often than the rest) a pair's second failure moves its rate far more than a Gamma prior would;
where they are alike the mixture collapses onto one rate and a failure says little.

The pair rate drives the engine's correlated-failure channel of that pair, which builds the
pair's mutual information (anti-affinity reads it back) and lowers both members' liveness
before either has failed on its own; the hazard drives every agent's damping toward down.
"""

from __future__ import annotations

import numpy as np


class JointFailures:
    def __init__(self, capacity: int, prior_rate: float, window_s: float = 10.0,
                 prior_s: float = 300.0, pool_prior_s: float = 3600.0,
                 prior_hazard: float = 1.0 / 3600.0):
        self.prior_rate, self.window_s, self.prior_s = prior_rate, window_s, prior_s
        self.pool_prior_s, self.prior_hazard = pool_prior_s, prior_hazard
        self.last_failed = np.full(capacity, -np.inf)
        self.declared = np.full(capacity, -np.inf)     # when a lone failure was last counted
        self.joint = np.zeros(capacity, np.int64)
        self.since = np.zeros(capacity)
        self.lone = 0
        self.agent_seconds = 0.0
        self.up_s = np.zeros(capacity)      # seconds each pair was up (both members), by slot
        self.seen_at = 0.0
        self.mixture = RateMixture()

    def paired(self, slots: np.ndarray, now: float) -> None:
        """``slots`` start a new pairing at engine time ``now``."""
        self.joint[slots], self.since[slots] = 0, now
        self.up_s[slots] = 0.0
        self.last_failed[slots] = self.declared[slots] = -np.inf

    def failed(self, slot: int, partner: int, now: float) -> bool:
        """Record a failure; True when it completes a joint failure of the pair."""
        self.last_failed[slot] = now
        if partner < 0 or now - self.last_failed[partner] > self.window_s:
            self.lone += 1
            self.declared[slot] = now
            return False
        if self.declared[partner] > -np.inf:    # not taken back already
            self.lone -= 1             # the partner's failure was counted as lone: it was not
        self.declared[[slot, partner]] = -np.inf
        self.joint[slot] += 1
        self.joint[partner] = self.joint[slot]
        self.last_failed[[slot, partner]] = -np.inf     # consumed: one joint failure each
        return True

    def heard(self, slots: np.ndarray, now: float, recall_s: float) -> int:
        """``slots`` were heard at ``now``: a lone failure of theirs counted less than
        ``recall_s`` ago is taken back (module docstring). Returns how many were."""
        when = self.declared[slots]
        back = int(np.count_nonzero(now - when <= recall_s))
        self.lone -= back
        self.declared[slots] = -np.inf
        return back

    def elapsed(self, agents: int, dt: float) -> None:
        """``agents`` agents were watched for ``dt`` more seconds."""
        self.agent_seconds += agents * dt

    def pooled_rate(self, heads: np.ndarray, now: float) -> float:
        """The fleet's joint-failure rate per pair-second (``heads``: one slot per pair)."""
        observed = float(np.maximum(now - self.since[heads], 0.0).sum())
        joint = float(self.joint[heads].sum())
        return (joint + self.prior_rate * self.pool_prior_s) / (observed + self.pool_prior_s)

    def pair_rates(self, heads: np.ndarray, now: float) -> np.ndarray:
        """Each pair's joint-failure rate (pairs given by one slot each)."""
        pooled = self.pooled_rate(heads, now)
        observed = np.maximum(now - self.since[heads], 0.0)
        return (self.joint[heads] + pooled * self.prior_s) / (observed + self.prior_s)

    def hazard(self) -> float:
        """Lone failures per agent-second."""
        h0 = self.prior_hazard
        return (max(self.lone, 0) + h0 * 3600.0) / (self.agent_seconds + 3600.0)


class RateMixture:
    """Nonparametric empirical Bayes for Poisson rates (module docstring).

    Use cases::

        mix = RateMixture()
        mix.fit(counts, exposure, prior_rate)     # one or a few EM steps, warm-started
        rates = mix.posterior_mean(counts, exposure)

    Hand-written: an EM over a fixed grid is a few array lines; the libraries that fit
    mixtures (scikit-learn) fit Gaussians, not a mixing distribution of Poisson rates.
    """

    def __init__(self, lo: float = 1e-6, hi: float = 0.1, n: int = 48, prior_pairs: float = 20.0,
                 steps: int = 3):
        self.grid = np.geomspace(lo, hi, n)
        self.log_grid = np.log(self.grid)
        self.w = None
        self.prior_pairs, self.steps = prior_pairs, steps

    def _prior(self, rate: float) -> np.ndarray:
        """The Gamma pool's shape on the grid: an exponential prior around ``rate``
        (shape 1, so the mixture starts as wide as the data may need)."""
        logp = self.log_grid - self.grid / max(rate, 1e-12)
        p = np.exp(logp - logp.max())
        return p / p.sum()

    def _post(self, counts, exposure) -> np.ndarray:
        logl = (np.asarray(counts, np.float64)[:, None] * self.log_grid[None, :]
                - np.asarray(exposure, np.float64)[:, None] * self.grid[None, :])
        logl += np.log(np.maximum(self.w, 1e-300))[None, :]
        logl -= logl.max(axis=1, keepdims=True)
        post = np.exp(logl)
        return post / post.sum(axis=1, keepdims=True)

    def fit(self, counts, exposure, prior_rate: float, cap: int = 8192) -> None:
        """EM steps on the pairs' records (an even stride of at most ``cap`` of them: the
        weights are a property of the fleet, a sample estimates them)."""
        prior = self._prior(prior_rate)
        if self.w is None:
            self.w = prior
        if len(counts) == 0:
            return
        if len(counts) > cap:
            pick = np.linspace(0, len(counts) - 1, cap).astype(np.int64)
            counts, exposure = np.asarray(counts)[pick], np.asarray(exposure)[pick]
        for _ in range(self.steps):
            post = self._post(counts, exposure)
            self.w = (post.sum(axis=0) + self.prior_pairs * prior) / \
                (len(counts) + self.prior_pairs)

    def posterior_mean(self, counts, exposure) -> np.ndarray:
        """Each pair's posterior mean rate; computed once per distinct (count, whole seconds
        up) record, which most pairs share."""
        if len(counts) == 0:
            return np.zeros(0)
        key = (np.asarray(counts, np.int64) << 32) + \
            np.round(np.asarray(exposure, np.float64)).astype(np.int64)
        uniq, inv = np.unique(key, return_inverse=True)
        return (self._post(uniq >> 32, uniq & 0xFFFFFFFF) @ self.grid)[inv.reshape(-1)]


def learn_rates(sched) -> None:
    """Hand the learned rates to the engine before a tick: each pair cell's joint-failure rate
    (the register's ``pair_rate`` books, by cell) and, where the register keeps one, every
    agent's lone hazard."""
    link, reg, joint = sched.link, sched.register, sched.joint
    heads = np.flatnonzero((link.partner >= 0) & (link.site == 0) & sched.table.active)
    dt = max(reg.now - joint.seen_at, 0.0)
    joint.seen_at = reg.now
    if len(heads):
        up = heads[sched.table.up[heads] & sched.table.up[link.partner[heads]]]
        joint.up_s[up] += dt
        counts, exposure = joint.joint[heads], joint.up_s[heads]
        joint.mixture.fit(counts, exposure, joint.pooled_rate(heads, reg.now))
        reg.pair_rate[reg.cell[link.eng[heads]]] = joint.mixture.posterior_mean(counts,
                                                                                exposure)
    if hasattr(reg, "set_hazard"):
        reg.set_hazard(joint.hazard())
