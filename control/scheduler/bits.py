"""Names interned to bit positions, and sets of names packed into ``uint64`` words.

A set of capabilities (or compartments) becomes a row of ``W`` ``uint64`` words, bit ``i`` of
the whole row set when the name interned as ``i`` is in the set. "Agent holds every required
name" is then ``(agent_words & need_words) == need_words`` over all words: a few vectorised
bitwise operations for any number of agents. ``W`` grows (by whole words) as names are added.
"""

from __future__ import annotations

import numpy as np

WORD_BITS = 64


class Interner:
    """Stable name -> bit index map. Indices never change once given."""

    def __init__(self):
        self._index: dict[str, int] = {}
        self.names: list[str] = []

    def __len__(self) -> int:
        return len(self.names)

    @property
    def words(self) -> int:
        """Words needed for every name interned so far (at least 1)."""
        return max(1, -(-len(self.names) // WORD_BITS))

    def intern(self, names) -> list[int]:
        """Bit indices of ``names``, adding the new ones."""
        out = []
        for name in names:
            idx = self._index.get(name)
            if idx is None:
                idx = self._index[name] = len(self.names)
                self.names.append(name)
            out.append(idx)
        return out

    def lookup(self, names) -> tuple[list[int], list[str]]:
        """``(indices of known names, unknown names)``; adds nothing."""
        known, unknown = [], []
        for name in names:
            idx = self._index.get(name)
            (unknown.append(name) if idx is None else known.append(idx))
        return known, sorted(unknown)

    def decode(self, row: np.ndarray) -> frozenset[str]:
        """The names whose bits are set in ``row`` (``(W,)`` uint64)."""
        out = []
        for w, word in enumerate(np.asarray(row, dtype=np.uint64).tolist()):
            while word:
                low = word & -word
                out.append(self.names[w * WORD_BITS + low.bit_length() - 1])
                word ^= low
        return frozenset(out)


def pack(indices, words: int) -> np.ndarray:
    """``(words,)`` uint64 row with the given bit indices set."""
    row = np.zeros(words, dtype=np.uint64)
    for i in indices:
        row[i // WORD_BITS] |= np.uint64(1) << np.uint64(i % WORD_BITS)
    return row


def covers(have: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Rows of ``have`` ``(n, W)`` that hold every bit of ``need`` (``(W,)`` or ``(n, W)``):
    bool ``(n,)``."""
    return np.all((have & need) == need, axis=-1)


def grow_columns(arr: np.ndarray, words: int) -> np.ndarray:
    """``arr`` ``(n, W)`` widened with zero words to ``(n, words)`` (same array if wide enough)."""
    if arr.shape[1] >= words:
        return arr
    out = np.zeros((arr.shape[0], words), dtype=arr.dtype)
    out[:, :arr.shape[1]] = arr
    return out


def bit_counts(rows: np.ndarray, nbits: int) -> np.ndarray:
    """How many of ``rows`` ``(n, W)`` have each bit ``0..nbits-1`` set: int64 ``(nbits,)``."""
    if rows.shape[0] == 0 or nbits == 0:
        return np.zeros(nbits, dtype=np.int64)
    as_bytes = rows.astype("<u8").view(np.uint8).reshape(rows.shape[0], -1)
    bits = np.unpackbits(as_bytes, axis=1, bitorder="little")
    return bits[:, :nbits].sum(axis=0, dtype=np.int64)
