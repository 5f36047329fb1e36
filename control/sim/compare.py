"""Every strategy on the same seeded world: the comparison ``uqo simulate`` prints."""

from __future__ import annotations

import dataclasses
import time

from uqo.control.scheduler.warm import warm_compiled

from .config import SimConfig
from .runner import Simulation
from .world import build_world

SETUPS = {
    "quantum": {"strategy": "quantum", "quantum_mode": "sample"},
    "quantum_exact": {"strategy": "quantum", "quantum_mode": "exact"},
    "round_robin": {"strategy": "round_robin"},
    "least_connections": {"strategy": "least_connections"},
    "power_of_two": {"strategy": "power_of_two"},
    "adaptive": {"strategy": "adaptive"},
    "thompson": {"strategy": "thompson"},
    "ewma": {"strategy": "ewma"},
}
# Probe targets per strategy at the same budget: the quantum strategies ask their belief where a
# health check is worth most; the others (and the ablation ``quantum_rr_probe``) go in turn.
PROBING = {label: "info_gain" if label.startswith("quantum") else "round_robin"
           for label in SETUPS}
SETUPS["quantum_rr_probe"] = dict(SETUPS["quantum_exact"])
PROBING["quantum_rr_probe"] = "round_robin"
CLASSICAL = ("round_robin", "least_connections", "power_of_two", "adaptive", "thompson", "ewma")


def engine_params(cfg: SimConfig, model_params: str | None = None):
    """The belief model as the service runs it (``uqo.engine.params.belief_defaults``, or the
    tuned file ``model_params``), with the simulated agents' heartbeat period."""
    from uqo.engine.params import load_params

    return load_params(model_params, heartbeat_period=cfg.heartbeat_s)


def make_scheduler(label: str, cfg: SimConfig, mi_threshold: float, backend: str = "numpy",
                   model_params: str | None = None):
    from uqo.control.scheduler import Scheduler
    from uqo.engine.register import AgentRegister

    reg = AgentRegister(capacity=cfg.agents, backend=backend, seed=cfg.seed,
                        params=engine_params(cfg, model_params))
    return Scheduler(capacity=cfg.agents, register=reg, seed=cfg.seed,
                     mi_threshold=mi_threshold, **SETUPS[label])


def compare(cfg: SimConfig, labels=tuple(SETUPS), mi_threshold: float = 0.1,
            progress: bool = True, model_params: str | None = None,
            record: str | None = None) -> dict:
    """Run each strategy in ``labels`` on one world built from ``cfg``; returns the results
    document (config, per-strategy summary and time series, wall time). ``record``: write the
    first strategy's run as a trace (``uqo tune``)."""
    bad = [x for x in labels if x not in SETUPS]
    if bad:
        raise ValueError(f"unknown strategy {bad[0]!r}; choose from {sorted(SETUPS)}")
    world = build_world(cfg)
    results = {label: run_one(world, label, mi_threshold, progress, model_params,
                              record if i == 0 else None)
               for i, label in enumerate(labels)}
    params = engine_params(cfg, model_params)
    return {"config": dataclasses.asdict(cfg), "mi_threshold": mi_threshold,
            "model_params": model_params,
            "engine_params": {k: v for k, v in dataclasses.asdict(params).items()
                              if k != "extra"},
            "tasks": len(world.tasks), "results": results}


def run_one(world, label: str, mi_threshold: float = 0.1, progress: bool = False,
            model_params: str | None = None, record: str | None = None) -> dict:
    """One strategy on ``world``: summary, time series, forecast scores, wall time and the
    scheduler's own counters. ``record``: write the run's observations as a trace there."""
    cfg = world.config
    warm_compiled()             # once per process: no strategy's first decision pays numba's load
    sched = make_scheduler(label, cfg, mi_threshold, model_params=model_params)
    bar = _bar(progress, round(cfg.duration_s / cfg.dt), label)
    t0 = time.perf_counter()
    sim = Simulation(world, sched, progress=bar.update if bar else None,
                     probe_policy=PROBING[label], record=record is not None)
    scores = sim.run()
    if record is not None:
        sim.recorder.save(record)
    if bar:
        bar.close()
    return {"summary": scores.summary(cfg.duration_s), "series": scores.series(cfg.duration_s),
            "forecast": sim.forecast.summary() if sim.forecast else None,
            "wall_s": time.perf_counter() - t0,
            "scheduler": {k: v for k, v in sched.stats().items()
                          if k in ("counts", "decision_latency", "shards")}}


def _bar(enabled: bool, total: int, label: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"simulate {label}", unit="tick", leave=False)
