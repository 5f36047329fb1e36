"""The simulator's outputs: a table on the terminal, a JSON document, a PNG plot."""

from __future__ import annotations

import json
from pathlib import Path

COLUMNS = (("strategy", 18, "s"), ("ok/s", 8, ".2f"), ("success", 9, ".3f"),
           ("wait p50 s", 11, ".2f"), ("wait p99 s", 11, ".2f"), ("dec p50 ms", 11, ".2f"),
           ("dec p99 ms", 11, ".2f"), ("imbalance", 10, ".2f"), ("exposed", 8, "d"),
           ("dead disp", 10, "d"))


def rows(doc: dict) -> list[tuple]:
    out = []
    for name, res in doc["results"].items():
        s = res["summary"]
        out.append((name, s["throughput_per_s"], s["success_rate"] or 0.0,
                    s["queue_wait_s"]["p50"] or 0.0, s["queue_wait_s"]["p99"] or 0.0,
                    s["decision_ms_per_batch"]["p50"] or 0.0,
                    s["decision_ms_per_batch"]["p99"] or 0.0,
                    s["load_imbalance_max_over_mean"] or 0.0, s["correlated_exposure"],
                    s["failed_by_cause"].get("dead_on_dispatch", 0)))
    return out


def table(doc: dict) -> str:
    """The comparison as fixed-width text: one row per strategy."""
    def cell(i, value, spec):
        _, width, _ = COLUMNS[i]
        align = "<" if i == 0 else ">"
        return format(value, f"{align}{width}{spec}")

    lines = ["".join(cell(i, c[0], "s") for i, c in enumerate(COLUMNS))]
    lines.append("-" * len(lines[0]))
    for row in rows(doc):
        lines.append("".join(cell(i, v, COLUMNS[i][2]) for i, v in enumerate(row)))
    return "\n".join(lines)


def write_json(doc: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def plot(doc: dict, path: Path) -> Path:
    """Two panels over simulated time, one line per strategy: decision latency per batch and
    the success rate of tasks finishing in each bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for name, res in doc["results"].items():
        ser = res["series"]
        top.plot(*_points(ser["t"], ser["decide_ms"]), label=name)
        bottom.plot(*_points(ser["t"], ser["success_rate"]), label=name)
    top.set_ylabel("decision latency per batch (ms)")
    top.set_yscale("log")
    bottom.set_ylabel("task success rate")
    bottom.set_xlabel("simulated time (s)")
    top.legend(fontsize=8, ncol=3)
    cfg = doc["config"]
    fig.suptitle(f"uqo simulate: {cfg['agents']} agents, {cfg['arrivals']} arrivals at "
                 f"{cfg['rate']}/s, seed {cfg['seed']}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _points(t, y):
    pts = [(a, b) for a, b in zip(t, y) if b is not None]
    return [a for a, _ in pts], [b for _, b in pts]
