"""Assignment quality: each strategy's placement of one batch against the exact optimum.

Instances are small enough for CP-SAT to prove optimality (``uqo.control.scheduler.exact``).
Families: ``uniform`` (random capabilities, readiness and capacity), ``correlated`` (generalist
agents are also the most ready, so every signature wants the same agents), ``tight`` (total free
capacity ~ demand: not everything fits) and ``pairs`` (half the fleet in failure-domain pairs
whose joint states carry mutual information above the threshold: anti-affinity binds).

For each strategy we report the weighted fill (tasks placed, weighted by priority + 1) relative
to the optimum's, the cost gap ``(cost - optimum) / optimum`` on the instances where the fill
matches the optimum's, and constraint violations (must be zero; checked independently of the
scheduler by ``exact.placement_cost``).
"""

from __future__ import annotations

import numpy as np
from uqo.control.scheduler import AgentSpec, Scheduler, TaskSpec
from uqo.control.scheduler.exact import Instance, placement_cost, solve_exact, weighted_fill

from .compare import SETUPS

FAMILIES = ("uniform", "correlated", "tight", "pairs")
CAPS = ("cpu", "gpu", "net", "disk")


def make_case(family: str, seed: int) -> dict:
    """Agents, their readiness, tasks and correlated pairs of one instance."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    rng = np.random.default_rng([seed, FAMILIES.index(family)])
    n_a, n_t = 40, 14
    has = rng.random((n_a, len(CAPS))) < (0.45 if family != "correlated" else 0.35)
    has[:, 0] = True
    ready = rng.uniform(0.1, 0.99, n_a)
    if family == "correlated":
        breadth = has.sum(axis=1)
        ready = np.clip(0.15 + 0.2 * breadth + rng.normal(0, 0.05, n_a), 0.05, 0.99)
    cap = rng.integers(1, 2 if family == "tight" else 4, n_a)
    domains = [f"d{i // 2}" if family == "pairs" and i < n_a // 2 else None for i in range(n_a)]
    specs = [AgentSpec(f"a{i}", frozenset(c for c, h in zip(CAPS, has[i]) if h),
                       int(rng.integers(0, 4)), frozenset(), int(cap[i]), domains[i],
                       float(rng.uniform(0.5, 1.0))) for i in range(n_a)]
    max_k = 4 if family != "tight" else 5
    tasks = [TaskSpec(f"t{j}", int(rng.integers(1, max_k + 1)),
                      frozenset(rng.choice(CAPS, int(rng.integers(1, 3)), replace=False)),
                      int(rng.choice(3, p=[0.5, 0.3, 0.2])), frozenset(),
                      int(rng.integers(0, 3))) for j in range(n_t)]
    pairs = tuple((i, i + 1) for i in range(0, n_a // 2, 2)) if family == "pairs" else ()
    for a, b in pairs:  # joint state (1-c)|11><11| + c|00><00|: MI = h(c) >= h(0.1) = 0.33 nats
        ready[a] = ready[b] = rng.uniform(0.5, 0.9)
    return {"specs": specs, "ready": ready, "tasks": tasks, "pairs": pairs}


def _scheduler(case: dict, label: str, seed: int) -> Scheduler:
    from uqo.engine.register import AgentRegister

    n = len(case["specs"])
    sched = Scheduler(capacity=n, register=AgentRegister(n, backend="numpy", seed=seed),
                      seed=seed, **SETUPS[label])
    sched.add_agents(case["specs"])
    eng, reg = sched.link.eng, sched.register
    paired = {a for p in case["pairs"] for a in p}
    for a, b in case["pairs"]:
        c = 1.0 - case["ready"][a]
        rho = np.zeros((4, 4))
        rho[3, 3], rho[0, 0] = 1 - c, c
        reg.set_cell_state(int(eng[a]), rho)
    for i, p in enumerate(case["ready"]):
        if i not in paired:
            reduced = np.diag([1 - p, p])
            rho = reduced if sched.link.partner[i] < 0 else np.kron(
                *((reduced, np.eye(2) / 2) if sched.link.site[i] == 0 else
                  (np.eye(2) / 2, reduced)))
            reg.set_cell_state(int(eng[i]), rho)
    return sched


def instance_of(case: dict, sched: Scheduler, floor: float = 0.0) -> Instance:
    """The exact model of the case, computed from the specs directly (not from the
    scheduler's bit sets): an independent check of eligibility. ``floor``: agents whose ``q``
    is below it are not eligible (the strategy's admission rule, ``floor_of``)."""
    specs, tasks = case["specs"], case["tasks"]
    elig = np.array([[t.capabilities <= s.capabilities and s.clearance >= t.classification
                      and t.compartments <= s.compartments for s in specs] for t in tasks])
    from uqo.control.scheduler.quantum import expected
    from uqo.control.scheduler.view import View

    sched.link.snapshot()
    view = View(sched.table, sched.link, sched.mi_threshold, sched.latency, sched.books,
                sched.register.now, sched.hold_s())
    q = expected(view, np.arange(len(specs)))
    elig &= (q >= floor)[None, :]
    fit = np.array([s.fitness for s in specs])
    return Instance(elig, np.array([t.required_agents for t in tasks]),
                    np.array([t.priority for t in tasks]), q,
                    np.array([s.capacity for s in specs]), np.zeros(len(specs), np.int64),
                    case["pairs"], fit / fit.max())


def evaluate(case: dict, label: str, inst: Instance, seed: int) -> dict:
    sched = _scheduler(case, label, seed)
    decision = sched.decide(case["tasks"], now=0.0)
    index = {t.task_id: j for j, t in enumerate(case["tasks"])}
    assignment = {index[a.task_id]: [int(x[1:]) for x in a.agent_ids]
                  for a in decision.assignments}
    try:
        cost = placement_cost(inst, assignment)
        violation = None
    except ValueError as exc:
        cost, violation = float("nan"), str(exc)
    return {"cost": cost, "fill": weighted_fill(inst, assignment), "violation": violation}


def quality_suite(per_family: int = 5, labels=tuple(SETUPS), seed: int = 0,
                  progress=None) -> dict:
    """Run every family x ``per_family`` instances; returns per-strategy aggregates and the
    per-instance rows."""
    rows = []
    for family in FAMILIES:
        for i in range(per_family):
            case = make_case(family, seed + i)
            optima: dict = {}
            for label in labels:
                sched = _scheduler(case, label, seed)
                floor = floor_of(label, sched)
                if floor not in optima:
                    inst = instance_of(case, sched, floor)
                    assign, cost = solve_exact(inst)
                    optima[floor] = (inst, cost, weighted_fill(inst, assign))
                inst, opt_cost, opt_fill = optima[floor]
                r = evaluate(case, label, inst, seed)
                rows.append({"family": family, "instance": i, "strategy": label,
                             "opt_cost": opt_cost, "opt_fill": opt_fill, **r})
            if progress:
                progress(1)
    return {"per_family": per_family, "seed": seed, "rows": rows,
            "summary": summarise(rows, labels)}


def floor_of(label: str, sched: Scheduler) -> float:
    """The least ``q`` strategy ``label`` dispatches to, as the optimum must respect it: the
    quantum strategies' belief floor ``(s0 + s1) / 2``; 0 for the others (their optimum is the
    unconstrained one, as before the belief's floor)."""
    if SETUPS[label]["strategy"] != "quantum":
        return 0.0
    from uqo.control.scheduler.quantum import belief_floor

    return belief_floor(sched.register.params)


def summarise(rows: list, labels) -> dict:
    out = {}
    for label in labels:
        mine = [r for r in rows if r["strategy"] == label]
        same = [r for r in mine if r["fill"] == r["opt_fill"] and r["violation"] is None]
        gaps = [(r["cost"] - r["opt_cost"]) / r["opt_cost"] for r in same if r["opt_cost"] > 0]
        out[label] = {
            "instances": len(mine),
            "fill_vs_optimum": sum(r["fill"] for r in mine) / max(1, sum(r["opt_fill"]
                                                                         for r in mine)),
            "instances_full_fill": len(same),
            "mean_cost_gap": float(np.mean(gaps)) if gaps else None,
            "max_cost_gap": float(np.max(gaps)) if gaps else None,
            "violations": sum(r["violation"] is not None for r in mine),
        }
    return out
