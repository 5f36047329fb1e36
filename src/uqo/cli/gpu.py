"""``uqo bench gpu``: fused-kernel correctness checks and the GPU/CPU tick benchmark."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .base import int_at_least

_BACKENDS = ("cupy", "jax", "numba", "numpy")


def _agents(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--agents: not a number: {text!r}") from None
    if value < 2 or value % 2:
        raise argparse.ArgumentTypeError(f"--agents must be an even number >= 2, got {text!r}")
    return value


_ticks = int_at_least(1)   # --ticks, --peer-systems, --peer-steps


def add_commands(sub, bench) -> None:
    b = bench.add_parser("gpu", help="fused tick kernels: checks against numpy, then speed")
    b.add_argument("--agents", type=_agents, nargs="+", default=[1_000_000, 10_000_000])
    b.add_argument("--ticks", type=_ticks, default=10)
    b.add_argument("--backend", nargs="+", default=list(_BACKENDS),
                   help="kernels to measure: " + " ".join(_BACKENDS))
    b.add_argument("--check-only", action="store_true", help="run the correctness checks only")
    b.add_argument("--tune", action="store_true",
                   help="CuPy: check and time every CUDA launch configuration")
    b.add_argument("--tune-agents", type=_agents, default=10_000_000,
                   help="agents for --tune (default 10,000,000)")
    b.add_argument("--peer-systems", type=_ticks, default=8192,
                   help="two-qubit systems in the dynamiqs comparison (default 8192)")
    b.add_argument("--peer-steps", type=_ticks, default=100,
                   help="steps in the dynamiqs comparison (default 100)")
    b.add_argument("--out", type=Path, default=Path("bench/results"))
    b.set_defaults(func=_bench_gpu)


def _bench_gpu(args) -> int:
    bad = [b for b in args.backend if b not in _BACKENDS]
    if bad:
        print(f"uqo: --backend {bad[0]!r} is not one of {', '.join(_BACKENDS)}", file=sys.stderr)
        return 2
    from uqo.bench.gpu import main

    return main(args.agents, args.ticks, args.backend, args.out, check_only=args.check_only,
                tune_agents=args.tune_agents if args.tune else None,
                peer_systems=args.peer_systems, peer_steps=args.peer_steps)
