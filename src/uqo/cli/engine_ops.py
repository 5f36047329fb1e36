"""``uqo bench ops``: timings of the engine's general state operations."""

from __future__ import annotations

import sys
from pathlib import Path

from .base import int_at_least

_count = int_at_least(1)


def add_commands(sub, bench) -> None:
    b = bench.add_parser("ops", help="time of partial trace, entropies, evolution, channels, "
                         "measurement on N two-qubit states")
    b.add_argument("--n", type=_count, default=100_000, help="number of systems (default 1e5)")
    b.add_argument("--repeats", type=_count, default=5, help="timed calls per operation")
    b.add_argument("--backend", nargs="+", default=["numpy", "jax"],
                   help="backends to measure (numpy jax cupy)")
    b.add_argument("--out", type=Path, default=Path("bench/results"))
    b.set_defaults(func=_bench_ops)


def _bench_ops(args) -> int:
    from uqo.bench.ops import main
    from uqo.engine.backend import BackendUnavailable, resolve_name

    try:
        backends = [resolve_name(b) for b in args.backend]
    except (BackendUnavailable, ValueError) as exc:
        print(f"uqo: --backend: {exc}", file=sys.stderr)
        return 2
    return main(args.n, backends, args.repeats, args.out)
