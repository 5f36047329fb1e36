"""What the register knows of each agent after the last tick or observation, and the fleet
aggregates of a tick.

Per agent slot (float32 ``(capacity,)``, 0 for free slots, so plain sums are sums over active
agents): readiness ``<1|rho_a|1>``, reduced entropy (nats), mutual information with its pair
partner; per pair cell row the concurrence. The tick writes every live agent's values; an
observation refreshes the agents of the cells it touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import pairmath as pm
from ..geometry import Geometry
from .books import KIND_PAIR, Books


@dataclass(frozen=True)
class TickReport:
    """Fleet aggregates of one tick (plain floats)."""

    global_coherence: float
    mean_entropy: float
    mean_readiness: float
    mean_pair_mi: float
    mean_concurrence: float
    leakage: float
    n_agents: int
    n_pairs: int
    duration_s: float
    time: float
    mean_reliability: float = 0.0   # mean P(reliable) over active agents


class Diagnostics:
    """The per-agent arrays ``ready``, ``entropy``, ``mi`` and per-pair-cell ``conc``, over the
    seats recorded in ``books``."""

    def __init__(self, books: Books):
        self._books = books
        n = books.capacity
        self.ready = np.zeros(n, np.float32)
        self.entropy = np.zeros(n, np.float32)
        self.mi = np.zeros(n, np.float32)
        self.conc = np.zeros(len(books.pair_agents), np.float32)

    # ---- membership ------------------------------------------------------------------------
    def reset_agents(self, ids: np.ndarray) -> None:
        """New agents: the maximally mixed site (readiness 1/2, entropy ln 2, no MI)."""
        self.ready[ids], self.entropy[ids], self.mi[ids] = 0.5, math.log(2.0), 0.0

    def clear_agents(self, ids: np.ndarray) -> None:
        self.ready[ids] = self.entropy[ids] = self.mi[ids] = 0.0

    def reset_pair_cells(self, cells: np.ndarray) -> None:
        self.conc[cells] = 0.0

    # ---- observations ----------------------------------------------------------------------
    def refresh_pairs(self, cells: np.ndarray, host: np.ndarray, sab: np.ndarray) -> None:
        """Agents of pair ``cells`` from their host states ``(n, 4, 4)`` and entropies."""
        ra, rb = pm.reduced_pair(host)
        sa, sb = pm.qubit_entropy(ra), pm.qubit_entropy(rb)
        mi = np.clip(sa + sb - sab, 0, None)
        for site, red, s in ((0, ra, sa), (1, rb, sb)):
            who = self._books.pair_agents[cells, site]
            ok = who >= 0
            self.ready[who[ok]] = red[ok, 1, 1].real
            self.entropy[who[ok]] = s[ok]
            self.mi[who[ok]] = mi[ok]
        self.conc[cells] = pm.pair_concurrence(host)

    def refresh_singles(self, agents: np.ndarray, host: np.ndarray, entropy: np.ndarray) -> None:
        """Single ``agents`` from their host states ``(n, 2, 2)`` and entropies."""
        self.ready[agents] = host[:, 1, 1].real
        self.entropy[agents] = entropy

    # ---- the tick --------------------------------------------------------------------------
    def from_pair_tick(self, geo: Geometry, n: int, diag: dict) -> None:
        for site, sfx in ((0, "a"), (1, "b")):
            _scatter(geo, site, (self.ready, self.entropy, self.mi),
                     (diag[f"ready_{sfx}"], diag[f"s_{sfx}"], diag["mi"]))
        self.conc[:n] = diag["concurrence"]

    def from_single_tick(self, geo: Geometry, diag: dict) -> None:
        _scatter(geo, 0, (self.ready, self.entropy), (diag["ready"], diag["s_cell"]))

    def report(self, pair_out, single_out, duration: float, now: float) -> TickReport:
        """The fleet aggregates; ``*_out``: ``(geometry, diagnostics)`` of the tick's pair and
        single cells, or None where there were none."""
        npur, leak, mi, conc = [], 0.0, np.zeros(0), np.zeros(0)
        for out in (pair_out, single_out):
            if out is not None:
                geo, diag = out
                npur.append(geo.select(diag["npurity"], geo.live_idx))
                leak += float(geo.select(diag["leak"], geo.live_idx).sum(dtype=np.float64))
        if pair_out is not None:
            geo, diag = pair_out
            mi = geo.select(diag["mi"], geo.full_idx)
            conc = geo.select(diag["concurrence"], geo.full_idx)
        n_act = self._books.n_active
        total = sum(len(x) for x in npur)
        coherence = sum(float(x.sum(dtype=np.float64)) for x in npur) / total if total else 0.0
        # free slots hold 0 in the per-agent arrays, so plain sums are sums over active agents
        return TickReport(
            global_coherence=coherence,
            mean_entropy=float(self.entropy.sum(dtype=np.float64)) / n_act if n_act else 0.0,
            mean_readiness=float(self.ready.sum(dtype=np.float64)) / n_act if n_act else 0.0,
            mean_pair_mi=_mean(mi), mean_concurrence=_mean(conc), leakage=leak,
            n_agents=n_act, n_pairs=len(mi), duration_s=duration, time=now)

    # ---- reads -----------------------------------------------------------------------------
    def pair_concurrence(self) -> np.ndarray:
        """Concurrence of each agent's pair cell, float32 ``(capacity,)``; 0 alone."""
        books = self._books
        out = np.zeros(books.capacity, np.float32)
        paired = np.flatnonzero(books.kind == KIND_PAIR)
        out[paired] = self.conc[books.cell[paired]]
        return out


def _scatter(geo: Geometry, site: int, targets, values) -> None:
    who, cells = geo.who[site], geo.cells[site]
    for target, value in zip(targets, values):
        target[who] = value if cells is None else value[cells]


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x, dtype=np.float64)) if len(x) else 0.0
