"""Scheduler slots <-> engine register cells, with failure-domain members paired two by two.

The register holds one belief state per agent: a single cell (2x2) or a failure-domain pair
cell (4x4, site A = the first of the pair). This module decides who shares a cell:

* agents of one failure domain are paired in arrival order; an odd one out waits alone in a
  single cell until the next member of its domain arrives;
* pairing a waiting agent moves it into a new pair cell as the product ``rho_waiting (x) I/2``
  (what we knew about it is kept; the newcomer starts maximally mixed);
* when an agent leaves, its partner moves to a single cell with its reduced state and waits.

It also turns scheduler events into engine calls (heartbeat, failure, outcome) and takes one
per-decision snapshot of readiness and pair mutual information (host copies of the register's
diagnostics, indexed by engine id; ``readiness(slots)`` maps slots through ``eng``).
"""

from __future__ import annotations

import numpy as np

from .compiled import pair_keys
from .emissions import AgentRecords, DriftFit, EmissionLearner, LiveMisses

_MIXED = np.eye(2, dtype=np.complex128) / 2


def reduced(rho: np.ndarray, site: int) -> np.ndarray:
    """Reduced 2x2 state of ``site`` (0 = A) of a 4x4 pair state (basis ``|ab>``)."""
    r = np.asarray(rho, dtype=np.complex128).reshape(2, 2, 2, 2)
    return np.einsum("ajbj->ab", r) if site == 0 else np.einsum("iaib->ab", r)


