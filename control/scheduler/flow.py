"""A thin builder over OR-Tools' ``SimpleMinCostFlow`` (the field's standard exact solver):
nodes are allocated in blocks, arcs added as numpy arrays, flows read back per block."""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow


class FlowError(RuntimeError):
    """The solver did not return an optimal flow (a modelling bug: our networks are feasible
    by construction, since every demand node has a bypass arc to the sink)."""


class Network:
    """Min-cost flow network built from arrays. Costs and capacities are int64."""

    def __init__(self):
        self._solver = min_cost_flow.SimpleMinCostFlow()
        self.n_nodes = 0
        self.n_arcs = 0
        self._supply: list[tuple[np.ndarray, np.ndarray]] = []

    def nodes(self, n: int) -> np.ndarray:
        """Allocate ``n`` nodes; returns their ids."""
        ids = np.arange(self.n_nodes, self.n_nodes + n, dtype=np.int64)
        self.n_nodes += n
        return ids

    def arcs(self, tails, heads, caps, costs) -> np.ndarray:
        """Add arcs (broadcasting scalars); returns their arc indices."""
        tails = np.asarray(tails, np.int64)
        n = len(tails)
        heads, caps, costs = (np.broadcast_to(np.asarray(x, np.int64), (n,)) for x in
                              (heads, caps, costs))
        if n == 0:
            return np.zeros(0, np.int64)
        idx = self._solver.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
        self.n_arcs += n
        return np.asarray(idx, np.int64)

    def supply(self, nodes, amounts) -> None:
        nodes = np.asarray(nodes, np.int64)
        self._supply.append((nodes, np.broadcast_to(np.asarray(amounts, np.int64),
                                                    nodes.shape)))

    def solve(self) -> None:
        if self._supply:
            nodes = np.concatenate([n for n, _ in self._supply])
            amounts = np.concatenate([a for _, a in self._supply])
            self._solver.set_nodes_supplies(nodes, amounts)
        status = self._solver.solve()
        if status != self._solver.OPTIMAL:
            raise FlowError(f"min-cost flow status {status!r}")

    def flows(self, arcs: np.ndarray) -> np.ndarray:
        if len(arcs) == 0:
            return np.zeros(0, np.int64)
        return np.asarray(self._solver.flows(arcs), np.int64)

    def cost(self) -> int:
        return int(self._solver.optimal_cost())
