"""``python -m uqo.bench.forecast_split --family flapping_heartbeats --seeds 0,1``: a family's
failure-forecast scores split by kind of agent.

The suite scores each forecast over all of a run's outcomes. To see where a forecast loses,
this runs ``--strategy`` on the family's world per seed, records every scored outcome with each
model's forecast (``ForecastScorer.log``) and splits them by the world's agents: flapping (a
heartbeat loss above the family's base), flaky (completing under 90 % of its tasks), and the
rest. Per group: outcomes,
observed failure rate, per model the mean forecast and the Brier score, and the mean of
``1 - factor`` for each factor of the belief's ``q`` (``forecast.belief_factors``: which part of
the model a miscalibrated forecast comes from). Prints the tables and writes JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .machine import machine_info

MODELS = ("quantum", "thompson", "ewma", "base_rate")
FACTORS = ("liveness", "survival", "reliability", "punctual")   # of the belief's q
FLAKY = 0.9             # an agent completing fewer tasks than this is "flaky"


def groups(world) -> dict:
    """Boolean masks over the world's agents, by kind."""
    n = world.config.agents
    flapping = (world.hb_loss > world.config.heartbeat_loss if world.hb_loss is not None
                else np.zeros(n, bool))
    flaky = world.reliability < FLAKY          # the hidden success probability
    return {"flapping": flapping, "flaky": flaky & ~flapping, "steady": ~flapping & ~flaky,
            "all": np.ones(n, bool)}


def split(log: list, masks: dict) -> dict:
    agents = np.array([e[0] for e in log], np.int64)
    y = np.array([e[1] for e in log])
    q = {m: np.array([e[2][m] for e in log]) for m in MODELS}
    miss = {k: 1.0 - np.array([e[3][k] for e in log]) for k in FACTORS}
    out = {}
    for name, mask in masks.items():
        sel = mask[agents] if len(agents) else np.zeros(0, bool)
        some = bool(sel.any())
        out[name] = {
            "outcomes": int(sel.sum()), "failure_rate": float(y[sel].mean()) if some else None,
            "models": {m: {"mean_forecast": float(q[m][sel].mean()) if some else None,
                           "brier": float(np.mean((q[m][sel] - y[sel]) ** 2)) if some else None}
                       for m in MODELS},
            "belief_factors": {k: float(miss[k][sel].mean()) if some else None
                               for k in FACTORS}}
    return out


def main(argv=None) -> int:
    from uqo.control.sim.compare import SETUPS, run_one
    from uqo.control.sim.families import FAMILIES, family_config
    from uqo.control.sim.forecasting import ForecastScorer
    from uqo.control.sim.world import build_world

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", default="flapping_heartbeats")
    p.add_argument("--seeds", default="0", help="comma-separated")
    p.add_argument("--strategy", default="quantum_exact")
    p.add_argument("--agents", type=int, default=None, help="override the preset's")
    p.add_argument("--duration", type=float, default=None, help="override the preset's")
    p.add_argument("--out", default="bench/results/forecast-split.json")
    args = p.parse_args(argv)
    if args.family not in FAMILIES:
        print(f"unknown family {args.family!r}; choose from {', '.join(FAMILIES)}")
        return 2
    if args.strategy not in SETUPS:
        print(f"unknown strategy {args.strategy!r}; choose from {', '.join(sorted(SETUPS))}")
        return 2
    over = {k: v for k, v in (("agents", args.agents), ("duration_s", args.duration)) if v}
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        world = build_world(family_config(args.family, seed, **over))
        ForecastScorer.log = []
        try:
            run_one(world, args.strategy)
            runs.append({"seed": seed, "groups": split(ForecastScorer.log, groups(world))})
        finally:
            ForecastScorer.log = None
    print(f"{args.family}, {args.strategy}; mean forecast / Brier per model")
    print(f"{'seed':>4} {'group':<9}{'outcomes':>9}{'failed':>8}  "
          + "  ".join(f"{m:>17}" for m in MODELS))
    for r in runs:
        for name, g in r["groups"].items():
            if not g["outcomes"]:
                continue
            cells = "  ".join(f"{g['models'][m]['mean_forecast']:.4f}/{g['models'][m]['brier']:.5f}"
                              for m in MODELS)
            print(f"{r['seed']:>4} {name:<9}{g['outcomes']:>9}{g['failure_rate']:>8.4f}  {cells}")
    print("1 - each factor of the belief's q at the forecast (where its failure forecast comes from)")
    print(f"{'seed':>4} {'group':<9}" + "".join(f"{k:>13}" for k in FACTORS))
    for r in runs:
        for name, g in r["groups"].items():
            if g["outcomes"]:
                print(f"{r['seed']:>4} {name:<9}"
                      + "".join(f"{g['belief_factors'][k]:>13.4f}" for k in FACTORS))
    doc = {"benchmark": "forecast split by agent kind", "machine": machine_info(),
           "family": args.family, "strategy": args.strategy, "overrides": over, "runs": runs}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
