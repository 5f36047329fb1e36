"""Run many simulator seeds, in parallel processes; the nightly budget and its command line.

Use cases::

    python -m tests.pbft.seeds --seeds 10000 --workers 2     # prints counts, time, failures
    python -m tests.pbft.seeds --seeds 100000 --max-seconds 600 --out bench/results/x.json
                                          # as many as fit in 10 min (a prefix of the seeds)
    failures = run_seeds(range(200), workers=1)              # [(seed, message), ...]

``UQO_PBFT_SEEDS`` (read by tests/pbft/test_sim.py, never at import) sets how many seeds the
test suite runs: a fixed set in CI, 10,000 in the nightly budget.
"""

from __future__ import annotations

import argparse
import json
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


def run_seeds(seeds, workers: int = 1, progress: bool = False,
              max_seconds: float | None = None) -> tuple[list[tuple[int, str]], dict]:
    """Run ``seeds``; return the failures and totals (runs per behaviour, executions, drops,
    ``seeds_run``). With ``max_seconds`` it stops once that time is spent; the seeds run are
    then a prefix of ``seeds`` (results are taken in order)."""
    seeds = list(seeds)
    deadline = time.monotonic() + max_seconds if max_seconds else None
    results = []
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            for r in pool.imap(_one, seeds, chunksize=16):
                results.append(r)
                if progress and len(results) % 1000 == 0:
                    print(f"{len(results)} seeds run, {sum(1 for x in results if x[1])} "
                          f"failures", file=sys.stderr, flush=True)
                if deadline is not None and time.monotonic() > deadline:
                    break
    else:
        for s in seeds:
            results.append(_one(s))
            if deadline is not None and time.monotonic() > deadline:
                break
    failures = [(s, msg) for s, msg, _ in results if msg is not None]
    totals: dict = {"runs": Counter(), "executed": 0, "view_changes": 0, "dropped": Counter(),
                    "seeds_run": len(results)}
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
    ap.add_argument("--max-seconds", type=float, help="stop after this long (a prefix runs)")
    ap.add_argument("--out", help="also write the summary as JSON here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    load = list(os.getloadavg())
    failures, totals = run_seeds(range(args.first, args.first + args.seeds), args.workers,
                                 progress=True, max_seconds=args.max_seconds)
    took = time.perf_counter() - t0
    ran = totals["seeds_run"]
    print(f"{ran} seeds from {args.first} in {took:.0f} s with {args.workers} workers "
          f"({ran / took:.1f} seeds/s; 10,000 would take ~{10_000 * took / ran / 60:.0f} min): "
          f"{len(failures)} failures")
    if args.out:
        _write(args, took, load, failures, totals)
    print(f"requests executed (summed over correct replicas): {totals['executed']}; "
          f"views reached (summed): {totals['view_changes']}")
    print("runs by Byzantine behaviour:", dict(sorted(totals["runs"].items())))
    print("messages dropped by correct replicas:", dict(totals["dropped"]))
    for seed, msg in failures[:20]:
        print(f"seed {seed}: {msg[:2000]}")
    return 1 if failures else 0


def _write(args, took: float, load: list, failures: list, totals: dict) -> None:
    from uqo.bench.machine import machine_info

    ran = totals["seeds_run"]
    body = {"command": "python -m tests.pbft.seeds " + " ".join(sys.argv[1:]),
            "machine": machine_info(), "loadavg_before": load, "workers": args.workers,
            "seeds": [args.first, args.first + ran], "seeds_run": ran, "seconds": round(took, 1),
            "seeds_per_s": round(ran / took, 2),
            "minutes_for_10000": round(10_000 * took / ran / 60, 1),
            "violations": len(failures), "failures": [[s, m[:500]] for s, m in failures[:20]],
            "runs_by_behaviour": dict(sorted(totals["runs"].items())),
            "requests_executed": totals["executed"], "views_reached": totals["view_changes"],
            "dropped_by_correct_replicas": dict(totals["dropped"])}
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=1)
        fh.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    raise SystemExit(main())