class BeliefLink:
    """Owns the slot -> engine id map of one ``AgentRegister`` (see module docstring)."""

    def __init__(self, register, capacity: int):
        self.reg = register
        self.eng = np.full(capacity, -1, np.int64)
        self.partner = np.full(capacity, -1, np.int64)
        self.site = np.zeros(capacity, np.int8)
        self.slot_of_eng = np.full(register.capacity, -1, np.int64)
        self._waiting: dict[int, int] = {}
        self.ready_eng = np.zeros(register.capacity, np.float32)
        self.rel_eng = np.zeros(register.capacity, np.float32)
        self.mi_eng = np.zeros(register.capacity, np.float32)
        self.stale = True
        self.generation = 0
        self.structure = 0      # bumped by ticks, membership and forced snapshots (contract:
                                # between bumps, only readiness and reliability change)
        prm = register.params
        self.emissions = EmissionLearner(prm.success_unreliable, prm.success_reliable)
        self.drift = DriftFit(capacity, prm.reliable_prior, prm.drift_target)
        self.misses = LiveMisses(capacity, prm.timeout_alive)
        self.records = AgentRecords(capacity)
        self.seen = np.zeros(capacity, np.int64)    # outcomes per slot (kept weights' refresh)

    # ---- membership -------------------------------------------------------------------------
    def add(self, slots: np.ndarray, domains: np.ndarray) -> None:
        """Give new ``slots`` engine cells; ``domains`` ``(n,)`` int64, -1 for none."""
        slots, domains = np.asarray(slots, np.int64), np.asarray(domains, np.int64)
        self.drift.reset(slots)
        self.misses.reset(slots)
        self.records.reset(slots)
        has = domains >= 0
        old = [(self._waiting.pop(d), d) for d in np.unique(domains[has]).tolist()
               if d in self._waiting]
        members = np.concatenate([np.array([s for s, _ in old], np.int64), slots[has]])
        doms = np.concatenate([np.array([d for _, d in old], np.int64), domains[has]])
        fresh = np.concatenate([np.zeros(len(old), bool), np.ones(has.sum(), bool)])
        order = np.lexsort((fresh, doms))
        members, doms, fresh = members[order], doms[order], fresh[order]
        first = np.r_[True, doms[1:] != doms[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(len(doms)), 0))
        rank = np.arange(len(doms)) - start
        size = np.bincount(np.cumsum(first) - 1)[np.cumsum(first) - 1] if len(doms) else rank
        head = (rank % 2 == 0) & (rank + 1 < size)
        a, b = members[head], members[np.flatnonzero(head) + 1]
        keep = {int(s): self._reduced_of(int(s)) for s in members[~fresh] if s in set(a) | set(b)}
        if keep:
            self._drop(np.array(list(keep), np.int64))
        self._pair(a, b, keep)
        lone = (rank % 2 == 0) & (rank + 1 == size)
        for s, d, new in zip(members[lone].tolist(), doms[lone].tolist(), fresh[lone].tolist()):
            self._waiting[d] = s
            if new:
                self._single(np.array([s]))
        self._single(slots[~has])

    def remove(self, slot: int, domain: int) -> None:
        """Free ``slot``'s engine site; its partner (if any) goes back to waiting."""
        partner = int(self.partner[slot])
        if self._waiting.get(domain) == slot:
            del self._waiting[domain]
        self._drop(np.array([slot]))
        self.partner[slot] = -1
        if partner < 0:
            return
        rho = reduced(self.reg.cell_state(int(self.eng[partner])), int(self.site[partner]))
        self._drop(np.array([partner]))
        self.partner[partner] = -1
        waiting = self._waiting.pop(domain, None)
        if waiting is None:
            self._single(np.array([partner]), {partner: rho})
            self._waiting[domain] = partner
            return
        keep = {waiting: self._reduced_of(waiting), partner: rho}
        self._drop(np.array([waiting]))
        self._pair(np.array([waiting]), np.array([partner]), keep)

    def _drop(self, slots: np.ndarray) -> None:
        self.stale = True
        self.structure += 1
        self.reg.remove(self.eng[slots])
        self.slot_of_eng[self.eng[slots]] = -1
        self.eng[slots] = -1

    def _reduced_of(self, slot: int) -> np.ndarray:
        rho = self.reg.cell_state(int(self.eng[slot]))
        return rho if rho.shape == (2, 2) else reduced(rho, int(self.site[slot]))

    def _pair(self, a: np.ndarray, b: np.ndarray, keep: dict) -> None:
        if len(a) == 0:
            return
        self.stale = True
        self.structure += 1
        ids = self.reg.add_pairs(len(a))
        self.eng[a], self.eng[b] = ids[0::2], ids[1::2]
        self.slot_of_eng[ids[0::2]], self.slot_of_eng[ids[1::2]] = a, b
        self.site[a], self.site[b] = 0, 1
        self.partner[a], self.partner[b] = b, a
        for x, y in zip(a.tolist(), b.tolist()):
            if x in keep or y in keep:
                state = np.kron(keep.get(x, _MIXED), keep.get(y, _MIXED))
                self.reg.set_cell_state(int(self.eng[x]), state)

    def _single(self, slots: np.ndarray, keep: dict | None = None) -> None:
        if len(slots) == 0:
            return
        self.stale = True
        self.structure += 1
        self.eng[slots] = self.reg.add_singles(len(slots))
        self.slot_of_eng[self.eng[slots]] = slots
        self.partner[slots], self.site[slots] = -1, 0
        for s, rho in (keep or {}).items():
            self.reg.set_cell_state(int(self.eng[s]), rho)

    # ---- events -----------------------------------------------------------------------------
    def heartbeat(self, slots) -> None:
        slots = np.atleast_1d(np.asarray(slots, np.int64))
        self.reg.heartbeat(self.eng[slots])
        self.misses.confirm(slots)
        self.stale = True

    def failed(self, slot: int) -> None:
        """The control plane declared the agent failed. A declaration is "no answer", measured
        with the timeout effect ``(1, t)`` (not a projection on down: a projection made every
        false alarm certain), and only when it carries evidence the belief does not hold yet:

        * after a heartbeat timeout, the silence that led to it was measured already,
          heartbeat by heartbeat, on this agent's site of its cell (so a correlated partner
          was lowered through the joint state then); measuring "no answer" again counted the
          same silence twice, and an agent losing 40 % of its heartbeats was called down too
          often (docs/model.md, "Declared failures");
        * a failure reported without silence (the agent was heard within the last expected
          heartbeat: nothing measured since) is new evidence, and its measurement lowers a
          correlated partner through the joint state.
        """
        if not self.silence_measured(slot):
            self.reg.observe_outcome([self.eng[slot]], "timeout")
        self.misses.retract(slot)
        self.seen[slot] += 1
        self.stale = True

    def silence_measured(self, slot: int) -> bool:
        """Whether the register has measured at least one missed heartbeat of ``slot`` since it
        was last heard: the silence step of its last tick saw ``k >= 1`` (model time ``now``,
        last heard ``last_seen``: ``now - last_seen - grace >= period``). Never with silence
        measurement off (``heartbeat_period`` 0)."""
        prm, eng = self.reg.params, int(self.eng[slot])
        if prm.heartbeat_period <= 0:
            return False
        silent = float(self.reg.now) - float(self.reg.last_seen[eng])
        return silent - prm.heartbeat_grace >= prm.heartbeat_period

    def outcome(self, slot: int, kind: str) -> None:
        """``"success"``, ``"failure"`` or ``"timeout"``: a measurement of both factors. An
        answered outcome also teaches the emission probabilities (``emissions``), weighted by
        the belief the agent had before it (the last snapshot); a timeout teaches the agent's
        live-miss rate (``emissions.LiveMisses``), weighed by its liveness before it."""
        self.seen[slot] += 1
        if kind == "timeout":
            self.misses.timed_out(slot, self.ready_eng[self.eng[slot]])
        else:
            self.misses.answered(slot)
        self.reg.observe_outcome([self.eng[slot]], kind)
        if kind != "timeout":
            ok = kind == "success"
            s0, s1 = self.emissions.estimate()
            self.records.observe(slot, ok, s0 + (s1 - s0) * float(self.rel_eng[self.eng[slot]]))
            self.emissions.observe(self.rel_eng[self.eng[slot]], ok)
            self.drift.observe(slot, ok, self.reg.now, *self.emissions.estimate())
        self.stale = True

    def tick(self, dt: float):
        """Advance the register; the emission probabilities learned so far go in first."""
        self.stale = True
        self.structure += 1     # s0, s1, the drift and the fleet's live-miss rate change
        self.misses.settle()    # here, with the rates
        self.records.settle()
        if hasattr(self.reg, "set_reliability_model"):
            s0, s1 = self.emissions.estimate()
            self.reg.set_reliability_model(s0, s1, self.drift.best())
        return self.reg.tick(dt)

    # ---- per-decision view ------------------------------------------------------------------
    def snapshot(self, force: bool = False) -> None:
        """Refresh the host copies of readiness and pair MI (applies queued observations).
        Skipped when nothing went through this link since the last snapshot: the scheduler
        feeds the register, so changes made to it directly are seen after the next ``tick``
        or a forced snapshot."""
        if force:
            self.structure += 1
        if self.stale or force:
            self.ready_eng = self.reg.readiness()
            self.rel_eng = self.reg.reliability()
            self.mi_eng = self.reg.pair_mutual_information()
            self.stale = False
            self.generation += 1

    def readiness(self, slots: np.ndarray) -> np.ndarray:
        """Liveness ``P(up)`` per slot (the snapshot)."""
        return self.ready_eng[self.eng[slots]]

    def reliability(self, slots: np.ndarray) -> np.ndarray:
        """``P(reliable)`` per slot (the snapshot)."""
        return self.rel_eng[self.eng[slots]]

    def failure_rate(self, slots: np.ndarray) -> np.ndarray:
        """Each slot's rate of going down: its hazard plus its pair's joint-failure rate."""
        return self.factors(slots)[2]

    def factors(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(readiness, reliability, failure_rate)`` per slot in one pass (one lookup of the
        engine ids: the placement hot path reads all three for thousands of slots)."""
        reg, eng = self.reg, self.eng[slots]
        rate = reg.hazard[eng].astype(np.float64)
        paired = self.partner[slots] >= 0
        rate[paired] += reg.pair_rate[reg.cell[eng[paired]]]
        return self.ready_eng[eng], self.rel_eng[eng], rate

    def refine(self, slots: np.ndarray, sbar: np.ndarray) -> np.ndarray:
        """Per-agent ``P(success | answered)`` from the class expectation ``sbar`` and the
        agent's own record (``emissions.AgentRecords``)."""
        return self.records.refine(slots, sbar)

    def punctual(self, slots: np.ndarray) -> np.ndarray:
        """``1 - tau`` per slot: the chance a live agent answers within the deadline."""
        return 1.0 - self.misses.rate(slots)

    def correlated_key(self, slots: np.ndarray, threshold: float) -> np.ndarray:
        """Anti-affinity key per slot: both members of a pair whose mutual information exceeds
        ``threshold`` share the key ``min(a, partner)``; every other agent keys as itself."""
        slots = np.asarray(slots, np.int64)
        return pair_keys(slots, self.partner, self.eng, self.mi_eng,       # compiled
                         self.mi_eng.dtype.type(threshold))
