"""Where a signature's candidates are drawn from: a posting list, or its own eligible pool.

A posting list (``registry``) holds every agent with one of the task's requirements; when only
a small fraction of it meets the whole predicate, rejection sampling would waste most draws.
For such signatures (eligible fraction below ``POOL_FRACTION``) the exact eligible set is
materialised once, by one scan of the list, and cached until the fleet changes (the table's
``version``). Pools are evicted least-recently-used beyond ``MAX_POOLED`` slots in total.
Either way every listed agent is listed once, so a uniform pick stays uniform.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

POOL_FRACTION = 0.5
MAX_POOLED = 16_000_000


@dataclass(frozen=True)
class Source:
    key: tuple
    slots: np.ndarray
    eligible: int


class Sources:
    """Per-signature sources and eligible counts, cached per table version."""

    def __init__(self, table):
        self.table = table
        self._cache: OrderedDict = OrderedDict()
        self._pooled = 0

    def get(self, sig_key, need) -> Source:
        hit = self._cache.get(sig_key)
        if hit is not None and hit[0] == self.table.version:
            self._cache.move_to_end(sig_key)
            return hit[1]
        post = self.table.posting(need.key)
        ok = self.table.eligible(post, need.caps, need.comps, need.level, require_up=False)
        count = int(ok.sum())
        if count < POOL_FRACTION * len(post):
            src = Source(("pool",) + tuple(map(_hashable, sig_key)), post[ok], count)
        else:
            src = Source(need.key, post, count)
        self._store(sig_key, src)
        return src

    def _store(self, sig_key, src: Source) -> None:
        old = self._cache.pop(sig_key, None)
        if old is not None and old[1].key[0] == "pool":
            self._pooled -= len(old[1].slots)
        if src.key[0] == "pool":
            self._pooled += len(src.slots)
        self._cache[sig_key] = (self.table.version, src)
        while self._pooled > MAX_POOLED or len(self._cache) > 65536:
            _, (_, gone) = self._cache.popitem(last=False)
            if gone.key[0] == "pool":
                self._pooled -= len(gone.slots)


def _hashable(x):
    return tuple(sorted(x)) if isinstance(x, frozenset) else x
