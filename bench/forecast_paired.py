"""``python -m uqo.bench.forecast_paired SUITE.json``: the belief's failure forecast against the
other forecasts of a suite, paired by seed.

``uqo simulate --suite`` scores every forecast model on the same outcomes of each run (the
default strategy's), so per family and seed the scores are paired. This prints, per family and
metric (Brier score, log loss), the mean difference ``quantum - model`` for each other model
with its 95 % t interval over the seeds (``suite.interval``): below zero, the belief's forecast
was better. Writes the table as JSON (``--out``, default beside the suite's file).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .machine import machine_info

RUN = "quantum_exact"
METRICS = ("brier", "log_loss")


def paired(doc: dict, run: str = RUN) -> dict:
    """``{family: {metric: {model: interval of quantum - model}}}`` (the failure forecasts;
    the load forecast's entry has no such scores)."""
    from uqo.control.sim.suite import interval

    out = {}
    for family, f in doc["families"].items():
        fc = f["strategies"].get(run, {}).get("forecast")
        if not fc or "quantum" not in fc:
            continue
        out[family] = {m: {model: interval([a - b for a, b in zip(
            fc["quantum"][m]["per_seed"], v[m]["per_seed"])])
            for model, v in fc.items() if model != "quantum" and "per_seed" in v.get(m, {})}
            for m in METRICS}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("suite", type=Path, help="a JSON written by uqo simulate --suite")
    p.add_argument("--run", default=RUN, help="the strategy whose runs were scored")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        doc = json.loads(args.suite.read_text())
        table = paired(doc, args.run)
    except (OSError, ValueError, KeyError) as e:
        print(f"{args.suite}: not a suite result ({e})")
        return 2
    if not table:
        print(f"{args.suite}: no forecast scores for {args.run!r}")
        return 2
    for family, metrics in table.items():
        for m, models in metrics.items():
            cells = "  ".join(f"{model} {v['mean']:+.5f} [{v['ci95'][0]:+.5f}, {v['ci95'][1]:+.5f}]"
                              for model, v in models.items())
            print(f"{family:<20} {m:<9} quantum - {cells}")
    out = args.out or args.suite.with_name(args.suite.stem + "-forecast-paired.json")
    out.write_text(json.dumps({"benchmark": "forecast paired by seed", "suite": args.suite.name,
                               "run": args.run, "seeds": doc.get("seeds"),
                               "machine": machine_info(), "families": table}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
