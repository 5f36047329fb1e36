"""``uqo bench peers``: uqo side by side with dynamiqs on the same two-qubit workload."""

from __future__ import annotations

from pathlib import Path

from .base import int_at_least

_positive = int_at_least(1)


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
