"""``uqo bench scheduler``: decisions per second and latency at fleet scale, quality at scale.

For a fleet of ``agents`` (default 1,000,000; see ``scheduler_fleet``) registered in one
scheduler, each strategy decides ``batches`` batches of ``batch_size`` tasks (after
``WARMUP`` untimed ones), then ``single`` one-task decisions. Every assignment is checked against
the agent specs independently of the scheduler's bit sets (capabilities, clearance,
compartments, distinct agents, capacity): ``violations`` must be 0. Agents are released after
each batch, so every batch meets an idle fleet (steady state of a fleet much larger than its
work). Before timing, 30 % of agents report a heartbeat and 1 % a failure so readiness differs.

For ``quantum_exact`` the placement cost of each batch is compared with a lower bound: the
min-cost transportation problem in which each signature may use any ``D_total`` cheapest units
of its eligible agents (an exchange argument shows no optimal solution needs more), without
the per-task distinctness and pair constraints (a relaxation, so the true gap is at most the
reported one).
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from pathlib import Path

import numpy as np

from .machine import machine_info
from .scheduler_fleet import batch, fleet, templates

WARMUP = 2
LABELS = ("quantum", "quantum_exact", "round_robin", "least_connections", "power_of_two",
          "adaptive", "thompson", "ewma")


def build(specs: list, mode: str, seed: int, backend: str):
    from uqo.control.scheduler import Scheduler
    from uqo.engine.register import AgentRegister

    t0 = time.perf_counter()
    reg = AgentRegister(capacity=len(specs), backend=backend, seed=seed)
    sched = Scheduler(capacity=len(specs), register=reg, seed=seed, quantum_mode=mode)
    sched.add_agents(specs)
    rng = np.random.default_rng([seed, 9])
    for i in rng.choice(len(specs), len(specs) * 3 // 10, replace=False).tolist():
        sched.heartbeat(specs[i].agent_id, 1.0)
    for i in rng.choice(len(specs), len(specs) // 100, replace=False).tolist():
        sched.agent_failed(specs[i].agent_id)
    sched.refresh_beliefs()
    gc.collect()
    gc.freeze()  # a million long-lived objects: keep the cyclic GC from rescanning them
    return sched, time.perf_counter() - t0


def violations(sched, decision, tasks: list, specs: list) -> int:
    by_id = {t.task_id: t for t in tasks}
    bad = 0
    for a in decision.assignments:
        t = by_id[a.task_id]
        agents = [specs[int(x.rsplit("-", 1)[1])] for x in a.agent_ids]
        bad += len(agents) != t.required_agents or len(set(a.agent_ids)) != len(agents)
        bad += sum(not (t.capabilities <= s.capabilities and s.clearance >= t.classification
                        and t.compartments <= s.compartments) for s in agents)
    table = sched.table
    bad += int(np.sum(table.load[table.active] > table.cap[table.active]))
    return int(bad)


def run_label(sched, label: str, specs, temps, args, index: int) -> dict:
    strategy = "quantum" if label == "quantum_exact" else label
    rng = np.random.default_rng([args.seed, 10, index])
    lat, ticks, out = [], [], {"assigned": 0, "pending": 0, "rejected": 0, "violations": 0, "gaps": []}
    for b in range(args.batches + WARMUP):
        tasks = batch(rng, temps, args.batch_size, f"{label}-{b}", strategy)
        gap_batch = label == "quantum_exact" and WARMUP <= b < WARMUP + args.gap_batches
        bound = _bound(sched, tasks) if gap_batch else None
        t0 = time.perf_counter()
        d = sched.decide(tasks, now=0.0)
        dt = time.perf_counter() - t0
        out["violations"] += violations(sched, d, tasks, specs)
        if b >= WARMUP:
            lat.append(dt)
            out["assigned"] += len(d.assignments)
            out["pending"] += len(d.pending)
            out["rejected"] += len(d.rejected)
            if gap_batch and bound is not None and not d.pending:
                out["gaps"].append(_gap(sched, d, bound))
        for a in d.assignments:
            sched.release(a.task_id)
        every = getattr(args, "tick_every", 0)
        if every and (b + 1) % every == 0:     # the leader's tick, on its own time (untimed
            t0 = time.perf_counter()           # in decision latency, recorded apart)
            sched.tick(1.0)
            ticks.append(time.perf_counter() - t0)
    single = []
    for i in range(args.single):
        tasks = batch(rng, temps, 1, f"{label}-single-{i}", strategy)
        t0 = time.perf_counter()
        d = sched.decide(tasks, now=0.0)
        single.append(time.perf_counter() - t0)
        for a in d.assignments:
            sched.release(a.task_id)
    res = _summary(label, lat, single, out, args)
    if ticks:
        res["tick_ms"] = {"every_batches": args.tick_every, "count": len(ticks),
                          "p50": float(np.percentile(ticks, 50) * 1e3),
                          "max": float(np.max(ticks) * 1e3)}
    return res


def _summary(label, lat, single, out, args) -> dict:
    ms = np.array(lat) * 1e3
    n = args.batch_size * len(lat)
    gaps = out.pop("gaps")
    return {"strategy": label, "batches": len(lat), "batch_size": args.batch_size,
            "tasks_per_s": n / float(np.sum(lat)),
            "batch_ms": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
                         "p99": float(np.percentile(ms, 99)), "max": float(ms.max())},
            "per_task_us_in_batch": float(statistics.median(lat)) / args.batch_size * 1e6,
            "single_task_ms": {"p50": float(np.percentile(single, 50) * 1e3),
                               "p99": float(np.percentile(single, 99) * 1e3)} if single else None,
            "gap_to_lower_bound": {"mean": float(np.mean(gaps)), "max": float(np.max(gaps)),
                                   "batches": len(gaps)} if gaps else None,
            **out}


def _bound(sched, tasks: list) -> float:
    from .scheduler_bound import lower_bound

    return lower_bound(sched, tasks)


def _gap(sched, decision, bound: float) -> float:
    from .scheduler_bound import batch_cost

    return (batch_cost(sched, decision) - bound) / bound


def main(args) -> int:
    from tqdm import tqdm

    bad = [x for x in args.strategies if x not in LABELS]
    if bad:
        print(f"unknown strategy {bad[0]!r}; choose from {', '.join(LABELS)}")
        return 2
    t0 = time.perf_counter()
    specs = fleet(args.agents, args.seed)
    temps = templates(args.templates, args.seed)
    doc = {"benchmark": "scheduler", "machine": machine_info(), "agents": args.agents,
           "templates": args.templates, "seed": args.seed, "fleet_build_s": time.perf_counter() - t0,
           "results": [], "setup_s": {}}
    groups = [("sample", [x for x in args.strategies if x != "quantum_exact"]),
              ("exact", [x for x in args.strategies if x == "quantum_exact"])]
    with tqdm(total=len(args.strategies), desc="bench scheduler", unit="strategy") as bar:
        for mode, labels in groups:
            if not labels:
                continue
            sched, setup = build(specs, mode, args.seed, args.backend)
            doc["setup_s"][mode] = setup
            for label in labels:
                doc["results"].append(run_label(sched, label, specs, temps, args,
                                                LABELS.index(label)))
                bar.update(1)
            del sched
            gc.unfreeze()
            gc.collect()
    print_table(doc)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def print_table(doc: dict) -> None:
    print(f"\n{doc['agents']:,} agents, {doc['templates']} task signatures; setup "
          + ", ".join(f"{k} {v:.1f} s" for k, v in doc["setup_s"].items()))
    head = (f"{'strategy':<18}{'tasks/s':>10}{'batch p50':>11}{'p99 ms':>9}{'1-task p50':>12}"
            f"{'p99 ms':>9}{'placed':>9}{'pending':>9}{'viol':>6}{'gap<=':>8}")
    print(head)
    print("-" * len(head))
    for r in doc["results"]:
        gap = r["gap_to_lower_bound"]
        single = r["single_task_ms"] or {"p50": float("nan"), "p99": float("nan")}
        print(f"{r['strategy']:<18}{r['tasks_per_s']:>10,.0f}{r['batch_ms']['p50']:>11.1f}"
              f"{r['batch_ms']['p99']:>9.1f}{single['p50']:>12.2f}{single['p99']:>9.2f}"
              f"{r['assigned']:>9}{r['pending']:>9}{r['violations']:>6}"
              f"{(format(gap['mean'], '.2%') if gap else '-'):>8}")
