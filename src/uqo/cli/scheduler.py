"""``uqo simulate`` (every strategy on one seeded world) and ``uqo bench scheduler``."""

from __future__ import annotations

import argparse

SIM_LABELS = ("quantum", "quantum_exact", "round_robin", "least_connections", "power_of_two",
              "adaptive")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _count(text: str) -> int:
    value = _positive_int(text) if text != "0" else 0
    return value


def _labels(text: str) -> list[str]:
    labels = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in labels if x not in SIM_LABELS]
    if bad or not labels:
        raise argparse.ArgumentTypeError(
            f"unknown strategy {bad[0] if bad else text!r}; choose from {', '.join(SIM_LABELS)}")
    return labels


def add_commands(sub, bench) -> None:
    p = sub.add_parser("simulate", help="discrete-event simulation: every scheduling strategy "
                       "on the same seeded workload (table, JSON, PNG)")
    p.add_argument("--agents", type=_positive_int, default=2000)
    p.add_argument("--duration", type=float, default=300.0, help="simulated seconds")
    p.add_argument("--rate", type=float, default=40.0, help="mean task arrivals per second")
    p.add_argument("--arrivals", default="poisson", help="poisson or bursty")
    p.add_argument("--max-k", type=_positive_int, default=8, help="agents per task: 1..max-k")
    p.add_argument("--domain-size", type=_positive_int, default=2)
    p.add_argument("--flaky", type=float, default=0.1, help="fraction of unreliable agents")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mi-threshold", type=float, default=0.1,
                   help="anti-affinity threshold on pair mutual information (nats)")
    p.add_argument("--strategies", type=_labels, default=list(SIM_LABELS),
                   help="comma-separated subset of " + ", ".join(SIM_LABELS))
    p.add_argument("--quality", type=_count, default=5,
                   help="quality-suite instances per family (0: skip)")
    p.add_argument("--out", default="bench/results/simulate.json")
    p.add_argument("--plot", default="bench/results/simulate.png")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_simulate)

    b = bench.add_parser("scheduler", help="decisions/s and latency with a large fleet")
    b.add_argument("--agents", type=_positive_int, default=1_000_000)
    b.add_argument("--batches", type=_positive_int, default=20)
    b.add_argument("--batch-size", type=_positive_int, default=1000)
    b.add_argument("--templates", type=_positive_int, default=64,
                   help="distinct task signatures in the workload")
    b.add_argument("--single", type=_count, default=200, help="one-task decisions to time")
    b.add_argument("--gap-batches", type=_count, default=3,
                   help="quantum_exact batches compared with the lower bound")
    b.add_argument("--strategies", type=_labels, default=list(SIM_LABELS))
    b.add_argument("--backend", default="numpy", help="engine register backend")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", default="bench/results/scheduler.json")
    b.set_defaults(func=_bench)


def _simulate(args) -> int:
    from pathlib import Path

    from uqo.control.sim.compare import compare
    from uqo.control.sim.config import SimConfig
    from uqo.control.sim.report import plot, table, write_json

    try:
        cfg = SimConfig(agents=args.agents, duration_s=args.duration, rate=args.rate,
                        arrivals=args.arrivals, max_k=args.max_k, domain_size=args.domain_size,
                        flaky=args.flaky, seed=args.seed)
        if args.mi_threshold < 0:
            raise ValueError(f"mi-threshold must be >= 0, got {args.mi_threshold!r}")
    except ValueError as exc:
        print(f"uqo simulate: {exc}")
        return 2
    doc = compare(cfg, args.strategies, args.mi_threshold, progress=not args.no_progress)
    if args.quality:
        doc["quality"] = _quality(args)
    doc["machine"] = _machine()
    print(table(doc))
    if args.quality:
        _print_quality(doc["quality"]["summary"])
    print(f"wrote {write_json(doc, Path(args.out))}")
    print(f"wrote {plot(doc, Path(args.plot))}")
    return 0


def _quality(args) -> dict:
    from uqo.control.sim.quality import FAMILIES, quality_suite

    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(FAMILIES) * args.quality, desc="quality suite", leave=False)
    try:
        return quality_suite(args.quality, tuple(args.strategies), args.seed,
                             progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()


def _print_quality(summary: dict) -> None:
    print("\nassignment quality vs the exact optimum (CP-SAT), small instances:")
    print(f"{'strategy':<18}{'fill':>8}{'mean gap':>10}{'max gap':>10}{'viol':>6}")
    for name, s in summary.items():
        gap = "-" if s["mean_cost_gap"] is None else f"{s['mean_cost_gap']:.2%}"
        mx = "-" if s["max_cost_gap"] is None else f"{s['max_cost_gap']:.2%}"
        print(f"{name:<18}{s['fill_vs_optimum']:>8.1%}{gap:>10}{mx:>10}{s['violations']:>6}")


def _machine() -> dict:
    from uqo.bench.machine import machine_info

    return machine_info()


def _bench(args) -> int:
    from uqo.bench.scheduler import main

    if args.backend not in ("numpy", "jax", "cupy", "auto"):
        print(f"uqo bench scheduler: unknown backend {args.backend!r}")
        return 2
    return main(args)
