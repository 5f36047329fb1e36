"""The agent table: every registered agent as columns of arrays indexed by a stable slot.

Columns (``N`` = capacity): capability and compartment bit sets ``(N, W)`` uint64, clearance
int8, capacity and load int32, fitness float32, active/up bools, a generation counter per slot
(bumped when a slot is freed, so stale references to a removed agent can be told apart), the
failure-domain id and the shard. Adding and removing agents touches only their rows.

Posting lists give candidate sampling a small population to draw from instead of all ``N``
agents: one per capability bit, per compartment bit, per clearance level (agents with
clearance >= level) and one of all agents. A task draws from the smallest list among its
requirements and checks the full predicate on each draw. Lists are built lazily and kept
exact without rebuilding on every change:

* agents added since a list was built are appended from the *delta* log;
* removed agents stay in the lists and fail the ``active`` check;
* a freed slot is quarantined (not reused) until the next *compaction*, which drops every list;
  so no agent is ever listed twice and a uniform draw over a list stays uniform over its agents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bits import Interner, bit_counts, covers, grow_columns, pack
from .types import MAX_LEVEL, AgentSpec

NEED_CACHE = 4096         # compiled needs kept per membership version


@dataclass(frozen=True)
class Need:
    """A compiled eligibility predicate: capability row ``(Wc,)``, compartment row ``(Wm,)``,
    minimum clearance, and the posting-list key to draw candidates from."""

    caps: np.ndarray
    comps: np.ndarray
    level: int
    key: tuple[str, int]


class AgentTable:
    """Columnar agent registry for fast eligibility (see module docstring)."""

    def __init__(self, capacity: int):
        n = self.capacity = int(capacity)
        self.cap_names, self.comp_names = Interner(), Interner()
        self.cap_words = np.zeros((n, 1), np.uint64)
        self.comp_words = np.zeros((n, 1), np.uint64)
        self.clearance = np.zeros(n, np.int8)
        self.cap = np.ones(n, np.int32)
        self.load = np.zeros(n, np.int32)
        self.fitness = np.zeros(n, np.float32)
        self.active = np.zeros(n, bool)
        self.up = np.zeros(n, bool)
        self.gen = np.zeros(n, np.int64)
        self.domain = np.full(n, -1, np.int64)
        self.shard = np.zeros(n, np.int32)
        self.ids = np.empty(n, object)
        self.slot_of: dict[str, int] = {}
        self.domain_ids: dict[str, int] = {}
        self.version = 0
        self._free = list(range(n - 1, -1, -1))
        self._quarantine: list[int] = []
        self._delta: list[int] = []
        self._lists: dict[tuple[str, int], tuple[np.ndarray, int]] = {}
        self._joined: dict[tuple[str, int], tuple[int, np.ndarray]] = {}
        self._row_cache: dict[tuple[str, frozenset], list[int]] = {}
        self._cap_count = np.zeros(0, np.int64)
        self._comp_count = np.zeros(0, np.int64)
        self._level_count = np.zeros(MAX_LEVEL + 1, np.int64)
        self._fit_max = (-1, 1.0)
        self._needs: tuple[int, dict] = (-1, {})

    # ---- membership -------------------------------------------------------------------------
    @property
    def n_active(self) -> int:
        return len(self.slot_of)

    def slot(self, agent_id: str) -> int:
        try:
            return self.slot_of[agent_id]
        except (KeyError, TypeError):
            raise ValueError(f"unknown agent_id {agent_id!r}") from None

    def add(self, specs: list[AgentSpec]) -> np.ndarray:
        """Register ``specs`` (validated ``AgentSpec``); returns their slots ``(n,)`` int64."""
        self._check_new(specs)
        if len(specs) > len(self._free):
            self.compact()
        slots = np.array([self._free.pop() for _ in range(len(specs))], np.int64)
        cap_idx = [self._interned("cap", s.capabilities) for s in specs]
        comp_idx = [self._interned("comp", s.compartments) for s in specs]
        self.cap_words = grow_columns(self.cap_words, self.cap_names.words)
        self.comp_words = grow_columns(self.comp_words, self.comp_names.words)
        self.cap_words[slots] = _rows(cap_idx, self.cap_words.shape[1])
        self.comp_words[slots] = _rows(comp_idx, self.comp_words.shape[1])
        self.clearance[slots] = [s.clearance for s in specs]
        self.cap[slots] = [s.capacity for s in specs]
        self.fitness[slots] = [s.fitness for s in specs]
        self.domain[slots] = [self._domain_id(s.failure_domain) for s in specs]
        self.load[slots], self.active[slots], self.up[slots] = 0, True, True
        self.ids[slots] = [s.agent_id for s in specs]
        self.slot_of.update(zip((s.agent_id for s in specs), slots.tolist()))
        self._count(slots, +1)
        self._delta.extend(slots.tolist())
        self.version += 1
        return slots

    def remove(self, agent_id: str) -> int:
        """Unregister ``agent_id``; returns its (now freed) slot."""
        slot = self.slot(agent_id)
        self._count(np.array([slot]), -1)
        del self.slot_of[agent_id]
        self.active[slot] = self.up[slot] = False
        self.load[slot], self.ids[slot] = 0, None
        self.gen[slot] += 1
        self._quarantine.append(slot)
        self.version += 1
        if len(self._quarantine) + len(self._delta) > max(4096, self.n_active // 16):
            self.compact()
        return slot

    def compact(self) -> None:
        """Drop every posting list and release quarantined slots for reuse."""
        self._free.extend(reversed(self._quarantine))
        self._quarantine, self._delta = [], []
        self._lists.clear()
        self._joined.clear()

    def _check_new(self, specs) -> None:
        seen = set()
        for s in specs:
            if not isinstance(s, AgentSpec):
                raise ValueError(f"expected AgentSpec, got {type(s).__name__}")  # noqa: TRY004 (one error type for bad input)
            if s.agent_id in self.slot_of or s.agent_id in seen:
                raise ValueError(f"agent_id {s.agent_id!r} is already registered")
            seen.add(s.agent_id)
        room = len(self._free) + len(self._quarantine)
        if len(specs) > room:
            raise ValueError(f"cannot add {len(specs)} agents: {room} free slots "
                             f"(capacity {self.capacity})")

    def _interned(self, kind: str, names: frozenset) -> list[int]:
        key = (kind, names)
        idx = self._row_cache.get(key)
        if idx is None:
            interner = self.cap_names if kind == "cap" else self.comp_names
            idx = self._row_cache[key] = interner.intern(sorted(names))
        return idx

    def _domain_id(self, name: str | None) -> int:
        if name is None:
            return -1
        return self.domain_ids.setdefault(name, len(self.domain_ids))

    def _count(self, slots: np.ndarray, sign: int) -> None:
        self._cap_count = _widen(self._cap_count, len(self.cap_names))
        self._comp_count = _widen(self._comp_count, len(self.comp_names))
        self._cap_count += sign * bit_counts(self.cap_words[slots], len(self.cap_names))
        self._comp_count += sign * bit_counts(self.comp_words[slots], len(self.comp_names))
        self._level_count += sign * np.bincount(self.clearance[slots], minlength=MAX_LEVEL + 1)

    # ---- eligibility ------------------------------------------------------------------------
    def compile_need(self, caps, comps, level: int) -> tuple[Need | None, str | None]:
        """The predicate for a task's requirements, or ``(None, reason)`` when a required name
        is held by no registered agent (no agent can ever qualify until one registers). Kept
        per membership version (a batch's signatures recur decision after decision)."""
        if self._needs[0] != self.version:
            self._needs = (self.version, {})
        key = (frozenset(caps), frozenset(comps), int(level))
        hit = self._needs[1].get(key)
        if hit is None:
            hit = self._compile_need(caps, comps, level)
            if len(self._needs[1]) < NEED_CACHE:
                self._needs[1][key] = hit
        return hit

    def _compile_need(self, caps, comps, level: int) -> tuple[Need | None, str | None]:
        cap_idx, unknown = self.cap_names.lookup(caps)
        if unknown:
            return None, f"unknown_capability: {unknown[0]!r} is held by no registered agent"
        comp_idx, unknown = self.comp_names.lookup(comps)
        if unknown:
            return None, f"unknown_compartment: {unknown[0]!r} is held by no registered agent"
        options = [(int(self._cap_count[i]), ("cap", i)) for i in cap_idx]
        options += [(int(self._comp_count[i]), ("comp", i)) for i in comp_idx]
        options.append((int(self._level_count[level:].sum()), ("level", level)))
        key = min(options)[1]
        return Need(pack(cap_idx, self.cap_words.shape[1]),
                    pack(comp_idx, self.comp_words.shape[1]), int(level), key), None

    def eligible(self, slots: np.ndarray, caps: np.ndarray, comps: np.ndarray, level,
                 require_up: bool = True) -> np.ndarray:
        """Which ``slots`` satisfy the predicate: bool ``(n,)``. ``caps``/``comps`` are
        ``(W,)`` or per-slot ``(n, W)``; ``level`` a scalar or ``(n,)``."""
        ok = self.active[slots] & (self.clearance[slots] >= level)
        if require_up:
            ok &= self.up[slots]
        ok &= covers(self.cap_words[slots], _fit(caps, self.cap_words.shape[1]))
        ok &= covers(self.comp_words[slots], _fit(comps, self.comp_words.shape[1]))
        return ok

    def posting(self, key: tuple[str, int]) -> np.ndarray:
        """The slots listed under ``key`` (may include removed agents; never duplicates)."""
        base, at = self._lists.get(key, (None, 0))
        if base is None:
            base, at = self._build(key), len(self._delta)
            self._lists[key] = (base, at)
        if at == len(self._delta):
            return base
        cached = self._joined.get(key)
        if cached is not None and cached[0] == len(self._delta):
            return cached[1]
        tail = np.array(self._delta[at:], np.int64)
        joined = np.concatenate([base, tail[self._member(tail, key)]])
        self._joined[key] = (len(self._delta), joined)
        return joined

    def _build(self, key) -> np.ndarray:
        return np.flatnonzero(self.active & self._member(slice(None), key)).astype(np.int64)

    def _member(self, slots, key) -> np.ndarray:
        kind, i = key
        if kind == "level":
            return self.clearance[slots] >= i
        words = self.cap_words if kind == "cap" else self.comp_words
        bit = np.uint64(1) << np.uint64(i % 64)
        return (words[slots, i // 64] & bit) != 0

    def max_fitness(self) -> float:
        """Largest fitness among registered agents (1.0 when empty); cached per version."""
        if self._fit_max[0] != self.version:
            act = self.active
            self._fit_max = (self.version, float(self.fitness[act].max()) if act.any() else 1.0)
        return self._fit_max[1]


def _rows(indices: list[list[int]], words: int) -> np.ndarray:
    cache: dict[tuple, np.ndarray] = {}
    out = np.zeros((len(indices), words), np.uint64)
    for r, idx in enumerate(indices):
        key = tuple(idx)
        row = cache.get(key)
        if row is None:
            row = cache[key] = pack(idx, words)
        out[r] = row
    return out


def _widen(counts: np.ndarray, n: int) -> np.ndarray:
    return counts if len(counts) >= n else np.concatenate([counts, np.zeros(n - len(counts),
                                                                             np.int64)])


def _fit(row: np.ndarray, words: int) -> np.ndarray:
    """Pad a need row compiled before the table widened (extra words are zero: no bits)."""
    if row.shape[-1] >= words:
        return row[..., :words]
    pad = np.zeros(row.shape[:-1] + (words - row.shape[-1],), np.uint64)
    return np.concatenate([row, pad], axis=-1)
