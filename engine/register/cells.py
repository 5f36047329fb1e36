"""The cell states on the backend: pair cells ``(P + 1, 4, 4)``, single cells ``(S + 1, 2, 2)``
and each cell's entropy, every move through the register's store.

The last row of each array is a scratch cell used as padding. Reads come back as host numpy;
writes take host arrays. A store may hand back new arrays (JAX; a failover moving them to the
host), so the arrays are attributes rebound after every store call and read from here, never
kept elsewhere.
"""

from __future__ import annotations

import math

import numpy as np
from uqo.kernels.tick_inputs import PairInputs, SingleInputs

from ..backend import to_numpy


class CellArrays:
    """``rho_pairs``, ``s_pairs``, ``rho_singles``, ``s_singles`` of ``dtype`` (complex), all
    maximally mixed at first, placed by ``put`` (host array -> backend) and moved by ``store``."""

    def __init__(self, store, put, dtype, pair_rows: int, single_rows: int):
        self.store, self.dtype = store, dtype
        self.rho_pairs = put(_mixed(pair_rows, 4, dtype))
        self.rho_singles = put(_mixed(single_rows, 2, dtype))
        self.s_pairs = put(np.full(pair_rows, math.log(4.0)))
        self.s_singles = put(np.full(single_rows, math.log(2.0)))

    @property
    def failed(self) -> bool:
        """The store moved to the CPU after a device failure (the state is on the host)."""
        return getattr(self.store, "failed", False)

    @property
    def events(self) -> list:
        return list(getattr(self.store, "events", []))

    def reset(self, cells: np.ndarray, pairs: bool) -> None:
        """Cells back to the maximally mixed state (entropy ``ln d``); none: no store call."""
        if len(cells) == 0:
            return
        d = 4 if pairs else 2
        mixed = np.broadcast_to(np.eye(d, dtype=self.dtype) / d, (len(cells), d, d))
        self.write(cells, mixed, np.full(len(cells), math.log(d)), pairs)

    def write(self, cells, rho: np.ndarray, entropy: np.ndarray, pairs: bool) -> None:
        """Set the states and entropies of ``cells`` (host arrays)."""
        if pairs:
            self.rho_pairs = self.store.put(self.rho_pairs, cells, rho)
            self.s_pairs = self.store.put(self.s_pairs, cells, entropy)
        else:
            self.rho_singles = self.store.put(self.rho_singles, cells, rho)
            self.s_singles = self.store.put(self.s_singles, cells, entropy)

    def read(self, cells, pairs: bool) -> np.ndarray:
        """Host copy of the states of ``cells``."""
        return to_numpy(self.store.take(self.rho_pairs if pairs else self.rho_singles, cells))

    def read_entropy(self, cells, pairs: bool) -> np.ndarray:
        """Host copy of the entropies of ``cells``."""
        return to_numpy(self.store.take(self.s_pairs if pairs else self.s_singles, cells))

    def observe_pairs_in_place(self, cells, sites, m0, m1):
        """Lueders updates of distinct pair cells where they are, if the store can (host
        stores): the mask of cells left for the caller (their outcome had probability ~0);
        None if the store cannot."""
        inplace = getattr(self.store, "observe_pairs", None)
        if inplace is None:
            return None
        return inplace(self.rho_pairs, self.s_pairs, cells, sites, m0, m1)

    def run_pairs(self, n: int, inputs: PairInputs) -> dict:
        """Tick pair rows ``[0, n)``; returns the diagnostics as host arrays."""
        self.rho_pairs, self.s_pairs, diag = self.store.run_pairs(
            self.rho_pairs, self.s_pairs, n, inputs)
        return {k: to_numpy(v) for k, v in diag.items()}

    def run_singles(self, n: int, inputs: SingleInputs) -> dict:
        """Tick single rows ``[0, n)``; returns the diagnostics as host arrays."""
        self.rho_singles, self.s_singles, diag = self.store.run_singles(
            self.rho_singles, self.s_singles, n, inputs)
        return {k: to_numpy(v) for k, v in diag.items()}


def _mixed(rows: int, d: int, dtype) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(np.eye(d, dtype=dtype) / d, (rows, d, d)))
