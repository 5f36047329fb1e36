"""``uqo simulate`` (every strategy on one seeded world) and ``uqo bench scheduler``."""

from __future__ import annotations

import argparse

SIM_LABELS = ("quantum", "quantum_exact", "round_robin", "least_connections", "power_of_two",
              "adaptive", "thompson", "ewma", "quantum_rr_probe")
BENCH_LABELS = SIM_LABELS[:-1]
_OUT, _PNG = "bench/results/simulate.json", "bench/results/simulate.png"


def _int_at_least(least: int, words: str):
    """An argparse type: an integer ``>= least``; anything else is refused naming the value."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}")
        return value
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_count = _int_at_least(0, "an integer >= 0")


def _choices(kind: str, allowed):
    def parse(text: str) -> list[str]:
        names = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in names if x not in allowed]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {bad[0] if bad else text!r}; choose from {', '.join(allowed)}")
        return names
    return parse


_labels = _choices("strategy", SIM_LABELS)
_bench_labels = _choices("strategy", BENCH_LABELS)


def _families(text: str) -> list[str]:
    from uqo.control.sim.families import FAMILIES

    return _choices("family", tuple(FAMILIES))(text)


def add_commands(sub, bench) -> None:
    p = sub.add_parser("simulate", help="discrete-event simulation: every scheduling strategy "
                       "on the same seeded workload (table, JSON, PNG)")
    p.add_argument("--agents", type=_positive_int, default=None)
    p.add_argument("--duration", type=float, default=None, help="simulated seconds")
    p.add_argument("--rate", type=float, default=None, help="mean task arrivals per second")
    p.add_argument("--arrivals", default=None, help="poisson or bursty")
    p.add_argument("--max-k", type=_positive_int, default=None, help="agents per task: 1..max-k")
    p.add_argument("--domain-size", type=_positive_int, default=None)
    p.add_argument("--flaky", type=float, default=None, help="fraction of unreliable agents")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mi-threshold", type=float, default=0.1,
                   help="anti-affinity threshold on pair mutual information (nats)")
    p.add_argument("--strategies", type=_labels, default=list(SIM_LABELS),
                   help="comma-separated subset of " + ", ".join(SIM_LABELS))
    p.add_argument("--family", default=None,
                   help="a workload family preset (see --suite); other flags then default to "
                   "the preset's values")
    p.add_argument("--suite", default=None, help="'standard': every family, --seeds seeds "
                   "each, table + JSON + plot with 95%% intervals")
    p.add_argument("--families", type=_families, default=None,
                   help="with --suite: comma-separated subset of the families")
    p.add_argument("--seeds", type=_positive_int, default=5,
                   help="with --suite: N seeds, FIRST..FIRST+N-1")
    p.add_argument("--first-seed", type=_count, default=0,
                   help="with --suite: the first seed (default 0; another range checks a "
                   "result on worlds it was not developed on)")
    p.add_argument("--jobs", type=_positive_int, default=1,
                   help="with --suite: worlds simulated in parallel processes")
    p.add_argument("--probe-rate", type=float, default=None,
                   help="health checks per second (default 0, or the family's)")
    p.add_argument("--probe-policy", default=None,
                   help="info_gain or round_robin for the quantum strategy")
    p.add_argument("--model-params", default=None,
                   help="tuned belief parameters (uqo tune) for every strategy's engine")
    p.add_argument("--record-trace", default=None,
                   help="write the first strategy's run as a trace for uqo tune")
    p.add_argument("--quality", type=_count, default=5,
                   help="quality-suite instances per family (0: skip)")
    p.add_argument("--out", default=_OUT)
    p.add_argument("--plot", default=_PNG)
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
    b.add_argument("--tick-every", type=_count, default=0,
                   help="tick the engine (1 s, untimed) after every N batches; 0: never")
    b.add_argument("--strategies", type=_bench_labels, default=list(BENCH_LABELS))
    b.add_argument("--backend", default="numpy", help="engine register backend")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", default="bench/results/scheduler.json")
    b.set_defaults(func=_bench)


_SIM_FLAGS = {"agents": "agents", "duration": "duration_s", "rate": "rate",
              "arrivals": "arrivals", "max_k": "max_k", "domain_size": "domain_size",
              "flaky": "flaky", "probe_rate": "probe_rate", "probe_policy": "probe_policy"}


def _explicit(args) -> dict:
    """Config fields set on the command line (the rest keep SimConfig's or the family's)."""
    return {field: getattr(args, flag) for flag, field in _SIM_FLAGS.items()
            if getattr(args, flag) is not None}


def _sim_config(args):
    from uqo.control.sim.config import SimConfig
    from uqo.control.sim.families import family_config

    if args.family is not None:
        return family_config(args.family, args.seed, **_explicit(args))
    return SimConfig(seed=args.seed, **_explicit(args))


def _simulate(args) -> int:
    from pathlib import Path

    from uqo.control.sim.compare import compare
    from uqo.control.sim.report import plot, table, write_json

    try:
        if args.mi_threshold < 0:
            raise ValueError(f"mi-threshold must be >= 0, got {args.mi_threshold!r}")
        if args.model_params is not None:
            from uqo.engine.params import load_params

            load_params(args.model_params)          # a bad file is refused before any run
        if args.suite is not None:
            return _suite(args)
        cfg = _sim_config(args)
    except ValueError as exc:
        print(f"uqo simulate: {exc}")
        return 2
    doc = compare(cfg, args.strategies, args.mi_threshold, progress=not args.no_progress,
                  model_params=args.model_params, record=args.record_trace)
    if args.quality:
        doc["quality"] = _quality(args)
    doc["machine"] = _machine()
    print(table(doc))
    if args.quality:
        _print_quality(doc["quality"]["summary"])
    print(f"wrote {write_json(doc, Path(args.out))}")
    print(f"wrote {plot(doc, Path(args.plot))}")
    return 0


def _suite(args) -> int:
    from pathlib import Path

    from uqo.control.sim.families import SUITES
    from uqo.control.sim.report import write_json
    from uqo.control.sim.suite import run_suite
    from uqo.control.sim.suite_report import markdown, plot, table

    if args.suite not in SUITES:
        raise ValueError(f"unknown suite {args.suite!r}; choose from {', '.join(SUITES)}")
    if args.family is not None:
        raise ValueError("--family and --suite exclude each other (use --families)")
    families = args.families or list(SUITES[args.suite])
    overrides = _explicit(args)
    out = Path(args.out if args.out != _OUT else f"bench/results/suite-{args.suite}.json")
    png = Path(args.plot if args.plot != _PNG else f"bench/results/suite-{args.suite}.png")
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(families) * args.seeds, desc="suite", unit="world")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    doc = run_suite(families, seeds, args.strategies, args.jobs,
                    args.mi_threshold, overrides, progress=(lambda _: bar.update(1))
                    if bar else None, model_params=args.model_params)
    if bar:
        bar.close()
    doc["machine"] = _machine()
    print(table(doc))
    md = out.with_suffix(".md")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(markdown(doc))
    print(f"wrote {write_json(doc, out)}")
    print(f"wrote {md}")
    print(f"wrote {plot(doc, png)}")
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
