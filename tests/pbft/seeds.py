"""Run many simulator seeds, in parallel processes; the nightly budget and its command line.

Use cases::

    python -m tests.pbft.seeds --seeds 10000 --workers 2     # prints counts, time, failures
    failures = run_seeds(range(200), workers=1)              # [(seed, message), ...]

``UQO_PBFT_SEEDS`` (read by tests/pbft/test_sim.py, never at import) sets how many seeds the
test suite runs: a fixed set in CI, 10,000 in the nightly budget.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
import traceback
from collections import Counter


def _one(seed: int) -> tuple[int, str | None, dict]:
    from .checker import Violation
    from .sim import run

    try:
        r = run(seed)
    except Violation as exc:
        return seed, f"violation: {exc}", {}
    except Exception:  # noqa: BLE001 - a crash of the core is a failure to report, not to hide
        return seed, "error: " + traceback.format_exc(), {}
    return seed, None, {"byzantine": r.params.byzantine or "none", "n": r.params.n,
                        "executed": r.executed, "views": r.views, "ticks": r.ticks,
                        "dropped": r.dropped}


def run_seeds(seeds, workers: int = 1,
              progress: bool = False) -> tuple[list[tuple[int, str]], dict]:
    """Run ``seeds``; return the failures and totals (runs per behaviour, executions, drops)."""
    seeds = list(seeds)
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            results = []
            for r in pool.imap_unordered(_one, seeds, chunksize=16):
                results.append(r)
                if progress and len(results) % 1000 == 0:
                    print(f"{len(results)} seeds run, {sum(1 for x in results if x[1])} "
                          f"failures", file=sys.stderr, flush=True)
    else:
        results = [_one(s) for s in seeds]
    failures = [(s, msg) for s, msg, _ in results if msg is not None]
    totals: dict = {"runs": Counter(), "executed": 0, "view_changes": 0, "dropped": Counter()}
    for _, msg, info in results:
        if msg is None:
            totals["runs"][f"{info['byzantine']}/n={info['n']}"] += 1
            totals["executed"] += info["executed"]
            totals["view_changes"] += info["views"]
            totals["dropped"].update(info["dropped"])
    return failures, totals


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="run PBFT simulator seeds")
    ap.add_argument("--seeds", type=int, default=10_000)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    failures, totals = run_seeds(range(args.first, args.first + args.seeds), args.workers,
                                 progress=True)
    took = time.perf_counter() - t0
    print(f"{args.seeds} seeds from {args.first} in {took:.0f} s with {args.workers} workers: "
          f"{len(failures)} failures")
    print(f"requests executed (summed over correct replicas): {totals['executed']}; "
          f"views reached (summed): {totals['view_changes']}")
    print("runs by Byzantine behaviour:", dict(sorted(totals["runs"].items())))
    print("messages dropped by correct replicas:", dict(totals["dropped"]))
    for seed, msg in failures[:20]:
        print(f"seed {seed}: {msg[:2000]}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
