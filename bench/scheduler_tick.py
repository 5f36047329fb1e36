"""Decision latency right after an engine tick, with the tick of before and the current one.

Use case::

    python -m uqo.bench.scheduler_tick --agents 1000000 --rounds 12 \
        --out bench/results/scheduler-tickmove-paired.json

The current ``Scheduler.tick`` ends with the belief snapshot and the full refresh of the kept
placement weights; the tick of before (``old_tick`` below) left both to the next decision. One
process, one fleet: the two ticks alternate (``rounds`` each), and after each tick two batches
of 1,000 ``quantum_exact`` tasks are timed, the one right after the tick (``after_ms``) and the
next (``next_ms``). Decisions are the same either way (tests/scheduler/test_topunits.py); only
where the work lands differs. Prints medians and writes every sample with the machine facts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .machine import machine_info
from .scheduler import build
from .scheduler_fleet import batch, fleet, templates


def old_tick(sched, dt: float):
    """``Scheduler.tick`` before the refresh moved onto it (snapshot and weights left stale)."""
    from uqo.control.scheduler.correlation import learn_rates

    sched.load_forecast.tick(dt)
    sched.joint.elapsed(sched.table.n_active, dt)
    learn_rates(sched)
    return sched.link.tick(dt)


def run(agents: int, rounds: int, seed: int) -> dict:
    specs, temps = fleet(agents, seed), templates(64, seed)
    sched, _ = build(specs, "exact", seed, "numpy")
    rng = np.random.default_rng([seed, 11])
    sides = {s: {"tick_ms": [], "after_ms": [], "next_ms": []} for s in ("old", "new")}
    for i in range(2 * rounds):
        side = "old" if i % 2 == 0 else "new"
        t0 = time.perf_counter()
        old_tick(sched, 1.0) if side == "old" else sched.tick(1.0)
        sides[side]["tick_ms"].append((time.perf_counter() - t0) * 1e3)
        for key in ("after_ms", "next_ms"):
            tasks = batch(rng, temps, 1000, f"p{i}-{key}", "quantum")
            t0 = time.perf_counter()
            d = sched.decide(tasks, now=0.0)
            sides[side][key].append((time.perf_counter() - t0) * 1e3)
            for a in d.assignments:
                sched.release(a.task_id)
    return sides


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agents", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench/results/scheduler-tick.json")
    args = p.parse_args()
    sides = run(args.agents, args.rounds, args.seed)
    median = {s: {k: float(np.median(v)) for k, v in r.items()} for s, r in sides.items()}
    print(f"{'tick':<6}{'tick ms':>10}{'after-tick ms':>15}{'next ms':>10}   (medians of "
          f"{args.rounds}, {args.agents:,} agents)")
    for s, m in median.items():
        print(f"{s:<6}{m['tick_ms']:>10.1f}{m['after_ms']:>15.1f}{m['next_ms']:>10.1f}")
    doc = {"benchmark": "scheduler decision right after a tick (quantum_exact, batches of 1,000)",
           "machine": machine_info(), "agents": args.agents, "rounds": args.rounds,
           "seed": args.seed, "median": median, "sides": sides}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
