"""``uqo bench peers``: uqo side by side with dynamiqs on the same two-qubit workload."""

from __future__ import annotations

import argparse
from pathlib import Path


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def add_commands(sub, bench) -> None:
    b = bench.add_parser("peers", help="uqo vs dynamiqs: batched two-qubit evolution + "
                         "entanglement entropy (needs the optional extra 'peers')")
    b.add_argument("--systems", type=_positive, default=8192,
                   help="B, two-qubit systems in the batch (default 8192)")
    b.add_argument("--steps", type=_positive, default=100,
                   help="T, exact steps of dt per system (default 100)")
    b.add_argument("--repeats", type=_positive, default=5,
                   help="timed runs per path after one warm-up (default 5)")
    b.add_argument("--out", type=Path, default=Path("bench/results"))
    b.set_defaults(func=_bench_peers)


def _bench_peers(args) -> int:
    from uqo.bench.peers import main

    return main(args.systems, args.steps, args.repeats, args.out)
