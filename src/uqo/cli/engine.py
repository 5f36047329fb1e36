"""``uqo demo``, ``uqo warmup`` and ``uqo bench engine``."""

from __future__ import annotations

import sys
from pathlib import Path

from .base import int_at_least

_positive_int = int_at_least(2)


def add_commands(sub, bench) -> None:
    p = sub.add_parser("demo", help="build an agent register, run ticks, print fleet diagnostics")
    p.add_argument("--agents", type=_positive_int, default=1_000_000, help="number of agents")
    p.add_argument("--ticks", type=_positive_int, default=10, help="number of ticks")
    p.add_argument("--backend", default=None, help="auto|numpy|jax|cupy (default: UQO_BACKEND "
                   "or auto)")
    p.set_defaults(func=_demo)
    w = sub.add_parser("warmup", help="compile the engine's kernels for a backend now (make "
                       "setup runs it, so the first `uqo serve` does not wait for them)")
    w.add_argument("--backend", default=None, help="auto|numpy|jax|cupy (default: UQO_BACKEND "
                   "or auto)")
    w.set_defaults(func=_warmup)
    b = bench.add_parser("engine", help="agent ticks per second against the memory floor")
    b.add_argument("--agents", type=_positive_int, nargs="+", default=[100_000, 1_000_000])
    b.add_argument("--ticks", type=_positive_int, default=10)
    b.add_argument("--backend", nargs="+", default=["numpy", "jax"],
                   help="backends to measure (numpy jax cupy)")
    b.add_argument("--out", type=Path, default=Path("bench/results"))
    b.set_defaults(func=_bench)


def _backend_or_exit(name):
    from uqo.engine.backend import BackendUnavailable, resolve_name

    try:
        return resolve_name(name)
    except (BackendUnavailable, ValueError) as exc:
        print(f"uqo: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _demo(args) -> int:
    from uqo.demo import run_demo

    return run_demo(args.agents, args.ticks, _backend_or_exit(args.backend))


def _warmup(args) -> int:
    import time

    from uqo.engine.register import AgentRegister

    backend = _backend_or_exit(args.backend)
    t0 = time.perf_counter()
    register = AgentRegister(capacity=8, backend=backend)   # kernels compile per type, not size
    register.add_singles(2)
    register.add_pairs(1)
    register.heartbeat([0, 2])
    register.observe_failure([1])
    register.tick(1.0)
    _warm_scheduler(backend)
    print(f"uqo warmup: {register.backend.name} kernels ready in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def _warm_scheduler(backend) -> None:
    """Small decisions, so the scheduler's compiled steps (``control/scheduler/compiled.py``)
    are in numba's on-disk cache before the first real one (cold, they cost the first decision
    ~10-20 s of compiling): ``uqo.control.scheduler.warm``."""
    from uqo.control.scheduler.warm import warm_compiled

    warm_compiled(backend)


def _bench(args) -> int:
    from uqo.bench.engine import main

    backends = [_backend_or_exit(b) for b in args.backend]
    return main(args.agents, args.ticks, backends, args.out)
