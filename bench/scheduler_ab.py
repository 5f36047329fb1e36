"""``python -m uqo.bench.scheduler_ab --base DIR``: this checkout's scheduler against another's,
alternated in the same minutes.

Issue 14 asks that the default strategy's decision p99 stay within 1.5x of an older commit's
(the "today" of the issue: c30edaf, whose default was ``quantum`` in sample mode). Two runs of
``uqo bench scheduler`` minutes apart differ by more than that on a shared machine, so the two
sides take turns: per round, base then this checkout (the order alternates each round), each a
fresh process with its own fleet. ``DIR`` is the other checkout, with its own ``.venv``
(``make setup-dev`` there). Prints a table, writes JSON with every run's result, the load
average before each, and the ratio of the medians of the per-run p99s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .machine import machine_info


def _run(root: Path, strategy: str, sizes: list) -> dict:
    exe = root / ".venv" / "bin" / "uqo"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        subprocess.run([str(exe), "bench", "scheduler", *sizes, "--strategies", strategy,
                        "--gap-batches", "0", "--out", str(out)], cwd=root, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.loads(out.read_text())["results"][0]


def _commit(root: Path) -> str:
    got = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                         check=False, capture_output=True, text=True)
    return got.stdout.strip() or "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, type=Path, help="the other checkout (with .venv)")
    p.add_argument("--base-strategy", default="quantum")
    p.add_argument("--strategy", default="quantum_exact")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--agents", type=int, default=1_000_000)
    p.add_argument("--batches", type=int, default=200,
                   help="timed batches per run (200: a run's p99 is its 99th percentile, not its "
                   "slowest batch)")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--templates", type=int, default=64)
    p.add_argument("--single", type=int, default=200)
    p.add_argument("--out", default="bench/results/scheduler-ab.json")
    args = p.parse_args(argv)
    if not (args.base / ".venv" / "bin" / "uqo").exists():
        print(f"--base {args.base}: no .venv/bin/uqo there (run `make setup-dev` in it)")
        return 2
    here = Path(__file__).resolve().parents[1]
    here = here if (here / ".venv").exists() else Path.cwd()
    sides = {"base": (args.base.resolve(), args.base_strategy), "this": (here, args.strategy)}
    sizes = ["--agents", str(args.agents), "--batches", str(args.batches), "--batch-size",
             str(args.batch_size), "--templates", str(args.templates), "--single",
             str(args.single)]
    runs = []
    for r in range(args.rounds):
        for side in (("base", "this") if r % 2 == 0 else ("this", "base")):
            root, strategy = sides[side]
            load = os.getloadavg()[0]
            res = _run(root, strategy, sizes)
            runs.append({"side": side, "round": r + 1, "strategy": strategy, "load1": load,
                         "utc": time.strftime("%H:%M:%SZ", time.gmtime()), "result": res})
            print(f"round {r + 1} {side:<5} {strategy:<14} load {load:4.1f}  batch p50 "
                  f"{res['batch_ms']['p50']:6.1f}  p99 {res['batch_ms']['p99']:6.1f} ms",
                  flush=True)
    p99 = {s: statistics.median(x["result"]["batch_ms"]["p99"] for x in runs if x["side"] == s)
           for s in sides}
    p50 = {s: statistics.median(x["result"]["batch_ms"]["p50"] for x in runs if x["side"] == s)
           for s in sides}
    ratio = p99["this"] / p99["base"]
    print(f"\nmedian p99: this {p99['this']:.1f} ms, base {p99['base']:.1f} ms, ratio "
          f"{ratio:.2f} (p50 {p50['this']:.1f} vs {p50['base']:.1f} ms)")
    commit = {s: _commit(root) for s, (root, _) in sides.items()}
    flags = [a if a != str(args.base) else f"<checkout of {commit['base']}>"
             for a in (sys.argv[1:] if argv is None else argv)]   # no local path in results
    doc = {"benchmark": "scheduler A/B (alternated)", "machine": machine_info(),
           "command": "python -m uqo.bench.scheduler_ab " + " ".join(flags), "commits": commit,
           "agents": args.agents, "median_p99_ms": p99, "median_p50_ms": p50,
           "ratio_p99": ratio, "runs": runs}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
