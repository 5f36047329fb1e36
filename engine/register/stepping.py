"""The tick: model time advances by ``dt`` for every cell, in one batched call per cell kind.

Per tick: the queued observations are applied; each occupied site's channel strengths come from
its agent's silence (``now - last_seen``) and its queued rewards, each pair's correlated-failure
probability from its rate (formulas: ``uqo.engine.tick``, docs/engine.md); the store runs the
tick on the used prefix of the cell arrays (sharded: every row) with those inputs as one
``PairInputs`` / ``SingleInputs``; the diagnostics go to the per-agent arrays and the fleet
aggregates to a ``TickReport``.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
from uqo.kernels.tick_inputs import PairInputs, SingleInputs

from ..geometry import Geometry
from ..tick import TickParams
from .books import Books
from .cells import CellArrays
from .diagnostics import Diagnostics, TickReport
from .observations import Observations
from .placement import Placement


class Stepper:
    """Model time ``now`` and the last ``report``; ``tick(dt)`` advances both. ``real``: the
    float type of the channel strengths (float32 for complex64 cells)."""

    def __init__(self, books: Books, placement: Placement, cells: CellArrays,
                 diagnostics: Diagnostics, observations: Observations, params: TickParams,
                 backend, real):
        self._books, self._placement, self._cells = books, placement, cells
        self._diag, self._obs, self._params = diagnostics, observations, params
        self._backend, self._real = backend, real
        self.now, self.report = 0.0, None
        self._geo: dict = {}   # cached tick geometry per cell kind, keyed by membership

    def tick(self, dt: float) -> TickReport:
        """Advance every cell by ``dt`` (checked: positive, finite) seconds of model time."""
        t0 = time.perf_counter()
        self._obs.flush(refresh=False)
        self.now += float(dt)
        self._silence(dt)
        pair_out = self._tick_pairs(dt)
        single_out = self._tick_singles(dt)
        self._obs.rewards_applied()
        prm = self._params
        rel = self._obs.reliability
        if self._cells.failed:
            rel.to_host()
        rel.tick(self._books.capacity, -math.expm1(-prm.reliability_drift * dt),
                 prm.drift_target)
        if not self._cells.failed:  # after a GPU failover the state is on the host
            self._backend.synchronize()
        report = self._diag.report(pair_out, single_out, time.perf_counter() - t0, self.now)
        active = self._books.active
        n_act = self._books.n_active
        mean_rel = float(rel.ready[active].sum(dtype=np.float64)) / n_act if n_act else 0.0
        self.report = dataclasses.replace(report, mean_reliability=mean_rel,
                                          duration_s=time.perf_counter() - t0)
        return self.report

    def _geometry(self, kind: str, n: int) -> Geometry:
        """Index arrays describing which cells/sites hold agents, rebuilt only after membership
        changes (the tick is hot; add/remove are not)."""
        books = self._books
        key = (kind, n, books.membership)
        if self._geo.get(kind, (None,))[0] != key:
            agents = books.pair_agents[:n] if kind == "pairs" else books.single_agent[:n, None]
            self._geo[kind] = (key, Geometry.build(agents))
        return self._geo[kind][1]

    def _silence(self, dt: float) -> None:
        """Heartbeats expected in ``(now - dt, now]`` that did not come: a measurement
        ``diag(1, sqrt(l^k))`` of each such agent's liveness (``k`` missed, ``l`` its estimated
        loss), applied before the channels."""
        prm, books = self._params, self._books
        period = prm.heartbeat_period
        if period <= 0:
            return
        ids = np.flatnonzero(books.active)
        tau = self.now - books.last_seen[ids]
        k1 = np.floor((tau - prm.heartbeat_grace) / period)
        k0 = np.maximum(np.floor((tau - dt - prm.heartbeat_grace) / period), 0.0)
        missed = np.where(k1 >= 1, np.maximum(k1 - k0, 0.0), 0.0)
        hit = missed > 0
        if not hit.any():
            return
        ids, missed = ids[hit], missed[hit]
        loss = books.heartbeat_loss(ids, prm.heartbeat_loss, prm.loss_strength)
        self._obs.silence(ids, loss ** (missed / 2))
        self._obs.flush(refresh=False)

    def _site_rates(self, agents, ok: np.ndarray | None, dt: float):
        """Channel strengths ``(p, q, g, r)`` per cell for the agents on one site (``ok`` marks
        occupied sites; None = all occupied). Empty sites get all zeros."""
        prm, real = self._params, self._real
        safe = agents if ok is None else np.maximum(agents, 0)
        silent = self.now - self._books.last_seen[safe]
        late = silent > prm.deadline
        hazard = self._books.hazard[safe]
        tau = silent.astype(real)
        p = np.multiply(tau, real(prm.lambda1 * dt), out=tau)
        p += real(prm.lambda0 * dt)
        p = -np.expm1(-p)
        q = np.full(len(p), -math.expm1(-prm.kappa * dt) / 2, dtype=real)
        g = -np.expm1(-(hazard + late * prm.mu) * dt).astype(real)
        r = self._obs.rewards[safe].astype(real)
        np.clip(r, -1, 1, out=r)
        out = (p, q, g.astype(real, copy=False), r)
        if ok is not None:
            out = tuple(np.where(ok, x, real(0)) for x in out)
        return out

    def _tick_pairs(self, dt):
        n = self._placement.extent(self._books.pair_hw, pairs=True)
        if n == 0:
            return None
        geo = self._geometry("pairs", n)
        pa, qa, ga, ra = self._site_rates(geo.site_ids(0), geo.ok[0], dt)
        pb, qb, gb, rb = self._site_rates(geo.site_ids(1), geo.ok[1], dt)
        c = -np.expm1(-self._books.pair_rate[:n] * dt)
        if geo.live is not None:
            c = np.where(geo.live, c, 0.0)
        inputs = PairInputs(p_a=pa, p_b=pb, q_a=qa, q_b=qb, g_a=ga, g_b=gb,
                            c=c.astype(self._real), r_a=ra, r_b=rb,
                            coupling_dt=self._params.coupling * dt, theta0=self._params.theta0)
        diag = self._cells.run_pairs(n, inputs)
        self._diag.from_pair_tick(geo, n, diag)
        return geo, diag

    def _tick_singles(self, dt):
        n = self._placement.extent(self._books.single_hw, pairs=False)
        if n == 0:
            return None
        geo = self._geometry("singles", n)
        p, q, g, r = self._site_rates(geo.site_ids(0), geo.ok[0], dt)
        diag = self._cells.run_singles(n, SingleInputs(p=p, q=q, g=g, r=r,
                                                       theta0=self._params.theta0))
        self._diag.from_single_tick(geo, diag)
        return geo, diag
