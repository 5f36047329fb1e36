"""The exact optimum of one batch, for measuring how far a strategy is from it.

Objective, lexicographic: first place as many tasks as possible weighted by priority
(``priority + 1`` per task: gang, all ``k`` or nothing), then minimise the placement cost

    cost = sum over agents a of sum_{j < u_a} (-log q_a + w_f (1 - f_a) + w_l (load_a + j) / cap_a)

where ``u_a`` is how many of the batch's tasks agent ``a`` takes, ``q_a`` its estimated
probability of completing a task (the quantum strategy's, from the belief) and ``f_a`` its
normalised fitness: the cost every scored strategy minimises (``scored``), summed over the units
in the order a flow fills them. Constraints are the scheduler's: eligibility, capacity,
``k`` distinct agents per task, never both members of a correlated pair in one task.

Solved with OR-Tools CP-SAT (boolean ``x[t, a]``, ``y[t]``, per-agent unit indicators), on one
worker so the answer is reproducible; fine for instances of tens of agents and tasks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COST_SCALE = 10_000


@dataclass(frozen=True)
class Instance:
    """A batch in plain arrays. ``eligible (T, A)`` bool, ``k (T,)``, ``priority (T,)``,
    ``q (A,)`` success probability, ``cap (A,)``, ``load (A,)``, ``pairs`` [(a, b)] correlated
    pairs, ``fit (A,)`` normalised fitness."""

    eligible: np.ndarray
    k: np.ndarray
    priority: np.ndarray
    q: np.ndarray
    cap: np.ndarray
    load: np.ndarray
    pairs: tuple = ()
    fit: np.ndarray | None = None

    def fitness(self, a: int) -> float:
        return 1.0 if self.fit is None else float(self.fit[a])


def unit_cost(q: float, cap: int, load: int, j: int, fit: float = 1.0) -> float:
    from .scored import FIT_WEIGHT, LOAD_WEIGHT, MIN_Q

    return (-math.log(max(q, MIN_Q)) + FIT_WEIGHT * (1.0 - fit)
            + LOAD_WEIGHT * (load + j) / cap)


def placement_cost(inst: Instance, assignment: dict) -> float:
    """Cost of ``assignment`` (task index -> agent indices); checks every constraint and
    raises ``ValueError`` on a violation."""
    used = np.zeros(len(inst.q), np.int64)
    bad_pairs = {frozenset(p) for p in inst.pairs}
    for t, agents in assignment.items():
        agents = list(agents)
        if len(agents) != inst.k[t] or len(set(agents)) != len(agents):
            raise ValueError(f"task {t}: needs {inst.k[t]} distinct agents, got {agents}")
        if not inst.eligible[t, agents].all():
            raise ValueError(f"task {t}: ineligible agent in {agents}")
        if any(frozenset((a, b)) in bad_pairs for a in agents for b in agents if a < b):
            raise ValueError(f"task {t}: correlated pair in {agents}")
        used[agents] += 1
    if np.any(inst.load + used > inst.cap):
        raise ValueError("capacity exceeded")
    return float(sum(unit_cost(inst.q[a], inst.cap[a], inst.load[a], j, inst.fitness(a))
                     for a in range(len(used)) for j in range(used[a])))


def weighted_fill(inst: Instance, assignment: dict) -> int:
    return int(sum(inst.priority[t] + 1 for t in assignment))


def solve_exact(inst: Instance, time_limit_s: float = 30.0) -> tuple[dict, float]:
    """``(assignment, cost)`` of the lexicographic optimum (module docstring)."""
    from ortools.sat.python import cp_model

    model, n_t, n_a = cp_model.CpModel(), len(inst.k), len(inst.q)
    x = {(t, a): model.NewBoolVar(f"x{t}_{a}") for t in range(n_t) for a in range(n_a)
         if inst.eligible[t, a]}
    y = [model.NewBoolVar(f"y{t}") for t in range(n_t)]
    for t in range(n_t):
        model.Add(sum(v for (tt, _), v in x.items() if tt == t) == int(inst.k[t]) * y[t])
    for a_, b_ in inst.pairs:
        for t in range(n_t):
            if (t, a_) in x and (t, b_) in x:
                model.Add(x[t, a_] + x[t, b_] <= 1)
    cost_terms = []
    for a in range(n_a):
        free = int(inst.cap[a] - inst.load[a])
        uses = [v for (_, aa), v in x.items() if aa == a]
        units = [model.NewBoolVar(f"u{a}_{j}") for j in range(max(free, 0))]
        model.Add(sum(uses) == sum(units))
        for j in range(1, len(units)):
            model.Add(units[j] <= units[j - 1])
        cost_terms += [round(unit_cost(inst.q[a], inst.cap[a], inst.load[a], j,
                                       inst.fitness(a)) * COST_SCALE)
                       * u for j, u in enumerate(units)]
    big = 15 * COST_SCALE * int(max(inst.k.sum(), 1)) + 1    # unit costs are below 15
    model.Maximize(sum(big * int(inst.priority[t] + 1) * y[t] for t in range(n_t))
                   - sum(cost_terms))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.random_seed = 0
    status = solver.Solve(model)
    if status != cp_model.OPTIMAL:
        raise RuntimeError(f"CP-SAT did not prove optimality (status {solver.StatusName(status)})")
    out = {t: [a for a in range(n_a) if (t, a) in x and solver.Value(x[t, a])]
           for t in range(n_t) if solver.Value(y[t])}
    return out, placement_cost(inst, out)
