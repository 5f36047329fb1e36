"""``uqo tune``: fit the belief model's rates and measurement strengths to a recorded trace."""

from __future__ import annotations


def add_commands(sub, bench) -> None:
    p = sub.add_parser("tune", help="fit the agent belief model to a recorded trace by "
                       "autodiff through the tick; evaluate on a held-out trace")
    p.add_argument("--trace", required=True, nargs="+",
                   help="trace file(s) to fit (uqo simulate --record-trace)")
    p.add_argument("--heldout", nargs="*", default=[],
                   help="trace file(s) to evaluate on, not fitted to")
    p.add_argument("--init", default=None, help="params file to start from (default: the "
                   "engine's defaults)")
    p.add_argument("--maxiter", type=int, default=60, help="L-BFGS-B iterations per trace")
    p.add_argument("--out", default="bench/results/tuned-params.json")
    p.set_defaults(func=_tune)


def _tune(args) -> int:
    import dataclasses
    import time

    from uqo.control.sim.trace import Trace
    from uqo.engine import tuning
    from uqo.engine.params import load_params, save_params

    try:
        if args.maxiter < 1:
            raise ValueError(f"--maxiter must be >= 1, got {args.maxiter}")
        start = load_params(args.init)
        train = [_data(Trace.load(p), tuning) for p in args.trace]
        held = [_data(Trace.load(p), tuning) for p in args.heldout]
    except ValueError as exc:
        print(f"uqo tune: {exc}")
        return 2
    params = {k: getattr(start, k) for k in (*tuning.TUNABLE, *tuning.FIXED)}
    t0, reports = time.perf_counter(), []
    for path, data in zip(args.trace, train):      # one pass per trace, warm-started
        params, report = tuning.fit(params, data, maxiter=args.maxiter)
        reports.append({"trace": path, **report})
        print(f"{path}: mean outcome NLL {report['nll_start']:.4f} -> {report['nll_end']:.4f} "
              f"({report['iterations']} iterations)")
    defaults = dataclasses.asdict(start)
    evals = []
    for path, data in zip(args.heldout, held):
        before, after = tuning.evaluate(defaults, data), tuning.evaluate(params, data)
        evals.append({"trace": path, "outcomes": data.outcomes, "nll_start": before,
                      "nll_tuned": after})
        print(f"held out {path}: mean outcome NLL {before:.4f} (start) -> {after:.4f} (tuned)")
    meta = {"fitted": reports, "heldout": evals, "wall_s": time.perf_counter() - t0}
    print(f"wrote {save_params(args.out, params, meta)}")
    width = max(len(k) for k in params)
    for k, v in params.items():
        print(f"  {k:<{width}} {getattr(start, k):>12.6g} -> {v:.6g}")
    return 0


def _data(trace, tuning):
    return tuning.replay_data(trace.n_agents, trace.n_ticks, trace.dt, trace.heartbeat_s,
                              trace.pairs, trace.events)
