"""A decision's tasks compiled to arrays: priority order, gang sizes, signatures, penalties.

Rows are sorted by effective priority (``priority + waited / aging_s``: aging, so low priorities
are not starved), then submission time, then task id; row order *is* priority order everywhere
after. Tasks with the same (capabilities, compartments, classification) share a *signature* and
one compiled eligibility predicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sampling import NeedRows
from .types import TaskSpec


@dataclass
class Batch:
    tasks: list
    k: np.ndarray
    level: np.ndarray
    sig: np.ndarray
    sig_keys: list
    needs: list
    sources: list
    strategy: list

    def need_rows(self, rows: np.ndarray) -> NeedRows:
        sig = self.sig[rows]
        caps = np.stack([n.caps for n in self.needs])[sig]
        comps = np.stack([n.comps for n in self.needs])[sig]
        level = np.array([n.level for n in self.needs], np.int64)[sig]
        return NeedRows(caps, comps, level, [self.sources[s] for s in sig.tolist()])

    def sig_groups(self, rows: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """``[(signature, its rows ascending)]`` in order of each signature's first row."""
        sig = self.sig[rows]
        uniq, first = np.unique(sig, return_index=True)
        return [(int(s), rows[sig == s]) for s in uniq[np.argsort(first)]]


def check_tasks(tasks) -> list:
    tasks = list(tasks)
    seen = set()
    for t in tasks:
        if not isinstance(t, TaskSpec):
            raise ValueError(f"tasks must be TaskSpec, got {type(t).__name__}")  # noqa: TRY004 (one error type for bad input)
        if t.task_id in seen:
            raise ValueError(f"task_id {t.task_id!r} appears twice in one batch")
        seen.add(t.task_id)
    return tasks


def compile_batch(tasks: list, now: float, aging_s: float, default: str, need_of,
                  source_of) -> tuple:
    """``(Batch, rejected)``. ``need_of(caps, comps, level) -> (Need | None, reason)``;
    ``source_of(key, need) -> Source`` (with the count of registered agents meeting ``need``).
    A task needing more agents than that, or a name no agent holds, is rejected here and never
    reaches a strategy."""
    eff = [t.priority + max(0.0, now - t.submitted_at) / aging_s for t in tasks]
    rank = [(-e, t.submitted_at, t.task_id) for e, t in zip(eff, tasks)]
    order = sorted(range(len(tasks)), key=rank.__getitem__)
    sig_index: dict = {}
    needs, keys, sources, rows, sigs, rejected = [], [], [], [], [], {}
    for i in order:
        t = tasks[i]
        key = (t.capabilities, t.compartments, t.classification)
        s = sig_index.get(key)
        if s is None:
            need, why = need_of(*key)
            if need is None:
                rejected[t.task_id] = why
                continue
            s = sig_index[key] = len(needs)
            needs.append(need)
            keys.append(key)
            sources.append(source_of(key, need))
        if t.required_agents > sources[s].eligible:
            rejected[t.task_id] = (f"insufficient_eligible_agents: requires "
                                   f"{t.required_agents}, {sources[s].eligible} eligible "
                                   f"registered")
            continue
        rows.append(i)
        sigs.append(s)
    kept = [tasks[i] for i in rows]
    k = np.array([t.required_agents for t in kept], np.int64)
    lv = np.floor(np.array([eff[i] for i in rows])).astype(np.int64)
    level = np.unique(lv, return_inverse=True)[1].astype(np.int64) if len(lv) else lv
    batch = Batch(kept, k, level, np.array(sigs, np.int64), keys, needs, sources,
                  [t.strategy or default for t in kept])
    return batch, rejected
