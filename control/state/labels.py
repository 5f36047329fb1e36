"""Task counts by state *and* label, so a caller sees counts of only what it may read.

Use cases::

    counts = LabelCounts()
    counts.add(task.info, "pending")                     # at submit
    counts.move(info, "pending", "assigned")             # at each transition
    counts.visible(lambda cls, comps: cls <= 1)          # Counter of states over those labels

A label is ``(classification, compartments)``; a deployment has a handful, so ``visible``
asks its predicate once per label, not once per task.
"""

from __future__ import annotations

from collections import Counter


class LabelCounts:
    def __init__(self):
        self._by_label: dict[tuple[int, tuple[str, ...]], Counter[str]] = {}

    @staticmethod
    def label(info) -> tuple[int, tuple[str, ...]]:
        return info.classification, info.compartments

    def add(self, info, state: str, n: int = 1) -> None:
        key = (info.classification, info.compartments)
        counter = self._by_label.get(key)
        if counter is None:
            counter = self._by_label[key] = Counter()
        counter[state] += n

    def move(self, info, old: str, new: str) -> None:
        counter = self._by_label[(info.classification, info.compartments)]
        counter[old] -= 1
        counter[new] += 1

    def visible(self, keep) -> Counter[str]:
        """States summed over the labels ``keep(classification, compartments)`` accepts."""
        out: Counter[str] = Counter()
        for (cls, comps), counter in self._by_label.items():
            if keep(cls, comps):
                out.update(counter)
        return out

    @classmethod
    def of(cls, tasks) -> LabelCounts:
        counts = cls()
        for task in tasks:
            counts.add(task.info, task.state)
        return counts
