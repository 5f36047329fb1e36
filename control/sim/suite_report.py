"""The suite's outputs: a text table, a Markdown table (what the README quotes), a PNG."""

from __future__ import annotations

from pathlib import Path

from .suite import DEFAULT_LABEL


def _ci(x: dict, spec: str = ".3f") -> str:
    lo, hi = x["ci95"]
    return f"{x['mean']:{spec}} [{lo:{spec}}, {hi:{spec}}]"


def table(doc: dict) -> str:
    """Per family, one row per strategy: success with its 95 % interval over the seeds,
    decision p99, tasks dispatched to dead agents; then the default strategy against the best
    classical one (paired by seed) and the forecast scores on the default strategy's run."""
    lines = [(f"{'family':<20}{'strategy':<19}{'success [95% CI]':>26}{'dec p99 ms':>12}"
             f"{'dead disp':>10}")]
    lines.append("-" * len(lines[0]))
    for fam, f in doc["families"].items():
        for label, s in f["strategies"].items():
            lines.append(f"{fam:<20}{label:<19}{_ci(s['success_rate']):>26}"
                         f"{s['decision_p99_ms']['mean']:>12.1f}"
                         f"{s['dead_on_dispatch']['mean']:>10.0f}")
        v = f.get("vs_best_classical")
        if v:
            lines.append(f"{'':<20}{DEFAULT_LABEL + ' - ' + v['best']:<27}"
                         f"{_ci(v['difference'], '+.3f'):>18}  {v['verdict']}")
        fc = f["strategies"].get(DEFAULT_LABEL, {}).get("forecast")
        if fc:
            parts = [f"{m} {fc[m]['brier']['mean']:.4f}" for m in fc if m != "load_mae"]
            lines.append(f"{'':<20}forecast Brier: " + ", ".join(parts))
        lines.append("")
    return "\n".join(lines)


def markdown(doc: dict) -> str:
    """One row per family: the default strategy, the best classical, the paired difference,
    the verdict and the forecast Brier scores (quantum belief vs the best classical model)."""
    head = (f"| family | {DEFAULT_LABEL} success | best classical | its success | difference "
            "[95% CI] | verdict | Brier quantum / thompson / ewma / base |\n"
            "|---|---|---|---|---|---|---|")
    rows = [head]
    for fam, f in doc["families"].items():
        v, s = f.get("vs_best_classical"), f["strategies"]
        if not v or DEFAULT_LABEL not in s:
            continue
        fc = s[DEFAULT_LABEL].get("forecast") or {}
        brier = " / ".join(f"{fc[m]['brier']['mean']:.4f}" for m in
                           ("quantum", "thompson", "ewma", "base_rate") if m in fc)
        rows.append(f"| {fam} | {_ci(s[DEFAULT_LABEL]['success_rate'])} | {v['best']} | "
                    f"{_ci(s[v['best']]['success_rate'])} | {_ci(v['difference'], '+.3f')} | "
                    f"{v['verdict']} | {brier} |")
    return "\n".join(rows) + "\n"


def plot(doc: dict, path: Path) -> Path:
    """Success rate per family (bars per strategy, 95 % intervals) and, below, the default
    strategy's paired difference to the best classical one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fams = list(doc["families"])
    labels = doc["labels"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(13, 8),
                                      gridspec_kw={"height_ratios": [3, 2]})
    width = 0.8 / len(labels)
    x = np.arange(len(fams))
    for i, label in enumerate(labels):
        st = [doc["families"][f]["strategies"][label]["success_rate"] for f in fams]
        mean = np.array([s["mean"] for s in st])
        err = np.array([[s["mean"] - s["ci95"][0] for s in st],
                        [s["ci95"][1] - s["mean"] for s in st]])
        top.bar(x + (i - len(labels) / 2 + 0.5) * width, mean, width, yerr=err, label=label,
                capsize=2)
    top.set_xticks(x, fams, fontsize=8)
    top.set_ylabel("task success rate")
    lo = min(doc["families"][f]["strategies"][lb]["success_rate"]["mean"]
             for f in fams for lb in labels)
    top.set_ylim(max(0.0, lo - 0.05), 1.0)
    top.legend(fontsize=7, ncol=5)
    diffs = [doc["families"][f].get("vs_best_classical") for f in fams]
    mean = np.array([d["difference"]["mean"] if d else 0.0 for d in diffs])
    err = np.array([[d["difference"]["mean"] - d["difference"]["ci95"][0] if d else 0.0
                     for d in diffs],
                    [d["difference"]["ci95"][1] - d["difference"]["mean"] if d else 0.0
                     for d in diffs]])
    bottom.bar(x, mean, 0.5, yerr=err, capsize=4, color="tab:purple")
    bottom.axhline(0.0, color="black", lw=0.8)
    bottom.set_xticks(x, [f"{f}\nvs {d['best'] if d else '-'}" for f, d in zip(fams, diffs)],
                      fontsize=7)
    bottom.set_ylabel(f"{DEFAULT_LABEL} - best classical")
    fig.suptitle(f"uqo simulate --suite: {len(doc['seeds'])} seeds per family, "
                 "95 % intervals")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
