"""The suite: every strategy on every workload family, several seeds each, with intervals.

Use cases::

    doc = run_suite(("independent_flaky", "correlated_outages"), seeds=range(5),
                    labels=("quantum", "thompson", "round_robin"), jobs=2)
    doc["families"]["correlated_outages"]["strategies"]["quantum"]["success"]
    # {"mean": 0.91, "ci95": [0.90, 0.92], "per_seed": [...]}

Per family and seed one world is built and every strategy runs on it (common random numbers:
the same outcome for the same choice), so strategies are compared *paired by seed*: the
interval on the difference between the default quantum strategy and the best classical one
(highest mean success) is a t interval over the per-seed differences, far narrower than the
intervals on each mean. Worlds run in parallel processes (``jobs``).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .compare import CLASSICAL, SETUPS, engine_params, run_one
from .families import FAMILIES, describe, family_config
from .world import build_world

DEFAULT_LABEL = "quantum_exact"     # the service's default mode (Scheduler quantum_mode)
METRICS = ("success_rate", "throughput_per_s", "decision_p99_ms", "dead_on_dispatch",
           "correlated_exposure")


def run_world(family: str, seed: int, labels: tuple, mi_threshold: float = 0.1,
              overrides: dict | None = None, model_params: str | None = None) -> dict:
    """Every label on one family's world for one seed (one job of the suite)."""
    world = build_world(family_config(family, seed, **(overrides or {})))
    out = {}
    for label in labels:
        res = run_one(world, label, mi_threshold, model_params=model_params)
        res.pop("series", None)
        out[label] = res
    return {"family": family, "seed": seed, "tasks": len(world.tasks), "results": out}


def run_suite(families, seeds, labels=tuple(SETUPS), jobs: int = 1, mi_threshold: float = 0.1,
              overrides: dict | None = None, progress=None,
              model_params: str | None = None) -> dict:
    """Run and summarise (module docstring); ``progress(job_doc)`` is called per world."""
    families, seeds, labels = tuple(families), tuple(seeds), tuple(labels)
    bad = [f for f in families if f not in FAMILIES] + [x for x in labels if x not in SETUPS]
    if bad:
        raise ValueError(f"unknown family or strategy {bad[0]!r}")
    t0 = time.perf_counter()
    work = [(f, s) for f in families for s in seeds]
    runs = []
    if jobs <= 1:
        for f, s in work:
            runs.append(run_world(f, s, labels, mi_threshold, overrides, model_params))
            if progress:
                progress(runs[-1])
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futs = [pool.submit(run_world, f, s, labels, mi_threshold, overrides, model_params)
                    for f, s in work]
            for fut in futs:
                runs.append(fut.result())
                if progress:
                    progress(runs[-1])
    return {"families": {f: summarise(f, [r for r in runs if r["family"] == f], labels)
                         for f in families},
            "seeds": list(seeds), "labels": list(labels), "mi_threshold": mi_threshold,
            "overrides": overrides or {}, "model_params": model_params,
            "engine_params": {k: v for k, v in
                              vars(engine_params(family_config(families[0]),
                                                 model_params)).items() if k != "extra"},
            "wall_s": time.perf_counter() - t0, "runs": runs}


def metric(res: dict, name: str) -> float:
    s = res["summary"]
    if name == "decision_p99_ms":
        return s["decision_ms_per_batch"]["p99"] or 0.0
    if name == "dead_on_dispatch":
        return float(s["failed_by_cause"].get("dead_on_dispatch", 0))
    return float(s[name] or 0.0)


def interval(values) -> dict:
    """Mean and two-sided 95 % t interval (``[mean, mean]`` for one value)."""
    from scipy.stats import t

    v = np.asarray(values, np.float64)
    m = float(v.mean())
    if len(v) < 2:
        return {"mean": m, "ci95": [m, m], "per_seed": v.tolist()}
    half = float(t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return {"mean": m, "ci95": [m - half, m + half], "per_seed": v.tolist()}


def summarise(family: str, runs: list, labels: tuple) -> dict:
    runs = sorted(runs, key=lambda r: r["seed"])
    strategies = {}
    for label in labels:
        per = [r["results"][label] for r in runs]
        strategies[label] = {m: interval([metric(x, m) for x in per]) for m in METRICS}
        fc = _forecast_summary([x["forecast"] for x in per if x.get("forecast")])
        if fc:
            strategies[label]["forecast"] = fc
    out = {"description": describe(family), "tasks": [r["tasks"] for r in runs],
           "strategies": strategies}
    classical = [x for x in labels if x in CLASSICAL]
    if classical and DEFAULT_LABEL in labels:
        best = max(classical, key=lambda x: strategies[x]["success_rate"]["mean"])
        diff = [metric(r["results"][DEFAULT_LABEL], "success_rate")
                - metric(r["results"][best], "success_rate") for r in runs]
        out["vs_best_classical"] = {"best": best, "difference": interval(diff),
                                    "verdict": _verdict(interval(diff))}
    return out


def _verdict(diff: dict) -> str:
    lo, hi = diff["ci95"]
    if lo > 0:
        return "win"
    if hi < 0:
        return "loss"
    return "tie"


def _forecast_summary(docs: list) -> dict | None:
    """Forecast scores over the seeds; None when no run had an outcome to score."""
    docs = [d for d in docs if d["outcomes"]]
    if not docs:
        return None
    out = {m: {k: interval([d["models"][m][k] for d in docs]) for k in ("brier", "log_loss")}
           for m in docs[0]["models"]}
    loads = {m: [d["load_mae"][m] for d in docs if d["load_mae"][m] is not None]
             for m in docs[0]["load_mae"]}
    out["load_mae"] = {m: interval(v) for m, v in loads.items() if v}
    return out
